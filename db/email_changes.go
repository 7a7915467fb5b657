package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EmailChangeTTL is how long the new address has to confirm an email change (SPEC R-EDIT).
const EmailChangeTTL = 24 * time.Hour

// Audit actions of email changes. Their names are stored, so they never change.
const (
	ActionEmailChangeRequested = "email_change_requested"
	ActionEmailChangeConfirmed = "email_change_confirmed"
	ActionEmailChangeCancelled = "email_change_cancelled"
	ActionEmailChangeFailed    = "email_change_failed"
)

// EmailChange is a change of a contact's email waiting for the new address to confirm it,
// or one that was confirmed or cancelled.
type EmailChange struct {
	ID            int64
	ContactID     int64
	NewEmail      string
	RequestedByID int64
	RequestedBy   string // "First Last" of the admin who asked ("" when gone)
	CreatedAt     time.Time
	ExpiresAt     time.Time
	ConfirmedAt   time.Time
	CancelledAt   time.Time
}

// Open reports whether the change can still be confirmed at now.
func (c EmailChange) Open(now time.Time) bool {
	return c.ConfirmedAt.IsZero() && c.CancelledAt.IsZero() && !now.After(c.ExpiresAt)
}

var emailChangeColumns = `e.id, e.contact_id, e.new_email, coalesce(e.requested_by, 0),
	coalesce((SELECT ` + nameOf("r") + ` FROM contacts r WHERE r.id = e.requested_by), ''),
	e.created_at, e.expires_at, e.confirmed_at, e.cancelled_at`

func scanEmailChange(row rowScanner) (EmailChange, error) {
	var c EmailChange
	var created, expires int64
	var confirmed, cancelled sql.NullInt64
	if err := row.Scan(&c.ID, &c.ContactID, &c.NewEmail, &c.RequestedByID, &c.RequestedBy, &created, &expires,
		&confirmed, &cancelled); err != nil {
		return EmailChange{}, err
	}
	c.CreatedAt, c.ExpiresAt = time.Unix(created, 0).UTC(), time.Unix(expires, 0).UTC()
	c.ConfirmedAt, c.CancelledAt = timeOrZero(confirmed), timeOrZero(cancelled)
	return c, nil
}

// RequestEmailChange replaces the open email change of contact c, if any, by a change to
// newEmail, and queues its two mails: the confirmation to the new address and the notice,
// with a link that cancels it, to the old one. by is the admin who asked (nil: the system).
func (t *Tx) RequestEmailChange(ctx context.Context, c Contact, newEmail string, by *Contact) (EmailChange, error) {
	if err := t.CancelEmailChanges(ctx, c.ID); err != nil {
		return EmailChange{}, err
	}
	ch := EmailChange{ContactID: c.ID, NewEmail: strings.TrimSpace(newEmail), CreatedAt: t.now.UTC(),
		ExpiresAt: t.now.Add(EmailChangeTTL).UTC()}
	var byID int64
	if by != nil {
		byID, ch.RequestedByID, ch.RequestedBy = by.ID, by.ID, by.Name()
	}
	err := t.tx.QueryRowContext(ctx, `
		INSERT INTO email_changes(contact_id, new_email, requested_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`,
		c.ID, ch.NewEmail, nullID(byID), unix(ch.CreatedAt), unix(ch.ExpiresAt)).Scan(&ch.ID)
	if err != nil {
		return EmailChange{}, fmt.Errorf("store: email change of contact %d: %w", c.ID, err)
	}
	mails := []OutboxMail{
		{Kind: MailEmailConfirm, ToContactID: c.ID, ToEmail: ch.NewEmail, ToName: c.Name(), EmailChangeID: ch.ID},
		{Kind: MailEmailChangeNotice, ToContactID: c.ID, ToEmail: c.Email, ToName: c.Name(), EmailChangeID: ch.ID},
	}
	for _, m := range mails {
		if by != nil {
			m.AboutID, m.AboutName, m.AboutEmail = by.ID, by.Name(), by.Email
		}
		if _, err := t.QueueMail(ctx, m); err != nil {
			return EmailChange{}, err
		}
	}
	return ch, nil
}

// CancelEmailChanges cancels the open email change of a contact, if it has one.
func (t *Tx) CancelEmailChanges(ctx context.Context, contactID int64) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE email_changes SET cancelled_at = ?
		WHERE contact_id = ? AND confirmed_at IS NULL AND cancelled_at IS NULL`, unix(t.now), contactID)
	if err != nil {
		return fmt.Errorf("store: cancel email changes of contact %d: %w", contactID, err)
	}
	return nil
}

// openEmailChange reads the open change of a contact; ok is false when there is none.
func openEmailChange(ctx context.Context, q queryer, contactID int64) (EmailChange, bool, error) {
	c, err := scanEmailChange(q.QueryRowContext(ctx, `SELECT `+emailChangeColumns+` FROM email_changes e
		WHERE e.contact_id = ? AND e.confirmed_at IS NULL AND e.cancelled_at IS NULL
		ORDER BY e.id DESC LIMIT 1`, contactID))
	if errors.Is(err, sql.ErrNoRows) {
		return EmailChange{}, false, nil
	}
	if err != nil {
		return EmailChange{}, false, fmt.Errorf("store: email change of contact %d: %w", contactID, err)
	}
	return c, true, nil
}

// emailChangeLink names the column that holds the hash of the link a mail kind carries.
func emailChangeLink(kind string) (column string, ok bool) {
	switch kind {
	case MailEmailConfirm:
		return "confirm_hash", true
	case MailEmailChangeNotice:
		return "cancel_hash", true
	}
	return "", false
}

// MintEmailChangeLink creates the token of the link an email change mail carries, just before
// it is sent, as MintLink does for password links: ErrLinkExpired or ErrLinkSuperseded when
// the change can no longer be confirmed or cancelled.
func (s *Store) MintEmailChangeLink(ctx context.Context, m OutboxMail) (raw string, ch EmailChange, err error) {
	column, ok := emailChangeLink(m.Kind)
	if !ok {
		return "", EmailChange{}, fmt.Errorf("store: mail %s of kind %s carries no email change link", m.ID, m.Kind)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		ch, err = scanEmailChange(tx.tx.QueryRowContext(ctx, `SELECT `+emailChangeColumns+` FROM email_changes e
			WHERE e.id = ?`, m.EmailChangeID))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (!ch.ConfirmedAt.IsZero() || !ch.CancelledAt.IsZero())) {
			return ErrLinkSuperseded
		}
		if err != nil {
			return err
		}
		if !ch.Open(tx.now) {
			return ErrLinkExpired
		}
		var hash []byte
		if raw, hash, err = newToken(); err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `UPDATE email_changes SET `+column+` = ? WHERE id = ?`, hash, ch.ID)
		return err
	})
	if errors.Is(err, ErrLinkExpired) || errors.Is(err, ErrLinkSuperseded) {
		return "", ch, err
	}
	if err != nil {
		return "", EmailChange{}, fmt.Errorf("store: mint link for mail %s: %w", m.ID, err)
	}
	return raw, ch, nil
}

// EmailChangeByLink reads the open email change whose confirmation (confirm) or cancel link
// token raw is; ErrLinkInvalid when there is none that can be used at now.
func (s *Store) EmailChangeByLink(ctx context.Context, raw string, confirm bool) (EmailChange, error) {
	column := "cancel_hash"
	if confirm {
		column = "confirm_hash"
	}
	hash := HashToken(raw)
	if hash == nil {
		return EmailChange{}, ErrLinkInvalid
	}
	ch, err := scanEmailChange(s.read.QueryRowContext(ctx, `SELECT `+emailChangeColumns+` FROM email_changes e
		WHERE e.`+column+` = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !ch.Open(s.now())) {
		return EmailChange{}, ErrLinkInvalid
	}
	if err != nil {
		return EmailChange{}, fmt.Errorf("store: email change link: %w", err)
	}
	return ch, nil
}

// UseEmailChangeLink ends the open email change whose confirmation (confirm: it is marked
// confirmed) or cancel link (it is marked cancelled) token raw is, in one conditional
// UPDATE: of two simultaneous submits one gets it. ErrLinkInvalid when there is none.
func (t *Tx) UseEmailChangeLink(ctx context.Context, raw string, confirm bool) (EmailChange, error) {
	column, stamp := "cancel_hash", "cancelled_at"
	if confirm {
		column, stamp = "confirm_hash", "confirmed_at"
	}
	hash := HashToken(raw)
	if hash == nil {
		return EmailChange{}, ErrLinkInvalid
	}
	var id int64
	err := t.tx.QueryRowContext(ctx, `UPDATE email_changes SET `+stamp+` = ?
		WHERE `+column+` = ? AND confirmed_at IS NULL AND cancelled_at IS NULL AND expires_at >= ?
		RETURNING id`, unix(t.now), hash, unix(t.now)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return EmailChange{}, ErrLinkInvalid
	}
	if err != nil {
		return EmailChange{}, fmt.Errorf("store: use email change link: %w", err)
	}
	ch, err := scanEmailChange(t.tx.QueryRowContext(ctx, `SELECT `+emailChangeColumns+` FROM email_changes e WHERE e.id = ?`, id))
	if err != nil {
		return EmailChange{}, fmt.Errorf("store: email change %d: %w", id, err)
	}
	return ch, nil
}

// SetEmail makes email the user name of contact c (ErrEmailTaken when it is another's).
func (t *Tx) SetEmail(ctx context.Context, c Contact, email string) error {
	_, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET email = ?, email_key = ?, search_text = ?, updated_at = ? WHERE id = ?`,
		strings.TrimSpace(email), EmailKey(email), SearchText(c.FirstName, c.LastName, email), unix(t.now), c.ID)
	if isUniqueViolation(err) {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("store: set email of contact %d: %w", c.ID, err)
	}
	return nil
}

// OpenEmailChange reads the newest email change of a contact that was neither confirmed
// nor cancelled; ok is false when there is none. It may have expired.
func (t *Tx) OpenEmailChange(ctx context.Context, contactID int64) (EmailChange, bool, error) {
	return openEmailChange(ctx, t.tx, contactID)
}

// CountLinksSince counts the links mailed to a contact since t: reset and set-your-password
// links, and email changes (each asks a mailbox to act). Counted inside the transaction
// that issues the next one, a limit on them holds however many requests come at once.
func (t *Tx) CountLinksSince(ctx context.Context, contactID int64, since time.Time) (int, error) {
	return countLinksSince(ctx, t.tx, contactID, since)
}
