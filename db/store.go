// Package db owns every SQL statement of the portal: opening SQLite for a web server,
// migrations, and one method per query. Handlers never see SQL.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// ErrNotFound is returned when a row does not exist or lies outside the caller's scope:
// both answer the same, so that ids outside a scope reveal nothing.
var ErrNotFound = errors.New("not found")

// ErrBusy is returned when the database stayed locked for longer than the busy timeout.
var ErrBusy = errors.New("database busy")

// ErrFull is returned when the disk (or the page limit standing in for it) is full.
var ErrFull = errors.New("database full")

// driverName is mattn/go-sqlite3 with the connection settings DSN parameters can't carry.
const driverName = "sqlite3_portal"

// mmapSize is how much of the database file is memory-mapped (256 MiB: a million contacts).
const mmapSize = 256 << 20

var registerDriver sync.Once

// BusyTimeout is how long a statement waits for a lock held by another connection.
const BusyTimeout = 5 * time.Second

// cacheSize is each connection's page cache: 16 MB (negative numbers are KiB).
const cacheSize = "-16000"

// Store is the portal's database: one connection for writes, a pool for reads.
type Store struct {
	write *sql.DB
	read  *sql.DB
	now   func() time.Time

	// mailQueued wakes the outbox worker after a transaction that queued mail commits.
	mailQueued chan struct{}

	scopes scopeCache // see ScopeOf
}

// Option changes how a Store is opened.
type Option func(*Store)

// WithClock makes the store read time from now instead of the wall clock (tests inject one).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Open opens (creating if needed) the database at path, tuned for a web server: WAL so that
// readers never wait for the writer, a busy timeout, foreign keys on, one writer connection
// whose transactions start with BEGIN IMMEDIATE (no upgrade deadlocks), and a read pool.
// It does not migrate; call Migrate.
func Open(path string, opts ...Option) (*Store, error) {
	common := url.Values{}
	common.Set("_busy_timeout", fmt.Sprint(BusyTimeout.Milliseconds()))
	common.Set("_foreign_keys", "on")
	common.Set("_synchronous", "NORMAL") // WAL + NORMAL: durable across process crashes, never corrupt
	common.Set("_cache_size", cacheSize)
	// Keep prepared statements per connection: parsing and planning was a third of the
	// time of a page of All Contacts.
	common.Set("_stmt_cache_size", "128")

	writeDSN := url.Values{}
	for k, v := range common {
		writeDSN[k] = v
	}
	writeDSN.Set("_journal_mode", "WAL")
	writeDSN.Set("_txlock", "immediate")
	registerDriver.Do(func() {
		sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			// Memory-mapped reads: in WAL mode every commit of the writer empties the
			// readers' page caches, and with the file mapped a reader takes its pages from
			// the OS page cache instead of copying them again (search under a steady trickle
			// of locks and logins was several times slower without it).
			_, err := c.Exec(fmt.Sprintf("PRAGMA mmap_size = %d", mmapSize), nil)
			return err
		}})
	})
	write, err := sql.Open(driverName, "file:"+path+"?"+writeDSN.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	// The first connection switches the file to WAL before any reader opens it.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	readDSN := url.Values{}
	for k, v := range common {
		readDSN[k] = v
	}
	readDSN.Set("_query_only", "true")
	read, err := sql.Open(driverName, "file:"+path+"?"+readDSN.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	readers := max(4, 2*runtime.NumCPU())
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)

	s := &Store{write: write, read: read, now: time.Now, mailQueued: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Close closes both pools, first letting SQLite record query statistics for the planner.
func (s *Store) Close() error {
	_, _ = s.write.Exec("PRAGMA optimize")
	return errors.Join(s.read.Close(), s.write.Close())
}

// Now is the store's clock, shared with the code that compares times the store wrote.
func (s *Store) Now() time.Time { return s.now() }

// Ping checks that the database answers a query; /healthz uses it.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", classify(err))
	}
	return nil
}

// Tx is a write transaction. Methods that change several rows take a *Tx, so that callers
// can group a change with its audit event and its outgoing mail.
type Tx struct {
	tx         *sql.Tx
	now        time.Time
	queuedMail bool
}

// Now is the time fixed for the whole transaction: every row it writes agrees on it.
func (t *Tx) Now() time.Time { return t.now }

// Write runs fn in one immediate transaction on the writer connection and commits it if fn
// returns nil. Nothing is half-written: any error rolls everything back.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return classify(err)
	}
	t := &Tx{tx: tx, now: s.now()}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return classify(err)
	}
	if err := tx.Commit(); err != nil {
		return classify(err)
	}
	if t.queuedMail {
		s.pokeMailWorker()
	}
	return nil
}

// MailQueued receives a value after a transaction that queued mail has committed, so the
// outbox worker sends it at once instead of at its next poll.
func (s *Store) MailQueued() <-chan struct{} { return s.mailQueued }

func (s *Store) pokeMailWorker() {
	select {
	case s.mailQueued <- struct{}{}:
	default: // a wake-up is pending already; the worker reads every due mail when it wakes
	}
}

// classify maps SQLite's resource errors to ErrBusy and ErrFull so that the web layer can
// answer 503 and 507 without knowing SQLite.
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
	return err
}

func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}

func unix(t time.Time) int64 { return t.Unix() }

// timeOrZero turns a nullable unix time column into a time.Time (zero when NULL or 0).
func timeOrZero(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}
