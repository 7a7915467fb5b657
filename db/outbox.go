package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of mail, as stored in the outbox.
const (
	MailReset           = PurposeReset       // a password reset link
	MailInvite          = PurposeInvite      // a set-your-password link for a new contact
	MailPasswordChanged = "password_changed" // notice after a password was set
	MailAutoLocked      = "auto_locked"      // notice to admins: a colleague was locked after failed logins
	// MailEmailConfirm asks the new address of an email change to confirm it.
	MailEmailConfirm = "email_confirm"
	// MailEmailChangeNotice tells the old address of an email change, with a link that cancels it.
	MailEmailChangeNotice = "email_change_notice"
	// MailTwoFactorReset tells a contact that its second factors were removed (SPEC 3.11).
	MailTwoFactorReset = "two_factor_reset"
)

// Outbox statuses, as stored.
const (
	MailQueued     = "queued"
	MailSent       = "sent"
	MailGivenUp    = "given_up"   // its link expired (or it grew too old) before it could be sent
	MailSuperseded = "superseded" // its link was used or voided before it could be sent: nothing to send
)

// OutboxMail is one mail in the outbox. It holds what the mail is about, never a secret: a
// link's token is minted when the mail is sent.
type OutboxMail struct {
	ID            string // also the Message-ID's local part, so a resend is recognisable
	Kind          string
	ToContactID   int64
	ToEmail       string
	ToName        string
	AboutID       int64 // auto_locked: the locked colleague; reset: the admin who asked
	AboutName     string
	AboutEmail    string
	TokenID       int64 // the password link it carries; 0 for mails without one
	EmailChangeID int64 // the email change whose link it carries (MailEmailConfirm, MailEmailChangeNotice)
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	FinishedAt    time.Time
}

// ErrLinkExpired and ErrLinkSuperseded tell the worker why a link mail is not sent.
var (
	ErrLinkExpired    = errors.New("the link expired before the mail could be sent")
	ErrLinkSuperseded = errors.New("the link was used or voided before the mail could be sent")
)

// newID is a random id, 16 bytes in hex: an outbox mail's (its Message-ID too) or an
// import's.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand crashes the program rather than return an error
	return hex.EncodeToString(b)
}

// QueueMail adds m to the outbox inside t, due at once, and returns its id.
func (t *Tx) QueueMail(ctx context.Context, m OutboxMail) (string, error) {
	id, now := newID(), unix(t.now)
	_, err := t.tx.ExecContext(ctx, `
		INSERT INTO outbox(id, kind, to_contact_id, to_email, to_name, about_id, about_name, about_email,
			token_id, email_change_id, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, m.Kind, m.ToContactID, m.ToEmail, m.ToName, nullID(m.AboutID), m.AboutName, m.AboutEmail,
		nullID(m.TokenID), nullID(m.EmailChangeID), now, now)
	if err != nil {
		return "", fmt.Errorf("store: queue %s mail to contact %d: %w", m.Kind, m.ToContactID, err)
	}
	t.queuedMail = true
	return id, nil
}

// QueueAutoLockNotices queues a notice about locked to every active contact admin whose
// scope contains it: the admins of its account and of every account above it.
func (t *Tx) QueueAutoLockNotices(ctx context.Context, locked Contact) (int, error) {
	rows, err := t.tx.QueryContext(ctx, `
		WITH RECURSIVE above(id) AS (
			SELECT CAST(? AS BIGINT) -- PostgreSQL would read a bare parameter as text
			UNION ALL
			SELECT a.parent_id FROM accounts a JOIN above ON a.id = above.id WHERE a.parent_id IS NOT NULL
		)
		SELECT c.id, c.email, c.first_name, c.last_name
		FROM contacts c JOIN contact_roles r ON r.contact_id = c.id AND r.role = 'contact_admin'
		WHERE c.account_id IN (SELECT id FROM above) AND c.status = 'active' AND c.id <> ?
		ORDER BY c.id`, locked.AccountID, locked.ID)
	if err != nil {
		return 0, fmt.Errorf("store: admins of contact %d: %w", locked.ID, err)
	}
	var admins []Contact
	for rows.Next() {
		var a Contact
		if err := rows.Scan(&a.ID, &a.Email, &a.FirstName, &a.LastName); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: admins of contact %d: %w", locked.ID, err)
		}
		admins = append(admins, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: admins of contact %d: %w", locked.ID, err)
	}
	for _, a := range admins {
		if _, err := t.QueueMail(ctx, OutboxMail{Kind: MailAutoLocked, ToContactID: a.ID, ToEmail: a.Email,
			ToName: a.Name(), AboutID: locked.ID, AboutName: locked.Name(), AboutEmail: locked.Email}); err != nil {
			return 0, err
		}
	}
	return len(admins), nil
}

const outboxColumns = `id, kind, to_contact_id, to_email, to_name, coalesce(about_id, 0), about_name, about_email,
	coalesce(token_id, 0), coalesce(email_change_id, 0), status, attempts, next_attempt_at, last_error, created_at, finished_at`

func scanMail(row rowScanner) (OutboxMail, error) {
	var m OutboxMail
	var next, created int64
	var finished sql.NullInt64
	err := row.Scan(&m.ID, &m.Kind, &m.ToContactID, &m.ToEmail, &m.ToName, &m.AboutID, &m.AboutName, &m.AboutEmail,
		&m.TokenID, &m.EmailChangeID, &m.Status, &m.Attempts, &next, &m.LastError, &created, &finished)
	if err != nil {
		return OutboxMail{}, err
	}
	m.NextAttemptAt, m.CreatedAt = time.Unix(next, 0).UTC(), time.Unix(created, 0).UTC()
	m.FinishedAt = timeOrZero(finished)
	return m, nil
}

// ClaimMail takes the oldest queued mail that is due, for the worker that calls it, and
// returns it; ok is false when none is due. Taking it moves its next attempt lease ahead,
// so that no worker, on this server or another, takes it meanwhile: the worker sends it and
// records the outcome (MarkMailSent, RetryMail, FinishMail) well within the lease. A worker
// that stops with a mail in hand for good (a crash) leaves it to be taken again once the
// lease has passed. The claim is one statement of its own, committed at once.
func (s *Store) ClaimMail(ctx context.Context, lease time.Duration) (m OutboxMail, ok bool, err error) {
	now := s.now()
	m, err = scanMail(s.write.QueryRowContext(ctx, `
		UPDATE outbox SET next_attempt_at = ?1
		WHERE id = (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?2
				ORDER BY next_attempt_at, created_at, id LIMIT 1`+s.engine.skipLocked()+`)
			AND status = 'queued' AND next_attempt_at <= ?2 -- as the row is now, if another took it first
		RETURNING `+outboxColumns, unix(now.Add(lease)), unix(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxMail{}, false, nil
	}
	if err != nil {
		return OutboxMail{}, false, fmt.Errorf("store: claim due mail: %w", classify(err))
	}
	return m, true, nil
}

// NextMailDue is when the earliest queued mail is due; ok is false when nothing is queued.
func (s *Store) NextMailDue(ctx context.Context) (at time.Time, ok bool, err error) {
	var next sql.NullInt64
	if err := s.read.QueryRowContext(ctx,
		`SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next mail due: %w", err)
	}
	return time.Unix(next.Int64, 0).UTC(), next.Valid, nil
}

// MintLink creates the token of a link mail just before it is sent: it checks that the link
// can still be used (ErrLinkExpired, ErrLinkSuperseded otherwise), stores the SHA-256 of a
// fresh random token and returns the token for the mail. Minting at send time keeps every
// usable token out of the database; a retry mints a new one, so only the latest mail's link
// works.
func (s *Store) MintLink(ctx context.Context, m OutboxMail) (raw string, tok PasswordToken, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		tok, err = scanToken(tx.tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM password_tokens WHERE id = ?`, m.TokenID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLinkSuperseded
		}
		if err != nil {
			return err
		}
		if !tok.UsedAt.IsZero() || !tok.VoidedAt.IsZero() {
			return ErrLinkSuperseded
		}
		if !tok.Usable(tx.now) {
			return ErrLinkExpired
		}
		var status, reason string
		if err := tx.tx.QueryRowContext(ctx, `SELECT status, lock_reason FROM contacts WHERE id = ?`,
			tok.ContactID).Scan(&status, &reason); err != nil {
			return err
		}
		if status == StatusLocked && reason != LockedByFailedLogins {
			return ErrLinkSuperseded // only a lock after failed logins lets links through
		}
		var hash []byte
		if raw, hash, err = newToken(); err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `UPDATE password_tokens SET token_hash = ? WHERE id = ?`, hash, tok.ID)
		tok.Minted = true
		return err
	})
	if errors.Is(err, ErrLinkExpired) || errors.Is(err, ErrLinkSuperseded) {
		return "", tok, err
	}
	if err != nil {
		return "", PasswordToken{}, fmt.Errorf("store: mint link for mail %s: %w", m.ID, err)
	}
	return raw, tok, nil
}

// MarkMailSent records a delivered mail.
func (s *Store) MarkMailSent(ctx context.Context, id string) error {
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `UPDATE outbox SET status = 'sent', attempts = attempts + 1,
			last_error = '', finished_at = ? WHERE id = ?`, unix(tx.now), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: mark mail %s sent: %w", id, err)
	}
	return nil
}

// RetryMail records a failed attempt and when to try again.
func (s *Store) RetryMail(ctx context.Context, id string, next time.Time, reason string) error {
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?,
			last_error = ? WHERE id = ? AND status = 'queued'`, unix(next), truncate(reason, 500), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: reschedule mail %s: %w", id, err)
	}
	return nil
}

// FinishMail ends a mail without sending it: status is MailGivenUp (audited, since someone
// waits for a mail that will not come) or MailSuperseded (nothing left to send).
func (s *Store) FinishMail(ctx context.Context, m OutboxMail, status, reason string) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, finished_at = ?
			WHERE id = ? AND status = 'queued'`, status, truncate(reason, 500), unix(tx.now), m.ID); err != nil {
			return err
		}
		if status != MailGivenUp {
			return nil
		}
		var accountID int64
		_ = tx.tx.QueryRowContext(ctx, `SELECT account_id FROM contacts WHERE id = ?`, m.ToContactID).Scan(&accountID)
		return tx.Audit(ctx, Event{Action: ActionMailGivenUp, TargetID: m.ToContactID, AccountID: accountID,
			Detail: fmt.Sprintf("%s mail %s to %s not sent after %d attempts: %s", m.Kind, m.ID, m.ToEmail, m.Attempts, reason)})
	})
	if err != nil {
		return fmt.Errorf("store: finish mail %s as %s: %w", m.ID, status, err)
	}
	return nil
}

// truncate bounds an error text kept in the outbox, without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// PruneMail deletes finished mail and spent links older than before: the audit log keeps
// their story, and the tables stay small. Queued mail and its links are never touched.
func (s *Store) PruneMail(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM outbox WHERE status <> 'queued' AND created_at < ?`, unix(before))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		res, err = tx.tx.ExecContext(ctx, `
			DELETE FROM password_tokens WHERE expires_at < ?
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.token_id = password_tokens.id AND o.status = 'queued')`,
			unix(before))
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n += m
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune mail: %w", err)
	}
	return n, nil
}
