package handlers

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/gofiber/fiber/v2"
)

// CSRF protection: a signed double-submit token. The browser holds a random seed in an
// HttpOnly cookie; the real token is HMAC(key, seed), which a cross-site attacker can
// neither read nor compute. Every unsafe request must present it as a form field or a
// header.
//
// Pages never carry the real token, only a masked copy made afresh for each response: a
// random pad followed by the pad XOR the token. Pages are compressed and some reflect what
// the request asked for (the search box, a login's next page), which is what BREACH needs
// to read a secret out of compressed sizes; a secret that differs in every response leaves
// it nothing to converge on. See docs/SECURITY.md.
const (
	csrfCookie = "portal_csrf"
	csrfField  = "_csrf"
	csrfHeader = "X-CSRF-Token"
	csrfLocal  = "csrf" // the real token of the request, for render to mask
)

// csrfTokenSize is the size of the real token (an HMAC-SHA256); a masked one is twice that.
const csrfTokenSize = sha256.Size

func csrf(key []byte, secure bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		seed := c.Cookies(csrfCookie)
		if len(seed) < 32 {
			var err error
			if seed, err = newCSRFSeed(c, secure); err != nil {
				return err
			}
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(seed))
		token := mac.Sum(nil)
		c.Locals(csrfLocal, string(token))

		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		sent := c.Get(csrfHeader)
		if sent == "" {
			sent = c.FormValue(csrfField)
		}
		if !hmac.Equal(unmaskCSRF(sent), token) {
			return errCSRF
		}
		return c.Next()
	}
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

// newCSRFSeed gives the browser a fresh random seed (at its first visit, and at login so
// that a seed planted before signing in is worthless afterwards).
func newCSRFSeed(c *fiber.Ctx, secure bool) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	seed := base64.RawURLEncoding.EncodeToString(b)
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: seed, Path: "/", HTTPOnly: true, Secure: secure,
		SameSite: fiber.CookieSameSiteLaxMode})
	return seed, nil
}

var errCSRF = fiber.NewError(fiber.StatusForbidden,
	"This form has expired or was sent from somewhere else. Reload the page and try again.")
