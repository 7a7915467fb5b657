package handlers_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"

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

// realToken is the token of a browser's CSRF seed, as the server computes it.
func realToken(b *portaltest.Browser) []byte {
	mac := hmac.New(sha256.New, []byte(csrfSecret))
	mac.Write([]byte(b.Cookie("portal_csrf").Value))
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
	e := newLoginEnv(t, portaltest.Options{Args: []string{"--session-secret", csrfSecret}})
	b := e.Login(e.admin.Email)
	page := fmt.Sprintf("/contacts/%d", e.member.ID)
	first, second := b.Get(page), b.Get(page)
	form1, header1 := pageTokens(t, first)
	form2, header2 := pageTokens(t, second)
	if form1 == form2 || header1 == header2 {
		t.Errorf("two renders carry the same token: forms %q and %q, headers %q and %q", form1, form2, header1, header2)
	}
	want := realToken(b)
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
}

// TestCSRFAcceptsOnlyAMaskedTokenOfTheSession: a signed-out login form (the refusal is a 403
// before the login is tried; an accepted token gets the login's own 401).
func TestCSRFAcceptsOnlyAMaskedTokenOfTheSession(t *testing.T) {
	e := newLoginEnv(t, portaltest.Options{Args: []string{"--session-secret", csrfSecret}})
	b := e.Browser()
	good, _ := pageTokens(t, b.Get("/login"))
	// The page's token is the real one masked, so the refusals below are of how a token is
	// sent, not of a key the test got wrong.
	real := realToken(b)
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
}
