package reliability_test

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// Several `portal serve` processes on one PostgreSQL database, behind a load balancer, act
// as one portal. These tests run two real servers on one database. A client's cookies are
// the same on both (cookies don't tell ports apart), so a client moves between them as a
// load balancer without sticky sessions would move it.

// twoServers starts two portals with the same flags at the same moment and waits until
// both answer.
func twoServers(t *testing.T, args ...string) (a, b *process) {
	t.Helper()
	a, b = launchPortal(t, args...), launchPortal(t, args...)
	a.waitHealthy()
	b.waitHealthy()
	return a, b
}

// openPostgres opens the database at dsn for the tests' own checks.
func openPostgres(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func contactID(t *testing.T, raw *sql.DB, email string) int64 {
	t.Helper()
	var id int64
	if err := raw.QueryRow(`SELECT id FROM contacts WHERE email = $1`, email).Scan(&id); err != nil {
		t.Fatalf("contact %s: %v", email, err)
	}
	return id
}

// addColleague adds a contact without a password through the command line (no password
// hash to spend: the race detector makes each take a second or more), which queues its
// invitation.
func addColleague(t *testing.T, dsn, email string) {
	t.Helper()
	cli(t, "", "contact", "add", "--db", dsn, "--account", "Northwind Traders", "--email", email,
		"--first", "Colleague", "--last", "Without Password")
}

// get fetches page (a URL of either server) with c's cookies.
func (c *client) get(t *testing.T, page string) (status int, location, body string) {
	t.Helper()
	resp, err := c.http.Get(page)
	if err != nil {
		t.Fatalf("GET %s: %v", page, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// TestTwoServersShareSessionsAndScopes: a contact signed in through server A is signed in
// on B too; an admin locks it through B, and its very next request to A finds no session.
// An account added meanwhile (by the command line) is in both servers' scopes within about
// a second.
func TestTwoServersShareSessionsAndScopes(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	bootstrap(t, dsn, "maria@northwind.example", "bob@northwind.example")
	a, b := twoServers(t, "serve", "--db", dsn)
	raw := openPostgres(t, dsn)
	bobID := contactID(t, raw, "bob@northwind.example")

	bob := newClient(t, a.base)
	if status, err := bob.login("bob@northwind.example", processPassword); err != nil || status != http.StatusSeeOther {
		t.Fatalf("Bob signs in through A: %d %v, want 303", status, err)
	}
	for _, p := range []*process{a, b} {
		if status, location, _ := bob.get(t, p.base+"/"); status != http.StatusOK {
			t.Fatalf("Bob's home page on %s: %d (to %q), want 200", p.base, status, location)
		}
	}

	maria := newClient(t, b.base)
	if status, err := maria.login("maria@northwind.example", processPassword); err != nil || status != http.StatusSeeOther {
		t.Fatalf("Maria signs in through B: %d %v, want 303", status, err)
	}
	if err := maria.refreshToken(fmt.Sprintf("/contacts/%d", bobID)); err != nil {
		t.Fatal(err)
	}
	if body, err := maria.htmxPost(fmt.Sprintf("/contacts/%d/lock", bobID)); err != nil || !strings.Contains(body, "has been successfully") {
		t.Fatalf("Maria locks Bob through B: %v\n%s", err, body)
	}
	status, location, _ := bob.get(t, a.base+"/")
	if status != http.StatusSeeOther || !strings.HasPrefix(location, "/login") {
		t.Errorf("Bob's next request to A after the lock through B: %d to %q, want 303 to /login", status, location)
	}
	if n, err := dbtest.Open(t, dsn).CountSessions(t.Context(), bobID); err != nil || n != 0 {
		t.Errorf("Bob's sessions after the lock: %d, %v; want 0", n, err)
	}

	// Both servers keep Maria's scope now; the command line adds an account to it.
	for _, p := range []*process{a, b} {
		if _, _, body := maria.get(t, p.base+"/contacts/new"); !strings.Contains(body, "Northwind Traders") ||
			strings.Contains(body, "Northwind Retail") {
			t.Fatalf("the new contact form on %s before the account is added lists the wrong accounts:\n%s", p.base, body)
		}
	}
	cli(t, "", "account", "add", "Northwind Retail", "--parent", "Northwind Traders", "--db", dsn)
	added := time.Now()
	for _, p := range []*process{a, b} {
		for {
			if _, _, body := maria.get(t, p.base+"/contacts/new"); strings.Contains(body, "Northwind Retail") {
				break
			}
			// A server checks for new accounts once a second; the rest is this machine's pace.
			if time.Since(added) > 2*time.Second {
				t.Fatalf("%s does not offer the account added %v ago", p.base, time.Since(added).Round(time.Millisecond))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("both servers offered the new account %v after it was added", time.Since(added).Round(time.Millisecond))
}

// TestFailedLoginsOverTwoServersCountOnce: 50 wrong passwords for one contact at once,
// spread over both servers, count 50, lock the contact once and tell its admin once.
func TestFailedLoginsOverTwoServersCountOnce(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	cli(t, "", "account", "add", "Northwind Traders", "--db", dsn)
	cli(t, "", "contact", "add", "--db", dsn, "--account", "Northwind Traders", "--email", "maria@northwind.example",
		"--first", "Maria", "--last", "Anders", "--role", "contact-admin")
	cli(t, processPassword+"\n", "contact", "add", "--db", dsn, "--account", "Northwind Traders", "--password-stdin",
		"--email", "bob@northwind.example", "--first", "Bob", "--last", "Brown")
	// Neither the per-address limit (all the clients are 127.0.0.1) nor the back-off per
	// user name (each failure doubles the wait for the next) is what this test is about.
	a, b := twoServers(t, "serve", "--db", dsn, "--login-throttle-burst", "1000", "--login-backoff", "0",
		"--lockout-threshold", "10")
	raw := openPostgres(t, dsn)
	bobID, mariaID := contactID(t, raw, "bob@northwind.example"), contactID(t, raw, "maria@northwind.example")

	const n = 50
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = newClient(t, []*process{a, b}[i%2].base)
	}
	statuses := make(chan int, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for _, c := range clients {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			status, err := c.login("bob@northwind.example", "not Bob's password at all")
			if err != nil {
				t.Error(err)
			}
			statuses <- status
		}()
	}
	start.Done()
	done.Wait()
	close(statuses)
	for status := range statuses {
		if status != http.StatusUnauthorized {
			t.Errorf("a wrong password was answered %d, want 401", status)
		}
	}

	var failed int
	var state, reason string
	if err := raw.QueryRow(`SELECT failed_logins, status, lock_reason FROM contacts WHERE id = $1`, bobID).
		Scan(&failed, &state, &reason); err != nil {
		t.Fatal(err)
	}
	if failed != n || state != db.StatusLocked || reason != db.LockedByFailedLogins {
		t.Errorf("Bob: %d failed logins, %s (%s); want %d, locked (failed_logins)", failed, state, reason, n)
	}
	check := dbtest.Open(t, dsn)
	if got, err := check.CountAudit(t.Context(), db.ActionLoginFailed, bobID); err != nil || got != n {
		t.Errorf("%d failed login events, %v; want %d", got, err, n)
	}
	if got, err := check.CountAudit(t.Context(), db.ActionAutoLocked, bobID); err != nil || got != 1 {
		t.Errorf("%d automatic lock events, %v; want 1", got, err)
	}
	mail, err := check.MailTo(t.Context(), mariaID)
	if err != nil {
		t.Fatal(err)
	}
	notices := 0
	for _, m := range mail {
		if m.Kind == db.MailAutoLocked {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d notices of the lock to Maria, want 1 (her mail: %+v)", notices, mail)
	}
}

// TestAddressThrottleHoldsOverTwoServers: one address gets its burst of 20 sign-ins once,
// not once per server: spread over both, the 21st is refused by either.
func TestAddressThrottleHoldsOverTwoServers(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	a, b := twoServers(t, "serve", "--db", dsn, "--login-throttle-burst", "20",
		"--login-throttle-interval", "1h", "--login-backoff", "0")
	clients := []*client{newClient(t, a.base), newClient(t, b.base)}
	for i := 0; i < 20; i++ {
		if status, err := clients[i%2].login("nobody@northwind.example", "a guess"); err != nil || status != http.StatusUnauthorized {
			t.Fatalf("sign-in %d of the burst, through %s: %d %v; want 401", i+1, clients[i%2].base, status, err)
		}
	}
	for _, c := range clients {
		if status, err := c.login("nobody@northwind.example", "a guess"); err != nil || status != http.StatusTooManyRequests {
			t.Errorf("a sign-in past the burst through %s: %d %v; want 429", c.base, status, err)
		}
	}
}

// messageIDs counts the messages the SMTP server received by the outbox id their
// Message-ID carries.
func messageIDs(t *testing.T, msgs []portaltest.Message) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, m := range msgs {
		local, _, ok := strings.Cut(strings.Trim(m.Header.Get("Message-Id"), "<>"), "@")
		if !ok {
			t.Fatalf("a message without a Message-ID of the portal's: %q", m.Header.Get("Message-Id"))
		}
		ids[local]++
	}
	return ids
}

// checkSentOnce checks that every mail of the outbox was sent, exactly once.
func checkSentOnce(t *testing.T, dsn string, smtp *portaltest.SMTPServer) int {
	t.Helper()
	outbox, err := dbtest.Open(t, dsn).AllMail(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	received := messageIDs(t, smtp.Messages())
	for _, m := range outbox {
		if m.Status != db.MailSent || m.Attempts != 1 || received[m.ID] != 1 {
			t.Errorf("mail %s (%s to %s): %s after %d attempts, received %d times; want sent once",
				m.ID, m.Kind, m.ToEmail, m.Status, m.Attempts, received[m.ID])
		}
	}
	if len(received) != len(outbox) {
		t.Errorf("the SMTP server received %d different mails, the outbox holds %d", len(received), len(outbox))
	}
	return len(outbox)
}

// waitOutboxEmpty waits until nothing is queued any more.
func waitOutboxEmpty(t *testing.T, raw *sql.DB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var queued int
		if err := raw.QueryRow(`SELECT count(*) FROM outbox WHERE status = 'queued'`).Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails still queued after %v", queued, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMailOverTwoServersSentOnce: both servers' mail workers share one outbox. An admin
// creates 19 more admins and 10 colleagues through both servers (29 invitations), and a
// wrong password locks each colleague, through either server, which tells its 20 admins
// (200 notices): all 229 mails arrive at the SMTP server exactly once each.
func TestMailOverTwoServersSentOnce(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	smtp := portaltest.NewSMTPServer(t)
	bootstrap(t, dsn, "maria@northwind.example")
	args := append([]string{"serve", "--db", dsn, "--lockout-threshold", "1", "--login-backoff", "0",
		"--login-throttle-burst", "1000"}, smtp.Args()...)
	a, b := twoServers(t, args...)
	var accountID int64
	if err := openPostgres(t, dsn).QueryRow(`SELECT id FROM accounts`).Scan(&accountID); err != nil {
		t.Fatal(err)
	}

	maria := newClient(t, a.base)
	if status, err := maria.login("maria@northwind.example", processPassword); err != nil || status != http.StatusSeeOther {
		t.Fatalf("Maria signs in: %d %v, want 303", status, err)
	}
	if err := maria.refreshToken("/contacts/new"); err != nil {
		t.Fatal(err)
	}
	const admins, colleagues = 20, 10
	create := func(i int, email string, roles ...string) {
		c := *maria
		c.base = []*process{a, b}[i%2].base
		if status, err := c.post("/contacts", url.Values{"first_name": {"Contact"}, "last_name": {fmt.Sprint("Number ", i)},
			"email": {email}, "account_id": {fmt.Sprint(accountID)}, "role": roles}); err != nil || status != http.StatusSeeOther {
			t.Fatalf("create %s through %s: %d %v, want 303", email, c.base, status, err)
		}
	}
	for i := 1; i < admins; i++ {
		create(i, fmt.Sprintf("admin%d@northwind.example", i), "contact_admin")
	}
	for i := 0; i < colleagues; i++ {
		create(i, fmt.Sprintf("colleague%d@northwind.example", i))
	}

	var wg sync.WaitGroup
	for i := 0; i < colleagues; i++ {
		c := newClient(t, []*process{a, b}[i%2].base)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, err := c.login(fmt.Sprintf("colleague%d@northwind.example", i), "a wrong password"); err != nil || status != http.StatusUnauthorized {
				t.Errorf("wrong password for colleague %d: %d %v; want 401", i, status, err)
			}
		}()
	}
	wg.Wait()
	const want = admins - 1 + colleagues + colleagues*admins
	smtp.WaitFor(want, 30*time.Second)
	waitOutboxEmpty(t, openPostgres(t, dsn), 10*time.Second)
	time.Sleep(500 * time.Millisecond) // a mail sent twice would arrive about now
	if got := checkSentOnce(t, dsn, smtp); got != want {
		t.Errorf("%d mails in the outbox, want %d", got, want)
	}
	sentA, sentB := strings.Count(a.logs.String(), "mail sent"), strings.Count(b.logs.String(), "mail sent")
	if sentA+sentB != want || sentA == 0 || sentB == 0 {
		t.Errorf("server A logged %d mails sent, B %d; want %d together, some by each", sentA, sentB, want)
	}
	t.Logf("server A sent %d mails, B %d", sentA, sentB)
}

// TestServersStartedTogetherMigrateOnce: two servers started at the same moment on an
// empty database apply each migration once, without an error, and agree on the secret
// their forms are signed with: a form fetched from A is accepted by B.
func TestServersStartedTogetherMigrateOnce(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	a, b := twoServers(t, "serve", "--db", dsn)
	raw := openPostgres(t, dsn)
	entries, err := os.ReadDir("../db/migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{}
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		want[v] = true
	}
	want[98] = true // the one step in Go (db/postgres.go): words with an apostrophe also without it
	rows, err := raw.Query(`SELECT version, count(*) FROM schema_version GROUP BY version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int]bool{}
	for rows.Next() {
		var version, n int
		if err := rows.Scan(&version, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 || !want[version] {
			t.Errorf("schema_version holds version %d %d times, want once and only versions of db/migrations/postgres and 98", version, n)
		}
		got[version] = true
	}
	if len(got) != len(want) {
		t.Errorf("schema_version holds %d versions, want %d", len(got), len(want))
	}
	for _, p := range []*process{a, b} {
		if logs := p.logs.String(); strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "level=WARN") {
			t.Errorf("%s logged a problem while starting:\n%s", p.base, logs)
		}
	}

	bootstrap(t, dsn, "maria@northwind.example")
	c := newClient(t, a.base) // the login form, and its token, from A
	c.base = b.base
	if status, err := c.login("maria@northwind.example", processPassword); err != nil || status != http.StatusSeeOther {
		t.Errorf("signing in through B with A's form: %d %v; want 303", status, err)
	}
}

// TestSIGTERMToOneServerLosesNothingOnTheOther: two servers under load (wrong passwords
// that lock colleagues and tell their admin, the admin unlocking them, pages read); one of
// them gets SIGTERM. Every request to the other keeps succeeding, and every mail queued
// through either, those the stopped one left behind included, is sent exactly once.
func TestSIGTERMToOneServerLosesNothingOnTheOther(t *testing.T) {
	dsn := dbtest.PostgresURL(t)
	smtp := portaltest.NewSMTPServer(t)
	const perServer = 2
	emails := []string{"maria@northwind.example"}
	bootstrap(t, dsn, emails[0])
	for i := 0; i < 2*perServer; i++ {
		emails = append(emails, fmt.Sprintf("colleague%d@northwind.example", i))
		addColleague(t, dsn, emails[i+1])
	}
	args := append([]string{"serve", "--db", dsn, "--lockout-threshold", "1", "--login-backoff", "0",
		"--login-throttle-burst", "100000"}, smtp.Args()...)
	a, b := twoServers(t, args...)
	raw := openPostgres(t, dsn)

	admin := newClient(t, b.base)
	if status, err := admin.login(emails[0], processPassword); err != nil || status != http.StatusSeeOther {
		t.Fatalf("admin login: %d %v", status, err)
	}
	if err := admin.refreshToken("/contacts/new"); err != nil {
		t.Fatal(err)
	}

	type tally struct {
		mu       sync.Mutex
		ok       int
		failures []string
	}
	var onA, onB tally
	var stopLoad sync.WaitGroup
	quit := make(chan struct{})
	for w := 0; w < 2*perServer; w++ {
		server, tl := a, &onA
		if w%2 == 1 {
			server, tl = b, &onB
		}
		target := contactID(t, raw, emails[w+1])
		guesser := newClient(t, server.base)
		me := *admin
		me.base = server.base
		stopLoad.Add(1)
		go func() {
			defer stopLoad.Done()
			record := func(what string, ok bool) bool {
				tl.mu.Lock()
				defer tl.mu.Unlock()
				if ok {
					tl.ok++
				} else {
					tl.failures = append(tl.failures, what)
				}
				return ok
			}
			for i := 0; ; i++ {
				select {
				case <-quit:
					return
				default:
				}
				status, err := guesser.login(emails[w+1], "a wrong password")
				if !record(fmt.Sprintf("wrong password: %d %v", status, err), err == nil && status == http.StatusUnauthorized) && server == a {
					return // A is going away
				}
				body, err := me.htmxPost(fmt.Sprintf("/contacts/%d/unlock", target))
				if !record(fmt.Sprintf("unlock: %v %.100q", err, body), err == nil && strings.Contains(body, "has been successfully")) && server == a {
					return
				}
				resp, err := me.http.Get(fmt.Sprintf("%s/contacts/%d", server.base, target))
				if err == nil {
					resp.Body.Close()
				}
				if !record(fmt.Sprintf("contact page: %v", err), err == nil && resp.StatusCode == http.StatusOK) && server == a {
					return
				}
			}
		}()
	}

	time.Sleep(1500 * time.Millisecond)
	onB.mu.Lock()
	before := onB.ok
	onB.mu.Unlock()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("server A exited with %v after SIGTERM\n%s", err, a.logs)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("server A still running 45 s after SIGTERM")
	}
	time.Sleep(1500 * time.Millisecond) // B carries on alone
	close(quit)
	stopLoad.Wait()

	onB.mu.Lock()
	if len(onB.failures) > 0 {
		t.Errorf("%d requests to B failed while A stopped, the first: %s", len(onB.failures), onB.failures[0])
	}
	if onB.ok <= before {
		t.Errorf("B answered %d requests before A's SIGTERM and none after", before)
	}
	t.Logf("B answered %d requests, %d of them after A's SIGTERM; A answered %d", onB.ok, onB.ok-before, onA.ok)
	onB.mu.Unlock()

	waitOutboxEmpty(t, raw, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	n := checkSentOnce(t, dsn, smtp)
	if n == 0 {
		t.Error("no mail was queued: the load exercised nothing")
	}
	t.Logf("%d mails, each sent once; A sent %d of them, B %d", n,
		strings.Count(a.logs.String(), "mail sent"), strings.Count(b.logs.String(), "mail sent"))
}
