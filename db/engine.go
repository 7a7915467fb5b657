package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// The portal runs on SQLite (one machine, the default) or PostgreSQL (several). Statements
// are written once, with ? placeholders, in the SQL both speak; what differs sits in one
// place per engine: sqlite.go and postgres.go, behind this interface.
type engine interface {
	// rebind writes a statement's placeholders the engine's way.
	rebind(query string) string
	// writeOptions are the options of a write transaction; retry says whether one that
	// failed with err may simply run again (a serialization failure).
	writeOptions() *sql.TxOptions
	retry(err error) bool
	// snapshotOptions are the options of a read-only transaction that sees one snapshot.
	snapshotOptions() *sql.TxOptions
	// skipLocked ends the row lookup of a claim (a mail worker taking the next due mail), so
	// that workers on several servers take different rows without waiting for each other.
	skipLocked() string
	// migrations are the engine's steps; lockMigrations, run first in each step's
	// transaction, keeps servers starting at once from running a step twice.
	migrations() ([]migration, error)
	schemaVersionTable() string
	lockMigrations(ctx context.Context, tx txn) error
	// bulkInsert writes the rows of a bulk load of contacts (BulkInsertContacts) in t and
	// returns the first id it gave. dropForBulkLoad takes out of an empty contacts table the
	// indexes and triggers that the load would otherwise update row by row; rebuild does
	// their work for the rows from firstID on and puts them back as they were.
	bulkInsert(ctx context.Context, t *Tx, batches <-chan []keyedContact) (firstID int64, err error)
	dropForBulkLoad(ctx context.Context, t *Tx) (rebuild func(firstID int64) error, err error)
	// backup, analyze and close are the engine's own housekeeping.
	backup(ctx context.Context, s *Store, path string) error
	analyze(ctx context.Context, s *Store) error
	close(s *Store)

	// Search and All Contacts (search.go, contact_list.go). Both engines find the contacts
	// whose search_text holds every needle of what was typed: SQLite through its FTS5 index,
	// PostgreSQL through a trigram index on search_text.
	//
	// searchFrom is a FROM clause that names the contacts c, and the condition, with its
	// arguments, that keeps those matching search (what was typed, something searchable).
	searchFrom(search string) (from, cond string, args []any)
	// holdsNeedle is the condition that a row's search_text holds the needle bound to its ?,
	// tested on each row a walk in list order reads.
	holdsNeedle() string
	// mergeSorted is the SELECT that merges branches, SELECTs each sorted by orderBy (an
	// ORDER BY clause), into one sorted by orderBy without sorting, for a reader of at most
	// rows of its rows (0: all).
	mergeSorted(branches []string, orderBy string, rows int) string
	// probeMatches is the first limit ids, in list order, of the rows of ordered (a sorted
	// SELECT of id, sort key and search_text) that match search, for a search whose walk of
	// searchWalkRows rows fell short of a page.
	probeMatches(ordered string, args []any, search string, limit int) (string, []any)
	// pageFrom is a FROM clause that joins the contacts c of a page to page.id, the ids of
	// the SELECT ids, with the ORDER BY (possibly empty) that keeps their order.
	pageFrom(ids string) (from, orderBy string)
	// pageOfIDs is the same for ids given as a list, bound as the one argument arg, with the
	// ORDER BY (possibly empty) that keeps their order.
	pageOfIDs(ids []int64) (from, orderBy string, arg any, err error)
}

// pool is a database/sql pool that rebinds every statement for its engine.
type pool struct {
	*sql.DB
	engine engine
}

func (p pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, p.engine.rebind(query), args...)
}

func (p pool) Exec(query string, args ...any) (sql.Result, error) {
	return p.DB.Exec(p.engine.rebind(query), args...)
}

func (p pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, p.engine.rebind(query), args...)
}

func (p pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, p.engine.rebind(query), args...)
}

func (p pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (txn, error) {
	tx, err := p.DB.BeginTx(ctx, opts)
	return txn{Tx: tx, engine: p.engine}, err
}

// queryer is what reads need of a pool or a transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txn is a database/sql transaction that rebinds every statement for its engine.
type txn struct {
	*sql.Tx
	engine engine
}

func (t txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.engine.rebind(query), args...)
}

func (t txn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.engine.rebind(query), args...)
}

func (t txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.engine.rebind(query), args...)
}

func (t txn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, t.engine.rebind(query))
}

// Busy reports whether err means the database can't serve now and may in a moment (ErrBusy):
// locked, a collision, or not reachable. It looks through err as well as the ErrBusy that
// some store methods wrap around it.
func Busy(err error) bool { return errors.Is(classify(err), ErrBusy) }

// Full reports whether err means the database is out of room (ErrFull).
func Full(err error) bool { return errors.Is(classify(err), ErrFull) }

// classify maps the engines' resource errors to ErrBusy and ErrFull, so that the web layer
// can answer 503 and 507 without knowing the engine.
func classify(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return fmt.Errorf("%w: %w", ErrBusy, err)
		case sqlite3.ErrFull:
			return fmt.Errorf("%w: %w", ErrFull, err)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03", strings.HasPrefix(pe.Code, "08"),
			strings.HasPrefix(pe.Code, "57P"):
			// serialization failure, deadlock, lock not available, connection exceptions, the
			// server shutting down or starting
			return fmt.Errorf("%w: %w", ErrBusy, err)
		case pe.Code == "53100", pe.Code == "53200":
			// disk full, out of memory
			return fmt.Errorf("%w: %w", ErrFull, err)
		}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// isUniqueViolation reports whether err is a UNIQUE constraint refusing a row.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	var pe *pgconn.PgError
	return (errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique) ||
		(errors.As(err, &pe) && pe.Code == "23505")
}
