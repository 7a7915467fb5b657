package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/db"
	"portal/portaltest"
)

var csrfInputValue = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// appTestPeer is the address every request sent through app.Test comes from: in these tests
// it stands for the reverse proxy.
const appTestPeer = "0.0.0.0"

// loginVia posts the login form as a reverse proxy forwards it: with X-Forwarded-For lines
// (none: the header is absent).
func loginVia(b *portaltest.Browser, forwardedFor []string, email, password string) portaltest.Response {
	b.Get("/login")
	form := url.Values{"_csrf": {b.CSRF}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, v := range forwardedFor {
		req.Header.Add("X-Forwarded-For", v)
	}
	return b.Do(req)
}

// auditedAddresses are the client addresses of the audit events of action against target,
// oldest first.
func auditedAddresses(t *testing.T, e *portaltest.Env, accountID, target int64, action string) []string {
	t.Helper()
	sc, err := e.Store.ScopeOf(e.Ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.Store.AuditLog(e.Ctx, sc, db.AuditFilter{}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Action == action && events[i].TargetID == target {
			out = append(out, events[i].RemoteIP)
		}
	}
	return out
}

// The attack of issue 14, item 1: behind the reverse proxy every request came from the
// proxy's address, so 20 wrong passwords from anyone locked everyone out of signing in, and
// the audit log showed only the proxy.
func TestLoginBehindATrustedProxyThrottlesEachClient(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		const attacker, colleague = "203.0.113.66", "198.51.100.7"
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32"}})
		for i := 1; i <= 20; i++ {
			if resp := loginVia(e.Browser(), []string{attacker}, e.member.Email, "a wrong password"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong login %d from %s: status %d, want 401", i, attacker, resp.StatusCode)
			}
		}
		if resp := loginVia(e.Browser(), []string{colleague}, e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("another contact's correct login from %s through the same proxy: status %d, want 303", colleague, resp.StatusCode)
		}
		if resp := loginVia(e.Browser(), []string{attacker}, e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("21st login from %s: status %d, want 429 (the attacker's own address stays throttled)", attacker, resp.StatusCode)
		}
		failed := auditedAddresses(t, e.Env, e.account.ID, e.member.ID, db.ActionLoginFailed)
		if len(failed) != 20 {
			t.Fatalf("login_failed rows %d, want 20", len(failed))
		}
		for i, ip := range failed {
			if ip != attacker {
				t.Fatalf("login_failed row %d names %q, want the client %s, not the proxy", i+1, ip, attacker)
			}
		}
		if got := auditedAddresses(t, e.Env, e.account.ID, e.admin.ID, db.ActionLoginSucceeded); len(got) != 1 || got[0] != colleague {
			t.Errorf("login_succeeded rows name %v, want [%s]", got, colleague)
		}
	})
}

// Without --trusted-proxies the peer is the client: X-Forwarded-For, which anyone can send,
// changes nothing, neither the throttle nor the audit log.
func TestForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		for i := 1; i <= 20; i++ {
			xff := []string{fmt.Sprintf("203.0.113.%d", i)} // a fresh address each time, if it were believed
			if resp := loginVia(e.Browser(), xff, e.member.Email, "a wrong password"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong login %d: status %d, want 401", i, resp.StatusCode)
			}
		}
		if resp := loginVia(e.Browser(), []string{"198.51.100.7"}, e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("21st login from the same peer with another X-Forwarded-For: status %d, want 429", resp.StatusCode)
		}
		for i, ip := range auditedAddresses(t, e.Env, e.account.ID, e.member.ID, db.ActionLoginFailed) {
			if ip != appTestPeer {
				t.Fatalf("login_failed row %d names %q, want the peer %s", i+1, ip, appTestPeer)
			}
		}
	})
}

// Which hop of X-Forwarded-For is the client, as the audit log records it.
func TestClientAddressBehindProxies(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		// The proxy in front of the portal (app.Test's peer) and an inner network of proxies.
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32, 10.0.0.0/8, 2001:db8:cafe::/48",
			"--login-throttle-burst", "1000"}})
		for _, tc := range []struct {
			name         string
			forwardedFor []string
			want         string
		}{
			{"no header: the proxy itself", nil, appTestPeer},
			{"one client", []string{"203.0.113.9"}, "203.0.113.9"},
			{"hops the client wrote itself are never believed", []string{"198.51.100.66, 192.0.2.1, 203.0.113.9"}, "203.0.113.9"},
			{"a client pretending to be a trusted proxy", []string{"10.0.0.1, 203.0.113.9"}, "203.0.113.9"},
			{"through a second trusted proxy", []string{"198.51.100.66, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
			{"through two more trusted proxies", []string{"203.0.113.9,10.7.7.7 ,  10.1.2.3"}, "203.0.113.9"},
			{"several header lines are one list", []string{"198.51.100.66", "203.0.113.9"}, "203.0.113.9"},
			{"from inside the trusted network", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
			{"IPv6", []string{"2001:db8:1:2::42"}, "2001:db8:1:2::42"},
			{"IPv6 through an IPv6 proxy", []string{"2001:db8:1:2::42, 2001:db8:cafe::1"}, "2001:db8:1:2::42"},
			{"with ports", []string{"198.51.100.66:1, [2001:db8:1:2::42]:4711"}, "2001:db8:1:2::42"},
			{"IPv4 port", []string{"203.0.113.9:5555"}, "203.0.113.9"},
			{"IPv4-mapped", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
			{"garbage left of the client", []string{"<script>, unknown, 203.0.113.9"}, "203.0.113.9"},
			{"garbage from a trusted proxy stops at that proxy", []string{"203.0.113.9, unknown, 10.1.2.3"}, "10.1.2.3"},
			{"garbage as the only hop", []string{"unknown"}, appTestPeer},
		} {
			t.Run(tc.name, func(t *testing.T) {
				loginVia(e.Browser(), tc.forwardedFor, e.member.Email, "a wrong password")
				got := auditedAddresses(t, e.Env, e.account.ID, e.member.ID, db.ActionLoginFailed)
				if len(got) == 0 || got[len(got)-1] != tc.want {
					t.Errorf("X-Forwarded-For %q: client recorded as %v, want %s", tc.forwardedFor, got[max(0, len(got)-1):], tc.want)
				}
			})
			e.Login(e.member.Email) // a success ends the lockout count, so the member never locks
		}
	})
}

// One IPv6 host owns a whole /64: taking a new address from it for each attempt must not
// buy a new throttle bucket.
func TestIPv6ClientsAreThrottledBy64(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32", "--login-throttle-burst", "3"}})
		for i := 1; i <= 3; i++ {
			xff := []string{fmt.Sprintf("2001:db8:1:2::%x", i)}
			if resp := loginVia(e.Browser(), xff, e.member.Email, "a wrong password"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("wrong login %d: status %d, want 401", i, resp.StatusCode)
			}
		}
		if resp := loginVia(e.Browser(), []string{"2001:db8:1:2:ffff::9"}, e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("4th login from the same /64: status %d, want 429", resp.StatusCode)
		}
		if resp := loginVia(e.Browser(), []string{"2001:db8:1:3::1"}, e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("login from the next /64: status %d, want 303", resp.StatusCode)
		}
	})
}

// The forms anyone can post without signing in are throttled per client too.
func TestForgotPasswordBehindATrustedProxyThrottlesEachClient(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32", "--link-throttle-burst", "2"}})
		forgot := func(client string) int {
			b := e.Browser()
			b.Get("/forgot-password")
			form := url.Values{"_csrf": {b.CSRF}, "email": {"nobody@northwind.example"}}
			req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test/forgot-password", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", client)
			return b.Do(req).StatusCode
		}
		for i := 1; i <= 2; i++ {
			if got := forgot("203.0.113.66"); got != http.StatusOK {
				t.Fatalf("request %d: status %d, want 200", i, got)
			}
		}
		if got := forgot("203.0.113.66"); got != http.StatusTooManyRequests {
			t.Errorf("3rd request from one client: status %d, want 429", got)
		}
		if got := forgot("198.51.100.7"); got != http.StatusOK {
			t.Errorf("first request of another client through the same proxy: status %d, want 200", got)
		}
	})
}

// Over real TCP from 127.0.0.1, as nginx on the same machine connects: untrusted, its
// X-Forwarded-For is ignored; trusted (--trusted-proxies 127.0.0.1/32, as docs/OPERATIONS.md
// sets it), the right-most hop is the client.
func TestForwardedForOverTCP(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"untrusted peer", nil, "127.0.0.1"},
			{"trusted loopback proxy", []string{"--trusted-proxies", "127.0.0.1/32"}, "203.0.113.9"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newLoginEnv(t, engine, portaltest.Options{Args: tc.args})
				base := e.Serve()
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
					CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := client.Get(base + "/login")
				if err != nil {
					t.Fatal(err)
				}
				page, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				m := csrfInputValue.FindSubmatch(page)
				if m == nil {
					t.Fatal("no CSRF token on the login page")
				}
				form := url.Values{"_csrf": {string(m[1])}, "email": {e.member.Email}, "password": {"a wrong password"}}
				req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "198.51.100.66, 203.0.113.9")
				resp, err = client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong login: status %d, want 401", resp.StatusCode)
				}
				if got := auditedAddresses(t, e.Env, e.account.ID, e.member.ID, db.ActionLoginFailed); len(got) != 1 || got[0] != tc.want {
					t.Errorf("login_failed rows name %v, want [%s]", got, tc.want)
				}
			})
		}
	})
}

// Many sign-ins at once wait for the hashing slots (the one global cap on sign-in work);
// none is refused.
func TestASurgeOfSignInsThroughOneProxyIsNeverRefused(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--trusted-proxies", appTestPeer + "/32"}})
		const n = 40
		people := make([]db.Contact, n)
		for i := range people {
			people[i] = e.Contact(e.account, "Surge", fmt.Sprint(i), fmt.Sprintf("surge%d@northwind.example", i))
		}
		var wg sync.WaitGroup
		for i, c := range people {
			wg.Add(1)
			go func() {
				defer wg.Done()
				xff := []string{fmt.Sprintf("203.0.113.%d", i+1)}
				if resp := loginVia(e.Browser(), xff, c.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
					t.Errorf("login %d of %d at once: status %d, want 303", i+1, n, resp.StatusCode)
				}
			}()
		}
		wg.Wait()
	})
}
