// Package db owns every SQL statement of the portal: opening the database (SQLite, or
// PostgreSQL for more than one machine) for a web server, migrations, and one method per
// query. Handlers never see SQL.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ErrNotFound is returned when a row does not exist or lies outside the caller's scope:
// both answer the same, so that ids outside a scope reveal nothing.
var ErrNotFound = errors.New("not found")

// ErrBusy is returned when the database stayed locked for longer than the busy timeout, or
// PostgreSQL could not be reached or kept refusing a transaction as it collided with others.
var ErrBusy = errors.New("database busy")

// ErrFull is returned when the disk (or the page limit standing in for it) is full.
var ErrFull = errors.New("database full")

// Store is the portal's database. On SQLite: one connection for writes, a pool for reads;
// on PostgreSQL one pool serves both.
type Store struct {
	write  pool
	read   pool
	engine engine
	now    func() time.Time

	// mailQueued wakes the outbox worker after a transaction that queued mail commits.
	mailQueued chan struct{}
	// retryTurn lets one write transaction at a time run again after a collision (see Write).
	retryTurn chan struct{}

	scopes scopeCache // see ScopeOf
}

// Option changes how a Store is opened.
type Option func(*options)

type options struct {
	now      func() time.Time
	poolSize int
}

// WithClock makes the store read time from now instead of the wall clock (tests inject one).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithPoolSize sets how many connections a PostgreSQL store opens at most (SQLite sizes its
// read pool from the CPUs, and writes through one connection).
func WithPoolSize(n int) Option { return func(o *options) { o.poolSize = n } }

// IsPostgres reports whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL); anything else is the path of a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn names: a PostgreSQL URL, or else a SQLite file (created if
// needed). It does not migrate; call Migrate.
func Open(dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, poolSize: 20}
	for _, opt := range opts {
		opt(&o)
	}
	var s *Store
	var err error
	if IsPostgres(dsn) {
		s, err = openPostgres(dsn, o.poolSize)
	} else {
		s, err = openSQLite(dsn)
	}
	if err != nil {
		return nil, err
	}
	s.now, s.mailQueued, s.retryTurn = o.now, make(chan struct{}, 1), make(chan struct{}, 1)
	return s, nil
}

// Close closes the pools, after the engine's housekeeping.
func (s *Store) Close() error {
	s.engine.close(s)
	if s.read.DB == s.write.DB {
		return s.write.Close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool {
	_, ok := s.engine.(postgresEngine)
	return ok
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
	tx         txn
	conn       *sql.Conn // the connection tx runs on
	now        time.Time
	queuedMail bool
}

// Now is the time fixed for the whole transaction: every row it writes agrees on it.
func (t *Tx) Now() time.Time { return t.now }

// retryWritesFor bounds how long a write transaction runs again and again while PostgreSQL
// refuses it for colliding with others: a crowd on one row (fifty wrong passwords for one
// contact at once, through several servers) gets through one after the other, each
// refused some times before its turn. Past it, the write fails with ErrBusy (503).
const retryWritesFor = 5 * time.Second

// retryPause is how long to wait before running a write again after attempt collided:
// random, since colliding transactions all retry and should take turns, and up to twice as
// long after each collision (up to 4, 8, 16 … ms, at most 50 ms), so that a crowd thins
// out.
func retryPause(attempt int) time.Duration {
	ceiling := min(50*time.Millisecond, 2*time.Millisecond<<min(attempt, 10))
	return time.Millisecond + rand.N(ceiling)
}

// Write runs fn in one write transaction and commits it if fn returns nil. Nothing is
// half-written: any error rolls everything back. On SQLite the transaction starts with
// BEGIN IMMEDIATE on the one writer connection, so writes take turns; on PostgreSQL it is
// SERIALIZABLE, so that the rules' check-then-write (the last active contact admin before a
// lock, say) holds however many servers write at once, and a transaction that collided
// with another runs again. fn may run more than once: it must do nothing but through tx.
//
// Transactions that run again take turns (retryTurn), as SQLite's writes always do: fifty
// failed logins counted at once on one contact all write its row, and run again all at
// once they would collide again, most of them until they ran out of attempts; one at a time
// each collides at most with writes that are on their first attempt.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	start := time.Now() // the wall clock: this is about real waiting, whatever s.now says
	for attempt := 1; ; attempt++ {
		queuedMail, err := s.writeAttempt(ctx, fn, attempt)
		if err != nil && s.engine.retry(err) && time.Since(start) < retryWritesFor && ctx.Err() == nil {
			time.Sleep(retryPause(attempt))
			continue
		}
		if err != nil {
			return classify(err)
		}
		if queuedMail {
			s.pokeMailWorker()
		}
		return nil
	}
}

// writeAttempt runs fn once in a write transaction; after the first attempt it waits for
// its turn among the transactions that run again.
func (s *Store) writeAttempt(ctx context.Context, fn func(*Tx) error, attempt int) (queuedMail bool, err error) {
	if attempt > 1 {
		select {
		case s.retryTurn <- struct{}{}:
			defer func() { <-s.retryTurn }()
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return s.writeOnce(ctx, fn)
}

func (s *Store) writeOnce(ctx context.Context, fn func(*Tx) error) (queuedMail bool, err error) {
	// The transaction runs on a connection taken for it, not on one database/sql picks and
	// keeps to itself: a bulk load on PostgreSQL reaches the driver under it for COPY.
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, s.engine.writeOptions())
	if err != nil {
		return false, err
	}
	t := &Tx{tx: txn{Tx: tx, engine: s.engine}, conn: conn, now: s.now()}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return false, err
	}
	return t.queuedMail, tx.Commit()
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

func unix(t time.Time) int64 { return t.Unix() }

// nullTime is a nullable unix time column's value: NULL for the zero time.
func nullTime(t time.Time) sql.NullInt64 { return sql.NullInt64{Int64: t.Unix(), Valid: !t.IsZero()} }

// timeOrZero turns a nullable unix time column into a time.Time (zero when NULL or 0).
func timeOrZero(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.Unix(v.Int64, 0).UTC()
}
