package session

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Cookies are the names of the portal's cookies: the signed-in session's, the pre-session
// cookie that anonymous forms' CSRF tokens are bound to (handlers/csrf.go), and the pending
// sign-in's between the password and the second step.
type Cookies struct {
	Session    string
	PreSession string
	Pending    string // a sign-in waiting for its second step (pending.go)
}

// CookieNames are the names for a portal served over https (secure) or plain http. Over
// https they carry the __Host- prefix: browsers then accept the cookie only from this host
// (no Domain), over https (Secure) and for the whole site (Path=/), so a sibling subdomain
// or a page on plain http can neither set nor overwrite one. Plain http (the demo on
// 127.0.0.1) has no such cookies, hence plain names there.
func CookieNames(secure bool) Cookies {
	if secure {
		return Cookies{Session: "__Host-portal_session", PreSession: "__Host-portal_csrf", Pending: "__Host-portal_pending"}
	}
	return Cookies{Session: "portal_session", PreSession: "portal_csrf", Pending: "portal_pending"}
}

// Cookies are the names of this store's cookies.
func (s *Store) Cookies() Cookies { return CookieNames(s.secure) }

// preSessionSeedSize is the size of a pre-session seed in bytes (base64url in the cookie).
const preSessionSeedSize = 32

// PreSession is the random seed of the browser's pre-session cookie, which binds the CSRF
// tokens of the forms a visitor uses before signing in (log in, forgot password, set
// password, confirm or cancel an email change). A browser without one, or with one too
// short to be ours, gets a new one. Signing in and out ends it (SignIn, End): the signed-in
// session's tokens are bound to the session instead.
func (cur *Current) PreSession(c *fiber.Ctx) (string, error) {
	name := cur.store.Cookies().PreSession
	if seed := c.Cookies(name); len(seed) >= base64.RawURLEncoding.EncodedLen(preSessionSeedSize) {
		return seed, nil
	}
	b := make([]byte, preSessionSeedSize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: new pre-session seed: %w", err)
	}
	seed := base64.RawURLEncoding.EncodeToString(b)
	c.Cookie(cur.store.preSessionCookie(seed))
	return seed, nil
}

// endPreSession clears the pre-session cookie, whether or not the request had one (one may
// have been planted meanwhile). The clearing cookie carries the same attributes as the
// cookie: browsers ignore a __Host- cookie without Secure and Path=/, clearing ones too.
func (cur *Current) endPreSession(c *fiber.Ctx) {
	cookie := cur.store.preSessionCookie("")
	cookie.Expires = fasthttp.CookieExpireDelete
	c.Cookie(cookie)
}

// preSessionCookie is the pre-session cookie holding seed: HttpOnly (scripts have no use
// for it), SameSite=Lax like the session's, and a browser-session cookie.
func (s *Store) preSessionCookie(seed string) *fiber.Cookie {
	return &fiber.Cookie{Name: s.Cookies().PreSession, Value: seed, Path: "/", Secure: s.secure, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode}
}
