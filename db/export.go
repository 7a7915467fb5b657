package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ExportRow is one contact as the exports write it (SPEC R-EXPORT). The text fields are
// sql.RawBytes: database/sql reuses them from row to row, so they are valid only until the
// callback returns. That is what lets an export of a million contacts stream without an
// allocation per field; a consumer that keeps a value copies it.
type ExportRow struct {
	FirstName  sql.RawBytes
	LastName   sql.RawBytes
	Email      sql.RawBytes
	Account    sql.RawBytes
	Roles      sql.RawBytes // role labels joined with "; ", in the UI's order
	Status     sql.RawBytes // StatusActive or StatusLocked
	LockReason sql.RawBytes // "", LockedByAdmin, LockedByFailedLogins, LockedAccessEnded or LockedWithOrganization
	LockedBy   sql.RawBytes // "First Last" of the admin who locked the contact, if any
	Phone      sql.RawBytes
	JobTitle   sql.RawBytes
	LastLogin  time.Time // zero: never logged in
	Created    time.Time
	AccessEnds time.Time // zero: access that doesn't end
	TwoFactor  bool      // has an authenticator app or a passkey
}

// Export is a consistent snapshot of the contacts of a scope, read in one read-only
// transaction. Total is counted inside the same snapshot, so it is exactly the number of
// rows Each yields: the audit event written before the first byte leaves tells the truth,
// and the PDF knows its page count up front. Close it when done (it holds a connection of
// the read pool).
type Export struct {
	ctx   context.Context // BeginExport's: cancelling it interrupts the query in SQLite
	tx    txn
	query string
	args  []any
	Total int
}

// ExportView narrows an export to what All Contacts shows (SPEC 3.8): a section under a
// search, or the contacts ticked on a page. The zero ExportView is every contact.
type ExportView struct {
	Status string // "", StatusActive or StatusLocked
	Search string
	IDs    []int64
}

// filter is the SQL condition on contacts c, and its arguments, that keeps the view's
// contacts; "" for the zero view. The search is the engine's, as on All Contacts.
func (v ExportView) filter(e engine) (string, []any) {
	var where string
	var args []any
	if v.Status != "" {
		where, args = ` AND c.status = ?`, append(args, v.Status)
	}
	if SearchQuery(v.Search) != "" {
		if from, cond, matchArgs := e.searchFrom(v.Search); cond != "" {
			where += ` AND c.id IN (SELECT c.id FROM ` + from + ` WHERE ` + cond + `)`
			args = append(args, matchArgs...)
		}
	}
	if v.IDs != nil {
		where += ` AND c.id IN ` + idList(v.IDs)
	}
	return where, args
}

// BeginExport opens the snapshot of every contact in sc, active and locked (never removed). Cancelling ctx
// (the client went away) ends the transaction and interrupts a running Each.
func (s *Store) BeginExport(ctx context.Context, sc Scope, view ExportView) (*Export, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("store: begin export of account %d: %w", sc.root, classify(err))
	}
	filter, args := view.filter(s.engine)
	e := &Export{ctx: ctx, tx: tx, query: exportQuery(sc, filter), args: args}
	// contact_counts is kept by triggers, so counting everyone costs one row per account
	// instead of one per contact, and the snapshot makes it agree with the rows read
	// afterwards. A view is counted row by row: it is a section under a search, or a page.
	count := `SELECT coalesce(sum(n), 0) FROM contact_counts WHERE status <> 'removed' AND account_id IN ` + sc.inList()
	if filter != "" {
		count = `SELECT count(*) FROM contacts c WHERE c.account_id IN ` + sc.inList() + ` AND c.status <> 'removed'` + filter
	}
	err = tx.QueryRowContext(ctx, count, args...).Scan(&e.Total)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("store: count export of account %d: %w", sc.root, classify(err))
	}
	return e, nil
}

// exportQuery lists the contacts of sc sorted by account name, then contact name. The
// index contacts_by_account_name (0020) lets SQLite walk accounts by name and each
// account's contacts by name without a sort step, so the first row comes at once and
// memory does not grow with the scope. Role labels come out in contact_roles' key order
// (contact_admin before incident_contact), which is the UI's order.
// filter narrows it to a view (ExportView.filter).
func exportQuery(sc Scope, filter string) string {
	in := sc.inList()
	return `
		SELECT c.first_name, c.last_name, c.email, a.name,
			(SELECT string_agg(r.label, '; ' ORDER BY cr.role) FROM contact_roles cr JOIN roles r ON r.name = cr.role
				WHERE cr.contact_id = c.id),
			c.status, c.lock_reason, ` + nameOf("l") + `, c.phone, c.job_title,
			c.last_login_at, c.created_at, c.access_ends_at, c.two_factor
		FROM accounts a
		JOIN contacts c ON c.account_id = a.id
		LEFT JOIN contacts l ON l.id = c.locked_by
		WHERE a.id IN ` + in + ` AND c.account_id IN ` + in + ` AND c.status <> 'removed'` + filter + `
		ORDER BY a.name_key, c.name_key, c.id`
}

// Each calls fn for every contact of the snapshot in export order, reusing one ExportRow,
// and stops at fn's first error, which it returns.
func (e *Export) Each(fn func(*ExportRow) error) error {
	rows, err := e.tx.QueryContext(e.ctx, e.query, e.args...)
	if err != nil {
		return fmt.Errorf("store: export: %w", classify(err))
	}
	defer rows.Close()
	var r ExportRow
	var lastLogin, created int64
	var accessEnds sql.NullInt64
	for rows.Next() {
		// The driver may hold the rest of the rows already: a cancelled export stops here,
		// not when its rows are closed on another goroutine.
		if err := e.ctx.Err(); err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		if err := rows.Scan(&r.FirstName, &r.LastName, &r.Email, &r.Account, &r.Roles, &r.Status,
			&r.LockReason, &r.LockedBy, &r.Phone, &r.JobTitle, &lastLogin, &created, &accessEnds, &r.TwoFactor); err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		r.LastLogin = time.Time{}
		if lastLogin != 0 {
			r.LastLogin = time.Unix(lastLogin, 0).UTC()
		}
		r.Created = time.Unix(created, 0).UTC()
		r.AccessEnds = timeOrZero(accessEnds)
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export: %w", classify(err))
	}
	return nil
}

// Close ends the snapshot and returns its connection to the pool. It is safe to call twice.
func (e *Export) Close() error {
	if err := e.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("store: end export: %w", err)
	}
	return nil
}
