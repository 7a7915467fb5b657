// Command loadtest measures the portal under load on loopback, against a baseline measured
// in the same run (the machines are shared and noisy, so only ratios mean something).
//
//	go run -tags sqlite_fts5 ./loadtest [-contacts 100000] [-conns 32] [-duration 10s]
//	go run -tags sqlite_fts5 ./loadtest -db postgres://user@127.0.0.1/empty_db [-instances 2]
//
// It fills a fresh database (one account of N contacts and its contact admin): a SQLite file
// of its own, or with -db the PostgreSQL database named, which must be empty and is left
// filled. It starts `portal serve` (-instances of them, all on the one database) and a
// minimal Fiber + templ baseline server reading the same database as separate processes on
// 127.0.0.1. With two instances every request goes to the next instance in turn, as behind
// a round-robin load balancer: the cookies of a session signed in on one are sent to the
// other. Then it runs four bounded phases:
//  1. the baseline's first page at -conns connections, and
//  2. All Contacts' first page at -conns connections (target: ≥ 0.9× the baseline's req/s),
//     taking turns in six rounds of -duration/6 each, so that both meet the same noise;
//  3. a mix of signed-in admins listing, searching, opening details, locking and unlocking,
//     and logins (target: zero errors), with req/s and p50/p95/p99 per route;
//  4. All Contacts alone, and during a burst of 200 logins, three times over: the list's p99
//     during the bursts against its p99 alone, and how long the burst's logins take (no
//     target: hashing is bounded in memory and concurrency, and shares the CPU with pages);
//  5. with two instances: All Contacts and the mix on the first instance alone against both
//     in turn, taking turns in six rounds: what a second server adds (on one machine, the
//     same cores serve both).
//
// It sends traffic to loopback only and stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"portal/auth"
	"portal/db"
	"portal/demo"
	"portal/secrets"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "baseline" { // the baseline server, started by the load test itself
		fs := flag.NewFlagSet("baseline", flag.ExitOnError)
		dbPath := fs.String("db", "", "database: a SQLite file or a postgres:// URL")
		addr := fs.String("addr", "", "listen address")
		admin := fs.String("admin", "", "email of the contact admin whose page it serves")
		fs.Parse(os.Args[2:])
		if err := serveBaseline(*dbPath, *addr, *admin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	contacts := flag.Int("contacts", 100_000, "contacts in the account under test")
	conns := flag.Int("conns", 32, "concurrent connections")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase")
	burst := flag.Int("burst", 200, "logins in the burst of phase 4")
	portalBin := flag.String("portal", "", "portal binary (default: build it from this module)")
	mixFlag := flag.String("mix", "list=40,search=25,details=20,lock=12,login=3", "weights of the routes in phase 3")
	dsn := flag.String("db", "", "an empty PostgreSQL database to run on (postgres://...; default: a fresh SQLite file)")
	instances := flag.Int("instances", 1, "portal servers on the database, 1 or 2; requests take turns between them")
	flag.Parse()
	weights, err := parseMix(*mixFlag)
	if err == nil && (*instances < 1 || *instances > 2) {
		err = fmt.Errorf("-instances %d: want 1 or 2", *instances)
	}
	if err == nil && *dsn != "" && !db.IsPostgres(*dsn) {
		err = fmt.Errorf("-db %q: want a postgres:// URL (without -db the load test makes a SQLite file of its own)", *dsn)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	if err := run(*dsn, *instances, *contacts, *conns, *duration, *burst, *portalBin, weights); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(dsn string, instances, contacts, conns int, duration time.Duration, burst int, portalBin string, weights mix) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "portal-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbPath := dsn
	if dbPath == "" {
		dbPath = filepath.Join(dir, "portal.db")
	}

	fmt.Printf("seeding %d contacts into %s ...\n", contacts, db.RedactDSN(dbPath))
	seedStart := time.Now()
	fx, err := seed(ctx, dbPath, contacts)
	if err != nil {
		return err
	}
	fmt.Printf("seeded in %v\n", time.Since(seedStart).Round(time.Millisecond))

	if portalBin == "" {
		portalBin = filepath.Join(dir, "portal")
		build := exec.Command("go", "build", "-tags", "sqlite_fts5", "-o", portalBin, ".")
		build.Dir = moduleRoot()
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build portal: %w", err)
		}
	}
	baseAddr := freeAddr()
	var portalAddrs []string
	servers := []*exec.Cmd{exec.Command(os.Args[0], "baseline", "--db", dbPath, "--addr", baseAddr, "--admin", fx.adminEmail)}
	servers[0].Stderr = os.Stderr
	var keyArgs []string
	if dsn != "" {
		// On PostgreSQL serve refuses to start without the secrets key file, which every
		// instance must share (SQLite's is made beside its file).
		keyFile := filepath.Join(dir, "portal.secrets-key")
		if err := os.WriteFile(keyFile, []byte(secrets.NewKeyLine()+"\n"), 0o600); err != nil {
			return fmt.Errorf("write the secrets key file: %w", err)
		}
		keyArgs = []string{"--secrets-key-file", keyFile}
	}
	for range instances {
		addr := freeAddr()
		portalAddrs = append(portalAddrs, addr)
		portal := exec.Command(portalBin, append([]string{"serve", "--db", dbPath, "--addr", addr}, keyArgs...)...)
		portal.Stderr = io.Discard
		servers = append(servers, portal)
	}
	for _, p := range servers {
		if err := p.Start(); err != nil {
			return err
		}
		// SIGTERM, not SIGINT: a shell starts background jobs with SIGINT ignored, and the
		// servers would then never stop.
		defer func(p *exec.Cmd) { p.Process.Signal(syscall.SIGTERM); p.Wait() }(p)
	}
	// Requests go to portalURL; with two instances the transport sends each to the next
	// instance in turn.
	portalURL, baseURL := "http://"+portalAddrs[0], "http://"+baseAddr
	for _, addr := range append(portalAddrs, baseAddr) {
		if err := waitHealthy("http://" + addr); err != nil {
			return err
		}
	}
	balancer.addrs = portalAddrs

	admin, err := login(portalURL, fx.adminEmail, fx.password, conns)
	if err != nil {
		return err
	}
	fmt.Printf("\n%d connections, %v per phase, %d contacts in one account, %s, %d portal instance(s)\n\n",
		conns, duration, contacts, engineName(dbPath), instances)

	// Phase 1 and 2: the same first page, baseline and portal taking turns in short rounds
	// (ABBA), so that a noisy neighbour slowing the machine for a few seconds weighs on both.
	plain := newClient(nil, conns)
	base, list := newStats(), newStats()
	for round := 0; round < turns; round++ {
		runBase := func() {
			base.add(hammer(conns, duration/turns, func(int) (string, error) { return "baseline first page", get(plain, baseURL+"/") }))
		}
		runList := func() {
			list.add(hammer(conns, duration/turns, func(int) (string, error) { return "All Contacts", get(admin, portalURL+listPath) }))
		}
		if round%2 == 0 {
			runBase()
			runList()
		} else {
			runList()
			runBase()
		}
	}
	ratio := list.rate("All Contacts") / base.rate("baseline first page")
	fmt.Println("| phase | route | requests | req/s | p50 | p95 | p99 | errors |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	base.print("1 baseline")
	list.print("2 portal")
	fmt.Printf("\nAll Contacts vs baseline: %.2f× the baseline's req/s (target ≥ 0.90)\n\n", ratio)

	// Phase 3: the mix.
	token, err := csrfToken(admin, portalURL+listPath)
	if err != nil {
		return err
	}
	mix := hammer(conns, duration, mixRequest(admin, portalURL, fx, token, weights))
	mix.print("3 mix")

	// Phase 4: the list's p99 alone and during a burst of logins, in three rounds (alone,
	// burst, ..., alone): one burst's p99 rests on a few hundred requests, and a hiccup of
	// the machine in either window swung the ratio between 1.1 and 1.9.
	listAlone := func() stats {
		return hammer(8, duration/4, func(int) (string, error) { return "All Contacts", get(admin, portalURL+listPath) })
	}
	normal, during, logins := listAlone(), newStats(), newStats()
	for round := 0; round < bursts; round++ {
		burstDone := make(chan stats, 1)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			during.add(hammer(8, duration/2, func(int) (string, error) { return "All Contacts", get(admin, portalURL+listPath) }))
		}()
		time.Sleep(duration / 10)
		go func() { burstDone <- loginBurst(portalURL, fx.adminEmail, fx.password, burst) }()
		wg.Wait()
		logins.add(<-burstDone)
		normal.add(listAlone())
	}
	fmt.Println()
	normal.print("4 list alone")
	during.print("4 list + burst")
	logins.print("4 burst")
	p99Ratio := float64(during.percentile("All Contacts", 99)) / float64(normal.percentile("All Contacts", 99))
	fmt.Printf("\nAll Contacts p99 during bursts of %d logins vs alone: %.2f×\n", burst, p99Ratio)

	total := base.errorCount() + list.errorCount() + mix.errorCount() + normal.errorCount() + during.errorCount() + logins.errorCount()
	if instances == 2 {
		total += compareInstances(admin, portalURL, conns, duration, fx, token, weights)
	}
	fmt.Printf("errors: %d\n", total)
	if total > 0 {
		return errors.New("requests failed")
	}
	return nil
}

// mixRequest sends one request of the mix of phase 3, picked by weights.
func mixRequest(admin *http.Client, portalURL string, fx fixture, token string, weights mix) func(worker int) (string, error) {
	terms := []string{"anna", "kowal", "müller", "zoë", "garcía", "novák", "škoda", "ærø", "lindqvist", "tanaka"}
	return func(worker int) (string, error) {
		switch weights.pick() {
		case "list":
			return "list", get(admin, portalURL+listPath+"?sort="+[]string{"name", "email", "account", "last_login"}[rand.IntN(4)])
		case "search":
			return "search", get(admin, portalURL+listPath+"?q="+url.QueryEscape(terms[rand.IntN(len(terms))]))
		case "details":
			return "details", get(admin, fmt.Sprintf("%s/contacts/%d", portalURL, fx.contactIDs[rand.IntN(len(fx.contactIDs))]))
		case "lock":
			// Each worker locks and unlocks its own contacts, so the outcome is predictable.
			id := fx.contactIDs[worker%len(fx.contactIDs)]
			return "lock/unlock", lockUnlock(admin, portalURL, id, token)
		default:
			_, err := login(portalURL, fx.adminEmail, fx.password, 1)
			return "login", err
		}
	}
}

// compareInstances is phase 5: All Contacts, then the mix, each on the first instance alone
// and on both in turn, taking turns in rounds like phases 1 and 2. It prints the req/s of
// each and returns the number of failed requests.
func compareInstances(admin *http.Client, portalURL string, conns int, duration time.Duration, fx fixture, token string, weights mix) int {
	one, both := newStats(), newStats()
	for round := 0; round < turns; round++ {
		for _, alone := range []bool{round%2 == 0, round%2 != 0} {
			s := &both
			if alone {
				s = &one
			}
			balancer.onlyFirst.Store(alone)
			s.add(hammer(conns, duration/turns, func(int) (string, error) { return "All Contacts", get(admin, portalURL+listPath) }))
			s.add(hammer(conns, duration/turns, mixRequest(admin, portalURL, fx, token, weights)))
		}
	}
	balancer.onlyFirst.Store(false)
	fmt.Println()
	one.print("5 one instance")
	both.print("5 two instances")
	for _, route := range []string{"All Contacts", "list", "search", "details", "lock/unlock"} {
		fmt.Printf("%s: two instances %.2f× the req/s of one\n", route, both.rate(route)/one.rate(route))
	}
	return one.errorCount() + both.errorCount()
}

// turns is how many rounds phases 1 and 2 take turns in; bursts is how many bursts of
// logins phase 4 sends.
const turns, bursts = 6, 3

// mix is the weighted choice of routes in phase 3.
type mix struct {
	routes []string
	upTo   []int // cumulative weights
}

func parseMix(spec string) (mix, error) {
	var m mix
	total := 0
	for _, part := range strings.Split(spec, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains([]string{"list", "search", "details", "lock", "login"}, name) {
			return mix{}, fmt.Errorf("-mix %q: want route=weight,... with routes list, search, details, lock, login", spec)
		}
		total += n
		m.routes, m.upTo = append(m.routes, name), append(m.upTo, total)
	}
	if total == 0 {
		return mix{}, fmt.Errorf("-mix %q: the weights add up to 0", spec)
	}
	return m, nil
}

func (m mix) pick() string {
	r := rand.IntN(m.upTo[len(m.upTo)-1])
	for i, limit := range m.upTo {
		if r < limit {
			return m.routes[i]
		}
	}
	return m.routes[len(m.routes)-1]
}

// listPath is All Contacts.
const listPath = "/contacts"

type fixture struct {
	accountID  int64
	adminEmail string
	password   string
	contactIDs []int64 // active contacts of the account, for details and lock/unlock
}

// seed fills the database: one account with n contacts and a contact admin with a password.
// A PostgreSQL database must be empty: the figures are for a known population.
func seed(ctx context.Context, dsn string, n int) (fixture, error) {
	store, err := db.Open(dsn)
	if err != nil {
		return fixture{}, err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fixture{}, err
	}
	if accounts, err := store.AccountCount(ctx); err != nil {
		return fixture{}, err
	} else if accounts > 0 {
		return fixture{}, fmt.Errorf("%s holds %d accounts already: give the load test an empty database", db.RedactDSN(dsn), accounts)
	}
	pop, err := demo.Populate(ctx, store, demo.Scale{Contacts: n, Accounts: 1, Prefix: "Fabrikam"})
	if err != nil {
		return fixture{}, err
	}
	password, err := demo.Passphrase()
	if err != nil {
		return fixture{}, err
	}
	hash, err := auth.NewHasher(auth.DefaultParams, 1).Hash(ctx, password)
	if err != nil {
		return fixture{}, err
	}
	fx := fixture{accountID: pop.Root.ID, adminEmail: "load.admin@fabrikam.example", password: password}
	err = store.Write(ctx, func(tx *db.Tx) error {
		fx.contactIDs = nil // a run again (PostgreSQL) starts afresh
		_, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: pop.Root.ID, FirstName: "Load", LastName: "Admin", Email: fx.adminEmail, Roles: []db.Role{db.RoleContactAdmin}}, PasswordHash: hash})
		if err != nil {
			return err
		}
		// Spare admins, so that locking contacts never hits the last active admin.
		for i := 0; i < 64; i++ {
			id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: pop.Root.ID, FirstName: "Lock", LastName: fmt.Sprintf("Target %02d", i), Email: fmt.Sprintf("lock.target.%d@fabrikam.example", i)}})
			if err != nil {
				return err
			}
			fx.contactIDs = append(fx.contactIDs, id)
		}
		return nil
	})
	if err != nil {
		return fixture{}, err
	}
	return fx, store.Analyze(ctx)
}

func moduleRoot() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "."
	}
	return strings.TrimSpace(string(out))
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(base string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not become healthy", base)
}

func newClient(jar http.CookieJar, conns int) *http.Client {
	return &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: roundRobin{&http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// balancer holds the portal servers' addresses: requests to the first go to each in turn,
// unless onlyFirst is set (phase 5's one-instance rounds).
var balancer struct {
	addrs     []string
	next      atomic.Uint64
	onlyFirst atomic.Bool
}

// roundRobin sends each request for the first portal instance to the next instance in turn,
// as a load balancer in front of them would. The client has already added the cookies for
// the first instance's URL: cookies are per host, not per port, so they are the session's.
type roundRobin struct{ *http.Transport }

func (rr roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	if addrs := balancer.addrs; len(addrs) > 1 && req.URL.Host == addrs[0] && !balancer.onlyFirst.Load() {
		host := addrs[balancer.next.Add(1)%uint64(len(addrs))]
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = host, host
	}
	return rr.Transport.RoundTrip(req)
}

// engineName says which engine a database runs on.
func engineName(dsn string) string {
	if db.IsPostgres(dsn) {
		return "PostgreSQL"
	}
	return "SQLite"
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func csrfToken(c *http.Client, page string) (string, error) {
	resp, err := c.Get(page)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := csrfInput.FindSubmatch(body)
	if m == nil {
		return "", fmt.Errorf("no CSRF token on %s (status %d)", page, resp.StatusCode)
	}
	return string(m[1]), nil
}

// sourceAddrs hands out loopback source addresses (127.0.1.1, 127.0.1.2, ...): each login
// comes from an address of its own, as logins of different people do, so the per-address
// login throttle sees many clients instead of one.
var sourceAddrs atomic.Uint32

// login signs in with a fresh cookie jar and returns the signed-in client.
func login(base, email, password string, conns int) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := newClient(jar, conns)
	n := sourceAddrs.Add(1)
	local := &net.TCPAddr{IP: net.IPv4(127, byte(1+n>>16), byte(n>>8), byte(n))}
	c.Transport.(roundRobin).DialContext = (&net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}).DialContext
	token, err := csrfToken(c, base+"/login")
	if err != nil {
		return nil, err
	}
	resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {token}, "email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("login: status %d", resp.StatusCode)
	}
	return c, nil
}

func get(c *http.Client, u string) error {
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return nil
}

// lockUnlock locks a contact and unlocks it again, as an admin clicking twice would.
func lockUnlock(c *http.Client, base string, id int64, token string) error {
	for _, action := range []string{"lock", "unlock"} {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/contacts/%d/%s", base, id, action), nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", token)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("POST %s: status %d", action, resp.StatusCode)
		}
	}
	return nil
}

// loginBurst sends n logins at once, each on its own connection.
func loginBurst(base, email, password string, n int) stats {
	s := newStats()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t := time.Now()
			_, err := login(base, email, password, 1)
			s.record("login", time.Since(t), err)
		}()
	}
	s.start = time.Now()
	close(start)
	wg.Wait()
	s.elapsed = time.Since(s.start)
	return s
}

// hammer runs fn on `workers` goroutines for d and collects latency per route.
func hammer(workers int, d time.Duration, fn func(worker int) (route string, err error)) stats {
	s := newStats()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	s.start = time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				t := time.Now()
				route, err := fn(w)
				s.record(route, time.Since(t), err)
			}
		}(w)
	}
	wg.Wait()
	s.elapsed = time.Since(s.start)
	return s
}

type stats struct {
	mu      *sync.Mutex
	lat     map[string][]time.Duration
	errs    map[string]int
	first   map[string]error
	start   time.Time
	elapsed time.Duration
}

func newStats() stats {
	return stats{mu: &sync.Mutex{}, lat: map[string][]time.Duration{}, errs: map[string]int{}, first: map[string]error{}}
}

func (s stats) record(route string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lat[route] = append(s.lat[route], d)
	if err != nil {
		s.errs[route]++
		if s.first[route] == nil {
			s.first[route] = err
		}
	}
}

// add merges the requests of other, a later phase of the same kind, into s.
func (s *stats) add(other stats) {
	for route, l := range other.lat {
		s.lat[route] = append(s.lat[route], l...)
	}
	for route, n := range other.errs {
		s.errs[route] += n
	}
	for route, err := range other.first {
		if s.first[route] == nil {
			s.first[route] = err
		}
	}
	s.elapsed += other.elapsed
}

func (s stats) rate(route string) float64 { return float64(len(s.lat[route])) / s.elapsed.Seconds() }

func (s stats) percentile(route string, p int) time.Duration {
	l := slices.Clone(s.lat[route])
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*p/100)]
}

func (s stats) errorCount() int {
	n := 0
	for _, e := range s.errs {
		n += e
	}
	return n
}

func (s stats) print(phase string) {
	routes := make([]string, 0, len(s.lat))
	for r := range s.lat {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, r := range routes {
		fmt.Printf("| %s | %s | %d | %.0f | %v | %v | %v | %d |\n", phase, r, len(s.lat[r]), s.rate(r),
			s.percentile(r, 50).Round(10*time.Microsecond), s.percentile(r, 95).Round(10*time.Microsecond),
			s.percentile(r, 99).Round(10*time.Microsecond), s.errs[r])
		if s.first[r] != nil {
			fmt.Printf("|   | first error: %v |\n", s.first[r])
		}
	}
}
