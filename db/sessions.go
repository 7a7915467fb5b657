package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionRow is a stored session: the contact it belongs to and its encoded values.
// IDHash is the SHA-256 of the cookie's id; the raw id is never stored.
type SessionRow struct {
	IDHash     []byte
	ContactID  int64
	Data       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// SessionLimits are the idle and absolute lifetimes a session is checked against.
type SessionLimits struct {
	Idle     time.Duration
	Absolute time.Duration
}

// LiveSession reads a session that is within its limits and whose contact is still active,
// together with that contact (one query: it runs on every request). Checking the contact
// on every read is what ends a locked contact's sessions at once, even when it was locked
// by hand in the database, and a contact whose access has ended, from that second on (the
// access job locks it a little later).
func (s *Store) LiveSession(ctx context.Context, idHash []byte, lim SessionLimits) (SessionRow, Contact, error) {
	now := s.now().Unix()
	var r SessionRow
	var created, seen int64
	// The session is read first, on its own (MATERIALIZED): joined directly, SQLite took
	// eight times as long over the same three primary-key lookups (27 µs against 3.4).
	c, err := scanContact(s.read.QueryRowContext(ctx, `
		WITH s AS MATERIALIZED (
			SELECT contact_id, id_hash, data, created_at, last_seen_at FROM sessions
			WHERE id_hash = ? AND last_seen_at > ? AND created_at > ?)
		SELECT `+contactColumns+`, s.id_hash, s.data, s.created_at, s.last_seen_at
		FROM s JOIN contacts c ON c.id = s.contact_id JOIN accounts a ON a.id = c.account_id
		WHERE c.status = 'active' AND c.password_hash <> '' AND (c.access_ends_at IS NULL OR c.access_ends_at > ?)`,
		idHash, now-int64(lim.Idle/time.Second), now-int64(lim.Absolute/time.Second), now),
		&r.IDHash, &r.Data, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRow{}, Contact{}, ErrNotFound
	}
	if err != nil {
		return SessionRow{}, Contact{}, fmt.Errorf("store: session: %w", err)
	}
	r.ContactID = c.ID
	r.CreatedAt, r.LastSeenAt = time.Unix(created, 0).UTC(), time.Unix(seen, 0).UTC()
	return r, c, nil
}

// SessionOrigin is where a session was signed in from, as its contact's page shows it.
type SessionOrigin struct {
	UserAgent string // as the browser sent it
	Address   string // the client's address (behind trusted proxies, the one they forwarded)
}

// CreateSession stores a new session, signed in from origin.
func (s *Store) CreateSession(ctx context.Context, idHash []byte, contactID int64, data []byte, origin SessionOrigin) error {
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		_, err := tx.tx.ExecContext(ctx, `
			INSERT INTO sessions(id_hash, contact_id, data, created_at, last_seen_at, user_agent, remote_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			idHash, contactID, data, now, now, origin.UserAgent, origin.Address)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// UpdateSession stores a session's values and marks it seen now.
func (s *Store) UpdateSession(ctx context.Context, idHash []byte, data []byte) error {
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `UPDATE sessions SET data = ?, last_seen_at = ? WHERE id_hash = ?`,
			data, unix(tx.now), idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: update session: %w", err)
	}
	return nil
}

// TouchSession marks a session seen now, at most once per minute so that reading pages
// does not turn into a write per request.
func (s *Store) TouchSession(ctx context.Context, idHash []byte) error {
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		_, err := tx.tx.ExecContext(ctx,
			`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`, now, idHash, now-60)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// EndSessions ends every session of a contact inside tx (lock, password change).
func (t *Tx) EndSessions(ctx context.Context, contactID int64) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE contact_id = ?`, contactID); err != nil {
		return fmt.Errorf("store: end sessions of contact %d: %w", contactID, err)
	}
	return nil
}

// ContactSession is one signed-in session of a contact, as the contact's page lists it.
type ContactSession struct {
	SessionOrigin
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// MaxListedSessions is how many sessions of one contact a page lists at most: a
// script that signs in again and again leaves a session each time.
const MaxListedSessions = 100

// contactSessions lists the sessions of a contact that are within lim at now (a zero limit
// does not bound), most recently active first, at most MaxListedSessions. A session past its
// limits is over, even before the sweep deletes its row.
func contactSessions(ctx context.Context, q rowsQueryer, contactID int64, now time.Time, lim SessionLimits) ([]ContactSession, error) {
	var seenAfter, createdAfter int64
	if lim.Idle > 0 {
		seenAfter = now.Unix() - int64(lim.Idle/time.Second)
	}
	if lim.Absolute > 0 {
		createdAfter = now.Unix() - int64(lim.Absolute/time.Second)
	}
	rows, err := q.QueryContext(ctx, `
		SELECT user_agent, remote_ip, created_at, last_seen_at FROM sessions
		WHERE contact_id = ? AND last_seen_at > ? AND created_at > ?
		ORDER BY last_seen_at DESC, created_at DESC LIMIT ?`, contactID, seenAfter, createdAfter, MaxListedSessions)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ContactSession
	for rows.Next() {
		var cs ContactSession
		var created, seen int64
		if err := rows.Scan(&cs.UserAgent, &cs.Address, &created, &seen); err != nil {
			return nil, err
		}
		cs.CreatedAt, cs.LastSeenAt = time.Unix(created, 0).UTC(), time.Unix(seen, 0).UTC()
		out = append(out, cs)
	}
	return out, rows.Err()
}

// EndSessionsBut ends every session of a contact except the one whose id hash is keep (nil:
// every one) inside tx, and reports how many it ended (Sign out everywhere).
func (t *Tx) EndSessionsBut(ctx context.Context, contactID int64, keep []byte) (int64, error) {
	query, args := `DELETE FROM sessions WHERE contact_id = ?`, []any{contactID}
	if keep != nil {
		query, args = query+` AND id_hash <> ?`, append(args, keep)
	}
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("store: end sessions of contact %d: %w", contactID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: end sessions of contact %d: %w", contactID, err)
	}
	return n, nil
}

// DeleteExpiredSessions removes sessions past either limit; the server runs it periodically.
func (s *Store) DeleteExpiredSessions(ctx context.Context, lim SessionLimits) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at <= ? OR created_at <= ?`,
			now-int64(lim.Idle/time.Second), now-int64(lim.Absolute/time.Second))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}
