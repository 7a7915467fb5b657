package reliability_test

import (
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/portaltest"
	"portal/secrets"
)

// portalBinary builds the portal once per test run (with the race detector when the tests
// have it, so that SQLite's compiled objects are shared with the test build), into binDir,
// which TestMain removes.
var portalBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "portal-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "portal")
	args := []string{"build", "-tags", "sqlite_fts5", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "..")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	// Servers on PostgreSQL make no secrets key file of their own: those on one database
	// share one, as an operator gives it to them.
	if err := os.WriteFile(filepath.Join(dir, "secrets-key"), []byte(secrets.NewKeyLine()+"\n"), 0o600); err != nil {
		return "", err
	}
	return bin, nil
})

// portalCommand is `portal <args...>`, with the shared secrets key file when its database
// is PostgreSQL.
func portalCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := portalBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "postgres://") }) {
		cmd.Env = append(os.Environ(), "PORTAL_SECRETS_KEY_FILE="+filepath.Join(binDir, "secrets-key"))
	}
	return cmd
}

// process is `portal serve` running as its own process on a loopback port.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	logs *portaltest.LogBuffer
	done chan error // its exit, once
	// exited is closed once the process has exited and done holds (or held) how.
	exited chan struct{}
}

// startPortal runs `portal <args...> serve`-style commands and waits until /healthz answers.
func startPortal(t *testing.T, args ...string) *process {
	t.Helper()
	p := launchPortal(t, args...)
	p.waitHealthy()
	return p
}

// launchPortal starts `portal <args...>` on a free loopback port without waiting for it.
func launchPortal(t *testing.T, args ...string) *process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := &process{t: t, base: "http://" + addr, logs: &portaltest.LogBuffer{}, done: make(chan error, 1),
		exited: make(chan struct{})}
	p.cmd = portalCommand(t, append(args, "--addr", addr)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.done <- p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill() // when it has exited already, this does nothing
		<-p.exited
	})
	return p
}

// waitHealthy waits until the portal's /healthz answers 200.
func (p *process) waitHealthy() {
	t := p.t
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("portal exited before it was healthy: %v\n%s", err, p.logs)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("portal not healthy within 60 s\n%s", p.logs)
}

// client is a browser-like HTTP client: cookies, no redirects followed, a CSRF token.
type client struct {
	http  *http.Client
	base  string
	token string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	c := &client{base: base, http: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if err := c.refreshToken("/login"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *client) refreshToken(path string) error {
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return fmt.Errorf("no CSRF token on %s (status %d)", path, resp.StatusCode)
	}
	c.token = string(m[1])
	return nil
}

func (c *client) post(path string, form url.Values) (int, error) {
	form.Set("_csrf", c.token)
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (c *client) login(email, password string) (int, error) {
	return c.post("/login", url.Values{"email": {email}, "password": {password}})
}

func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func integrityOK(t *testing.T, raw *sql.DB) {
	t.Helper()
	var check string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v; want ok", check, err)
	}
}

// bootstrap creates an account and a contact admin with a password through the command
// line, the way an operator starts an installation.
func bootstrap(t *testing.T, dbPath string, emails ...string) {
	t.Helper()
	cli(t, "", "account", "add", "Northwind Traders", "--db", dbPath)
	for i, email := range emails {
		args := []string{"contact", "add", "--db", dbPath, "--account", "Northwind Traders", "--email", email,
			"--first", "Contact", "--last", fmt.Sprintf("Number %d", i), "--password-stdin"}
		if i == 0 {
			args = append(args, "--role", "contact-admin")
		}
		cli(t, processPassword+"\n", args...)
	}
}

// cli runs a command of the portal's command line to its end, stdin as its input.
func cli(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := portalCommand(t, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("portal %v: %v\n%s", args, err, out)
	}
}

const processPassword = "glacier umber copper raven"

// TestSIGTERMDrainsInFlightRequests sends a queue of logins (slow: argon2id, one per CPU at a time)
// and SIGTERM while they wait: every request that reached the server gets its full answer,
// the process exits cleanly, new connections are refused, and the database and its outbox
// are consistent afterwards.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "portal.db")
	emails := []string{"maria@northwind.example"}
	for i := 0; i < 5; i++ {
		emails = append(emails, fmt.Sprintf("colleague%d@northwind.example", i))
	}
	bootstrap(t, dbPath, emails...)
	p := startPortal(t, "serve", "--db", dbPath, "--lockout-threshold", "3")

	const n = 20 // the per-address login throttle lets 20 through at once
	type outcome struct {
		status int
		err    error
	}
	outcomes := make(chan outcome, n)
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(t, p.base)
	}
	var started sync.WaitGroup
	for i := 0; i < n; i++ {
		started.Add(1)
		go func(i int) {
			password := processPassword
			if k := i % len(emails); k == 2 || k == 4 { // two colleagues fail until locked; Maria, the admin, hears of it
				password = "a wrong password, to lock colleagues and queue notices"
			}
			started.Done()
			status, err := clients[i].login(emails[i%len(emails)], password)
			outcomes <- outcome{status, err}
		}(i)
	}
	started.Wait()
	time.Sleep(150 * time.Millisecond) // the logins are now queued for the hashing slots
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	inFlight := n - len(outcomes)

	answered := map[int]int{}
	for i := 0; i < n; i++ {
		o := <-outcomes
		if o.err != nil {
			t.Errorf("a request in flight at SIGTERM failed: %v", o.err)
			continue
		}
		answered[o.status]++
	}
	if answered[http.StatusSeeOther]+answered[http.StatusUnauthorized] != n {
		t.Errorf("answers %v, want %d × 303 or 401 and nothing else", answered, n)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("portal exited with %v after SIGTERM\n%s", err, p.logs)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("portal still running 45 s after SIGTERM")
	}
	t.Logf("drained %d requests (%d of them unanswered at SIGTERM) and exited %v after SIGTERM", n, inFlight, time.Since(signalled).Round(time.Millisecond))
	if _, err := http.Get(p.base + "/healthz"); err == nil {
		t.Error("a new request was answered after shutdown")
	}

	raw := openRaw(t, dbPath)
	integrityOK(t, raw)
	// Every automatic lock queued its notice to the admin in the same transaction.
	var locks, notices, odd int
	raw.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'auto_locked'`).Scan(&locks)
	raw.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'auto_locked'`).Scan(&notices)
	raw.QueryRow(`SELECT count(*) FROM outbox WHERE status NOT IN ('queued', 'sent', 'given_up', 'superseded')
		OR (status = 'queued') = (finished_at IS NOT NULL)`).Scan(&odd)
	if locks == 0 || notices < locks {
		t.Errorf("%d automatic locks and %d notices in the outbox, want at least one lock and a notice for each", locks, notices)
	}
	if odd != 0 {
		t.Errorf("%d outbox rows in an inconsistent state", odd)
	}
	if !strings.Contains(p.logs.String(), "shutting down") {
		t.Errorf("no shutdown in the log:\n%s", p.logs)
	}
}
