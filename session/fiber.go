package session

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/gorilla/sessions"

	"portal/db"
)

// Current is the session of one Fiber request. gorilla/sessions speaks net/http, so it gets a
// request holding only what it reads, the cookies and the context (a full conversion copies
// every header and parses the URL: 3% of a page's time), and its Set-Cookie headers are
// copied onto the Fiber response.
type Current struct {
	*sessions.Session
	req   *http.Request
	store *Store
}

// Load reads the request's session: a live one with its signed-in contact, or a new, empty
// one. An unknown, expired or revoked cookie is not an error: the visitor is signed out.
func (s *Store) Load(c *fiber.Ctx) (*Current, error) {
	req := &http.Request{Method: c.Method(), Header: http.Header{}}
	if cookies := c.Request().Header.Peek(fiber.HeaderCookie); len(cookies) > 0 {
		req.Header.Set(fiber.HeaderCookie, string(cookies))
	}
	req = req.WithContext(c.UserContext())
	sess, err := s.Get(req, s.Cookies().Session)
	if err != nil {
		return nil, err
	}
	return &Current{Session: sess, req: req, store: s}, nil
}

// Ended reports whether the request named a session that is not live: it expired, was
// revoked, or never existed. The visitor is signed out but was, or thinks so.
func (cur *Current) Ended() bool {
	cookie, err := cur.req.Cookie(cur.Name())
	return err == nil && cookie.Value != "" && cur.IsNew
}

// Contact is the signed-in contact, read with the session (active, with a password).
func (cur *Current) Contact() (db.Contact, bool) { return Contact(cur.Session) }

// Save stores the session and sets its cookie on the response.
func (cur *Current) Save(c *fiber.Ctx) error {
	w := &headerWriter{header: http.Header{}}
	if err := cur.store.Save(cur.req, w, cur.Session); err != nil {
		return err
	}
	for _, cookie := range w.header.Values("Set-Cookie") {
		c.Response().Header.Add(fiber.HeaderSetCookie, cookie)
	}
	return nil
}

// SignIn binds the session to contactID under a new id (the old one is revoked, so ids
// rotate at login) and saves it, with the browser's User-Agent and the client's address
// (address: the one the portal worked out, see handlers' clientIP) for the contact's list of
// sessions. The pre-session ends: what the visitor did before signing in (a seed an
// attacker may have planted included) counts for nothing afterwards.
func (cur *Current) SignIn(c *fiber.Ctx, contactID int64, address string) error {
	origin := db.SessionOrigin{UserAgent: userAgent(c.Get(fiber.HeaderUserAgent)), Address: address}
	if err := cur.store.SignIn(cur.req, cur.Session, contactID, origin); err != nil {
		return err
	}
	cur.endPreSession(c)
	return cur.Save(c)
}

// End deletes the session and clears its cookie, and the pre-session cookie with it: the
// next visit starts afresh.
func (cur *Current) End(c *fiber.Ctx) error {
	cur.endPreSession(c)
	cur.Options.MaxAge = -1
	return cur.Save(c)
}

// maxUserAgentLength bounds a stored User-Agent: real ones are a few hundred bytes, and the
// header is the client's to fill.
const maxUserAgentLength = 512

// userAgent is the header as stored: cut to maxUserAgentLength bytes, at a character
// boundary, and valid UTF-8 (PostgreSQL's text refuses anything else).
func userAgent(h string) string {
	h = strings.ToValidUTF8(h, "\uFFFD")
	if len(h) <= maxUserAgentLength {
		return h
	}
	cut := maxUserAgentLength
	for cut > 0 && !utf8.RuneStart(h[cut]) {
		cut--
	}
	return h[:cut]
}

// headerWriter collects the headers gorilla/sessions writes (only Set-Cookie matters).
type headerWriter struct{ header http.Header }

func (w *headerWriter) Header() http.Header         { return w.header }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

// IDHash is the stored hash of the session's id, nil when it has none: what tells this
// browser's session from the contact's others.
func (cur *Current) IDHash() []byte {
	if cur.ID == "" {
		return nil
	}
	return hashID(cur.ID)
}
