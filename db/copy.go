package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrTargetNotEmpty is returned by Copy when the PostgreSQL database already holds accounts
// or contacts: a copy never merges two installations, nor overwrites one.
var ErrTargetNotEmpty = errors.New("the target database already holds accounts or contacts; copy only into a new, empty database")

// ErrCopyDiffers is returned by Copy when a table read back from PostgreSQL does not match
// the SQLite original.
var ErrCopyDiffers = errors.New("the copy differs from the original")

// TableCopy is one table of a Copy: its rows and their checksum as read back from each side.
type TableCopy struct {
	Table                  string
	SourceRows, TargetRows int64
	SourceSum, TargetSum   string        // SHA-256 of the rows in primary-key order, canonical form (hex)
	Took                   time.Duration // reading both back
}

// Same reports whether the table reads back the same on both sides.
func (t TableCopy) Same() bool { return t.SourceRows == t.TargetRows && t.SourceSum == t.TargetSum }

// rowidColumns name the columns PostgreSQL has where SQLite uses a table's rowid: the order
// outbox rows were queued in.
var rowidColumns = map[string]string{"outbox": "seq"}

// copyTable is a table as both sides have it.
type copyTable struct {
	name       string
	columns    []string // PostgreSQL's, in its order
	sourceCols []string // what SQLite reads for each of columns
	targetCols []string // what PostgreSQL reads for each of columns, to compare
	booleans   []bool   // which of columns are PostgreSQL booleans, 0 or 1 in SQLite
	orderBy    string   // the primary key, for PostgreSQL (text compared as bytes)
	sourceBy   string   // the same for SQLite
}

// Copy moves an installation from SQLite (from) to PostgreSQL (to) while no portal runs on
// either: every table, ids kept, stored as SQLite has them, derived columns included (email
// and name keys, search text, each contact's company, the section counts). The target must
// be migrated and hold no accounts and no contacts (ErrTargetNotEmpty); whatever else it
// holds (the roles the migration wrote, settings of a server started on it by mistake) is
// replaced. The load runs in one transaction with the target's secondary indexes, foreign
// keys and triggers taken off (detach), then put back, which checks every reference once;
// each identity sequence is moved past the ids copied. Then CompareCopy reads every table
// back from both sides and sums its rows (SHA-256 over a canonical text of each row, in
// primary-key order): Copy returns that report, and ErrCopyDiffers if any table differs.
// progress receives a line per table as the copy goes.
func Copy(ctx context.Context, from, to *Store, progress io.Writer) ([]TableCopy, error) {
	if from.Postgres() || !to.Postgres() {
		return nil, errors.New("store: copy: copies a SQLite database into a PostgreSQL one")
	}
	tables, err := copyTables(ctx, from, to)
	if err != nil {
		return nil, err
	}
	err = to.Write(ctx, func(t *Tx) error {
		var accounts, contacts int64
		if _, err := t.tx.ExecContext(ctx, `LOCK TABLE accounts, contacts IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		if err := t.tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM contacts)`).
			Scan(&accounts, &contacts); err != nil {
			return err
		}
		if accounts > 0 || contacts > 0 {
			return fmt.Errorf("%w (it has %d accounts and %d contacts)", ErrTargetNotEmpty, accounts, contacts)
		}
		var names []string
		for _, tb := range tables {
			names = append(names, pgx.Identifier{tb.name}.Sanitize())
		}
		if _, err := t.tx.ExecContext(ctx, `TRUNCATE `+strings.Join(names, ", ")); err != nil {
			return err
		}
		var off []detached
		for _, tb := range tables {
			d, err := t.detach(ctx, tb.name, allUserTriggers)
			if err != nil {
				return err
			}
			off = append(off, d)
		}
		// One snapshot of the source for every table, should anything still write to it.
		src, err := from.read.BeginTx(ctx, from.engine.snapshotOptions())
		if err != nil {
			return err
		}
		defer src.Rollback()
		for _, tb := range tables {
			start := time.Now()
			n, err := copyRows(ctx, t, src, tb)
			if err != nil {
				return fmt.Errorf("table %s: %w", tb.name, err)
			}
			fmt.Fprintf(progress, "copied %-24s %9d rows in %v\n", tb.name, n, time.Since(start).Round(time.Millisecond))
		}
		start := time.Now()
		if err := t.reattach(ctx, off...); err != nil {
			return err
		}
		fmt.Fprintf(progress, "indexes, foreign keys and triggers back in %v\n", time.Since(start).Round(time.Millisecond))
		return advanceSequences(ctx, t)
	})
	if err != nil {
		return nil, fmt.Errorf("store: copy: %w", err)
	}
	if err := to.Analyze(ctx); err != nil {
		return nil, err
	}
	return CompareCopy(ctx, from, to)
}

// CompareCopy reads every table Copy copies from both databases, in primary-key order, and
// returns their rows and checksums, and ErrCopyDiffers if any table differs. Right after a
// copy they agree; once a portal has run on either side, they no longer do.
func CompareCopy(ctx context.Context, from, to *Store) ([]TableCopy, error) {
	tables, err := copyTables(ctx, from, to)
	if err != nil {
		return nil, err
	}
	report := make([]TableCopy, len(tables))
	var differ error
	for i, tb := range tables {
		r := &report[i]
		r.Table = tb.name
		start := time.Now()
		// Both sides at once: each read is one core's work.
		done := make(chan error, 1)
		go func() {
			var err error
			r.SourceRows, r.SourceSum, err = checksum(ctx, from, tb.sourceCols, sqliteIdent(tb.name), tb.sourceBy)
			done <- err
		}()
		r.TargetRows, r.TargetSum, err = checksum(ctx, to, tb.targetCols, pgx.Identifier{tb.name}.Sanitize(), tb.orderBy)
		if sourceErr := <-done; sourceErr != nil {
			return nil, fmt.Errorf("store: compare copy: read %s from SQLite: %w", tb.name, sourceErr)
		}
		if err != nil {
			return nil, fmt.Errorf("store: compare copy: read %s from PostgreSQL: %w", tb.name, err)
		}
		r.Took = time.Since(start)
		if !r.Same() {
			differ = ErrCopyDiffers
		}
	}
	return report, differ
}

// copyTables lists the tables to copy, as PostgreSQL's schema has them, and checks that
// SQLite's fit: every SQLite table and column has a place in PostgreSQL. Left behind are
// each engine's own schema_version and SQLite's search index (FTS5's virtual table and the
// shadow tables under it; PostgreSQL indexes the copied search_text itself). Tables only
// PostgreSQL has are not touched.
func copyTables(ctx context.Context, from, to *Store) ([]copyTable, error) {
	sourceCols := map[string][]string{}
	rows, err := from.read.QueryContext(ctx, `
		SELECT t.name, c.name FROM pragma_table_list t JOIN pragma_table_info(t.name) c
		WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, fmt.Errorf("store: copy: list SQLite's tables: %w", err)
	}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			rows.Close()
			return nil, err
		}
		sourceCols[table] = append(sourceCols[table], column)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	type column struct {
		table, name, dataType string
		key                   int // position in the primary key, from 1; 0 when not in it
	}
	rows, err = to.read.QueryContext(ctx, `
		SELECT c.table_name, c.column_name, c.data_type, coalesce(array_position(i.indkey::int2[], a.attnum::int2), -1) + 1
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		JOIN pg_attribute a ON a.attrelid = to_regclass(quote_ident(c.table_name)) AND a.attname = c.column_name
		LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_version'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("store: copy: list PostgreSQL's tables: %w", err)
	}
	var columns []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.table, &c.name, &c.dataType, &c.key); err != nil {
			rows.Close()
			return nil, err
		}
		columns = append(columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var tables []copyTable
	index := map[string]int{} // table name -> position in tables
	keys := map[string][]column{}
	for _, c := range columns {
		i, ok := index[c.table]
		if !ok {
			i = len(tables)
			index[c.table] = i
			tables = append(tables, copyTable{name: c.table})
		}
		tb := &tables[i]
		source := c.name
		if rowidColumns[c.table] == c.name {
			source = "rowid"
		} else if _, ok := sourceCols[c.table]; ok && !slices.Contains(sourceCols[c.table], c.name) {
			return nil, fmt.Errorf("store: copy: column %s.%s is not in the SQLite database: migrate it with this version of the portal first", c.table, c.name)
		}
		target := pgx.Identifier{c.name}.Sanitize()
		if c.dataType == "boolean" {
			target += "::int" // compared as SQLite stores it
		}
		tb.columns = append(tb.columns, c.name)
		tb.sourceCols = append(tb.sourceCols, sqliteIdent(source))
		tb.targetCols = append(tb.targetCols, target)
		tb.booleans = append(tb.booleans, c.dataType == "boolean")
		if c.key > 0 {
			keys[c.table] = append(keys[c.table], c)
		}
	}
	var copied []copyTable
	for _, tb := range tables {
		cols, ok := sourceCols[tb.name]
		if !ok {
			continue // only PostgreSQL has it: nothing to copy
		}
		for _, c := range cols {
			if !slices.Contains(tb.columns, c) {
				return nil, fmt.Errorf("store: copy: column %s.%s has no place in PostgreSQL's schema", tb.name, c)
			}
		}
		key := keys[tb.name]
		slices.SortFunc(key, func(a, b column) int { return a.key - b.key })
		if len(key) == 0 {
			return nil, fmt.Errorf("store: copy: table %s has no primary key to compare its rows in order", tb.name)
		}
		var pg, lite []string
		for _, c := range key {
			collate := ""
			if c.dataType == "text" {
				collate = ` COLLATE "C"` // byte order, as SQLite compares
			}
			pg = append(pg, pgx.Identifier{c.name}.Sanitize()+collate)
			lite = append(lite, tb.sourceCols[slices.Index(tb.columns, c.name)])
		}
		tb.orderBy, tb.sourceBy = strings.Join(pg, ", "), strings.Join(lite, ", ")
		copied = append(copied, tb)
	}
	for table := range sourceCols {
		if _, ok := index[table]; !ok && table != "schema_version" {
			return nil, fmt.Errorf("store: copy: table %s has no place in PostgreSQL's schema", table)
		}
	}
	return copied, nil
}

func sqliteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// copyRows streams one table from the SQLite snapshot src into t with COPY.
func copyRows(ctx context.Context, t *Tx, src txn, tb copyTable) (int64, error) {
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(tb.sourceCols, ", ")+` FROM `+sqliteIdent(tb.name)+
		` ORDER BY `+tb.sourceBy)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	err = t.pgx(func(c *pgx.Conn) error {
		n, err = c.CopyFrom(ctx, pgx.Identifier{tb.name}, tb.columns, &rowSource{rows: rows, values: make([]any, len(tb.columns)), booleans: tb.booleans})
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, rows.Err()
}

// rowSource feeds COPY from database/sql rows.
type rowSource struct {
	rows     *sql.Rows
	values   []any
	booleans []bool // SQLite's 0 or 1 goes to PostgreSQL as a boolean
	err      error
}

func (s *rowSource) Next() bool { return s.err == nil && s.rows.Next() }

func (s *rowSource) Values() ([]any, error) {
	dest := make([]any, len(s.values))
	for i := range s.values {
		dest[i] = &s.values[i]
	}
	if s.err = s.rows.Scan(dest...); s.err != nil {
		return nil, s.err
	}
	for i, b := range s.booleans {
		if n, ok := s.values[i].(int64); b && ok {
			s.values[i] = n != 0
		}
	}
	return s.values, nil
}

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// advanceSequences moves every identity sequence past the largest id of its column, so the
// next row inserted takes the next id instead of colliding with a copied one.
func advanceSequences(ctx context.Context, t *Tx) error {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	var stmts []string
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			rows.Close()
			return err
		}
		tbl, col := pgx.Identifier{table}.Sanitize(), pgx.Identifier{column}.Sanitize()
		stmts = append(stmts, `SELECT setval(pg_get_serial_sequence('`+strings.ReplaceAll(tbl, `'`, `''`)+`', '`+
			strings.ReplaceAll(column, `'`, `''`)+`'), coalesce(max(`+col+`), 0) + 1, false) FROM `+tbl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// checksum reads columns of table in the order orderBy gives and returns the number of rows
// and the SHA-256 of their canonical text: each value as a type letter and its text (NULL
// as N, integers in decimal, text and bytes as their length and bytes), so that the same
// rows give the same sum whichever engine they are read from.
func checksum(ctx context.Context, s *Store, columns []string, table, orderBy string) (int64, string, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return 0, "", err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+strings.Join(columns, ", ")+` FROM `+table+` ORDER BY `+orderBy)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	h := sha256.New()
	values := make([]any, len(columns))
	dest := make([]any, len(columns))
	for i := range values {
		dest[i] = &values[i]
	}
	var n int64
	var line []byte
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, "", err
		}
		line = line[:0]
		for i, v := range values {
			if i > 0 {
				line = append(line, '|')
			}
			switch v := v.(type) {
			case nil:
				line = append(line, 'N')
			case int64:
				line = strconv.AppendInt(append(line, 'i'), v, 10)
			case float64:
				line = strconv.AppendFloat(append(line, 'f'), v, 'g', -1, 64)
			case string:
				line = append(strconv.AppendInt(append(line, 's'), int64(len(v)), 10), ':')
				line = append(line, v...)
			case []byte:
				line = append(strconv.AppendInt(append(line, 's'), int64(len(v)), 10), ':')
				line = append(line, v...)
			default:
				return 0, "", fmt.Errorf("column %s: a %T has no canonical form", columns[i], v)
			}
		}
		h.Write(append(line, '\n'))
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
