package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// MaxMergedAccounts and SearchWalkRows are ListContacts' limits, for tests that build data
// crossing them.
const (
	MaxMergedAccounts = maxMergedAccounts
	SearchWalkRows    = searchWalkRows
)

// ListStatement is the statement ListContacts runs first to find the page q asks for, built
// by the same functions, for the plans that read one statement (a company's range, merged
// accounts' ranges, or the sorted scope): the plan tests EXPLAIN it, and
// BenchmarkListContactsSQL runs it bare.
func (s *Store) ListStatement(ctx context.Context, sc Scope, q ListQuery) (string, []any, error) {
	l, err := s.newListing(ctx, sc, q)
	if err != nil {
		return "", nil, err
	}
	var ordered string
	var args []any
	switch plan := choosePlan(sc, l.q, l.searching(), l.counts); plan {
	case planCompany:
		ordered, args = companyRange(l)
	case planMergedAccounts:
		rows := l.limit()
		if l.searching() {
			rows = searchWalkRows
		}
		ordered, args = mergedRanges(s.engine, l, rows)
	case planSortedScope:
		query, args := sortedScope(s.engine, l)
		return query, args, nil
	default:
		return "", nil, fmt.Errorf("plan %q runs more than one statement", plan)
	}
	if l.searching() {
		query, args := walkMatches(s.engine, ordered, args, l.q.Search, searchWalkRows, l.limit())
		return query, args, nil
	}
	return firstIDs(ordered, l.limit()), args, nil
}

// ExportQuery is the SQL an export of sc runs, for the benchmarks that compare the exports
// with other programs (the sqlite3 shell, bare writers) running the very same query.
func ExportQuery(sc Scope) string { return exportQuery(sc, "") }

// ExplainQueryPlan returns the plan of query, one line per node: SQLite's EXPLAIN QUERY
// PLAN, or PostgreSQL's EXPLAIN without costs.
func (s *Store) ExplainQueryPlan(query string, args ...any) ([]string, error) {
	explain := "EXPLAIN QUERY PLAN "
	if s.Postgres() {
		explain = "EXPLAIN (COSTS OFF) "
	}
	rows, err := s.read.QueryContext(context.Background(), explain+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		dest := []any{&id, &parent, &unused, &detail}
		if s.Postgres() {
			dest = dest[3:]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// RunForTest runs query on the read pool and counts its rows.
func (s *Store) RunForTest(query string, args ...any) (int, error) {
	rows, err := s.read.QueryContext(context.Background(), query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// InsertContactsPlain inserts rows with plain multi-row INSERTs, every index and trigger in
// place: test data on either engine. Tests use it on PostgreSQL until the bulk loader runs
// there.
func (t *Tx) InsertContactsPlain(ctx context.Context, rows []BulkContact) error {
	const batch = 200
	now := unix(t.now)
	for len(rows) > 0 {
		n := min(batch, len(rows))
		var values []string
		var args []any
		for _, r := range rows[:n] {
			status, lockedAt, lastFailed, changedAt := StatusActive, sql.NullInt64{}, sql.NullInt64{}, sql.NullInt64{}
			if r.LockReason != "" {
				status, lockedAt = StatusLocked, sql.NullInt64{Int64: now, Valid: true}
			}
			if r.FailedLogins > 0 {
				lastFailed = sql.NullInt64{Int64: now, Valid: true}
			}
			if r.PasswordHash != "" {
				changedAt = sql.NullInt64{Int64: now, Valid: true}
			}
			var lastLogin int64
			if !r.LastLoginAt.IsZero() {
				lastLogin = r.LastLoginAt.Unix()
			}
			lockedBy := int64(0)
			if r.LockReason == LockedByAdmin {
				lockedBy = r.LockedByID
			}
			values = append(values, `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			args = append(args, r.AccountID, r.FirstName, r.LastName, strings.TrimSpace(r.Email), EmailKey(r.Email),
				NameKey(r.FirstName, r.LastName), SearchText(r.FirstName, r.LastName, r.Email), r.Phone, r.JobTitle,
				status, r.LockReason, nullID(lockedBy), lockedAt, r.PasswordHash, changedAt, r.FailedLogins, lastFailed,
				lastLogin, nullID(r.CreatedByID), now, now)
		}
		res, err := t.tx.QueryContext(ctx, `
			INSERT INTO contacts(account_id, first_name, last_name, email, email_key, name_key, search_text, phone,
				job_title, status, lock_reason, locked_by, locked_at, password_hash, password_changed_at,
				failed_logins, last_failed_at, last_login_at, created_by, created_at, updated_at)
			VALUES `+strings.Join(values, ", ")+` RETURNING id, email_key`, args...)
		if err != nil {
			return fmt.Errorf("insert contacts: %w", err)
		}
		ids := map[string]int64{}
		for res.Next() {
			var id int64
			var key string
			if err := res.Scan(&id, &key); err != nil {
				res.Close()
				return err
			}
			ids[key] = id
		}
		res.Close()
		if err := res.Err(); err != nil {
			return fmt.Errorf("insert contacts: %w", err)
		}
		for _, r := range rows[:n] {
			if len(r.Roles) == 0 {
				continue
			}
			if err := t.setRoles(ctx, ids[EmailKey(r.Email)], r.Roles); err != nil {
				return err
			}
		}
		rows = rows[n:]
	}
	return nil
}
