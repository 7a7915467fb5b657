package session

import (
	"net/http"

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
// rotate at login) and saves it. The pre-session ends: what the visitor did before signing
// in (a seed an attacker may have planted included) counts for nothing afterwards.
func (cur *Current) SignIn(c *fiber.Ctx, contactID int64) error {
	if err := cur.store.SignIn(cur.req, cur.Session, contactID); err != nil {
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

// headerWriter collects the headers gorilla/sessions writes (only Set-Cookie matters).
type headerWriter struct{ header http.Header }

func (w *headerWriter) Header() http.Header         { return w.header }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}
