// Package dbtest lets tests of several packages check what the portal stored: the mail it
// queued, the events it audited, the sessions it keeps. The Store has no methods for these,
// since nothing in the portal reads them that way; the checks read the database through a
// connection of their own, beside the running Store (on SQLite, WAL lets them read while it
// writes). The SQL stays under db/, written with $N placeholders, which both engines read.
// PostgresURL and Main are those of package testdb, which gives tests fresh databases.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the drivers the portal itself uses
	_ "github.com/mattn/go-sqlite3"

	"portal/db"
	"portal/db/testdb"
)

// PostgresURL returns the URL of a fresh, empty PostgreSQL database for t (testdb.PostgresURL).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return testdb.PostgresURL(t)
}

// Main runs the tests of a package that uses PostgreSQL and stops the throwaway server
// afterwards: call it from TestMain (testdb.Main).
func Main(m *testing.M) int { return testdb.Main(m) }

// DB is a view of a portal's database for tests' checks.
type DB struct {
	db *sql.DB
	// inserted orders the outbox as its mails were queued: SQLite's rowid, or the seq
	// column PostgreSQL's outbox has for it.
	inserted string
}

// Open opens the database dsn names (portaltest's Env.Config.DBPath: a SQLite file, read
// only, or a PostgreSQL URL); it is closed when the test ends.
func Open(t testing.TB, dsn string) *DB {
	t.Helper()
	driver, source, inserted := "sqlite3", "file:"+dsn+"?mode=ro&_busy_timeout=5000", "rowid"
	if db.IsPostgres(dsn) {
		driver, source, inserted = "pgx", dsn, "seq"
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", db.RedactDSN(dsn), err)
	}
	t.Cleanup(func() { conn.Close() })
	return &DB{db: conn, inserted: inserted}
}

// CountAudit counts the events of action about targetID (about anyone when targetID is 0).
func (d *DB) CountAudit(ctx context.Context, action string, targetID int64) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx,
		`SELECT count(*) FROM audit_events WHERE action = $1 AND ($2 = 0 OR target_id = $2)`,
		action, targetID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("dbtest: count %s events: %w", action, err)
	}
	return n, nil
}

// CountSessions counts the stored sessions of a contact.
func (d *DB) CountSessions(ctx context.Context, contactID int64) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE contact_id = $1`, contactID).Scan(&n); err != nil {
		return 0, fmt.Errorf("dbtest: count sessions of contact %d: %w", contactID, err)
	}
	return n, nil
}

// AllMail lists the whole outbox, oldest first.
func (d *DB) AllMail(ctx context.Context) ([]db.OutboxMail, error) {
	return d.mail(ctx, `ORDER BY created_at, `+d.inserted)
}

// MailTo lists the mail queued for a contact, newest first.
func (d *DB) MailTo(ctx context.Context, contactID int64) ([]db.OutboxMail, error) {
	return d.mail(ctx, `WHERE to_contact_id = $1 ORDER BY created_at DESC, `+d.inserted+` DESC`, contactID)
}

func (d *DB) mail(ctx context.Context, where string, args ...any) ([]db.OutboxMail, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT id, kind, to_contact_id, to_email, to_name, coalesce(about_id, 0), about_name, about_email,
			coalesce(token_id, 0), status, attempts, next_attempt_at, last_error, created_at, coalesce(finished_at, 0)
		FROM outbox `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("dbtest: outbox: %w", err)
	}
	defer rows.Close()
	var list []db.OutboxMail
	for rows.Next() {
		var m db.OutboxMail
		var next, created, finished int64
		if err := rows.Scan(&m.ID, &m.Kind, &m.ToContactID, &m.ToEmail, &m.ToName, &m.AboutID, &m.AboutName,
			&m.AboutEmail, &m.TokenID, &m.Status, &m.Attempts, &next, &m.LastError, &created, &finished); err != nil {
			return nil, fmt.Errorf("dbtest: outbox: %w", err)
		}
		m.NextAttemptAt, m.CreatedAt = time.Unix(next, 0).UTC(), time.Unix(created, 0).UTC()
		if finished != 0 {
			m.FinishedAt = time.Unix(finished, 0).UTC()
		}
		list = append(list, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dbtest: outbox: %w", err)
	}
	return list, nil
}

// Exec changes the database dsn names behind the portal's back, as an operator with sqlite3
// or psql would; query's placeholders are $1, $2, ..., which both engines read.
func Exec(t testing.TB, dsn, query string, args ...any) {
	t.Helper()
	driver, source := "sqlite3", "file:"+dsn+"?_busy_timeout=5000"
	if db.IsPostgres(dsn) {
		driver, source = "pgx", dsn
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", db.RedactDSN(dsn), err)
	}
	defer conn.Close()
	if _, err := conn.Exec(query, args...); err != nil {
		t.Fatalf("dbtest: %s: %v", query, err)
	}
}

// CountRows counts the rows of table that belong to contact contactID (its contact_id).
func (d *DB) CountRows(ctx context.Context, table string, contactID int64) (int, error) {
	var n int
	// table is the test's own constant, never input.
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE contact_id = $1`, contactID).Scan(&n); err != nil {
		return 0, fmt.Errorf("dbtest: count rows of %s for contact %d: %w", table, contactID, err)
	}
	return n, nil
}
