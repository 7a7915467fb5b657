package handlers

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/db"
	"portal/session"
	"portal/static"
)

const viewerKey = "viewer"

// contentSecurityPolicy allows nothing inline: scripts and styles come from our own files.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers of SPEC R-SEC on every response. Dynamic responses are
// no-store (they show personal data); static files override that with long caching.
// Served over https, browsers are also told to never use plain http for it again.
func securityHeaders(secure bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if secure {
			c.Response().Header.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return setSecurityHeaders(c)
	}
}

func setSecurityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

const staticRoute = static.Prefix + ":file"

// serveStatic sends an embedded file in the smallest coding the browser accepts. Caches
// keep one copy per coding (Vary), as a copy in brotli is no use to a client without it.
func serveStatic(c *fiber.Ctx) error {
	asset, ok := static.Lookup(c.Params("file"))
	if !ok {
		return fiber.ErrNotFound
	}
	body, coding := asset.Encoded(c.Get(fiber.HeaderAcceptEncoding))
	c.Set(fiber.HeaderContentType, asset.ContentType)
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Vary(fiber.HeaderAcceptEncoding)
	if coding != "" {
		c.Set(fiber.HeaderContentEncoding, coding)
	}
	return c.Send(body) // fasthttp sets Content-Length from the body sent
}

// health answers 200 while the database answers.
func health(store *db.Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := store.Ping(c.UserContext()); err != nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "database unavailable")
		}
		return c.SendString("ok")
	}
}

// loadViewer reads the session and the signed-in contact. The session store only returns
// sessions of active contacts.
func loadViewer(d Deps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := sessionRequest(c)
		sess, err := d.Sessions.Get(req, session.CookieName)
		if err != nil {
			return err
		}
		token, _ := c.Locals(csrfLocal).(string)
		v := &viewer{sess: sess, req: req, csrf: token, sessions: d.Sessions}
		if contact, ok := session.Contact(sess); ok {
			v.contact = &contact
		}
		c.Locals(viewerKey, v)
		return c.Next()
	}
}

// sessionRequest is the request as gorilla/sessions sees it. It reads only the cookies and
// the context, so only they are carried over: a full conversion (adaptor.ConvertRequest
// copies every header and parses the URL) was 3% of a page's time.
func sessionRequest(c *fiber.Ctx) *http.Request {
	req := &http.Request{Method: c.Method(), Header: http.Header{}}
	if cookies := c.Request().Header.Peek(fiber.HeaderCookie); len(cookies) > 0 {
		req.Header.Set(fiber.HeaderCookie, string(cookies))
	}
	return req.WithContext(c.UserContext())
}

// requireSignedIn sends signed-out visitors to the login page, and back here afterwards.
func requireSignedIn(c *fiber.Ctx) error {
	if viewerOf(c).contact != nil {
		return c.Next()
	}
	next := c.OriginalURL()
	if c.Method() != fiber.MethodGet || isFragment(c) {
		next = ""
	}
	target := "/login"
	if next != "" && next != "/" {
		target += "?next=" + url.QueryEscape(next)
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// errNotAdmin is the answer to contacts without the Contact admin role.
var errNotAdmin = fiber.NewError(fiber.StatusForbidden, "Only contact admins can manage contacts.")

// requireAdmin lets only contact admins through (after requireSignedIn).
func requireAdmin(c *fiber.Ctx) error {
	v := viewerOf(c)
	if v.contact == nil {
		return requireSignedIn(c)
	}
	if !v.contact.IsAdmin() {
		return errNotAdmin
	}
	return c.Next()
}

// localPath keeps a post-login destination on this site: an absolute path, never another
// host. Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
// "/\t/evil.example" would become "//evil.example": any control character or backslash
// refuses the value, and what is left must parse as a bare path.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || len(p) > 2048 {
		return ""
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return ""
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return ""
	}
	return p
}
