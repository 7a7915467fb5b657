package db_test

// BenchmarkImport measures Import contacts (SPEC 3.9) with a file of 10,000 new contacts,
// on each engine:
//
//	go test -tags sqlite_fts5 -run '^$' -bench Import -benchtime 3x ./db/
//
// ns/op is Import N contacts (contacts.CommitImport: the file judged again in its
// transaction, the contacts and their roles, their audit rows, their invitations with the
// mail that carries them). Its baseline, measured in the same iterations, is a bare batched
// insert of the same rows: a transaction of multi-row INSERTs of 500 rows into contacts,
// contact_roles and audit_events, nothing judged, nothing mailed. upload-ms is the upload
// (reading the CSV and storing its rows), preview-ms one preview of all 10,000 rows.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"portal/auth"
	"portal/contacts"
	"portal/db"
	"portal/db/dbtest"
)

const importRows = 10_000

// importBench is a portal ready to import into: an admin of a company with a child
// organization, the rules over its store, and a connection of its own for the baseline.
type importBench struct {
	store    *db.Store
	rules    *contacts.Service
	actor    contacts.Actor
	child    db.Account
	bare     *sql.DB
	postgres bool
}

func newImportBench(b *testing.B, engine string) *importBench {
	b.Helper()
	ctx := context.Background()
	dsn := filepath.Join(b.TempDir(), "portal.db")
	bareDriver, bareDSN := "sqlite3", "file:"+dsn+"?_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL&"+
		"_journal_mode=WAL&_txlock=immediate&_secure_delete=on&_cache_size=-16000" // as the store's writer
	if engine == "postgres" {
		dsn = dbtest.PostgresURL(b)
		bareDriver, bareDSN = "pgx", dsn
	}
	store, err := db.Open(dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	root, err := store.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		b.Fatal(err)
	}
	child, err := store.CreateAccount(ctx, "Northwind Logistics", root.ID)
	if err != nil {
		b.Fatal(err)
	}
	var adminID int64
	err = store.Write(ctx, func(tx *db.Tx) error {
		adminID, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: root.ID, FirstName: "Maria",
			LastName: "Anders", Email: "maria@northwind.example", Roles: []db.Role{db.RoleContactAdmin}}, PasswordHash: "set"})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	admin, err := store.ContactByID(ctx, adminID)
	if err != nil {
		b.Fatal(err)
	}
	rules := contacts.New(store, auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 1),
		slog.New(slog.NewTextHandler(io.Discard, nil)), contacts.Settings{InviteTTL: 7 * 24 * time.Hour})
	actor, err := rules.Admin(ctx, admin, "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	bare, err := sql.Open(bareDriver, bareDSN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.Close() })
	return &importBench{store: store, rules: rules, actor: actor, child: child, bare: bare, postgres: engine == "postgres"}
}

// importFile is a CSV of importRows new contacts whose emails start with prefix.
func importFile(prefix string) []byte {
	var b strings.Builder
	b.WriteString("First name,Last name,Email,Phone,Job title,Account,Roles\r\n")
	for i := range importRows {
		fmt.Fprintf(&b, "Member,%s %d,%s%05d@northwind.example,+44 20 7946 %04d,Engineer,Northwind Logistics,Incident contact\r\n",
			prefix, i, prefix, i, i)
	}
	return []byte(b.String())
}

// bareInsert writes the rows of importFile(prefix) the plain way: one transaction,
// multi-row INSERTs of 500 contacts, their roles and an audit row each.
func (d *importBench) bareInsert(b *testing.B, prefix string) {
	ctx := context.Background()
	tx, err := d.bare.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := time.Now().Unix()
	for start := 0; start < importRows; start += 500 {
		n := min(500, importRows-start)
		args := make([]any, 0, 15*n)
		for i := start; i < start+n; i++ {
			last, email := fmt.Sprintf("%s %d", prefix, i), fmt.Sprintf("%s%05d@northwind.example", prefix, i)
			args = append(args, d.child.ID, d.child.ID, "Member", last, email, db.EmailKey(email), db.NameKey("Member", last),
				db.SearchText("Member", last, email), fmt.Sprintf("+44 20 7946 %04d", i), "Engineer", "", d.actor.ID(), now, now, nil)
		}
		rows, err := tx.QueryContext(ctx, d.placeholders(`INSERT INTO contacts(account_id, tenant_id, first_name, last_name, email,
			email_key, name_key, search_text, phone, job_title, password_hash, created_by, created_at, updated_at, access_ends_at)
			VALUES `+strings.ReplaceAll(values(n, 15), "(?, ?,", "(?, (SELECT tenant_id FROM accounts WHERE id = ?),")+` RETURNING id`), args...)
		if err != nil {
			b.Fatal(err)
		}
		var ids []any
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		roles := make([]any, 0, 2*n)
		audit := make([]any, 0, 7*n)
		for _, id := range ids {
			roles = append(roles, id, string(db.RoleIncidentContact))
			audit = append(audit, now, db.ActionContactCreated, d.actor.ID(), id, d.child.ID, "roles: Incident contact", "192.0.2.1")
		}
		if _, err := tx.ExecContext(ctx, d.placeholders(`INSERT INTO contact_roles(contact_id, role) VALUES `+values(n, 2)), roles...); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, d.placeholders(`INSERT INTO audit_events(at, action, actor_id, target_id, account_id, detail,
			remote_ip) VALUES `+values(n, 7)), audit...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func values(rows, columns int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", columns), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// placeholders numbers the ? of query for PostgreSQL ($1, $2, ...).
func (d *importBench) placeholders(query string) string {
	if !d.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func BenchmarkImport(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run("engine="+engine, func(b *testing.B) {
			d := newImportBench(b, engine)
			ctx := context.Background()
			c := newCompare(b)
			var uploads, previews time.Duration
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i++
				b.StopTimer()
				var id string
				uploads += timed(func() {
					var err error
					if id, err = d.rules.UploadImport(ctx, d.actor, "team.csv", importFile(fmt.Sprintf("i%d-", i))); err != nil {
						b.Fatal(err)
					}
				})
				var p contacts.ImportPreview
				previews += timed(func() {
					var err error
					if p, err = d.rules.ImportPreview(ctx, d.actor, id); err != nil {
						b.Fatal(err)
					}
				})
				if p.New != importRows {
					b.Fatalf("preview: %d new, want %d (errors: %d)", p.New, importRows, p.Errors)
				}
				b.StartTimer()
				c.turn(func() {
					r, err := d.rules.CommitImport(ctx, d.actor, id, p.Version)
					if err != nil || r.Created != importRows {
						b.Fatalf("import: %+v, %v", r, err)
					}
				}, func() {
					c.baseline("bare-insert", func() { d.bareInsert(b, fmt.Sprintf("b%d-", i)) })
				})
			}
			b.ReportMetric(float64(uploads.Milliseconds())/float64(b.N), "upload-ms")
			b.ReportMetric(float64(previews.Milliseconds())/float64(b.N), "preview-ms")
			c.report()
		})
	}
}
