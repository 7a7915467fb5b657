package db

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"strings"
	"sync"
	"time"
)

// BulkContact is one row for BulkInsertContacts: a contact as the seeders and benchmarks
// want it, with its status and last login already decided.
type BulkContact struct {
	ContactFields
	LockReason   string // "", LockedByAdmin or LockedByFailedLogins
	LockedByID   int64  // for LockedByAdmin
	FailedLogins int
	LastLoginAt  time.Time // zero: never logged in
	PasswordHash string
	CreatedByID  int64
}

// BulkInsertContacts inserts every contact of rows inside tx: the one way to add many
// contacts at once (the demo, the benchmarks and the load test seed with it).
//
// Into an empty contacts table it is what makes a million rows take seconds instead of
// minutes: the sort indexes and the per-row insert triggers (search index, section counts,
// company check) are dropped for the load and their work is done in one pass at its end
// (sorting once beats a million random B-tree inserts; FTS5 indexes a SELECT many times
// faster than row-by-row triggers; one GROUP BY counts what a million upserts would), then
// they are created again from the DDL read from the schema, so the schema is left exactly
// as the migrations made it. It all happens inside tx, so other connections never see the
// table without its indexes, triggers or counts, and a failure rolls the schema back with
// the rows.
//
// Into a table that already holds contacts the rows go in with every index and trigger in
// place: rebuilding an index reads the whole table, so a load smaller than the table would
// pay more than it saves, and a live table's schema is never taken apart.
func (t *Tx) BulkInsertContacts(ctx context.Context, rows iter.Seq[BulkContact]) error {
	var empty bool
	if err := t.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM contacts)`).Scan(&empty); err != nil {
		return fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	// A large page cache keeps the unique email index (random inserts) in memory: without it
	// a million rows spend most of their time re-reading index pages.
	if _, err := t.tx.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		return fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer t.tx.ExecContext(ctx, `PRAGMA cache_size = `+cacheSize)
	rebuild := func(firstID int64) error { return nil } // the triggers and indexes did the work
	if empty {
		var err error
		if rebuild, err = t.dropForBulkLoad(ctx); err != nil {
			return fmt.Errorf("store: bulk insert contacts: %w", err)
		}
	}
	insert, err := t.tx.PrepareContext(ctx, `
		INSERT INTO contacts(account_id, tenant_id, first_name, last_name, email, email_key, name_key, search_text, phone,
			job_title, status, lock_reason, locked_by, locked_at, password_hash, password_changed_at,
			failed_logins, last_failed_at, last_login_at, created_by, created_at, updated_at)
		VALUES (?1, (SELECT tenant_id FROM accounts WHERE id = ?1), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`)
	if err != nil {
		return fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer insert.Close()
	role, err := t.tx.PrepareContext(ctx, `INSERT INTO contact_roles(contact_id, role) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer role.Close()

	now := unix(t.now)
	var firstID int64
	insertOne := func(r keyedContact) error {
		status := StatusActive
		var lockedAt, changedAt, lastFailed sql.NullInt64
		if r.LockReason != "" {
			status = StatusLocked
			lockedAt = sql.NullInt64{Int64: now, Valid: true}
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
		var id int64
		err := insert.QueryRowContext(ctx, r.AccountID, r.FirstName, r.LastName, strings.TrimSpace(r.Email),
			r.emailKey, r.nameKey, r.searchText, r.Phone, r.JobTitle, status, r.LockReason,
			nullID(lockedBy), lockedAt, r.PasswordHash, changedAt, r.FailedLogins, lastFailed, lastLogin,
			nullID(r.CreatedByID), now, now).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("store: bulk insert contact %q: %w", r.Email, ErrEmailTaken)
		}
		if err != nil {
			return fmt.Errorf("store: bulk insert contact %q: %w", r.Email, err)
		}
		if firstID == 0 {
			firstID = id
		}
		for _, ro := range r.Roles {
			if _, err := role.ExecContext(ctx, id, string(ro)); err != nil {
				return fmt.Errorf("store: bulk insert roles of %q: %w", r.Email, err)
			}
		}
		return nil
	}
	batches, stop := derivedAhead(rows)
	defer stop()
	for batch := range batches {
		for _, r := range batch {
			if err := insertOne(r); err != nil {
				return err
			}
		}
	}
	if err := rebuild(firstID); err != nil {
		return fmt.Errorf("store: bulk insert contacts: rebuild indexes: %w", err)
	}
	return nil
}

// keyedContact is a BulkContact with the columns derived from it.
type keyedContact struct {
	BulkContact
	emailKey, nameKey, searchText string
}

// bulkBatch is how many rows derivedAhead hands over at a time.
const bulkBatch = 512

// derivedAhead reads rows and computes their derived columns on another goroutine, a few
// batches ahead of the inserts: folding names and emails is most of a bulk load's work
// outside SQLite, and another core can do it meanwhile. Read the batches until the channel
// closes, or call stop to quit early; stop returns once rows is no longer being read.
func derivedAhead(rows iter.Seq[BulkContact]) (batches <-chan []keyedContact, stop func()) {
	out := make(chan []keyedContact, 4)
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		defer close(out)
		batch := make([]keyedContact, 0, bulkBatch)
		send := func() bool {
			select {
			case out <- batch:
				batch = make([]keyedContact, 0, bulkBatch)
				return true
			case <-quit:
				return false
			}
		}
		for r := range rows {
			batch = append(batch, keyedContact{BulkContact: r, emailKey: EmailKey(r.Email),
				nameKey: NameKey(r.FirstName, r.LastName), searchText: SearchText(r.FirstName, r.LastName, r.Email)})
			if len(batch) == bulkBatch && !send() {
				return
			}
		}
		if len(batch) > 0 {
			send()
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() { close(quit) })
		<-finished
	}
}

// The triggers that keep the search index (0030_search_text.sql).
const (
	ftsInsertTrigger = "contacts_fts_insert"
	ftsUpdateTrigger = "contacts_fts_update"
	// The triggers that count contacts per section (0001_init.sql) and check their company
	// (0040_tenant_index.sql).
	countsInsertTrigger = "contact_counts_insert"
	tenantInsertTrigger = "contacts_tenant_insert"
)

// dropForBulkLoad drops the secondary indexes of contacts (not the unique ones, which guard
// the data) and the insert triggers above, and returns the function that counts and indexes
// the rows from firstID on for search and restores what it dropped.
func (t *Tx) dropForBulkLoad(ctx context.Context) (rebuild func(firstID int64) error, err error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT type, name, sql FROM sqlite_master
		WHERE tbl_name = 'contacts' AND sql IS NOT NULL
		  AND ((type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%') OR (type = 'trigger' AND name IN (?, ?, ?)))`,
		ftsInsertTrigger, countsInsertTrigger, tenantInsertTrigger)
	if err != nil {
		return nil, err
	}
	type object struct{ kind, name, ddl string }
	var objects []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.kind, &o.name, &o.ddl); err != nil {
			rows.Close()
			return nil, err
		}
		objects = append(objects, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	dropped := map[string]bool{}
	for _, o := range objects {
		// Names come from sqlite_master, not from users; quoting keeps odd ones valid.
		if _, err := t.tx.ExecContext(ctx, "DROP "+strings.ToUpper(o.kind)+` "`+strings.ReplaceAll(o.name, `"`, `""`)+`"`); err != nil {
			return nil, err
		}
		dropped[o.name] = true
	}
	return func(firstID int64) error {
		if dropped[countsInsertTrigger] && firstID > 0 {
			if _, err := t.tx.ExecContext(ctx, `
				INSERT INTO contact_counts(account_id, status, n)
				SELECT account_id, status, count(*) FROM contacts WHERE id >= ? GROUP BY account_id, status
				ON CONFLICT(account_id, status) DO UPDATE SET n = n + excluded.n`, firstID); err != nil {
				return err
			}
		}
		if dropped[ftsInsertTrigger] && firstID > 0 {
			if _, err := t.tx.ExecContext(ctx, `
				INSERT INTO contacts_fts(rowid, search_text)
				SELECT id, search_text FROM contacts WHERE id >= ?`, firstID); err != nil {
				return err
			}
			// A load leaves the index in many segments, and every search term is looked up
			// in each of them: merged into one, a rare word's search takes half the time.
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO contacts_fts(contacts_fts) VALUES ('optimize')`); err != nil {
				return err
			}
		}
		for _, o := range objects {
			if _, err := t.tx.ExecContext(ctx, o.ddl); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// SetAdminLocker records adminID as the contact admin who locked the contacts of accountIDs
// that a bulk load locked by an admin without naming one. Generated contacts go in before
// the admin said to have locked them exists, because a bulk load is fast only into an empty
// contacts table (see BulkInsertContacts).
func (t *Tx) SetAdminLocker(ctx context.Context, accountIDs []int64, adminID int64) error {
	for _, id := range accountIDs {
		if _, err := t.tx.ExecContext(ctx, `UPDATE contacts SET locked_by = ?
			WHERE account_id = ? AND status = 'locked' AND lock_reason = 'admin' AND locked_by IS NULL`,
			adminID, id); err != nil {
			return fmt.Errorf("store: set the locker of account %d's contacts: %w", id, err)
		}
	}
	return nil
}

// MaxContactID is the largest contact id so far (0 for none); seeders use it to make fresh
// emails unique without reading every row.
func (s *Store) MaxContactID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM contacts`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: max contact id: %w", err)
	}
	return id, nil
}

// Analyze refreshes the planner's statistics after a bulk load, so that the first queries
// on a freshly seeded database already pick the intended indexes.
func (s *Store) Analyze(ctx context.Context) error {
	if err := s.engine.analyze(ctx, s); err != nil {
		return fmt.Errorf("store: analyze: %w", err)
	}
	return nil
}
