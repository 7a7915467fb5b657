package db

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// Audit actions. Their names are stored, so they never change once released.
const (
	ActionLoginSucceeded  = "login_succeeded"
	ActionLoginFailed     = "login_failed"
	ActionLogout          = "logout"
	ActionAutoLocked      = "auto_locked"
	ActionAutoUnlocked    = "auto_unlocked"
	ActionContactCreated  = "contact_created"
	ActionContactEdited   = "contact_edited"
	ActionContactLocked   = "contact_locked"
	ActionContactUnlocked = "contact_unlocked"
	ActionAccessDenied    = "access_denied"
	// ActionCreateRefused: Create contact with the email of a contact outside the admin's
	// scope (the admin is told only to contact support).
	ActionCreateRefused = "create_refused"
)

// ActionContactsExported records an export of the contacts list; Detail names the format
// and the row count. (A block of its own, so that areas adding actions don't collide.)
const ActionContactsExported = "contacts_exported"

// Event is one row of the audit log.
type Event struct {
	ID          int64
	At          time.Time
	Action      string
	ActorID     int64 // 0: nobody signed in (a login attempt, the system)
	TargetID    int64 // 0: no contact concerned
	AccountID   int64 // 0: no account known
	Detail      string
	RemoteIP    string
	ActorName   string // filled when listing
	TargetName  string // filled by AuditLog
	AccountName string // filled by AuditLog
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// Audit records e inside the transaction, so the event exists exactly when the change does.
func (t *Tx) Audit(ctx context.Context, e Event) error {
	_, err := t.tx.ExecContext(ctx, `
		INSERT INTO audit_events(at, action, actor_id, target_id, account_id, detail, remote_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		unix(t.now), e.Action, nullID(e.ActorID), nullID(e.TargetID), nullID(e.AccountID), e.Detail, e.RemoteIP)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return nil
}

// Audit records an event in a transaction of its own (for events that change nothing else).
func (s *Store) Audit(ctx context.Context, e Event) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.Audit(ctx, e) })
}

// AuditLog lists the events recorded against the accounts of sc, newest first: changes,
// sign-ins, locks, exports and denied access alike. before is a keyset cursor (an event id;
// 0 for the newest page). It walks the log from its newest end and stops after limit
// events of the scope (the unary + keeps SQLite on that walk instead of sorting the
// scope's whole history).
func (s *Store) AuditLog(ctx context.Context, sc Scope, before int64, limit int) ([]Event, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT e.id, e.at, e.action, coalesce(e.actor_id, 0), coalesce(e.target_id, 0), coalesce(e.account_id, 0),
			e.detail, e.remote_ip,
			coalesce((SELECT a.first_name || ' ' || a.last_name FROM contacts a WHERE a.id = e.actor_id), ''),
			coalesce((SELECT t.first_name || ' ' || t.last_name FROM contacts t WHERE t.id = e.target_id), ''),
			coalesce((SELECT n.name FROM accounts n WHERE n.id = e.account_id), '')
		FROM audit_events e
		WHERE +e.account_id IN `+sc.inList()+` AND e.id < ?
		ORDER BY e.id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.TargetID, &e.AccountID, &e.Detail, &e.RemoteIP,
			&e.ActorName, &e.TargetName, &e.AccountName); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Two-step verification (SPEC 3.11). (A block of its own, so that areas adding actions
// don't collide.)
const (
	// ActionPasswordAccepted: the password was right, and a second step, the setup of a
	// required factor or a longer password comes before the contact is signed in.
	ActionPasswordAccepted = "password_accepted"
	// ActionSecondStepPassed: a code, a passkey or a recovery code completed a sign-in.
	ActionSecondStepPassed = "second_step_passed"
	// ActionSignInExpired: a sign-in waited more than five minutes for its next step.
	ActionSignInExpired          = "sign_in_expired"
	ActionTwoFactorAdded         = "two_factor_added"
	ActionTwoFactorRemoved       = "two_factor_removed"
	ActionRecoveryCodesGenerated = "recovery_codes_generated"
	// ActionTwoFactorReset: an admin (or the operator) removed every factor of a contact.
	ActionTwoFactorReset       = "two_factor_reset"
	ActionTwoFactorRequired    = "two_factor_required"
	ActionTwoFactorNotRequired = "two_factor_not_required"
	// ActionReauthenticated: a signed-in contact confirmed who it is before a sensitive change.
	ActionReauthenticated     = "reauthenticated"
	ActionSignedOutEverywhere = "signed_out_everywhere"
)
