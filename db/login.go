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

// RecordLoginFailure counts a failed login of a contact and locks it once the count reaches
// threshold, with their audit events. Counting and locking are one statement each, so
// however many transactions count at once (50 parallel wrong passwords), the count is exact
// and only the one that reaches the threshold locks; the lock ends the contact's sessions.
func (t *Tx) RecordLoginFailure(ctx context.Context, contactID int64, threshold int, remoteIP, reason string) (LoginFailure, error) {
	var f LoginFailure
	now := unix(t.now)
	var accountID int64
	err := t.tx.QueryRowContext(ctx, `
		UPDATE contacts SET
			failed_logins = CASE WHEN last_failed_at IS NULL OR last_failed_at <= ? THEN 1
			                     ELSE failed_logins + 1 END,
			last_failed_at = ?
		WHERE id = ?
		RETURNING failed_logins, account_id`,
		now-int64(FailedLoginWindow/time.Second), now, contactID).Scan(&f.Count, &accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("store: count failed login of contact %d: %w", contactID, err)
	}
	if err := t.Audit(ctx, Event{Action: ActionLoginFailed, TargetID: contactID, AccountID: accountID,
		Detail: fmt.Sprintf("%s (failure %d in a row)", reason, f.Count), RemoteIP: remoteIP}); err != nil {
		return f, err
	}
	res, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET status = 'locked', lock_reason = 'failed_logins', locked_by = NULL,
			locked_at = ?, updated_at = ?
		WHERE id = ? AND status = 'active' AND failed_logins >= ?`,
		now, now, contactID, threshold)
	if err != nil {
		return f, fmt.Errorf("store: lock contact %d after failed logins: %w", contactID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return f, nil
	}
	f.AutoLocked = true
	if err := t.EndSessions(ctx, contactID); err != nil {
		return f, err
	}
	return f, t.Audit(ctx, Event{Action: ActionAutoLocked, TargetID: contactID, AccountID: accountID,
		Detail: fmt.Sprintf("Too many failed login attempts (%d)", f.Count), RemoteIP: remoteIP})
}

// RecordLoginSuccess resets the failure count, stamps the login time, and stores a new
// hash when the password was rehashed with stronger parameters (newHash != "").
func (t *Tx) RecordLoginSuccess(ctx context.Context, contactID, accountID int64, newHash, remoteIP string) error {
	now := unix(t.now)
	if _, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET failed_logins = 0, last_failed_at = NULL, last_login_at = ?,
			password_hash = CASE WHEN ? <> '' THEN ? ELSE password_hash END
		WHERE id = ?`, now, newHash, newHash, contactID); err != nil {
		return fmt.Errorf("store: record login of contact %d: %w", contactID, err)
	}
	return t.Audit(ctx, Event{Action: ActionLoginSucceeded, ActorID: contactID, TargetID: contactID,
		AccountID: accountID, RemoteIP: remoteIP})
}

// RehashPassword stores a stronger hash of the same password, found at a sign-in that
// continues with a second step (RecordLoginSuccess does it for the others).
func (t *Tx) RehashPassword(ctx context.Context, contactID int64, hash string) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE contacts SET password_hash = ? WHERE id = ?`, hash, contactID); err != nil {
		return fmt.Errorf("store: rehash password of contact %d: %w", contactID, err)
	}
	return nil
}

// UnlockExpiredAutoLock lifts an automatic lock that is older than period (the optional
// auto-unlock of SPEC R-AUTOLOCK), with its audit event. It reports whether it did.
func (t *Tx) UnlockExpiredAutoLock(ctx context.Context, contactID int64, period time.Duration) (bool, error) {
	now := unix(t.now)
	var accountID int64
	err := t.tx.QueryRowContext(ctx, `
		UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_at = NULL,
			failed_logins = 0, last_failed_at = NULL, updated_at = ?
		WHERE id = ? AND status = 'locked' AND lock_reason = 'failed_logins' AND locked_at <= ?
		RETURNING account_id`,
		now, contactID, now-int64(period/time.Second)).Scan(&accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: auto-unlock contact %d: %w", contactID, err)
	}
	return true, t.Audit(ctx, Event{Action: ActionAutoUnlocked, TargetID: contactID, AccountID: accountID,
		Detail: "Automatic lock expired"})
}

// SetPassword stores a new password hash for a contact, clears its failed-login count and
// voids its open links: a password change ends them (a link being used is used already).
// short records that the password is shorter than a password alone may be (Contact.PasswordShort).
func (t *Tx) SetPassword(ctx context.Context, contactID int64, hash string, short bool) error {
	now := unix(t.now)
	_, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET password_hash = ?, password_changed_at = ?, updated_at = ?,
			failed_logins = 0, last_failed_at = NULL, password_short = ?
		WHERE id = ?`, hash, now, now, short, contactID)
	if err != nil {
		return fmt.Errorf("store: set password of contact %d: %w", contactID, err)
	}
	return t.VoidLinks(ctx, contactID)
}
