package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// CSRF protection: a token every unsafe request must send back, bound to who is asking.
//
//   - Signed in, the token is HMAC(key, "session" + session id). The session id is in an
//     HttpOnly cookie nobody else knows, and it rotates at login, so the token does too.
//   - Signed out (log in, Forgot password?, set password, confirm or cancel an email
//     change), it is HMAC(key, "pre-session" + seed), the seed being the random value of the
//     pre-session cookie (session.Current.PreSession), which signing in and out ends.
//
// Someone who can plant a cookie in the victim's browser (a sibling subdomain, a page on
// plain http) can plant a seed whose token they know, but not make the victim's session
// accept it: a signed-in token depends on nothing but the session. Over https the cookies
// carry the __Host- prefix, so planting them is not possible at all (session.CookieNames).
//
// The token is read only from the X-CSRF-Token header (HTMX) or the form field of the
// request body, never from the query string: a token in a URL ends up in logs, Referer
// headers and browser history. Browsers that send Fetch Metadata also have the requests
// that other sites start refused outright (fromThisOrigin).
//
// Pages never carry the real token, only a masked copy made afresh for each response: a
// random pad followed by the pad XOR the token. Pages are compressed and some reflect what
// the request asked for (the search box, a login's next page), which is what BREACH needs
// to read a secret out of compressed sizes; a secret that differs in every response leaves
// it nothing to converge on. See docs/SECURITY.md.
const (
	csrfField  = "_csrf"
	csrfHeader = "X-CSRF-Token"
)

// csrfTokenSize is the size of the real token (an HMAC-SHA256); a masked one is twice that.
const csrfTokenSize = sha256.Size

// csrf works out the request's token for the pages it renders, and refuses unsafe requests
// that another site started or that lack the token. It runs after loadViewer: whether the
// token is the session's or the pre-session's depends on who is signed in.
func csrf(key []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v := viewerOf(c)
		token, err := csrfToken(c, key, v)
		if err != nil {
			return err
		}
		v.csrf = token

		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		if site, ok := fromThisOrigin(c); !ok {
			return crossOrigin(site, errCSRF)
		}
		if !hmac.Equal(unmaskCSRF(sentCSRF(c)), []byte(token)) {
			if v.contact == nil && v.sess.Ended() {
				// A page left open until its session ended: its token was the session's. The
				// login page says what happened better than "this form has expired", and
				// answering with it changes nothing, as a refusal.
				return requireSignedIn(c)
			}
			return csrfRefusal{reason: "no valid CSRF token", answer: errCSRF}
		}
		return c.Next()
	}
}

// csrfToken is the real token of the request: the session's when signed in, else the
// pre-session's (issuing a pre-session cookie to a browser without one).
func csrfToken(c *fiber.Ctx, key []byte, v *viewer) (string, error) {
	mac := hmac.New(sha256.New, key)
	if v.contact != nil {
		mac.Write([]byte("session"))
		mac.Write([]byte(v.sess.ID))
	} else {
		seed, err := v.sess.PreSession(c)
		if err != nil {
			return "", err
		}
		mac.Write([]byte("pre-session"))
		mac.Write([]byte(seed))
	}
	return string(mac.Sum(nil)), nil
}

// sentCSRF is the token the request sent: the X-CSRF-Token header, or else the form field
// in the body (url-encoded or multipart). Never the query string, which fasthttp's
// FormValue would read first.
func sentCSRF(c *fiber.Ctx) string {
	if sent := c.Get(csrfHeader); sent != "" {
		return sent
	}
	return bodyValue(c, csrfField)
}

// fromThisOrigin reads Fetch Metadata: browsers say in Sec-Fetch-Site which site started a
// request. Only "same-origin" (the portal's own pages) and "none" (the person typed the
// address, or used a bookmark) are this portal's. "same-site" is refused too: it is a
// sibling subdomain or another port of this host, exactly who the CSRF token guards
// against (and the portal links to itself from nowhere else). A request without the header
// (an older browser, curl, a script) is let through, to be judged by its token. site is the
// header's value, for the refusal's record.
func fromThisOrigin(c *fiber.Ctx) (site string, ok bool) {
	site = c.Get("Sec-Fetch-Site")
	switch site {
	case "", "same-origin", "none":
		return site, true
	}
	return site, false
}

// sameOriginOnly refuses requests that another site started (fromThisOrigin), for GETs
// that are worth an attacker's while although they change nothing but the audit log: an
// export sends every contact in scope to the Downloads folder of whoever clicked a link to
// it on another site.
func sameOriginOnly(c *fiber.Ctx) error {
	if site, ok := fromThisOrigin(c); !ok {
		return crossOrigin(site, errCrossSiteExport)
	}
	return c.Next()
}

// maskCSRF is what a page carries instead of the real token: base64url(pad || pad^token)
// with a fresh random pad, so no two responses carry the same string. An empty token (a
// response before the CSRF middleware ran, such as an error page) stays empty.
func maskCSRF(token string) string {
	if len(token) != csrfTokenSize {
		return ""
	}
	masked := make([]byte, 2*csrfTokenSize)
	pad := masked[:csrfTokenSize]
	rand.Read(pad) // never fails: crypto/rand crashes the program rather than return an error
	subtle.XORBytes(masked[csrfTokenSize:], pad, []byte(token))
	return base64.RawURLEncoding.EncodeToString(masked)
}

// unmaskCSRF recovers the token from what a form or header sent; anything that is not a
// masked token (the bare token included, which pages no longer carry) gives nil, which
// matches no token.
func unmaskCSRF(sent string) []byte {
	masked, err := base64.RawURLEncoding.DecodeString(sent)
	if err != nil || len(masked) != 2*csrfTokenSize {
		return nil
	}
	token := make([]byte, csrfTokenSize)
	subtle.XORBytes(token, masked[:csrfTokenSize], masked[csrfTokenSize:])
	return token
}

var errCSRF = fiber.NewError(fiber.StatusForbidden,
	"This form has expired or was sent from somewhere else. Reload the page and try again.")

var errCrossSiteExport = fiber.NewError(fiber.StatusForbidden,
	"Exports start only from the portal's own pages. Open the page you export from and export from there.")

// csrfRefusal is a request refused by the CSRF checks. It answers as answer; its reason
// goes into the log and, for a signed-in contact, the audit log (auditDenied).
type csrfRefusal struct {
	reason string
	answer *fiber.Error
}

func (r csrfRefusal) Error() string { return "csrf: " + r.reason }
func (r csrfRefusal) Unwrap() error { return r.answer }

// crossOrigin is the refusal of a request another site started. The header's value is
// shown quoted and cut short: anything but a browser can send any text in it.
func crossOrigin(site string, answer *fiber.Error) csrfRefusal {
	return csrfRefusal{reason: fmt.Sprintf("started by another site (Sec-Fetch-Site %.20q)", site), answer: answer}
}
