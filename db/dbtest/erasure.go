package dbtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Where lists every table column of the database that holds text (in any letter case),
// as "table.column (n rows)": what a test of erasure expects to find nowhere. Every table
// is read, the search index's own tables included, and every column of it whatever its
// declared type (SQLite columns take any value).
func (d *DB) Where(ctx context.Context, text string) ([]string, error) {
	columns, err := d.columns(ctx)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, c := range columns {
		var n int
		// Names come from the catalog, quoted; the text is a parameter.
		query := `SELECT count(*) FROM "` + c.table + `" WHERE lower(CAST("` + c.column + `" AS TEXT)) LIKE '%' || lower($1) || '%'`
		if c.bytes {
			query = `SELECT count(*) FROM "` + c.table + `" WHERE position(convert_to(lower($1), 'UTF8') in "` + c.column + `") > 0`
		}
		if err := d.db.QueryRowContext(ctx, query, text).Scan(&n); err != nil {
			return nil, fmt.Errorf("dbtest: look for text in %s.%s: %w", c.table, c.column, err)
		}
		if n > 0 {
			found = append(found, fmt.Sprintf("%s.%s (%d rows)", c.table, c.column, n))
		}
	}
	return found, nil
}

type column struct {
	table, column string
	bytes         bool // PostgreSQL bytea
}

// columns lists every column of every table.
func (d *DB) columns(ctx context.Context) ([]column, error) {
	query := `SELECT m.name, p.name, 0 FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY m.name, p.cid`
	if d.inserted == "seq" {
		query = `SELECT table_name, column_name, CASE WHEN data_type = 'bytea' THEN 1 ELSE 0 END
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`
	}
	rows, err := d.db.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("dbtest: list columns: %w", err)
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.table, &c.column, &c.bytes); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SearchIndexMatches counts the contacts SQLite's search index (contacts_fts) finds for
// an FTS5 query, from the index alone.
func (d *DB) SearchIndexMatches(ctx context.Context, query string) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH $1`, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("dbtest: search index: %w", err)
	}
	return n, nil
}

// FilesContain checkpoints the SQLite database at path into its main file (TRUNCATE: the
// WAL is emptied, once no reader holds it) and reports which of the database's files still
// hold text, byte for byte: freed pages and the log included, which no query reads.
func FilesContain(t testing.TB, path string, text string) []string {
	t.Helper()
	conn, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var busy, logged, moved int
	if err := conn.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logged, &moved); err != nil {
		t.Fatalf("dbtest: checkpoint: %v", err)
	}
	if busy != 0 {
		t.Fatalf("dbtest: checkpoint of %s was blocked by a reader", path)
	}
	var found []string
	for _, file := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(file)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToLower(data), []byte(strings.ToLower(text))) {
			found = append(found, file)
		}
	}
	return found
}
