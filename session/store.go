// Package session keeps signed-in sessions server-side in the database (SQLite or
// PostgreSQL) behind gorilla/sessions.
// The cookie carries only a 32-byte random id; the database stores its SHA-256, so a copy
// of the database does not hand out live sessions. Deleting rows revokes sessions at once.
package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"portal/db"
)

// contactKey is the Values key that holds the signed-in contact's id. It is stored in its
// own column, not in the encoded values.
const contactKey = "contact_id"

// loadedContactKey keeps the contact read with the session for the rest of the request; it
// is never stored.
type loadedContactKey struct{}

// originKey keeps where a session being signed in comes from until Save creates its row; it
// is stored in the row's own columns, not in the encoded values.
type originKey struct{}

// Contact is the signed-in contact as read with the session (active, with a password), so
// that a request needs no second query for it.
func Contact(sess *sessions.Session) (db.Contact, bool) {
	c, ok := sess.Values[loadedContactKey{}].(db.Contact)
	return c, ok
}

// Limits of SPEC R-SEC: 30 minutes idle, 12 hours absolute.
var DefaultLimits = db.SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// Store is a gorilla/sessions Store backed by the sessions table.
type Store struct {
	db     *db.Store
	limits db.SessionLimits
	secure bool
}

// NewStore returns a Store; secure marks cookies Secure (the base URL is https).
func NewStore(store *db.Store, limits db.SessionLimits, secure bool) *Store {
	return &Store{db: store, limits: limits, secure: secure}
}

// Limits reports the idle and absolute lifetimes sessions are checked against.
func (s *Store) Limits() db.SessionLimits { return s.limits }

// options overrides every gorilla default that would be unsafe here: SameSite none,
// no HttpOnly, a 30-day lifetime. The cookie has no lifetime at all (no Max-Age, no
// Expires): the browser forgets it when it closes, so a shared computer does not keep
// someone signed in, and the server ends sessions after the idle and absolute limits
// whatever the browser keeps.
func (s *Store) options() *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		MaxAge:   0,
		Secure:   s.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the request's session, cached per request by gorilla's registry.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie if it is live, or returns a new,
// empty one. An unknown, expired or revoked id is not an error: the visitor is signed out.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.Options = s.options()
	sess.IsNew = true
	cookie, err := r.Cookie(name)
	if err != nil || cookie.Value == "" {
		return sess, nil
	}
	row, contact, err := s.db.LiveSession(r.Context(), hashID(cookie.Value), s.limits)
	if errors.Is(err, db.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	if len(row.Data) > 0 {
		var values map[string]any
		if err := json.Unmarshal(row.Data, &values); err != nil {
			return sess, fmt.Errorf("session: decode values: %w", err)
		}
		for k, v := range values {
			sess.Values[k] = v
		}
	}
	sess.ID = cookie.Value
	sess.IsNew = false
	sess.Values[contactKey] = row.ContactID
	sess.Values[loadedContactKey{}] = contact
	// Mark the session seen, at most once a minute: reads should not all become writes.
	if s.db.Now().Sub(row.LastSeenAt) >= time.Minute {
		if err := s.db.TouchSession(r.Context(), row.IDHash); err != nil {
			return sess, err
		}
	}
	return sess, nil
}

// Save stores the session and sets its cookie. A session without a signed-in contact is
// not stored (anonymous visitors cost no rows). MaxAge < 0 deletes it and clears the cookie.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.db.DeleteSession(r.Context(), hashID(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	contactID := ContactID(sess)
	if contactID == 0 {
		return nil
	}
	data, err := encodeValues(sess)
	if err != nil {
		return err
	}
	if sess.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		origin, _ := sess.Values[originKey{}].(db.SessionOrigin)
		if err := s.db.CreateSession(r.Context(), hashID(id), contactID, data, origin); err != nil {
			return err
		}
		sess.ID = id
	} else if err := s.db.UpdateSession(r.Context(), hashID(sess.ID), data); err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

// Revoke deletes a session by its cookie id (the old id at login, so ids rotate).
func (s *Store) Revoke(r *http.Request, id string) error {
	if id == "" {
		return nil
	}
	return s.db.DeleteSession(r.Context(), hashID(id))
}

// ContactID is the signed-in contact of a session, 0 when signed out.
func ContactID(sess *sessions.Session) int64 {
	id, _ := sess.Values[contactKey].(int64)
	return id
}

// SignIn rotates the session's id and binds it to contactID, who proved who it is just now,
// signed in from origin; the caller then saves it.
func (s *Store) SignIn(r *http.Request, sess *sessions.Session, contactID int64, origin db.SessionOrigin) error {
	if err := s.Revoke(r, sess.ID); err != nil {
		return err
	}
	sess.ID = ""
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[contactKey] = contactID
	sess.Values[authenticatedKey] = s.db.Now().Unix()
	sess.Values[originKey{}] = origin
	sess.Options = s.options()
	return nil
}

func encodeValues(sess *sessions.Session) ([]byte, error) {
	values := map[string]any{}
	for k, v := range sess.Values {
		switch k.(type) {
		case loadedContactKey, originKey: // held for the request only
			continue
		}
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("session: key %v is not a string", k)
		}
		if key != contactKey {
			values[key] = v
		}
	}
	return json.Marshal(values)
}

func newID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: new id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}
