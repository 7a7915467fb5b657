// Package portaltest starts a real portal for tests: a real database (a SQLite file in
// t.TempDir(), or a PostgreSQL database of its own), the real Fiber app, an injectable
// clock, and a cookie-keeping client that speaks forms and HTMX the way a browser does.
// Nothing in it stands in for the database.
package portaltest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/app"
	"portal/auth"
	"portal/config"
	"portal/db"
	"portal/db/dbtest"
	"portal/db/testdb"
	"portal/demo"
	"portal/mail"
	"portal/secrets"
	"portal/session"
)

// FastParams keep argon2id cheap in tests that are not about hashing itself.
var FastParams = auth.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// Password is a password every seeded contact gets unless a test says otherwise.
const Password = "correct staple battery horse"

// Clock is a settable clock shared by the app and the test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at a fixed, readable moment.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is one portal under test.
type Env struct {
	T      testing.TB
	App    *app.App
	Store  *db.Store
	Clock  *Clock
	Config config.Config
	Hasher *auth.Hasher
	Ctx    context.Context
	// SMTP receives the portal's mail: New points the portal at it. Mail waits in the outbox
	// until the test calls DeliverMail (nothing runs the worker in the background).
	SMTP *SMTPServer
}

// Options change how New builds the portal.
type Options struct {
	Args       []string // extra server flags, as on the command line
	RealHasher bool     // use production argon2id parameters
	Env        map[string]string
	AppOptions []app.Option // extra options (a mail transport, ...)
	Log        io.Writer    // receives the app's log (tests that inspect it)
	// Engine is the database the portal runs on: SQLite (the default) in a fresh file, or
	// PostgreSQL in a fresh database (dbtest.PostgresURL; the test is skipped without a
	// server, except in CI).
	Engine Engine
}

// Engine is a database engine the portal runs on.
type Engine = testdb.Engine

// The engines, as subtests name them.
const (
	SQLite   = testdb.SQLite
	Postgres = testdb.Postgres
)

// Engines are both engines, for tests that run once on each as subtests.
var Engines = testdb.Engines

// OnEachEngine runs test as one subtest per engine.
func OnEachEngine(t *testing.T, test func(t *testing.T, engine Engine)) {
	t.Helper()
	testdb.OnEachEngine(t, test)
}

// New starts a portal on a fresh database file.
func New(t testing.TB, opts ...Options) *Env {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	engine := o.Engine
	if engine == "" {
		engine = SQLite
	}
	database := testdb.New(t, engine)
	var keyArgs []string
	if engine == Postgres {
		// PostgreSQL needs the secrets key file given (SQLite has one made beside its file).
		keyFile := filepath.Join(t.TempDir(), "portal.secrets-key")
		if err := os.WriteFile(keyFile, []byte(secrets.NewKeyLine()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		keyArgs = []string{"--secrets-key-file", keyFile}
	}
	smtpServer := NewSMTPServer(t)
	// The back-off after failed logins waits on the wall clock: tests that fail logins in a
	// row would wait seconds at its production setting. Tests of the back-off set their own.
	args := append([]string{"--db", database, "--addr", "127.0.0.1:0",
		"--base-url", "https://portal.example.test", "--login-backoff", "1ms", "--login-backoff-max", "2ms"},
		smtpServer.Args()...)
	args = append(append(args, keyArgs...), o.Args...)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	build := config.Flags(fs, func(k string) string { return o.Env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatalf("flags: %v", err)
	}
	cfg, err := build()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	clock := NewClock()
	hasher := auth.NewHasher(FastParams, 4)
	if o.RealHasher {
		hasher = app.NewHasher()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	if o.Log != nil {
		log = slog.New(slog.NewTextHandler(o.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	appOpts := append([]app.Option{app.WithClock(clock.Now), app.WithHasher(hasher)}, o.AppOptions...)
	a, err := app.New(context.Background(), cfg, log, appOpts...)
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return &Env{T: t, App: a, Store: a.Store(), Clock: clock, Config: cfg, Hasher: hasher, Ctx: context.Background(),
		SMTP: smtpServer}
}

// Cookies are the names of the portal's cookies: __Host- prefixed when the base URL is
// https (the tests' default), plain over http.
func (e *Env) Cookies() session.Cookies { return session.CookieNames(e.Config.Secure()) }

// Check opens the portal's database for a test's checks (what no page shows: audit rows,
// sessions, the outbox); closed when the test ends.
func (e *Env) Check() *dbtest.DB { return dbtest.Open(e.T, e.Config.DBPath) }

// DeliverMail runs the outbox worker once: every mail that is due is sent to Env.SMTP (or
// rescheduled if it is stopped) before DeliverMail returns, so tests need no waiting.
func (e *Env) DeliverMail() mail.Result {
	e.T.Helper()
	r, err := e.App.Mail().RunOnce(e.Ctx)
	if err != nil {
		e.T.Fatalf("deliver mail: %v", err)
	}
	return r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Account creates an account under parent (nil for a top-level one).
func (e *Env) Account(name string, parent *db.Account) db.Account {
	e.T.Helper()
	var parentID int64
	if parent != nil {
		parentID = parent.ID
	}
	a, err := e.Store.CreateAccount(e.Ctx, name, parentID)
	if err != nil {
		e.T.Fatalf("create account %s: %v", name, err)
	}
	return a
}

// Contact creates a contact with Password in account; email also names it.
func (e *Env) Contact(account db.Account, first, last, email string, roles ...db.Role) db.Contact {
	e.T.Helper()
	hash, err := e.Hasher.Hash(e.Ctx, Password)
	if err != nil {
		e.T.Fatal(err)
	}
	var id int64
	err = e.Store.Write(e.Ctx, func(tx *db.Tx) error {
		id, err = tx.CreateContact(e.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: account.ID, FirstName: first, LastName: last, Email: email, Roles: roles}, PasswordHash: hash})
		return err
	})
	if err != nil {
		e.T.Fatalf("create contact %s: %v", email, err)
	}
	c, err := e.Store.ContactByID(e.Ctx, id)
	if err != nil {
		e.T.Fatal(err)
	}
	return c
}

// Lock locks target as the contact admin admin would, through the portal's rules.
func (e *Env) Lock(admin, target db.Contact) {
	e.T.Helper()
	actor, err := e.App.Contacts().Admin(e.Ctx, admin, "192.0.2.1")
	if err != nil {
		e.T.Fatalf("%s acting as an admin: %v", admin.Email, err)
	}
	if _, err := e.App.Contacts().Lock(e.Ctx, actor, target.ID); err != nil {
		e.T.Fatalf("lock %s: %v", target.Email, err)
	}
}

// Reload reads a contact again.
func (e *Env) Reload(c db.Contact) db.Contact {
	e.T.Helper()
	fresh, err := e.Store.ContactByID(e.Ctx, c.ID)
	if err != nil {
		e.T.Fatalf("reload contact %d: %v", c.ID, err)
	}
	return fresh
}

// Browser keeps cookies between requests to the app, like a browser would.
type Browser struct {
	env     *Env
	t       testing.TB  // reports failures; nil: the Env's
	mu      *sync.Mutex // shared with the copies For makes, as is cookies
	cookies map[string]*http.Cookie
	// CSRF is the token of the last page that carried one.
	CSRF string
}

func (b *Browser) tb() testing.TB {
	if b.t != nil {
		return b.t
	}
	return b.env.T
}

// For returns the same browser (same cookies, same session) reporting to t: a fuzz target
// or subtest must not report through its parent.
func (b *Browser) For(t testing.TB) *Browser {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &Browser{env: b.env, t: t, mu: b.mu, cookies: b.cookies, CSRF: b.CSRF}
}

// Browser returns a fresh, signed-out browser.
func (e *Env) Browser() *Browser {
	return &Browser{env: e, mu: &sync.Mutex{}, cookies: map[string]*http.Cookie{}}
}

// Login signs in as email with Password and fails the test if that doesn't work.
func (e *Env) Login(email string) *Browser {
	e.T.Helper()
	b := e.Browser()
	resp := b.Login(email, Password)
	if resp.StatusCode != http.StatusSeeOther {
		e.T.Fatalf("login %s: status %d, want 303; body: %s", email, resp.StatusCode, resp.Body)
	}
	return b
}

// Response is a finished response with its body read.
type Response struct {
	*http.Response
	Body string
}

// Login posts the login form.
// Like a browser, it then follows the redirect of a successful login, which also picks up
// the CSRF token of the new sign-in; the login response itself is returned.
func (b *Browser) Login(email, password string) Response {
	b.tb().Helper()
	b.Get("/login")
	resp := b.PostForm("/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode == http.StatusSeeOther {
		b.Get(resp.Header.Get("Location"))
	}
	return resp
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// Do sends req through the app with the browser's cookies and keeps the cookies it sets.
func (b *Browser) Do(req *http.Request) Response {
	b.tb().Helper()
	b.mu.Lock()
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	b.mu.Unlock()
	resp, err := b.env.App.Handler().Test(req, -1)
	if err != nil {
		b.tb().Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.mu.Lock()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || c.Value == "" {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	if m := csrfInput.FindStringSubmatch(string(body)); m != nil {
		b.CSRF = m[1]
	}
	b.mu.Unlock()
	return Response{Response: resp, Body: string(body)}
}

// Get fetches a page as a plain browser navigation.
func (b *Browser) Get(path string) Response {
	b.tb().Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test"+path, nil)
	return b.Do(req)
}

// HTMXGet fetches path the way HTMX does (HX-Request: true).
func (b *Browser) HTMXGet(path string) Response {
	b.tb().Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test"+path, nil)
	req.Header.Set("HX-Request", "true")
	return b.Do(req)
}

// PostForm posts a form with the current CSRF token added (unless form already has one).
func (b *Browser) PostForm(path string, form url.Values) Response {
	b.tb().Helper()
	return b.post(path, form, false)
}

// HTMXPost posts a form the way HTMX does: the CSRF token in the header, HX-Request set.
func (b *Browser) HTMXPost(path string, form url.Values) Response {
	b.tb().Helper()
	return b.post(path, form, true)
}

func (b *Browser) post(path string, form url.Values, htmx bool) Response {
	if form == nil {
		form = url.Values{}
	}
	form = cloneValues(form)
	req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test"+path, nil)
	b.mu.Lock() // Do updates CSRF; browsers are shared by concurrent requests in some tests
	token := b.CSRF
	b.mu.Unlock()
	if htmx {
		req.Header.Set("HX-Request", "true")
		req.Header.Set("X-CSRF-Token", token)
	} else if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", token)
	}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	req.ContentLength = int64(len(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.Do(req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	return out
}

// Cookie returns the browser's cookie of that name, or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cookies[name]
}

// SetCookie replaces a cookie (tests replay old session cookies with it).
func (b *Browser) SetCookie(c *http.Cookie) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cookies[c.Name] = c
}

// Serve runs the app on a loopback port until the test ends and returns its base URL
// (http://127.0.0.1:PORT). Tests that need real TCP (browsers, load, shutdown) use it.
func (e *Env) Serve() string {
	e.T.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.T.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.App.Serve(ctx, ln) }()
	e.T.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			e.T.Error("server did not shut down within 40 s")
		}
	})
	return "http://" + ln.Addr().String()
}

// LogBuffer collects log output (or a child process's) safely from many goroutines, for
// tests that read what was logged.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Populate adds generated contacts as demo.Populate does. On PostgreSQL they go in one by
// one through CreateContact, as they did before the bulk loader ran there, and the tests on
// PostgreSQL count on these: the accounts are made as demo.Populate makes them, the contacts
// have names with letters outside ASCII, and one in thirty is locked.
func (e *Env) Populate(sc demo.Scale) demo.Population {
	e.T.Helper()
	if !e.Store.Postgres() {
		pop, err := demo.Populate(e.Ctx, e.Store, sc)
		if err != nil {
			e.T.Fatalf("populate: %v", err)
		}
		return pop
	}
	if sc.Accounts < 1 {
		sc.Accounts = 1
	}
	if sc.Prefix == "" {
		sc.Prefix = "Fabrikam"
	}
	var pop demo.Population
	for i := range sc.Accounts {
		name, parent := sc.Prefix, sc.Parent
		if i > 0 {
			name, parent = fmt.Sprintf("%s Division %d", sc.Prefix, i+1), pop.Root.ID
		}
		a, err := e.Store.CreateAccount(e.Ctx, name, parent)
		if err != nil {
			e.T.Fatalf("populate: %v", err)
		}
		if i == 0 {
			pop.Root = a
		}
		pop.Accounts = append(pop.Accounts, a)
	}
	first := []string{"Anna", "Łukasz", "Zoë", "Jürgen", "Søren", "Mateo", "Aiko", "Priya", "James", "Mary", "東京"}
	last := []string{"Kowalski", "Müller", "Ærø", "Dubois", "Škoda", "Tanaka", "Smith", "Jones", "O'Brien"}
	const batch = 500
	for start := 0; start < sc.Contacts; start += batch {
		err := e.Store.Write(e.Ctx, func(tx *db.Tx) error {
			for i := start; i < min(start+batch, sc.Contacts); i++ {
				acc := pop.Accounts[i%len(pop.Accounts)]
				id, err := tx.CreateContact(e.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID,
					FirstName: first[i%len(first)], LastName: last[(i/len(first))%len(last)],
					Email: fmt.Sprintf("bulk.%d.%d@%s.example", acc.ID, i, strings.ToLower(strings.ReplaceAll(sc.Prefix, " ", "-")))}})
				if err != nil {
					return err
				}
				if i%30 == 29 {
					if _, err := tx.LockContact(e.Ctx, id, 0); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			e.T.Fatalf("populate: %v", err)
		}
	}
	return pop
}
