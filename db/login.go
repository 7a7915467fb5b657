package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FailedLoginWindow is how long a run of failed logins is remembered: after 12 hours
// without a failure the count starts again (SPEC R-AUTOLOCK).
const FailedLoginWindow = 12 * time.Hour

// LoginFailure is the state of a contact after a failed login was counted.
type LoginFailure struct {
	Count      int  // consecutive failures, this one included
	AutoLocked bool // this failure locked the contact
}

// RecordLoginFailure counts a failed login atomically in SQL and locks the contact once the
// count reaches threshold. Counting and locking happen in one statement each inside one
// immediate transaction, so 50 parallel wrong passwords count 50 and lock exactly once.
// onAutoLock runs inside the same transaction when this failure locked the contact (the
// mail layer queues its notices there).
func (s *Store) RecordLoginFailure(ctx context.Context, contactID int64, threshold int, remoteIP, reason string,
	onAutoLock func(*Tx, Contact) error) (LoginFailure, error) {
	var f LoginFailure
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		var accountID int64
		err := tx.tx.QueryRowContext(ctx, `
			UPDATE contacts SET
				failed_logins = CASE WHEN last_failed_at IS NULL OR last_failed_at <= ? THEN 1
				                     ELSE failed_logins + 1 END,
				last_failed_at = ?
			WHERE id = ?
			RETURNING failed_logins, account_id`,
			now-int64(FailedLoginWindow/time.Second), now, contactID).Scan(&f.Count, &accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := tx.Audit(ctx, Event{Action: ActionLoginFailed, TargetID: contactID, AccountID: accountID,
			Detail: fmt.Sprintf("%s (failure %d in a row)", reason, f.Count), RemoteIP: remoteIP}); err != nil {
			return err
		}
		res, err := tx.tx.ExecContext(ctx, `
			UPDATE contacts SET status = 'locked', lock_reason = 'failed_logins', locked_by = NULL,
				locked_at = ?, updated_at = ?
			WHERE id = ? AND status = 'active' AND failed_logins >= ?`,
			now, now, contactID, threshold)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		f.AutoLocked = true
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM sessions WHERE contact_id = ?`, contactID); err != nil {
			return err
		}
		if err := tx.Audit(ctx, Event{Action: ActionAutoLocked, TargetID: contactID, AccountID: accountID,
			Detail: fmt.Sprintf("Too many failed login attempts (%d)", f.Count), RemoteIP: remoteIP}); err != nil {
			return err
		}
		if onAutoLock == nil {
			return nil
		}
		c, err := scanContact(tx.tx.QueryRowContext(ctx, `SELECT `+contactColumns+contactFrom+`WHERE c.id = ?`, contactID))
		if err != nil {
			return err
		}
		return onAutoLock(tx, c)
	})
	if err != nil {
		return LoginFailure{}, fmt.Errorf("store: record failed login of contact %d: %w", contactID, err)
	}
	return f, nil
}

// RecordLoginSuccess resets the failure count, stamps the login time, and stores a new
// hash when the password was rehashed with stronger parameters (newHash != "").
func (s *Store) RecordLoginSuccess(ctx context.Context, contactID, accountID int64, newHash, remoteIP string) error {
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		if _, err := tx.tx.ExecContext(ctx, `
			UPDATE contacts SET failed_logins = 0, last_failed_at = NULL, last_login_at = ?,
				password_hash = CASE WHEN ? <> '' THEN ? ELSE password_hash END
			WHERE id = ?`, now, newHash, newHash, contactID); err != nil {
			return err
		}
		return tx.Audit(ctx, Event{Action: ActionLoginSucceeded, ActorID: contactID, TargetID: contactID,
			AccountID: accountID, RemoteIP: remoteIP})
	})
	if err != nil {
		return fmt.Errorf("store: record login of contact %d: %w", contactID, err)
	}
	return nil
}

// UnlockExpiredAutoLock lifts an automatic lock that is older than period (the optional
// auto-unlock of SPEC R-AUTOLOCK). It reports whether the contact was unlocked.
func (s *Store) UnlockExpiredAutoLock(ctx context.Context, contactID int64, period time.Duration) (bool, error) {
	unlocked := false
	err := s.Write(ctx, func(tx *Tx) error {
		now := unix(tx.now)
		var accountID int64
		err := tx.tx.QueryRowContext(ctx, `
			UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_at = NULL,
				failed_logins = 0, last_failed_at = NULL, updated_at = ?
			WHERE id = ? AND status = 'locked' AND lock_reason = 'failed_logins' AND locked_at <= ?
			RETURNING account_id`,
			now, contactID, now-int64(period/time.Second)).Scan(&accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		unlocked = true
		return tx.Audit(ctx, Event{Action: ActionAutoUnlocked, TargetID: contactID, AccountID: accountID,
			Detail: "Automatic lock expired"})
	})
	if err != nil {
		return false, fmt.Errorf("store: auto-unlock contact %d: %w", contactID, err)
	}
	return unlocked, nil
}

// SetPassword stores a new password hash for a contact (the command line's --password-stdin)
// and voids the contact's open reset and set-your-password links: a password change ends them.
func (t *Tx) SetPassword(ctx context.Context, contactID int64, hash string) error {
	_, err := t.tx.ExecContext(ctx,
		`UPDATE contacts SET password_hash = ?, password_changed_at = ?, updated_at = ? WHERE id = ?`,
		hash, unix(t.now), unix(t.now), contactID)
	if err != nil {
		return fmt.Errorf("store: set password of contact %d: %w", contactID, err)
	}
	return t.voidTokens(ctx, contactID, 0)
}
