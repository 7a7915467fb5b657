package db

import (
	"context"
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
// company check) are dropped or disabled for the load and their work is done in one pass at
// its end (sorting once beats a million random B-tree inserts; a search index is built many
// times faster from a SELECT than row by row; one GROUP BY counts what a million upserts
// would), then they are created again from the DDL read from the schema, so the schema is
// left exactly as the migrations made it. It all happens inside tx, so other connections
// never see the table without its indexes, triggers or counts, and a failure rolls the
// schema back with the rows. How the rows go in is the engine's: prepared INSERTs on
// SQLite, COPY on PostgreSQL (sqlite.go, postgres.go).
//
// Into a table that already holds contacts the rows go in with every index and trigger in
// place: rebuilding an index reads the whole table, so a load smaller than the table would
// pay more than it saves, and a live table's schema is never taken apart.
func (t *Tx) BulkInsertContacts(ctx context.Context, rows iter.Seq[BulkContact]) error {
	var empty bool
	if err := t.tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM contacts)`).Scan(&empty); err != nil {
		return fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	rebuild := func(firstID int64) error { return nil } // the triggers and indexes did the work
	if empty {
		var err error
		if rebuild, err = t.tx.engine.dropForBulkLoad(ctx, t); err != nil {
			return fmt.Errorf("store: bulk insert contacts: %w", err)
		}
	}
	batches, stop := derivedAhead(rows)
	defer stop()
	firstID, err := t.tx.engine.bulkInsert(ctx, t, batches)
	if err != nil {
		return err
	}
	if err := rebuild(firstID); err != nil {
		return fmt.Errorf("store: bulk insert contacts: rebuild indexes: %w", err)
	}
	return nil
}

// bulkColumns are the columns of contacts a bulk load writes, in keyedContact.values' order;
// the engines add id (PostgreSQL) and tenant_id.
const bulkColumns = `account_id, first_name, last_name, email, email_key, name_key, search_text, phone,
	job_title, status, lock_reason, locked_by, locked_at, password_hash, password_changed_at,
	failed_logins, last_failed_at, last_login_at, created_by, created_at, updated_at`

// values appends r's values of bulkColumns, for a load at now, to dst.
func (r keyedContact) values(dst []any, now int64) []any {
	status := StatusActive
	var lockedBy, lockedAt, changedAt, lastFailed, createdBy any // NULL unless set
	if r.LockReason != "" {
		status, lockedAt = StatusLocked, now
	}
	if r.LockReason == LockedByAdmin && r.LockedByID != 0 {
		lockedBy = r.LockedByID
	}
	if r.FailedLogins > 0 {
		lastFailed = now
	}
	if r.PasswordHash != "" {
		changedAt = now
	}
	if r.CreatedByID != 0 {
		createdBy = r.CreatedByID
	}
	var lastLogin int64
	if !r.LastLoginAt.IsZero() {
		lastLogin = r.LastLoginAt.Unix()
	}
	return append(dst, r.AccountID, r.FirstName, r.LastName, strings.TrimSpace(r.Email), r.emailKey, r.nameKey,
		r.searchText, r.Phone, r.JobTitle, status, r.LockReason, lockedBy, lockedAt, r.PasswordHash, changedAt,
		int64(r.FailedLogins), lastFailed, lastLogin, createdBy, now, now)
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
