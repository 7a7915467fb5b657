package handlers_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/portaltest"
)

// csrfSecret is the key the tests' portals derive CSRF tokens from, so a test can compute
// the real (unmasked) token of a session itself.
const csrfSecret = "a session secret for the CSRF tests, 32+ characters"

var (
	formToken   = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	headerToken = regexp.MustCompile(`X-CSRF-Token&#34;:&#34;([^"&]+)`)
)

// pageTokens are the CSRF tokens a page carries: in its forms and in the headers HTMX sends.
func pageTokens(t *testing.T, r portaltest.Response) (form, header string) {
	t.Helper()
	f, h := formToken.FindStringSubmatch(r.Body), headerToken.FindStringSubmatch(r.Body)
	if f == nil || h == nil {
		t.Fatalf("page without a CSRF token in a form (%v) or in data-hx-headers (%v): %.300s", f != nil, h != nil, r.Body)
	}
	for _, m := range formToken.FindAllStringSubmatch(r.Body, -1) {
		if m[1] != f[1] {
			t.Errorf("one page carries two different form tokens: %q and %q", f[1], m[1])
		}
	}
	return f[1], h[1]
}

// sessionToken is the real token of a signed-in browser, as the server computes it: bound
// to the session id.
func sessionToken(e *portaltest.Env, b *portaltest.Browser) []byte {
	mac := hmac.New(sha256.New, []byte(csrfSecret))
	mac.Write([]byte("session" + b.Cookie(e.Cookies().Session).Value))
	return mac.Sum(nil)
}

// preSessionToken is the real token of a signed-out browser: bound to its pre-session seed.
func preSessionToken(e *portaltest.Env, b *portaltest.Browser) []byte {
	mac := hmac.New(sha256.New, []byte(csrfSecret))
	mac.Write([]byte("pre-session" + b.Cookie(e.Cookies().PreSession).Value))
	return mac.Sum(nil)
}

// unmask undoes the page's masking: pad || pad^token.
func unmask(t *testing.T, masked string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(masked)
	if err != nil || len(b) != 2*sha256.Size {
		t.Fatalf("token %q is not base64url of %d bytes (err %v, %d bytes)", masked, 2*sha256.Size, err, len(b))
	}
	token := make([]byte, sha256.Size)
	for i := range token {
		token[i] = b[i] ^ b[sha256.Size+i]
	}
	return token
}

// TestCSRFTokenIsMaskedAfreshInEveryResponse: two renders of a page carry different
// strings, in the forms and in the HTMX headers alike; each is the session's one token under
// another mask, and each is accepted.
func TestCSRFTokenIsMaskedAfreshInEveryResponse(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--session-secret", csrfSecret}})
		b := e.Login(e.admin.Email)
		page := fmt.Sprintf("/contacts/%d", e.member.ID)
		first, second := b.Get(page), b.Get(page)
		form1, header1 := pageTokens(t, first)
		form2, header2 := pageTokens(t, second)
		if form1 == form2 || header1 == header2 {
			t.Errorf("two renders carry the same token: forms %q and %q, headers %q and %q", form1, form2, header1, header2)
		}
		want := sessionToken(e.Env, b)
		for _, token := range []string{form1, header1, form2, header2} {
			if got := unmask(t, token); !bytes.Equal(got, want) {
				t.Errorf("token %q unmasks to %x, want the session's token %x", token, got, want)
			}
		}

		// The first page's form token in a plain form, the second page's header token as HTMX
		// sends it: both do what they ask.
		resp := b.PostForm(fmt.Sprintf("/contacts/%d/lock", e.member.ID), url.Values{"_csrf": {form1}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("lock with the first render's form token: status %d, want 303", resp.StatusCode)
		}
		if !e.Reload(e.member).Locked() {
			t.Errorf("lock with the first render's form token: contact not locked")
		}
		b.CSRF = header2
		resp = b.HTMXPost(fmt.Sprintf("/contacts/%d/unlock", e.member.ID), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("unlock with the second render's header token: status %d, want 200", resp.StatusCode)
		}
		if e.Reload(e.member).Locked() {
			t.Errorf("unlock with the second render's header token: contact still locked")
		}
	})
}

// TestCSRFAcceptsOnlyAMaskedTokenOfTheSession: a signed-out login form (the refusal is a 403
// before the login is tried; an accepted token gets the login's own 401).
func TestCSRFAcceptsOnlyAMaskedTokenOfTheSession(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--session-secret", csrfSecret}})
		b := e.Browser()
		good, _ := pageTokens(t, b.Get("/login"))
		// The page's token is the real one masked, so the refusals below are of how a token is
		// sent, not of a key the test got wrong.
		real := preSessionToken(e.Env, b)
		if got := unmask(t, good); !bytes.Equal(got, real) {
			t.Fatalf("page token unmasks to %x, want the session's %x", got, real)
		}
		other := e.Browser()
		othersToken, _ := pageTokens(t, other.Get("/login"))
		flip := func(i int) string {
			raw, _ := base64.RawURLEncoding.DecodeString(good)
			raw[i] ^= 0x01
			return base64.RawURLEncoding.EncodeToString(raw)
		}

		for _, tc := range []struct {
			name, token string
			want        int
		}{
			{"the page's masked token", good, http.StatusUnauthorized},
			{"another session's masked token", othersToken, http.StatusForbidden},
			{"a bit of the pad flipped", flip(0), http.StatusForbidden},
			{"a bit of the masked token flipped", flip(2*sha256.Size - 1), http.StatusForbidden},
			{"the unmasked token", base64.RawURLEncoding.EncodeToString(real), http.StatusForbidden},
			{"the unmasked token in hex", fmt.Sprintf("%x", real), http.StatusForbidden},
			{"cut short", good[:len(good)-4], http.StatusForbidden},
			{"none", "", http.StatusForbidden},
		} {
			form := url.Values{"_csrf": {tc.token}, "email": {"nobody@northwind.example"}, "password": {"not it"}}
			if resp := b.PostForm("/login", form); resp.StatusCode != tc.want {
				t.Errorf("%s in the form: status %d, want %d", tc.name, resp.StatusCode, tc.want)
			}
			b.CSRF = tc.token
			form.Del("_csrf")
			if resp := b.HTMXPost("/login", form); resp.StatusCode != tc.want {
				t.Errorf("%s in the X-CSRF-Token header: status %d, want %d", tc.name, resp.StatusCode, tc.want)
			}
		}
	})
}

// postWith posts form url-encoded from b, with header given as name, value pairs.
func postWith(b *portaltest.Browser, path string, form url.Values, header ...string) portaltest.Response {
	req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.Do(req)
}

// getWith fetches path from b, with header given as name, value pairs.
func getWith(b *portaltest.Browser, path string, header ...string) portaltest.Response {
	req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test"+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.Do(req)
}

// deniedDetails are the details of the account's access_denied audit rows, newest first.
func deniedDetails(t *testing.T, e loginEnv) []string {
	t.Helper()
	sc, err := e.Store.ScopeOf(e.Ctx, e.account.ID)
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.Store.AuditLog(e.Ctx, sc, db.AuditFilter{}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		if ev.Action == db.ActionAccessDenied {
			out = append(out, ev.Detail)
		}
	}
	return out
}

// TestAPlantedPreSessionCookieForgesNothing is issue 14's item 3 as reported: someone who
// can plant cookies in a victim's browser (a sibling subdomain, a page on plain http) took
// the pre-session cookie and token of their own visit to the login page, planted the cookie
// next to the victim's session, and had the victim's browser post the token: the contact
// was locked (303). A signed-in request's token is bound to its session, so the pair is
// refused, sent as a form field or as HTMX's header, and each refusal is audited.
func TestAPlantedPreSessionCookieForgesNothing(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		attacker := e.Browser()
		token, _ := pageTokens(t, attacker.Get("/login"))
		seed := attacker.Cookie(e.Cookies().PreSession)
		if seed == nil {
			t.Fatalf("the login page set no %s cookie", e.Cookies().PreSession)
		}
		victim := e.Login(e.admin.Email)
		victim.SetCookie(seed)
		lock := fmt.Sprintf("/contacts/%d/lock", e.member.ID)

		if resp := victim.PostForm(lock, url.Values{"_csrf": {token}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("victim's session, planted cookie, its token in the form: status %d, want 403", resp.StatusCode)
		}
		if resp := postWith(victim, lock, nil, "HX-Request", "true", "X-CSRF-Token", token); resp.StatusCode != http.StatusForbidden {
			t.Errorf("victim's session, planted cookie, its token in X-CSRF-Token: status %d, want 403", resp.StatusCode)
		}
		if e.Reload(e.member).Locked() {
			t.Fatal("the forged requests locked the contact")
		}
		want := fmt.Sprintf("POST /contacts/%d/lock answered 403: no valid CSRF token", e.member.ID)
		if got := deniedDetails(t, e); len(got) != 2 || got[0] != want || got[1] != want {
			t.Errorf("access_denied details %q, want %q twice", got, want)
		}

		// The victim's own pages still work, planted cookie or not: their token depends on the
		// session alone.
		victim.Get(fmt.Sprintf("/contacts/%d", e.member.ID))
		if resp := victim.PostForm(lock, nil); resp.StatusCode != http.StatusSeeOther || !e.Reload(e.member).Locked() {
			t.Errorf("the victim's own lock with a planted cookie beside the session: status %d, locked %v; want 303 and locked",
				resp.StatusCode, e.Reload(e.member).Locked())
		}
	})
}

// TestCSRFTokenOnlyFromTheBodyOrTheHeader: a valid token in the query string was accepted
// (fasthttp's FormValue reads the query before the body), so POST
// /contacts/10/lock?_csrf=<token> locked, and a token in a URL leaks through logs,
// Referer and history. Only the body's field (url-encoded or multipart) and the
// X-CSRF-Token header count now.
func TestCSRFTokenOnlyFromTheBodyOrTheHeader(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		token := b.CSRF
		lock := fmt.Sprintf("/contacts/%d/lock", e.member.ID)
		unlock := fmt.Sprintf("/contacts/%d/unlock", e.member.ID)

		if resp := postWith(b, lock+"?_csrf="+url.QueryEscape(token), nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("token in the query string, empty body: status %d, want 403", resp.StatusCode)
		}
		if resp := postWith(b, lock+"?_csrf="+url.QueryEscape(token), url.Values{"_csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("token in the query string, a forged one in the body: status %d, want 403", resp.StatusCode)
		}
		if e.Reload(e.member).Locked() {
			t.Fatal("a token in the query string locked the contact")
		}

		if resp := postWith(b, lock, url.Values{"_csrf": {token}}); resp.StatusCode != http.StatusSeeOther || !e.Reload(e.member).Locked() {
			t.Fatalf("token in a url-encoded body: status %d, locked %v; want 303 and locked", resp.StatusCode, e.Reload(e.member).Locked())
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		if err := mw.WriteField("_csrf", token); err != nil {
			t.Fatal(err)
		}
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test"+unlock, &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if resp := b.Do(req); resp.StatusCode != http.StatusSeeOther || e.Reload(e.member).Locked() {
			t.Fatalf("token in a multipart body: status %d, locked %v; want 303 and unlocked", resp.StatusCode, e.Reload(e.member).Locked())
		}
		if resp := postWith(b, lock, nil, "X-CSRF-Token", token); resp.StatusCode != http.StatusSeeOther || !e.Reload(e.member).Locked() {
			t.Fatalf("token in the header: status %d, locked %v; want 303 and locked", resp.StatusCode, e.Reload(e.member).Locked())
		}
	})
}

// TestCSRFTokenFollowsTheSession: the login page's token (the pre-session's) is worthless
// once signed in; signing in again rotates the session id and the token with it; logging
// out ends the pre-session too, and the next login page starts a new one, on which the
// signed-in token is worthless.
func TestCSRFTokenFollowsTheSession(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--session-secret", csrfSecret}})
		names := e.Cookies()
		b := e.Browser()
		anonymous, _ := pageTokens(t, b.Get("/login"))
		seedBefore := b.Cookie(names.PreSession).Value
		if resp := b.Login(e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: status %d, want 303", resp.StatusCode)
		}
		first := b.CSRF
		if got, want := unmask(t, first), sessionToken(e.Env, b); !bytes.Equal(got, want) {
			t.Fatalf("signed-in token unmasks to %x, want HMAC(key, session + id) %x", got, want)
		}
		lock := fmt.Sprintf("/contacts/%d/lock", e.member.ID)
		if resp := b.PostForm(lock, url.Values{"_csrf": {anonymous}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the login page's token after signing in: status %d, want 403", resp.StatusCode)
		}

		if resp := b.Login(e.admin.Email, portaltest.Password); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("signing in again: status %d, want 303", resp.StatusCode)
		}
		if bytes.Equal(unmask(t, b.CSRF), unmask(t, first)) {
			t.Error("the token did not change with the session id")
		}
		if resp := b.PostForm(lock, url.Values{"_csrf": {first}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the previous session's token: status %d, want 403", resp.StatusCode)
		}
		if e.Reload(e.member).Locked() {
			t.Fatal("an outdated token locked the contact")
		}
		b.Get("/") // the current token, as the page the admin is on carries it
		current := b.CSRF
		if resp := b.PostForm(lock, nil); resp.StatusCode != http.StatusSeeOther || !e.Reload(e.member).Locked() {
			t.Fatalf("the current session's token: status %d, locked %v; want 303 and locked", resp.StatusCode, e.Reload(e.member).Locked())
		}

		if resp := b.PostForm("/logout", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: status %d, want 303", resp.StatusCode)
		}
		if c := b.Cookie(names.PreSession); c != nil {
			t.Errorf("pre-session cookie %q kept through logout, want it cleared", c.Value)
		}
		fresh, _ := pageTokens(t, b.Get("/login"))
		if c := b.Cookie(names.PreSession); c == nil || c.Value == seedBefore {
			t.Errorf("pre-session cookie after logout %v, want a new one (not %q)", c, seedBefore)
		}
		wrong := url.Values{"email": {e.admin.Email}, "password": {"not the password"}}
		wrong.Set("_csrf", current)
		if resp := b.PostForm("/login", wrong); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the ended session's token on the login form: status %d, want 403", resp.StatusCode)
		}
		wrong.Set("_csrf", fresh)
		if resp := b.PostForm("/login", wrong); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the new login page's token: status %d, want 401 (accepted, wrong password)", resp.StatusCode)
		}
	})
}

// TestAFormLeftOpenPastItsSessionLeadsToTheLoginPage: a page's token is its session's, so
// once the session has ended (30 idle minutes) the page's forms carry a token that no longer
// matches. They are answered as any signed-out request to a signed-in page: the login page
// (HX-Redirect for HTMX), not "this form has expired", and nothing changes or is audited.
// Without a session cookie at all the same token is refused (403).
func TestAFormLeftOpenPastItsSessionLeadsToTheLoginPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		b.Get(fmt.Sprintf("/contacts/%d", e.member.ID))
		token := b.CSRF
		e.Clock.Advance(31 * time.Minute)
		lock := fmt.Sprintf("/contacts/%d/lock", e.member.ID)

		if resp := b.PostForm(lock, url.Values{"_csrf": {token}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?ended=1" {
			t.Errorf("lock form after the session ended: status %d to %q, want 303 to /login?ended=1", resp.StatusCode, resp.Header.Get("Location"))
		}
		// From the contact's page (htmx names it): back there after logging in again.
		page := fmt.Sprintf("/contacts/%d", e.member.ID)
		resp := postWith(b, lock, nil, "HX-Request", "true", "X-CSRF-Token", token, "HX-Current-URL", "http://portal.example.test"+page)
		want := "/login?ended=1&next=" + url.QueryEscape(page)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("HX-Redirect") != want {
			t.Errorf("HTMX lock after the session ended: status %d, HX-Redirect %q; want 401 and %s", resp.StatusCode, resp.Header.Get("HX-Redirect"), want)
		}
		login := b.Get(want)
		if got := testText(t, login.Body, "login-notice"); got != "Your session has ended. Log in again to go on where you were." {
			t.Errorf("the login page says %q", got)
		}
		if got := htmlDoc(t, login.Body).Find(`input[name="next"]`).AttrOr("value", ""); got != page {
			t.Errorf("the login form goes on to %q, want %q", got, page)
		}
		// Another site's page is never where the login goes on to.
		resp = postWith(b, lock, nil, "HX-Request", "true", "X-CSRF-Token", token, "HX-Current-URL", "https://evil.example"+page)
		if got := resp.Header.Get("HX-Redirect"); got != "/login?ended=1" {
			t.Errorf("HTMX lock from another site's page: HX-Redirect %q, want /login?ended=1", got)
		}
		if resp := b.PostForm("/logout", url.Values{"_csrf": {token}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?ended=1" {
			t.Errorf("Log out after the session ended: status %d to %q, want 303 to /login?ended=1", resp.StatusCode, resp.Header.Get("Location"))
		}
		if e.Reload(e.member).Locked() {
			t.Error("a form of an ended session locked the contact")
		}
		stranger := e.Browser()
		if resp := stranger.PostForm(lock, url.Values{"_csrf": {token}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("the same token without a session cookie: status %d, want 403", resp.StatusCode)
		}
		if got := deniedDetails(t, e); len(got) != 0 {
			t.Errorf("access_denied rows %q, want none (nobody was signed in)", got)
		}
	})
}

// cookieOf is the cookie named name that resp sets, or nil.
func cookieOf(resp portaltest.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestCookieNamesAndAttributes: over https both cookies are __Host- cookies (Secure,
// Path=/, no Domain), set, rotated and cleared with those attributes (a browser ignores a
// __Host- Set-Cookie without them); over plain http (the demo) they keep plain names and
// are not Secure, which the browser would drop. Over https a plantable cookie with the
// plain name counts for nothing.
func TestCookieNamesAndAttributes(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		for _, tc := range []struct {
			base                string
			session, preSession string
			secure              bool
		}{
			{"https://portal.example.test", "__Host-portal_session", "__Host-portal_csrf", true},
			{"http://127.0.0.1:8080", "portal_session", "portal_csrf", false},
		} {
			t.Run(tc.base, func(t *testing.T) {
				e := newLoginEnv(t, engine, portaltest.Options{Args: []string{"--base-url", tc.base}})
				if got := e.Cookies(); got.Session != tc.session || got.PreSession != tc.preSession {
					t.Fatalf("cookie names %+v, want %s and %s", got, tc.session, tc.preSession)
				}
				check := func(what string, c *http.Cookie, cleared bool) {
					t.Helper()
					if c == nil {
						t.Errorf("%s: no such Set-Cookie", what)
						return
					}
					if c.Secure != tc.secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
						t.Errorf("%s: %q, want Secure=%v, Path=/, no Domain, HttpOnly, SameSite=Lax", what, c.Raw, tc.secure)
					}
					if gone := c.Value == "" && (c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now()))); gone != cleared {
						t.Errorf("%s: %q, cleared %v, want %v", what, c.Raw, gone, cleared)
					}
				}
				b := e.Browser()
				check("pre-session cookie on the login page", cookieOf(b.Get("/login"), tc.preSession), false)
				resp := b.PostForm("/login", url.Values{"email": {e.admin.Email}, "password": {portaltest.Password}})
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("login: status %d, want 303", resp.StatusCode)
				}
				check("session cookie at login", cookieOf(resp, tc.session), false)
				check("pre-session cookie at login", cookieOf(resp, tc.preSession), true)
				b.Get("/")
				resp = b.PostForm("/logout", nil)
				check("session cookie at logout", cookieOf(resp, tc.session), true)
				check("pre-session cookie at logout", cookieOf(resp, tc.preSession), true)

				if !tc.secure {
					return
				}
				// What a sibling subdomain or a page on plain http can plant: a cookie with the
				// plain name, holding the seed of the attacker's own visit, whose token they know.
				attacker := e.Browser()
				token, _ := pageTokens(t, attacker.Get("/login"))
				victim := e.Browser()
				victim.Get("/login")
				victim.SetCookie(&http.Cookie{Name: "portal_csrf", Value: attacker.Cookie(tc.preSession).Value})
				resp = victim.PostForm("/login", url.Values{"_csrf": {token}, "email": {e.member.Email}, "password": {portaltest.Password}})
				if resp.StatusCode != http.StatusForbidden || cookieOf(resp, tc.session) != nil {
					t.Errorf("login with a planted plain-named seed and its token: status %d, session cookie %v; want 403 and none",
						resp.StatusCode, cookieOf(resp, tc.session))
				}
			})
		}
	})
}

// TestFetchMetadataRefusesRequestsOtherSitesStart: browsers name in Sec-Fetch-Site who
// started a request. With a valid token, a post another site started went through (303);
// now only the portal's own pages (same-origin) and the person (none) may post. A sibling
// subdomain (same-site) is refused too. Without the header (older browsers, curl, these
// tests elsewhere) the token alone decides. Signed-in refusals are audited with the route;
// signed-out ones (the login form) only logged, so nobody can fill the audit log.
func TestFetchMetadataRefusesRequestsOtherSitesStart(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		var logs portaltest.LogBuffer
		e := newLoginEnv(t, engine, portaltest.Options{Log: &logs})
		b := e.Login(e.admin.Email)
		token := b.CSRF
		var want []string
		for _, tc := range []struct {
			site string // "" sends no header
			htmx bool
			want int
		}{
			{site: "cross-site", want: http.StatusForbidden},
			{site: "same-site", want: http.StatusForbidden},
			{site: "cross-site", htmx: true, want: http.StatusForbidden},
			{site: "a made-up value, longer than twenty characters", want: http.StatusForbidden},
			{site: "same-origin", want: http.StatusSeeOther},
			{site: "same-origin", htmx: true, want: http.StatusOK},
			{site: "none", want: http.StatusSeeOther},
			{site: "", want: http.StatusSeeOther},
			{site: "", htmx: true, want: http.StatusOK},
		} {
			wasLocked := e.Reload(e.member).Locked()
			action := map[bool]string{false: "lock", true: "unlock"}[wasLocked]
			path := fmt.Sprintf("/contacts/%d/%s", e.member.ID, action)
			var header []string
			form := url.Values{"_csrf": {token}}
			if tc.htmx {
				header, form = []string{"HX-Request", "true", "X-CSRF-Token", token}, nil
			}
			if tc.site != "" {
				header = append(header, "Sec-Fetch-Site", tc.site)
			}
			resp := postWith(b, path, form, header...)
			if resp.StatusCode != tc.want {
				t.Errorf("%s with Sec-Fetch-Site %q (HTMX %v): status %d, want %d", action, tc.site, tc.htmx, resp.StatusCode, tc.want)
			}
			if changed := e.Reload(e.member).Locked() != wasLocked; changed != (tc.want < 400) {
				t.Errorf("%s with Sec-Fetch-Site %q (HTMX %v): contact changed %v, want %v", action, tc.site, tc.htmx, changed, tc.want < 400)
			}
			if tc.want == http.StatusForbidden {
				want = append([]string{fmt.Sprintf("POST %s answered 403: started by another site (Sec-Fetch-Site %.20q)", path, tc.site)}, want...)
			}
		}
		if got := deniedDetails(t, e); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("access_denied details:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// Signed out: the login form, posted from another site with a valid token and the right
		// password, signs nobody in; the refusal is logged, not audited.
		visitor := e.Browser()
		visitor.Get("/login")
		resp := postWith(visitor, "/login", url.Values{"_csrf": {visitor.CSRF}, "email": {e.admin.Email}, "password": {portaltest.Password}},
			"Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusForbidden || cookieOf(resp, e.Cookies().Session) != nil {
			t.Errorf("login started by another site: status %d, session cookie %v; want 403 and none", resp.StatusCode, cookieOf(resp, e.Cookies().Session))
		}
		if got := deniedDetails(t, e); len(got) != len(want) {
			t.Errorf("access_denied rows after a signed-out refusal: %d, want %d (signed-out refusals are not audited)", len(got), len(want))
		}
		if line := `msg="request refused" method=POST path=/login status=403 err="csrf: started by another site`; !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, logs.String())
		}
	})
}

// TestExportsStartedByAnotherSiteAreRefused is issue 14's item 12: exports are GET links,
// and a link to one on another site, followed by a signed-in contact admin, downloaded
// every contact in scope (a file in Downloads, an export in the audit log). Exports another
// site starts (Sec-Fetch-Site cross-site or same-site) are refused and audited; the
// portal's own export menu (same-origin), a typed address or bookmark (none) and clients
// without Fetch Metadata still export.
func TestExportsStartedByAnotherSiteAreRefused(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		var want []string
		exported := 0
		for _, path := range []string{"/contacts/export.csv", "/contacts/export.xlsx", "/contacts/export.pdf"} {
			for _, site := range []string{"cross-site", "same-site", "same-origin", "none", ""} {
				var header []string
				if site != "" {
					header = []string{"Sec-Fetch-Site", site}
				}
				resp := getWith(b, path, header...)
				switch site {
				case "cross-site", "same-site":
					if resp.StatusCode != http.StatusForbidden || strings.Contains(resp.Body, e.member.Email) {
						t.Errorf("GET %s with Sec-Fetch-Site %s: status %d (member's email in the body: %v), want 403 without contacts",
							path, site, resp.StatusCode, strings.Contains(resp.Body, e.member.Email))
					}
					if !strings.Contains(resp.Body, "Exports start only from the portal&#39;s own pages.") {
						t.Errorf("GET %s with Sec-Fetch-Site %s: the error page does not say why:\n%.500s", path, site, resp.Body)
					}
					want = append([]string{fmt.Sprintf("GET %s answered 403: started by another site (Sec-Fetch-Site %q)", path, site)}, want...)
				default:
					if resp.StatusCode != http.StatusOK {
						t.Errorf("GET %s with Sec-Fetch-Site %q: status %d, want 200", path, site, resp.StatusCode)
					}
					exported++
				}
			}
		}
		if n, err := e.Check().CountAudit(e.Ctx, db.ActionContactsExported, 0); err != nil || n != exported {
			t.Errorf("audited exports: %d (%v), want %d (only those the portal's own pages started)", n, err, exported)
		}
		if got := deniedDetails(t, e); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("access_denied details:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
