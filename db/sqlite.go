package db

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// SQLite, the default: one file on local disk, WAL so that readers never wait for the
// writer, a busy timeout, foreign keys on, one writer connection whose transactions start
// with BEGIN IMMEDIATE (no upgrade deadlocks), and a read pool.
type sqliteEngine struct{}

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteDriver is mattn/go-sqlite3 with the connection settings DSN parameters can't carry.
const sqliteDriver = "sqlite3_portal"

// mmapSize is how much of the database file is memory-mapped (256 MiB: a million contacts).
const mmapSize = 256 << 20

var registerSQLite sync.Once

// BusyTimeout is how long a statement waits for a lock held by another connection.
const BusyTimeout = 5 * time.Second

// cacheSize is each connection's page cache: 16 MB (negative numbers are KiB).
const cacheSize = "-16000"

func openSQLite(path string) (*Store, error) {
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
	// Erased personal data (a removed contact) is overwritten in the file, not only unlinked.
	writeDSN.Set("_secure_delete", "on")
	registerSQLite.Do(func() {
		sql.Register(sqliteDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			// Memory-mapped reads: in WAL mode every commit of the writer empties the
			// readers' page caches, and with the file mapped a reader takes its pages from
			// the OS page cache instead of copying them again (search under a steady trickle
			// of locks and logins was several times slower without it).
			_, err := c.Exec(fmt.Sprintf("PRAGMA mmap_size = %d", mmapSize), nil)
			return err
		}})
	})
	write, err := sql.Open(sqliteDriver, "file:"+path+"?"+writeDSN.Encode())
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
	read, err := sql.Open(sqliteDriver, "file:"+path+"?"+readDSN.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	readers := max(4, 2*runtime.NumCPU())
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	e := sqliteEngine{}
	return &Store{write: pool{write, e}, read: pool{read, e}, engine: e}, nil
}

// rebind: the statements are written in SQLite's own placeholders.
func (sqliteEngine) rebind(query string) string { return query }

// writeOptions: the writer's DSN makes every transaction BEGIN IMMEDIATE, and there is one
// writer, so writes take turns and never collide.
func (sqliteEngine) writeOptions() *sql.TxOptions { return nil }
func (sqliteEngine) retry(error) bool             { return false }

// snapshotOptions: in WAL mode a read transaction sees one snapshot from its first read on.
func (sqliteEngine) snapshotOptions() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// skipLocked: the one writer connection claims alone; nothing is locked to skip.
func (sqliteEngine) skipLocked() string { return "" }

func (sqliteEngine) migrations() ([]migration, error) {
	return migrationList(sqliteMigrations, "migrations/sqlite",
		migration{version: 50, name: "0050 contact keys (Go)", run: migrateContactKeys},
		migration{version: 71, name: "0071 user names keyed under PRECIS (Go)", run: migrateEmailKeys},
		migration{version: 85, name: "0085 a contact's whole life (Go: contacts built anew)", run: migrateContactLifecycle,
			foreignKeysOff: true},
		migration{version: 98, name: "0098 words with an apostrophe also without it (Go)", run: migrateApostrophes})
}

func (sqliteEngine) schemaVersionTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT`
}

// lockMigrations: a migration's transaction is BEGIN IMMEDIATE, which two processes can't
// both hold.
func (sqliteEngine) lockMigrations(context.Context, txn) error { return nil }

// backup writes a consistent copy of the live database to path with VACUUM INTO: it reads
// one snapshot (WAL lets writers go on meanwhile) and writes a compact, self-contained file.
func (sqliteEngine) backup(ctx context.Context, s *Store, path string) error {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.Close()
	// The read pool is query-only; VACUUM INTO writes only the new file, so lift that here.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = false`); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.ExecContext(context.Background(), `PRAGMA query_only = true`)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, classify(err))
	}
	return nil
}

// analyze refreshes the planner's statistics; analysis_limit samples each index instead of
// reading all of it: seconds become milliseconds on a million rows, and the estimates stay
// good enough for the planner.
func (sqliteEngine) analyze(ctx context.Context, s *Store) error {
	_, err := s.write.ExecContext(ctx, `PRAGMA analysis_limit = 1000; ANALYZE`)
	return err
}

// close lets SQLite record query statistics for the planner.
func (sqliteEngine) close(s *Store) { _, _ = s.write.Exec("PRAGMA optimize") }

// bulkInsert inserts the rows with one prepared statement, row by row: in SQLite a
// statement costs no round trip, so that is as fast as it gets.
func (sqliteEngine) bulkInsert(ctx context.Context, t *Tx, batches <-chan []keyedContact) (firstID int64, err error) {
	// A large page cache keeps the unique email index (random inserts) in memory: without it
	// a million rows spend most of their time re-reading index pages.
	if _, err := t.tx.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		return 0, fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer t.tx.ExecContext(ctx, `PRAGMA cache_size = `+cacheSize)
	insert, err := t.tx.PrepareContext(ctx, `
		INSERT INTO contacts(tenant_id, `+bulkColumns+`)
		VALUES ((SELECT tenant_id FROM accounts WHERE id = ?1), ?1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`)
	if err != nil {
		return 0, fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer insert.Close()
	role, err := t.tx.PrepareContext(ctx, `INSERT INTO contact_roles(contact_id, role) VALUES (?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("store: bulk insert contacts: %w", err)
	}
	defer role.Close()
	now := unix(t.now)
	values := make([]any, 0, 21)
	for batch := range batches {
		for _, r := range batch {
			var id int64
			err := insert.QueryRowContext(ctx, r.values(values[:0], now)...).Scan(&id)
			if isUniqueViolation(err) {
				return 0, fmt.Errorf("store: bulk insert contact %q: %w", r.Email, ErrEmailTaken)
			}
			if err != nil {
				return 0, fmt.Errorf("store: bulk insert contact %q: %w", r.Email, err)
			}
			if firstID == 0 {
				firstID = id
			}
			for _, ro := range r.Roles {
				if _, err := role.ExecContext(ctx, id, string(ro)); err != nil {
					return 0, fmt.Errorf("store: bulk insert roles of %q: %w", r.Email, err)
				}
			}
		}
	}
	return firstID, nil
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
func (sqliteEngine) dropForBulkLoad(ctx context.Context, t *Tx) (rebuild func(firstID int64) error, err error) {
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

// searchFrom is driven by the FTS5 index: CROSS JOIN makes its matches the outer loop, so a
// rare word costs a few lookups however large the scope.
func (sqliteEngine) searchFrom(search string) (from, cond string, args []any) {
	return `contacts_fts f CROSS JOIN contacts c ON c.id = f.rowid`, `contacts_fts MATCH ?`, []any{SearchQuery(search)}
}

func (sqliteEngine) holdsNeedle() string { return `instr(search_text, ?) > 0` }

// probeMatches collects the FTS5 matches once and walks the whole order probing them: each
// row of the order is read from the covering sort index, and only its id is tested.
func (sqliteEngine) probeMatches(ordered string, args []any, search string, limit int) (string, []any) {
	return fmt.Sprintf(`
		WITH matches(id) AS MATERIALIZED (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)
		SELECT id FROM (%s) AS ordered WHERE +id IN matches LIMIT %d`, ordered, limit),
		append([]any{SearchQuery(search)}, args...)
}

// pageFrom: SQLite runs a CROSS JOIN with its left side as the outer loop, so the page's rows
// come in the order of ids.
func (sqliteEngine) pageFrom(ids string) (from, orderBy string) {
	return `(` + ids + `) page CROSS JOIN contacts c ON c.id = page.id`, ""
}

// pageOfIDs: the ids travel as one JSON parameter, so the statement's text stays the same from
// page to page and the connection's statement cache can reuse it.
func (e sqliteEngine) pageOfIDs(ids []int64) (from, orderBy string, arg any, err error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return "", "", nil, err
	}
	from, _ = e.pageFrom(`SELECT value AS id FROM json_each(?)`)
	return from, "", string(list), nil
}

// mergeSorted: a compound SELECT whose ORDER BY matches each branch's index is merged lazily
// (MERGE (UNION ALL) in the plan). The branches need no LIMIT: the merge pulls rows from
// them only as it needs them.
func (sqliteEngine) mergeSorted(branches []string, orderBy string, rows int) string {
	return strings.Join(branches, " UNION ALL ") + orderBy
}
