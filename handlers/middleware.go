package handlers

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/contacts"
	"portal/db"
	"portal/session"
	"portal/static"
	"portal/throttle"
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
		setSecurityHeaders(c, secure)
		return c.Next()
	}
}

func setSecurityHeaders(c *fiber.Ctx, secure bool) {
	h := &c.Response().Header
	if secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set(fiber.HeaderCacheControl, "no-store")
}

// closeOnAmbiguousLength closes the connection after answering a request that carries both
// Content-Length and Transfer-Encoding, as RFC 9112 (6.3) requires. Its body was read by
// Transfer-Encoding, but something in front may have read it by Content-Length and taken
// the rest for a second request: keeping the connection open would let that request be
// smuggled past it. The header parser keeps only the chunked length, so the raw headers
// are looked at, and only for chunked requests (rare: browsers send lengths).
func closeOnAmbiguousLength(c *fiber.Ctx) error {
	h := &c.Request().Header
	if h.ContentLength() == -1 && hasHeaderLine(h.RawHeaders(), fiber.HeaderContentLength) {
		c.Context().SetConnectionClose()
	}
	return c.Next()
}

// hasHeaderLine reports whether raw header lines include one named name.
func hasHeaderLine(raw []byte, name string) bool {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if key, _, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(strings.TrimSpace(string(key)), name) {
			return true
		}
	}
	return false
}

// securityHeadersSet reports whether the response has its security headers already (the
// middleware ran).
func securityHeadersSet(c *fiber.Ctx) bool {
	return len(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy)) > 0
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

// healthTimeout bounds the health check: a database cut off by the network answers
// nothing at all, and a load balancer must hear 503 rather than wait for its own timeout.
const healthTimeout = 2 * time.Second

// health answers 200 while the database answers.
func health(store *db.Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), healthTimeout)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "database unavailable")
		}
		return c.SendString("ok")
	}
}

// loadViewer reads the session and the signed-in contact. The session store only returns
// sessions of active contacts. The CSRF middleware comes next and sets the viewer's token.
func loadViewer(log *slog.Logger, sessions *session.Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		sess, err := sessions.Load(c)
		if err != nil {
			return err
		}
		v := &viewer{sess: sess, log: log}
		if contact, ok := sess.Contact(); ok {
			v.contact = &contact
			v.actor = contacts.Actor{Contact: contact, RemoteIP: clientIP(c), AuthenticatedAt: sess.AuthenticatedAt()}
		}
		c.Locals(viewerKey, v)
		return c.Next()
	}
}

const clientIPKey = "client_ip"

// clientAddress finds the address each request came from, once, for clientIP.
func clientAddress(trusted []netip.Prefix) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(clientIPKey, forwardedClient(peer(c), trusted, c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)).String())
		return c.Next()
	}
}

// clientIP is the address the request came from, for throttles and the audit log (see
// forwardedClient). A request that never reached the middleware (one the HTTP parser
// refused) has its TCP peer's.
func clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(clientIPKey).(string); ok {
		return ip
	}
	return peer(c).String()
}

// peer is the TCP peer's address, IPv4 in its own form.
func peer(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

// forwardedClient is the client's address of a request from peer. A peer outside the
// trusted proxies is the client, whatever X-Forwarded-For it sends. A trusted proxy
// appends the address it saw to X-Forwarded-For, so the list is read from the right: each
// hop that is itself a trusted proxy passes the question on to the hop on its left, and
// the first hop that is not one is the client. Everything further left was written by the
// client and is never believed (Fiber's c.IP() with a proxy header returns the left-most
// hop, which lets any client choose its own address). A hop that is not an address stops
// the walk at the trusted proxy that passed it on.
func forwardedClient(peer netip.Addr, trusted []netip.Prefix, forwardedFor [][]byte) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	client := peer
	if !isTrusted(client) {
		return client
	}
	for i := len(forwardedFor) - 1; i >= 0; i-- { // several header lines are one list, in order
		hops := strings.Split(string(forwardedFor[i]), ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, ok := parseHop(hops[j])
			if !ok {
				return client
			}
			client = hop
			if !isTrusted(client) {
				return client
			}
		}
	}
	return client // a request from inside the trusted network, or from a proxy itself
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// requireSignedIn sends signed-out visitors to the login page, and back afterwards: to the
// page asked for, or, for a form or a fragment, to the page it was sent from. A visitor whose
// session ended meanwhile (it timed out, or was signed out everywhere) is told so; one half
// signed in goes to the second step's page, which sends it on to the step it is at.
func requireSignedIn(c *fiber.Ctx) error {
	v := viewerOf(c)
	if v.contact != nil {
		return c.Next()
	}
	if v.sess != nil && v.sess.PendingID(c) != "" && !htmx(c) {
		// Half signed in (a second step, or its required setup, to go): that page first,
		// which sends it to the login page if the sign-in has ended.
		return redirect(c, stagePaths[db.StageVerify])
	}
	next := c.OriginalURL()
	if c.Method() != fiber.MethodGet || isFragment(c) {
		next = sentFrom(c)
	}
	q := url.Values{}
	if next != "" && next != "/" {
		q.Set("next", next)
	}
	if v.sess != nil && v.sess.Ended() {
		q.Set("ended", "1")
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if htmx(c) {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// sentFrom is the page of this site a form or a fragment was sent from ("" when unknown):
// what htmx says it is on, else the Referer.
func sentFrom(c *fiber.Ctx) string {
	from := cmp.Or(c.Get("HX-Current-URL"), c.Get(fiber.HeaderReferer))
	u, err := url.Parse(from)
	if err != nil || u.Host != c.Hostname() {
		return ""
	}
	return localPath(u.RequestURI())
}

// actorHandler is a handler that acts for the signed-in contact.
type actorHandler func(c *fiber.Ctx, actor contacts.Actor) error

// asSignedIn lets signed-in contacts through to h, in turns (others go to the login page).
func asSignedIn(turns *throttle.Turns, h actorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v := viewerOf(c)
		if v.contact == nil {
			return requireSignedIn(c)
		}
		if err := turns.TakePage(); err != nil {
			return err
		}
		defer turns.Done()
		return h(c, v.actor)
	}
}

// asAdmin lets only contact admins through to h, in turns (signed-out visitors go to the
// login page), with the scope they manage resolved once for the request.
func asAdmin(rules *contacts.Service, turns *throttle.Turns, h actorHandler) fiber.Handler {
	return asSignedIn(turns, func(c *fiber.Ctx, signedIn contacts.Actor) error {
		actor, err := rules.Admin(c.UserContext(), signedIn.Contact, signedIn.RemoteIP)
		if err != nil {
			return err
		}
		actor.AuthenticatedAt = signedIn.AuthenticatedAt
		viewerOf(c).actor = actor
		return h(c, actor)
	})
}
