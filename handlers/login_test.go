package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// loginEnv is a portal with one account and a contact admin and a contact without roles.
type loginEnv struct {
	*portaltest.Env
	check   *dbtest.DB
	account db.Account
	admin   db.Contact
	member  db.Contact
}

// newLoginEnv starts it on engine, with opts.
func newLoginEnv(t *testing.T, engine portaltest.Engine, opts ...portaltest.Options) loginEnv {
	var o portaltest.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Engine = engine
	env := portaltest.New(t, o)
	acc := env.Account("Northwind Traders", nil)
	return loginEnv{
		Env:     env,
		check:   dbtest.Open(t, env.Config.DBPath),
		account: acc,
		admin:   env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin),
		member:  env.Contact(acc, "Łukasz", "Kowalski", "lukasz@northwind.example"),
	}
}

func loginError(t *testing.T, body string) string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(doc.Find(`[data-testid="login-error"]`).Text())
}

func TestLoginSucceedsAndShowsHome(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Browser()
		resp := b.Login("MARIA@northwind.example", portaltest.Password) // user names are case-insensitive
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("login: status %d location %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
		}
		home := b.Get("/")
		doc, _ := goquery.NewDocumentFromReader(strings.NewReader(home.Body))
		if got := doc.Find(`[data-testid="user-name"]`).Text(); got != "Maria Anders" {
			t.Errorf("banner user name %q, want %q", got, "Maria Anders")
		}
		if got := doc.Find(`[data-testid="banner-my-contacts"]`).Length(); got != 1 {
			t.Errorf("admin sees %d My contacts links in the banner, want 1", got)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionLoginSucceeded, e.admin.ID); n != 1 {
			t.Errorf("login_succeeded audit rows %d, want 1", n)
		}
		if got := e.Reload(e.admin).LastLoginAt; !got.Equal(e.Clock.Now()) {
			t.Errorf("last login %v, want %v", got, e.Clock.Now())
		}
	})
}

func TestContactWithoutRolesSeesNoMyContactsLink(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		doc, _ := goquery.NewDocumentFromReader(strings.NewReader(e.Login(e.member.Email).Get("/").Body))
		if got := doc.Find(`[data-testid="banner-my-contacts"], [data-testid="follow-up-my-contacts"]`).Length(); got != 0 {
			t.Errorf("contact without roles sees %d My contacts links, want 0", got)
		}
		if got := doc.Find(`[data-testid="home-account"]`).Text(); got != "Northwind Traders" {
			t.Errorf("home account %q, want Northwind Traders", got)
		}
	})
}

func TestLoginFailuresAnswerTheSame(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		locked := e.Contact(e.account, "Zoë", "Ærø", "zoe@northwind.example")
		lockDirectly(t, e.Env, locked.ID)
		cases := []struct{ name, email, password string }{
			{"wrong password", e.admin.Email, "not the password at all"},
			{"unknown user", "nobody@northwind.example", portaltest.Password},
			{"locked contact, right password", locked.Email, portaltest.Password},
		}
		var first portaltest.Response
		for i, tc := range cases {
			resp := e.Browser().Login(tc.email, tc.password)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d, want 401", tc.name, resp.StatusCode)
			}
			if got := loginError(t, resp.Body); got != "Invalid user name or password" {
				t.Errorf("%s: message %q, want the generic one", tc.name, got)
			}
			if i == 0 {
				first = resp
				continue
			}
			// Apart from the echoed user name and the CSRF token, the pages are identical.
			norm := func(r portaltest.Response, email string) string {
				s := strings.ReplaceAll(r.Body, email, "EMAIL")
				return csrfValue.ReplaceAllString(s, "TOKEN")
			}
			if norm(resp, tc.email) != norm(first, cases[0].email) {
				t.Errorf("%s: page differs from the wrong-password page", tc.name)
			}
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionLoginFailed, 0); n != 3 {
			t.Errorf("login_failed audit rows %d, want 3 (each with its real reason)", n)
		}
	})
}

func TestTenWrongPasswordsLockTheContact(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		for i := 1; i <= 10; i++ {
			if resp := e.Browser().Login(e.member.Email, "wrong password number"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: status %d, want 401", i, resp.StatusCode)
			}
			if i == 9 && e.Reload(e.member).Locked() {
				t.Fatal("locked after 9 failures, want 10")
			}
		}
		c := e.Reload(e.member)
		if !c.Locked() || c.LockReason != db.LockedByFailedLogins || c.FailedLogins != 10 {
			t.Fatalf("after 10 failures: status %s reason %q count %d, want locked by failed logins, 10", c.Status, c.LockReason, c.FailedLogins)
		}
		if resp := e.Browser().Login(e.member.Email, portaltest.Password); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("11th attempt with the right password: status %d, want 401", resp.StatusCode)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionAutoLocked, e.member.ID); n != 1 {
			t.Errorf("auto_locked audit rows %d, want 1", n)
		}
	})
}

func TestParallelWrongPasswordsCountExactlyAndLockOnce(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		// The back-off delays attempts that start after others failed, and counts nothing itself.
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--login-throttle-burst", "1000", "--login-throttle-interval", "1ms",
			"--login-backoff", "10ms", "--login-backoff-max", "50ms"}})
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if resp := e.Browser().Login(e.member.Email, "wrong password number"); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		c := e.Reload(e.member)
		if c.FailedLogins != 50 || !c.Locked() {
			t.Fatalf("after 50 parallel failures: count %d locked %v, want 50, true", c.FailedLogins, c.Locked())
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionAutoLocked, e.member.ID); n != 1 {
			t.Errorf("auto_locked audit rows %d, want exactly 1", n)
		}
	})
}

func TestSuccessAndQuietHoursResetTheCount(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		for i := 0; i < 9; i++ {
			e.Browser().Login(e.member.Email, "wrong password number")
		}
		e.Login(e.member.Email)
		if got := e.Reload(e.member).FailedLogins; got != 0 {
			t.Fatalf("count after a successful login %d, want 0", got)
		}
		for i := 0; i < 9; i++ {
			e.Browser().Login(e.member.Email, "wrong password number")
		}
		e.Clock.Advance(12*time.Hour + time.Second)
		e.Browser().Login(e.member.Email, "wrong password number")
		c := e.Reload(e.member)
		if c.FailedLogins != 1 || c.Locked() {
			t.Fatalf("after 9 failures, 12 quiet hours and 1 failure: count %d locked %v, want 1, false", c.FailedLogins, c.Locked())
		}
	})
}

func TestLoginThrottlesOneAddress(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--login-throttle-burst", "3", "--login-throttle-interval", "1h"}})
		b := e.Browser()
		for i := 0; i < 3; i++ {
			b.Login(e.member.Email, "wrong password number")
		}
		resp := b.Login(e.admin.Email, portaltest.Password)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("4th attempt within the burst: status %d, want 429", resp.StatusCode)
		}
		if got := e.Reload(e.member).FailedLogins; got != 3 {
			t.Errorf("failures counted %d, want 3 (the throttled attempt is not checked)", got)
		}
	})
}

func TestSessionCookieFlagsAndRotation(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		names := e.Cookies()
		b := e.Login(e.admin.Email)
		first := b.Cookie(names.Session)
		if first == nil {
			t.Fatalf("no %s cookie after login", names.Session)
		}
		resp := b.Login(e.admin.Email, portaltest.Password) // signing in again rotates the id
		var raw string
		for _, h := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(h, names.Session+"=") {
				raw = h
			}
		}
		for _, want := range []string{"HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
			if !strings.Contains(raw, want) {
				t.Errorf("session cookie %q lacks %s", raw, want)
			}
		}
		// A browser-session cookie: the browser forgets it when it closes; the server enforces
		// the idle and absolute limits (TestSessionTimeouts).
		for _, lifetime := range []string{"Max-Age", "Expires"} {
			if strings.Contains(raw, lifetime) {
				t.Errorf("session cookie %q has a %s, want none (a browser-session cookie)", raw, lifetime)
			}
		}
		if c := b.Cookie(names.PreSession); c != nil {
			t.Errorf("pre-session cookie %s=%s kept after login, want it cleared", c.Name, c.Value)
		}
		second := b.Cookie(names.Session)
		if second.Value == first.Value {
			t.Fatal("session id unchanged by login, want a new one")
		}
		if len(second.Value) < 43 {
			t.Errorf("session id %d characters, want at least 43 (32 random bytes)", len(second.Value))
		}
		old := e.Browser()
		old.SetCookie(first)
		if resp := old.Get("/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("replaying the pre-rotation cookie: status %d, want 303 to login", resp.StatusCode)
		}
	})
}

func TestLogoutRevokesTheSession(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		cookie := b.Cookie(e.Cookies().Session)
		if resp := b.PostForm("/logout", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: status %d, want 303", resp.StatusCode)
		}
		replay := e.Browser()
		replay.SetCookie(cookie)
		if resp := replay.Get("/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("old cookie after logout: status %d location %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n, _ := e.check.CountSessions(e.Ctx, e.admin.ID); n != 0 {
			t.Errorf("sessions left after logout %d, want 0", n)
		}
	})
}

func TestSessionEndsWhenContactIsLockedInTheDatabase(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.member.Email)
		if resp := b.Get("/"); resp.StatusCode != http.StatusOK {
			t.Fatalf("home before lock: status %d", resp.StatusCode)
		}
		lockDirectly(t, e.Env, e.member.ID)
		if resp := b.Get("/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("home after lock: status %d, want 303 to login", resp.StatusCode)
		}
	})
}

func TestSessionTimeouts(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		t.Run("idle 30 minutes", func(t *testing.T) {
			b := e.Login(e.member.Email)
			e.Clock.Advance(29 * time.Minute)
			if resp := b.Get("/"); resp.StatusCode != http.StatusOK {
				t.Fatalf("after 29 idle minutes: status %d, want 200", resp.StatusCode)
			}
			e.Clock.Advance(30*time.Minute + time.Second)
			if resp := b.Get("/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("after 30 idle minutes: status %d, want 303 to login", resp.StatusCode)
			}
		})
		t.Run("absolute 12 hours", func(t *testing.T) {
			b := e.Login(e.member.Email)
			for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
				e.Clock.Advance(20 * time.Minute)
				if resp := b.Get("/"); resp.StatusCode != http.StatusOK {
					t.Fatalf("active session after %v: status %d, want 200", elapsed+20*time.Minute, resp.StatusCode)
				}
			}
			e.Clock.Advance(21 * time.Minute)
			if resp := b.Get("/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("active session after 12 hours: status %d, want 303 to login", resp.StatusCode)
			}
		})
	})
}

func TestPostWithoutCSRFTokenIsRefused(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		for _, tc := range []struct {
			name string
			form url.Values
		}{{"no token", url.Values{"_csrf": {""}}}, {"forged token", url.Values{"_csrf": {"forged"}}}} {
			resp := b.PostForm("/logout", tc.form)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", tc.name, resp.StatusCode)
			}
			if n, _ := e.check.CountSessions(e.Ctx, e.admin.ID); n != 1 {
				t.Errorf("%s: sessions %d after refused logout, want 1 (nothing changed)", tc.name, n)
			}
		}
		// A login form posted from another site carries no token either.
		fresh := e.Browser()
		resp := fresh.PostForm("/login", url.Values{"_csrf": {""}, "email": {e.admin.Email}, "password": {portaltest.Password}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("login without token: status %d, want 403", resp.StatusCode)
		}
		if strings.Contains(resp.Body, "goroutine") || strings.Contains(resp.Body, ".go:") {
			t.Errorf("error page leaks internals: %s", resp.Body)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		for _, path := range []string{"/login", "/", "/no-such-page"} {
			resp := b.Get(path)
			for header, want := range map[string]string{
				"Content-Security-Policy":   "frame-ancestors 'none'",
				"X-Content-Type-Options":    "nosniff",
				"Cache-Control":             "no-store",
				"X-Frame-Options":           "DENY",
				"Strict-Transport-Security": "max-age=",
			} {
				if got := resp.Header.Get(header); !strings.Contains(got, want) {
					t.Errorf("%s: %s = %q, want it to contain %q", path, header, got, want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
				t.Errorf("%s: CSP allows inline code: %s", path, csp)
			}
		}
		if resp := b.Get("/no-such-page"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown page: status %d, want 404", resp.StatusCode)
		}
	})
}

func TestLoginRedirectsOnlyToLocalPaths(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		for next, want := range map[string]string{"/my-contacts": "/my-contacts", "/contacts?q=anna&sort=email": "/contacts?q=anna&sort=email",
			"//evil.example/x": "/", "https://evil.example": "/", "/\t/evil.example": "/", "/\\evil.example": "/",
			"/\n/evil.example": "/", "/%09/evil.example": "/%09/evil.example", "javascript:alert(1)": "/", "": "/"} {
			b := e.Browser()
			b.Get("/login")
			resp := b.PostForm("/login", url.Values{"email": {e.admin.Email}, "password": {portaltest.Password}, "next": {next}})
			if got := resp.Header.Get("Location"); got != want {
				t.Errorf("next=%q: redirected to %q, want %q", next, got, want)
			}
		}
	})
}

func TestHealthz(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		if resp := e.Browser().Get("/healthz"); resp.StatusCode != http.StatusOK || resp.Body != "ok" {
			t.Fatalf("/healthz: %d %q, want 200 ok", resp.StatusCode, resp.Body)
		}
	})
}

// lockDirectly locks a contact behind the app's back, as an operator with sqlite3 or psql
// would.
func lockDirectly(t *testing.T, e *portaltest.Env, contactID int64) {
	t.Helper()
	dbtest.Exec(t, e.Config.DBPath, `UPDATE contacts SET status = 'locked', lock_reason = 'admin' WHERE id = $1`, contactID)
}

func TestLogsNeverContainPasswords(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		var logs portaltest.LogBuffer
		e := newLoginEnv(t, engine, portaltest.Options{Log: &logs})
		e.Browser().Login(e.member.Email, "a wrong password typed here")
		b := e.Login(e.member.Email)
		b.PostForm("/logout", url.Values{"_csrf": {"forged"}}) // a refused request is logged too
		b.PostForm("/logout", nil)
		out := logs.String()
		if !strings.Contains(out, "login") {
			t.Fatalf("log holds no login events at all: %q", out)
		}
		for _, secret := range []string{portaltest.Password, "a wrong password typed here", b.CSRF} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains a secret %q:\n%s", secret, out)
			}
		}
	})
}

func TestDeniedAccessIsAudited(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		other := e.Account("Contoso Pharma", nil)
		stranger := e.Contact(other, "Olga", "Ivanova", "olga@contoso.example")
		member := e.Login(e.member.Email)
		if resp := member.Get("/my-contacts"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("contact without roles on My contacts: status %d, want 403", resp.StatusCode)
		}
		admin := e.Login(e.admin.Email)
		if resp := admin.Get(fmt.Sprintf("/contacts/%d", stranger.ID)); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("admin opening another tenant's contact: status %d, want 404", resp.StatusCode)
		}
		e.Browser().Get("/my-contacts") // signed out: sent to the login page, nothing recorded
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionAccessDenied, 0); n != 2 {
			t.Errorf("access_denied audit rows %d, want 2 (the 403 and the out-of-scope 404)", n)
		}
	})
}
