package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// Audit actions of a contact's whole life (SPEC R-LIFECYCLE).
const (
	ActionAccessEnded          = "access_ended"          // the access job locked the contact
	ActionOrganizationLocked   = "organization_locked"   // Lock organization (its contacts get contact_locked rows)
	ActionOrganizationUnlocked = "organization_unlocked" // Unlock organization
	ActionContactRemoved       = "contact_removed"       // Remove this contact: personal data erased
)

// ActionContactsExported records an export of the contacts list; Detail names the format
// and the row count. (A block of its own, so that areas adding actions don't collide.)
const ActionContactsExported = "contacts_exported"

// The actions of a contact's sessions and of the audit log itself (SPEC R-LIFECYCLE).
const (
	// ActionSignedOutEverywhere: a contact admin ended every session of a contact; Detail
	// says how many.
	ActionSignedOutEverywhere = "signed_out_everywhere"
	// ActionAuditExported: the audit log was exported; Detail names the filters.
	ActionAuditExported = "audit_exported"
)

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

// auditRowsPerStatement is how many events AuditAll writes with one INSERT: 7 parameters a
// row stay far below either engine's limit on a statement's parameters (SQLite 32,766,
// PostgreSQL 65,535).
const auditRowsPerStatement = 1000

// AuditAll records events inside the transaction, as Audit does, many rows to a statement:
// a bulk action's batch writes its audit rows in one round trip to the database instead of
// one per contact, which on PostgreSQL was most of the batch's time.
func (t *Tx) AuditAll(ctx context.Context, events []Event) error {
	at := unix(t.now)
	for chunk := range slices.Chunk(events, auditRowsPerStatement) {
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_events(at, action, actor_id, target_id, account_id, detail, remote_ip) VALUES `)
		args := make([]any, 0, 7*len(chunk))
		for i, e := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`(?, ?, ?, ?, ?, ?, ?)`)
			args = append(args, at, e.Action, nullID(e.ActorID), nullID(e.TargetID), nullID(e.AccountID), e.Detail, e.RemoteIP)
		}
		if _, err := t.tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("store: audit %d %s events: %w", len(chunk), chunk[0].Action, err)
		}
	}
	return nil
}

// Audit records an event in a transaction of its own (for events that change nothing else).
func (s *Store) Audit(ctx context.Context, e Event) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.Audit(ctx, e) })
}

// AuditFilter narrows the audit log; its zero value lets every event of the scope through.
type AuditFilter struct {
	ContactID int64     // events by or about this contact; 0: anyone's
	Action    string    // events of this action; "": every action
	From      time.Time // events at or after From; zero: since the beginning
	Until     time.Time // events before Until; zero: up to now
}

// where is the filter's part of an audit query's WHERE clause (each condition after AND),
// with its arguments.
func (f AuditFilter) where() (string, []any) {
	var b strings.Builder
	var args []any
	if f.ContactID != 0 {
		b.WriteString(` AND (e.target_id = ? OR e.actor_id = ?)`)
		args = append(args, f.ContactID, f.ContactID)
	}
	if f.Action != "" {
		b.WriteString(` AND e.action = ?`)
		args = append(args, f.Action)
	}
	if !f.From.IsZero() {
		b.WriteString(` AND e.at >= ?`)
		args = append(args, unix(f.From))
	}
	if !f.Until.IsZero() {
		b.WriteString(` AND e.at < ?`)
		args = append(args, unix(f.Until))
	}
	return b.String(), args
}

// auditColumns are an Event's columns with the names of its actor, target and account, over
// audit_events e.
var auditColumns = `e.id, e.at, e.action, coalesce(e.actor_id, 0), coalesce(e.target_id, 0),
	coalesce(e.account_id, 0), e.detail, e.remote_ip,
	coalesce((SELECT ` + nameOf("a") + ` FROM contacts a WHERE a.id = e.actor_id), ''),
	coalesce((SELECT ` + nameOf("t") + ` FROM contacts t WHERE t.id = e.target_id), ''),
	coalesce((SELECT n.name FROM accounts n WHERE n.id = e.account_id), '')`

// auditQuery lists the events of sc that f lets through, newest first: by time, then by id
// among events of the same second. The unary + keeps both engines off audit_by_account,
// whose IN over the scope's accounts would read the scope's whole history and sort it: they
// walk audit_by_time from its newest end instead (audit_by_action with an action, the
// target and actor indexes with a contact) and stop after the page.
func auditQuery(sc Scope, f AuditFilter) (string, []any) {
	where, args := f.where()
	return `SELECT ` + auditColumns + `
		FROM audit_events e
		WHERE +e.account_id IN ` + sc.inList() + where, args
}

// AuditLog is one page of the audit log of sc: the events f lets through, newest first,
// at most limit, starting after the event before (a keyset cursor: an event id; 0 for the
// newest page). Events are those recorded against the accounts of sc: changes, sign-ins,
// locks, exports and denied access alike.
func (s *Store) AuditLog(ctx context.Context, sc Scope, f AuditFilter, before int64, limit int) ([]Event, error) {
	query, args := auditPageQuery(sc, f, before, limit)
	out, err := events(ctx, s.read, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", classify(err))
	}
	return out, nil
}

// events runs a query of auditColumns and scans its events.
func events(ctx context.Context, q rowsQueryer, query string, args ...any) ([]Event, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := scanEvent(rows, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// auditPageQuery is AuditLog's statement: auditQuery after the cursor event before (if
// any), one page long.
func auditPageQuery(sc Scope, f AuditFilter, before int64, limit int) (string, []any) {
	query, args := auditQuery(sc, f)
	if before > 0 {
		// Older than the cursor event in the log's order, whose time is read in the same
		// statement. The first condition lets the walk start at the cursor instead of
		// walking to it from the newest end.
		query += ` AND e.at <= (SELECT b.at FROM audit_events b WHERE b.id = ?)
			AND (e.at < (SELECT b.at FROM audit_events b WHERE b.id = ?) OR e.id < ?)`
		args = append(args, before, before, before)
	}
	return query + ` ORDER BY e.at DESC, e.id DESC LIMIT ?`, append(args, limit)
}

func scanEvent(rows *sql.Rows, e *Event) error {
	var at int64
	err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.TargetID, &e.AccountID, &e.Detail, &e.RemoteIP,
		&e.ActorName, &e.TargetName, &e.AccountName)
	e.At = time.Unix(at, 0).UTC()
	// A contact whose names were erased has none: not a blank.
	e.ActorName, e.TargetName = strings.TrimSpace(e.ActorName), strings.TrimSpace(e.TargetName)
	return err
}

// AuditExport is a snapshot of the audit log of a scope under a filter, read in one
// read-only transaction, for the Export audit log file. Close it when done (it holds a
// connection of the read pool).
type AuditExport struct {
	ctx   context.Context // BeginAuditExport's: cancelling it interrupts Each
	tx    txn
	query string
	args  []any
}

// BeginAuditExport opens the snapshot of the events of sc that f lets through. The snapshot
// begins before the export is audited, so the file never holds its own record.
func (s *Store) BeginAuditExport(ctx context.Context, sc Scope, f AuditFilter) (*AuditExport, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("store: begin audit export of account %d: %w", sc.root, classify(err))
	}
	// A first statement fixes the snapshot now (SQLite and PostgreSQL both take it at the
	// first read, not at BEGIN).
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM audit_events LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		_ = tx.Rollback()
		return nil, fmt.Errorf("store: begin audit export of account %d: %w", sc.root, classify(err))
	}
	query, args := auditQuery(sc, f)
	return &AuditExport{ctx: ctx, tx: tx, query: query + ` ORDER BY e.at DESC, e.id DESC`, args: args}, nil
}

// Each calls fn for every event of the snapshot, newest first, reusing one Event, and stops
// at fn's first error, which it returns. Memory does not grow with the number of events.
func (x *AuditExport) Each(fn func(*Event) error) error {
	rows, err := x.tx.QueryContext(x.ctx, x.query, x.args...)
	if err != nil {
		return fmt.Errorf("store: audit export: %w", classify(err))
	}
	defer rows.Close()
	var e Event
	for rows.Next() {
		if err := x.ctx.Err(); err != nil { // as in Export.Each
			return fmt.Errorf("store: audit export: %w", err)
		}
		if err := scanEvent(rows, &e); err != nil {
			return fmt.Errorf("store: audit export: %w", err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: audit export: %w", classify(err))
	}
	return nil
}

// Close ends the snapshot and returns its connection to the pool. It is safe to call twice.
func (x *AuditExport) Close() error {
	if err := x.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("store: end audit export: %w", err)
	}
	return nil
}

// ContactName is a contact as a list to choose from shows it.
type ContactName struct {
	ID        int64
	FirstName string
	LastName  string
	Email     string
}

// Name is the contact's full name.
func (c ContactName) Name() string { return strings.TrimSpace(c.FirstName + " " + c.LastName) }

// ContactNames lists the contacts of sc by name, and after them the removed ones as
// "Removed contact #id", when there are at most limit of them; with more, it lists none and
// reports false (a choice among thousands is no choice: the caller offers another way). The
// count comes from contact_counts, one row per account, so a large scope costs no more than
// a small one.
func (s *Store) ContactNames(ctx context.Context, sc Scope, limit int) ([]ContactName, bool, error) {
	var total int
	err := s.read.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM contact_counts
		WHERE account_id IN `+sc.inList()).Scan(&total)
	if err != nil {
		return nil, false, fmt.Errorf("store: contact names of account %d: %w", sc.root, classify(err))
	}
	if total > limit {
		return nil, false, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT c.id, `+nameOf("c")+`, '', c.email FROM contacts c
		WHERE c.account_id IN `+sc.inList()+`
		ORDER BY c.status = 'removed', c.name_key, c.id LIMIT ?`, limit)
	if err != nil {
		return nil, false, fmt.Errorf("store: contact names of account %d: %w", sc.root, classify(err))
	}
	defer rows.Close()
	var out []ContactName
	for rows.Next() {
		var c ContactName
		if err := rows.Scan(&c.ID, &c.FirstName, &c.LastName, &c.Email); err != nil {
			return nil, false, fmt.Errorf("store: contact names of account %d: %w", sc.root, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: contact names of account %d: %w", sc.root, classify(err))
	}
	return out, true, nil
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
	ActionReauthenticated = "reauthenticated"
)
