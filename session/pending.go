package session

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The pending sign-in cookie holds the random id of a sign-in between the password and its
// next step (package contacts: PendingActor). It is not a session: nothing but the pages of
// that step reads it, and it lives as long as the pending sign-in may (the server keeps the
// time that counts; the cookie's own limit only tidies the browser).

// PendingID is the pending sign-in id the request carries, "" when none.
func (cur *Current) PendingID(c *fiber.Ctx) string {
	return c.Cookies(cur.store.Cookies().Pending)
}

// SetPending gives the browser the id of its pending sign-in, for ttl.
func (cur *Current) SetPending(c *fiber.Ctx, id string, ttl time.Duration) {
	cookie := cur.store.pendingCookie(id)
	cookie.MaxAge = int(ttl / time.Second)
	c.Cookie(cookie)
}

// ClearPending removes the pending sign-in cookie.
func (cur *Current) ClearPending(c *fiber.Ctx) {
	cookie := cur.store.pendingCookie("")
	cookie.Expires = fasthttp.CookieExpireDelete
	c.Cookie(cookie)
}

// pendingCookie has the attributes of the portal's other cookies (HttpOnly, SameSite=Lax,
// Secure and __Host- over https).
func (s *Store) pendingCookie(value string) *fiber.Cookie {
	return &fiber.Cookie{Name: s.Cookies().Pending, Value: value, Path: "/", Secure: s.secure, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode}
}

// authenticatedKey is the Values key of when the contact last proved who it is in this
// session: at sign-in, or confirming it before a sensitive change.
const authenticatedKey = "authenticated_at"

// AuthenticatedAt is when the signed-in contact last proved who it is in this session.
func (cur *Current) AuthenticatedAt() time.Time {
	switch v := cur.Values[authenticatedKey].(type) {
	case int64:
		return time.Unix(v, 0).UTC()
	case float64: // as JSON decodes it from the stored values
		return time.Unix(int64(v), 0).UTC()
	}
	return time.Time{}
}

// Authenticated records that the contact proved who it is at t (the caller saves).
func (cur *Current) Authenticated(t time.Time) { cur.Values[authenticatedKey] = t.Unix() }
