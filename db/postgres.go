package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver of database/sql
)

// PostgreSQL, for more than one machine: several portal servers share one database, which
// holds everything any of them needs. One pool serves reads and writes; writes are
// SERIALIZABLE (see Store.Write).
type postgresEngine struct{}

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

func openPostgres(dsn string, poolSize int) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL %s: %w", RedactDSN(dsn), err)
	}
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	e := postgresEngine{}
	return &Store{write: pool{db, e}, read: pool{db, e}, engine: e}, nil
}

// RedactDSN is dsn fit for a log: a PostgreSQL URL without its password.
func RedactDSN(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "postgres://(a URL that does not parse)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// rebind turns SQLite's placeholders into PostgreSQL's: ? is the next parameter after the
// highest one used so far, ?NNN is parameter NNN, as SQLite numbers them; both become $NNN.
// Quoted strings, quoted names and comments are left as they are.
func (postgresEngine) rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	highest := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				n, _ = strconv.Atoi(query[i+1 : j])
			}
			highest = max(highest, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (postgresEngine) writeOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelSerializable}
}

// retry: a serialization failure or a deadlock ends a transaction that would have been
// right on its own; run again, it sees the other's change.
func (postgresEngine) retry(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func (postgresEngine) snapshotOptions() *sql.TxOptions {
	return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
}

func (postgresEngine) skipLocked() string { return ` FOR UPDATE SKIP LOCKED` }

func (postgresEngine) migrations() ([]migration, error) {
	return migrationList(postgresMigrations, "migrations/postgres",
		migration{version: 98, name: "0098 words with an apostrophe also without it (Go)", run: migrateApostrophes})
}

func (postgresEngine) schemaVersionTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
}

// lockMigrations takes a lock that only this transaction holds, until it ends: servers
// started at once run each step once, one after the other. The step runs READ COMMITTED:
// a SERIALIZABLE transaction reads the snapshot its first statement took, before the wait
// for the lock, and would not see the step the server it waited for has just recorded.
func (postgresEngine) lockMigrations(ctx context.Context, tx txn) error {
	if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL READ COMMITTED`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7302671846925016113)`)
	return err
}

// ErrBackupPostgres: portal backup copies SQLite files; PostgreSQL has its own tools.
var ErrBackupPostgres = errors.New("the database is PostgreSQL: back it up with pg_dump " +
	"(or continuous archiving for point-in-time recovery), see docs/OPERATIONS.md")

func (postgresEngine) backup(context.Context, *Store, string) error { return ErrBackupPostgres }

// analyze also vacuums: after a bulk load or a copy no page is marked all-visible yet, so
// index-only scans (the list's ids) would visit the table for every row, and the first
// readers would set each row's commit hint bits, writing pages as they read, until
// autovacuum came round.
func (postgresEngine) analyze(ctx context.Context, s *Store) error {
	_, err := s.write.ExecContext(ctx, `VACUUM (ANALYZE)`)
	return err
}

func (postgresEngine) close(*Store) {}

// pgx runs fn with the pgx connection under t, for what database/sql can't say (COPY). fn
// runs inside t's transaction.
func (t *Tx) pgx(fn func(*pgx.Conn) error) error {
	return t.conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: %T is not a PostgreSQL connection", driverConn)
		}
		return fn(c.Conn())
	})
}

// copyChunk is how many contacts one COPY of a bulk load carries: enough that a statement's
// round trips are nothing beside its rows, few enough that a chunk's values stay a few MB.
const copyChunk = 8192

// bulkInsert sends the rows with COPY, a chunk at a time. COPY returns no ids, so each chunk
// first takes its ids from the table's sequence (one query), which also gives the roles
// their contact ids. The company of each account is looked up once: COPY runs the
// contacts_tenant trigger when it is enabled (a table that holds contacts), but a load into
// an empty table disables it and the rows must carry the company themselves.
func (postgresEngine) bulkInsert(ctx context.Context, t *Tx, batches <-chan []keyedContact) (firstID int64, err error) {
	now := unix(t.now)
	columns := append([]string{"id", "tenant_id"}, strings.Fields(strings.ReplaceAll(bulkColumns, ",", " "))...)
	tenants := map[int64]int64{}
	var chunk []keyedContact
	send := func() error {
		ids, err := t.nextIDs(ctx, "contacts", len(chunk))
		if err != nil {
			return err
		}
		contacts := make([][]any, len(chunk))
		var roles [][]any
		for i, r := range chunk {
			tenant, ok := tenants[r.AccountID]
			if !ok {
				if err := t.tx.QueryRowContext(ctx, `SELECT tenant_id FROM accounts WHERE id = ?`, r.AccountID).Scan(&tenant); err != nil {
					return fmt.Errorf("account %d of %q: %w", r.AccountID, r.Email, err)
				}
				tenants[r.AccountID] = tenant
			}
			contacts[i] = r.values(append(make([]any, 0, len(columns)), ids[i], tenant), now)
			for _, role := range r.Roles {
				roles = append(roles, []any{ids[i], string(role)})
			}
		}
		if firstID == 0 {
			firstID = ids[0]
		}
		return t.pgx(func(c *pgx.Conn) error {
			if _, err := c.CopyFrom(ctx, pgx.Identifier{"contacts"}, columns, pgx.CopyFromRows(contacts)); err != nil {
				return err
			}
			_, err := c.CopyFrom(ctx, pgx.Identifier{"contact_roles"}, []string{"contact_id", "role"}, pgx.CopyFromRows(roles))
			return err
		})
	}
	for batch := range batches {
		chunk = append(chunk, batch...)
		if len(chunk) < copyChunk {
			continue
		}
		if err := send(); err != nil {
			return 0, bulkError(err)
		}
		chunk = chunk[:0]
	}
	if len(chunk) > 0 {
		if err := send(); err != nil {
			return 0, bulkError(err)
		}
	}
	return firstID, nil
}

// bulkError names a repeated email as ErrEmailTaken; COPY stops at the first, and
// PostgreSQL's detail says which key it was.
func bulkError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("store: bulk insert contacts: %s: %w", pe.Detail, ErrEmailTaken)
	}
	return fmt.Errorf("store: bulk insert contacts: %w", err)
}

// nextIDs takes n ids from the identity sequence of table's id column. Another server's
// inserts may take ids in between, so they are read, not computed.
func (t *Tx) nextIDs(ctx context.Context, table string, n int) ([]int64, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)`, table, n)
	if err != nil {
		return nil, fmt.Errorf("ids for %s: %w", table, err)
	}
	defer rows.Close()
	ids := make([]int64, 0, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("ids for %s: %w", table, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// The triggers of contacts (migrations/postgres/0001_init.sql) that an insert fires per row:
// the section counts and the company.
var bulkLoadTriggers = []string{"contact_counts_insert", "contacts_tenant"}

// dropForBulkLoad takes off contacts what a load would otherwise update or check row by row
// (detach): the secondary indexes, the foreign keys (a lookup per row each) and the triggers
// above. rebuild counts the loaded rows in one GROUP BY and puts everything back.
func (postgresEngine) dropForBulkLoad(ctx context.Context, t *Tx) (rebuild func(firstID int64) error, err error) {
	d, err := t.detach(ctx, "contacts", bulkLoadTriggers...)
	if err != nil {
		return nil, err
	}
	return func(firstID int64) error {
		if firstID > 0 {
			if _, err := t.tx.ExecContext(ctx, `
				INSERT INTO contact_counts(account_id, status, n)
				SELECT account_id, status, count(*) FROM contacts WHERE id >= ? GROUP BY account_id, status
				ON CONFLICT (account_id, status) DO UPDATE SET n = contact_counts.n + excluded.n`, firstID); err != nil {
				return err
			}
		}
		return t.reattach(ctx, d)
	}, nil
}

// detached is what detach took off a table, as statements that put it back.
type detached struct {
	indexes     []string // CREATE INDEX
	foreignKeys []string // ALTER TABLE ADD CONSTRAINT ... FOREIGN KEY
	triggers    []string // ALTER TABLE ENABLE TRIGGER
}

// allUserTriggers, passed to detach, disables every trigger of the table that the schema
// declares (not those PostgreSQL keeps for foreign keys).
const allUserTriggers = "USER"

// detach prepares table for a load in t that is faster done in one pass afterwards: it
// drops the indexes that enforce nothing (not unique, not a primary key: the load still
// refuses repeated keys), the table's own foreign keys (checked again, all rows at once,
// when they are added back), and disables the named triggers (or allUserTriggers). What it
// returns puts each back from the definition PostgreSQL reports, so the schema ends as it
// was; inside t, other connections never see the table without them.
func (t *Tx) detach(ctx context.Context, table string, triggers ...string) (detached, error) {
	var d detached
	// Index builds sort in this much memory instead of spilling to disk in 64 MB runs; the
	// setting ends with the transaction.
	if _, err := t.tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
		return d, err
	}
	quoted := pgx.Identifier{table}.Sanitize()
	rows, err := t.tx.QueryContext(ctx, `
		SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = to_regclass(?) AND NOT i.indisunique AND NOT i.indisprimary
		UNION ALL
		SELECT 'foreign key', conname, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = to_regclass(?) AND contype = 'f'
		ORDER BY 1, 2`, quoted, quoted)
	if err != nil {
		return d, err
	}
	var drops []string
	for rows.Next() {
		var kind, name, def string
		if err := rows.Scan(&kind, &name, &def); err != nil {
			rows.Close()
			return d, err
		}
		name = pgx.Identifier{name}.Sanitize()
		if kind == "index" {
			drops = append(drops, `DROP INDEX `+name)
			d.indexes = append(d.indexes, def)
		} else {
			drops = append(drops, `ALTER TABLE `+quoted+` DROP CONSTRAINT `+name)
			d.foreignKeys = append(d.foreignKeys, `ALTER TABLE `+quoted+` ADD CONSTRAINT `+name+` `+def)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, err
	}
	for _, trigger := range triggers {
		if trigger != allUserTriggers {
			trigger = pgx.Identifier{trigger}.Sanitize()
		}
		drops = append(drops, `ALTER TABLE `+quoted+` DISABLE TRIGGER `+trigger)
		d.triggers = append(d.triggers, `ALTER TABLE `+quoted+` ENABLE TRIGGER `+trigger)
	}
	for _, stmt := range drops {
		if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
			return d, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return d, nil
}

// reattach puts back what detach took off: indexes first, so that the foreign keys check
// every row in one join each.
func (t *Tx) reattach(ctx context.Context, detached ...detached) error {
	var stmts []string
	for _, d := range detached {
		stmts = append(stmts, d.indexes...)
	}
	for _, d := range detached {
		stmts = append(stmts, d.foreignKeys...)
		stmts = append(stmts, d.triggers...)
	}
	for _, stmt := range stmts {
		if _, err := t.tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// searchFrom: a needle is a substring of search_text, which a LIKE pattern says and the
// trigram index contacts_search finds. Needles hold only letters, digits and spaces (see
// searchWords); escaping LIKE's wildcards anyway keeps that a property of search.go alone.
func (postgresEngine) searchFrom(search string) (from, cond string, args []any) {
	var conds []string
	for _, n := range searchNeedles(search) {
		conds = append(conds, `c.search_text LIKE ?`)
		args = append(args, "%"+likeEscaper.Replace(n)+"%")
	}
	return `contacts c`, strings.Join(conds, ` AND `), args
}

// likeEscaper escapes LIKE's wildcards with its default escape character, the backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func (postgresEngine) holdsNeedle() string { return `strpos(search_text, ?) > 0` }

// probeMatches walks on to the end of the order. A set of matches probed for each row (as on
// SQLite) would be a semi-join here, which the planner may run with either side outside and
// so lose the order; a filter on the sorted rows keeps it.
func (e postgresEngine) probeMatches(ordered string, args []any, search string, limit int) (string, []any) {
	return walkMatches(e, ordered, args, search, 0, limit)
}

// pageFrom: PostgreSQL may run a join in any order, so the ids are gathered into an array
// (ARRAY keeps the order they come in), numbered as they come, and sorted by that number:
// one statement, one round trip, where reading the ids first took two.
func (postgresEngine) pageFrom(ids string) (from, orderBy string) {
	return `unnest(ARRAY(` + ids + `)) WITH ORDINALITY AS page(id, n) JOIN contacts c ON c.id = page.id`, ` ORDER BY page.n`
}

// pageOfIDs numbers the ids as they come (WITH ORDINALITY) and sorts by that number.
func (postgresEngine) pageOfIDs(ids []int64) (from, orderBy string, arg any, err error) {
	return `unnest(?::bigint[]) WITH ORDINALITY AS page(id, n) JOIN contacts c ON c.id = page.id`, ` ORDER BY page.n`, ids, nil
}

// mergeSorted: PostgreSQL merges sorted inputs (Merge Append) only for a UNION ALL in FROM
// whose branches are sorted subqueries; a bare UNION ALL with an ORDER BY is appended and
// then sorted whole. Each branch is planned on its own, and for all of its rows unless it
// has a LIMIT, which makes it read its index in order instead of sorting; without one (the
// walk to the end of the order) filters pushed into the branches keep their sorts small.
func (postgresEngine) mergeSorted(branches []string, orderBy string, rows int) string {
	limit := ""
	if rows > 0 {
		limit = fmt.Sprintf(" LIMIT %d", rows)
	}
	var b strings.Builder
	b.WriteString("SELECT * FROM (")
	for i, branch := range branches {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		b.WriteString("(" + branch + orderBy + limit + ")")
	}
	b.WriteString(") AS merged" + orderBy)
	return b.String()
}
