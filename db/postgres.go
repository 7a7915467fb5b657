package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver of database/sql
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

func (postgresEngine) migrations() ([]migration, error) {
	return migrationList(postgresMigrations, "migrations/postgres")
}

func (postgresEngine) schemaVersionTable() string {
	return `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
}

// lockMigrations takes a lock that only this transaction holds, until it ends: servers
// started at once run each step once, one after the other.
func (postgresEngine) lockMigrations(ctx context.Context, tx txn) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7302671846925016113)`)
	return err
}

// ErrBackupPostgres: portal backup copies SQLite files; PostgreSQL has its own tools.
var ErrBackupPostgres = errors.New("the database is PostgreSQL: back it up with pg_dump " +
	"(or continuous archiving for point-in-time recovery), see docs/OPERATIONS.md")

func (postgresEngine) backup(context.Context, *Store, string) error { return ErrBackupPostgres }

func (postgresEngine) analyze(ctx context.Context, s *Store) error {
	_, err := s.write.ExecContext(ctx, `ANALYZE`)
	return err
}

func (postgresEngine) close(*Store) {}

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

// pageFrom: PostgreSQL may run a join in any order, so the ids are read first (pageOfIDs).
func (postgresEngine) pageFrom(string) (string, bool) { return "", false }

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
