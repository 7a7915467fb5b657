package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// Link purposes, as stored.
const (
	PurposeReset  = "reset"  // a password reset link (Reset password, Forgot password?)
	PurposeInvite = "invite" // a set-your-password link for a new contact
)

// ResetLinkTTL is how long a password reset link is valid (SPEC R-RESET).
const ResetLinkTTL = 12 * time.Hour

// TokenBytes is the size of a link's random token before base64url encoding.
const TokenBytes = 32

// Audit actions of the mail pipeline. Their names are stored, so they never change.
const (
	ActionResetRequested  = "reset_requested"
	ActionResetRefused    = "reset_refused" // Forgot password? for an unknown or locked address, or past the hourly limit of links
	ActionInvitationSent  = "invitation_sent"
	ActionLinkUsed        = "reset_link_used"
	ActionPasswordChanged = "password_changed"
	ActionUnlockedByReset = "unlocked_by_reset"
	ActionMailGivenUp     = "mail_given_up"
)

// ErrLinkInvalid is returned for a link that is unknown, expired, used, voided, or belongs to
// a contact who may not use it (locked by an admin, with its organization, or because its
// access ended). People get one page for all of these.
var ErrLinkInvalid = errors.New("link is not valid")

// PasswordToken is a reset or set-your-password link, without its secret.
type PasswordToken struct {
	ID          int64
	ContactID   int64
	Purpose     string
	CreatedByID int64
	CreatedAt   time.Time
	ExpiresAt   time.Time
	UsedAt      time.Time
	VoidedAt    time.Time
	Minted      bool // the mail carrying it was sent, so a token hash exists
}

// TTL is how long the link was made valid for.
func (t PasswordToken) TTL() time.Duration { return t.ExpiresAt.Sub(t.CreatedAt) }

// Usable reports whether the link can still set a password at now. A link is valid up to
// and including the second it expires.
func (t PasswordToken) Usable(now time.Time) bool {
	return t.UsedAt.IsZero() && t.VoidedAt.IsZero() && !now.After(t.ExpiresAt)
}

// HashToken is the stored form of a link's token: the SHA-256 of its 32 random bytes. A
// string that is not a well-formed token hashes to nil and matches nothing.
func HashToken(raw string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != TokenBytes {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

func newToken() (raw string, hash []byte, err error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), sum[:], nil
}

const tokenColumns = `id, contact_id, purpose, coalesce(created_by, 0), created_at, expires_at, used_at, voided_at,
	token_hash IS NOT NULL`

func scanToken(row rowScanner) (PasswordToken, error) {
	var t PasswordToken
	var created, expires int64
	var used, voided sql.NullInt64
	if err := row.Scan(&t.ID, &t.ContactID, &t.Purpose, &t.CreatedByID, &created, &expires, &used, &voided, &t.Minted); err != nil {
		return PasswordToken{}, err
	}
	t.CreatedAt, t.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	t.UsedAt, t.VoidedAt = timeOrZero(used), timeOrZero(voided)
	return t, nil
}

// LinkRequest is what issuing a link needs.
type LinkRequest struct {
	Contact     Contact
	Purpose     string        // PurposeReset or PurposeInvite
	TTL         time.Duration // ResetLinkTTL for resets, the configured invite TTL for invitations
	RequestedBy *Contact      // the admin who asked; nil for the contact itself or the command line
	RemoteIP    string
	Detail      string // how it was asked for, for the audit log
}

// IssueLink voids the contact's pending links, creates a new one and queues the mail that
// carries it, with its audit event, all inside t: the mail exists exactly when the link does.
// The token itself is minted when the mail is sent (see MintLink).
func (t *Tx) IssueLink(ctx context.Context, r LinkRequest) (PasswordToken, error) {
	now := unix(t.now)
	c := r.Contact
	if err := t.VoidLinks(ctx, c.ID); err != nil {
		return PasswordToken{}, err
	}
	var requestedBy int64
	if r.RequestedBy != nil {
		requestedBy = r.RequestedBy.ID
	}
	tok := PasswordToken{ContactID: c.ID, Purpose: r.Purpose, CreatedByID: requestedBy,
		CreatedAt: t.now.UTC(), ExpiresAt: t.now.Add(r.TTL).UTC()}
	err := t.tx.QueryRowContext(ctx, `
		INSERT INTO password_tokens(contact_id, purpose, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		c.ID, r.Purpose, nullID(requestedBy), now, unix(tok.ExpiresAt)).Scan(&tok.ID)
	if err != nil {
		return PasswordToken{}, fmt.Errorf("store: create %s link for contact %d: %w", r.Purpose, c.ID, err)
	}
	m := OutboxMail{Kind: r.Purpose, ToContactID: c.ID, ToEmail: c.Email, ToName: c.Name(), TokenID: tok.ID}
	if r.RequestedBy != nil {
		m.AboutID, m.AboutName, m.AboutEmail = r.RequestedBy.ID, r.RequestedBy.Name(), r.RequestedBy.Email
	}
	if _, err := t.QueueMail(ctx, m); err != nil {
		return PasswordToken{}, err
	}
	action := ActionResetRequested
	if r.Purpose == PurposeInvite {
		action = ActionInvitationSent
	}
	e := Event{Action: action, TargetID: c.ID, AccountID: c.AccountID, RemoteIP: r.RemoteIP, Detail: r.Detail}
	if r.RequestedBy != nil {
		e.ActorID = r.RequestedBy.ID
	}
	if err := t.Audit(ctx, e); err != nil {
		return PasswordToken{}, err
	}
	return tok, nil
}

// VoidLinks voids the contact's links that are still open.
func (t *Tx) VoidLinks(ctx context.Context, contactID int64) error {
	_, err := t.tx.ExecContext(ctx, `
		UPDATE password_tokens SET voided_at = ?
		WHERE contact_id = ? AND used_at IS NULL AND voided_at IS NULL`,
		unix(t.now), contactID)
	if err != nil {
		return fmt.Errorf("store: void links of contact %d: %w", contactID, err)
	}
	return nil
}

// TokenByRaw finds the link a token belongs to, whatever its state; ErrNotFound when the
// token is malformed or unknown.
func (s *Store) TokenByRaw(ctx context.Context, raw string) (PasswordToken, error) {
	hash := HashToken(raw)
	if hash == nil {
		return PasswordToken{}, ErrNotFound
	}
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM password_tokens WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return PasswordToken{}, ErrNotFound
	}
	if err != nil {
		return PasswordToken{}, fmt.Errorf("store: link: %w", err)
	}
	return t, nil
}

// countLinksSince counts the links mailed to a contact since t: reset and set-your-password
// links, and email changes (each asks a mailbox to act).
func countLinksSince(ctx context.Context, q queryer, contactID int64, since time.Time) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM password_tokens WHERE contact_id = ?1 AND created_at > ?2) +
		(SELECT count(*) FROM email_changes WHERE contact_id = ?1 AND created_at > ?2)`, contactID, unix(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count links of contact %d: %w", contactID, err)
	}
	return n, nil
}

// UsedLink is a link that was just used to set a password.
type UsedLink struct {
	TokenID   int64
	ContactID int64
	Purpose   string
}

// UseLink consumes the usable link of token raw (ErrLinkInvalid when there is none): one
// conditional UPDATE, so of two simultaneous submits of the same link exactly one gets it.
// The rest of setting the password happens in the same transaction, and rolling it back
// leaves the link as it was.
func (t *Tx) UseLink(ctx context.Context, raw string) (UsedLink, error) {
	hash := HashToken(raw)
	if hash == nil {
		return UsedLink{}, ErrLinkInvalid
	}
	now := unix(t.now)
	var l UsedLink
	err := t.tx.QueryRowContext(ctx, `
		UPDATE password_tokens SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at >= ?
		RETURNING id, contact_id, purpose`, now, hash, now).Scan(&l.TokenID, &l.ContactID, &l.Purpose)
	if errors.Is(err, sql.ErrNoRows) {
		return UsedLink{}, ErrLinkInvalid
	}
	if err != nil {
		return UsedLink{}, fmt.Errorf("store: use link: %w", err)
	}
	return l, nil
}
