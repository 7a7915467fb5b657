package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/db/testdb"
)

// engineStore is a migrated store on engine e, and a connection of the test's own to the
// same database, for looking at its schema and rows.
func engineStore(t testing.TB, e testdb.Engine) (*db.Store, *sql.DB) {
	t.Helper()
	dsn := testdb.New(t, e)
	driver, source := "sqlite3", "file:"+dsn+"?_busy_timeout=5000"
	if e == testdb.Postgres {
		driver, source = "pgx", dsn
	}
	s, err := db.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	look, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { look.Close() })
	return s, look
}

// schemaObjects lists every object of the schema as its engine describes it: SQLite's
// sqlite_master; PostgreSQL's columns, constraints, indexes and triggers (with whether each
// trigger is enabled). With placement it adds where each lives (SQLite's rowid and root
// page, PostgreSQL's object id), which changes when an object is dropped and created again.
func schemaObjects(t *testing.T, look *sql.DB, engine testdb.Engine, placement bool) []string {
	t.Helper()
	query := `SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || coalesce(sql, ''),
		' (row ' || rowid || ', page ' || rootpage || ')' FROM sqlite_master ORDER BY type, name`
	if engine == testdb.Postgres {
		query = `
			SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' ||
				coalesce(collation_name, '') || ' ' || is_nullable || ' ' || coalesce(column_default, '') ||
				' ' || is_identity || ' ' || coalesce(identity_generation, ''), ''
			FROM information_schema.columns WHERE table_schema = current_schema()
			UNION ALL
			SELECT 'constraint ' || conname || ' ON ' || conrelid::regclass || ': ' || pg_get_constraintdef(oid),
				' (oid ' || oid || ')'
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
			UNION ALL
			SELECT 'index ' || indexname || ': ' || indexdef, ' (oid ' || (schemaname || '.' || indexname)::regclass::oid || ')'
			FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL
			SELECT 'trigger ' || tgname || ' ON ' || tgrelid::regclass || ': ' || pg_get_triggerdef(oid) ||
				' (enabled ' || tgenabled::text || ')', ' (oid ' || oid || ')'
			FROM pg_trigger WHERE NOT tgisinternal
			ORDER BY 1`
	}
	rows, err := look.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var o, where string
		if err := rows.Scan(&o, &where); err != nil {
			t.Fatal(err)
		}
		if placement {
			o += where
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBulkLoadLeavesTheSchemaAsMigrated: a bulk load into an empty contacts table (which
// drops indexes and triggers for the load) and one into a table that holds contacts (which
// must not) both leave every object of the schema as the migrations made it, the latter
// without dropping and creating any again; afterwards the section counts, the search index
// and every contact's company are right, for the rows loaded and those there before. On
// both engines.
func TestBulkLoadLeavesTheSchemaAsMigrated(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, engine testdb.Engine) {
		for _, existing := range []int{0, 40} {
			t.Run(fmt.Sprintf("%d contacts before", existing), func(t *testing.T) {
				testBulkLoad(t, engine, existing)
			})
		}
	})
}

func testBulkLoad(t *testing.T, engine testdb.Engine, existing int) {
	s, look := engineStore(t, engine)
	ctx := context.Background()
	top, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	child, err := s.CreateAccount(ctx, "Northwind Logistics", top.ID)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *db.Tx) error {
		for i := range existing {
			if _, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: child.ID, FirstName: "Ewa", LastName: "Wójcik", Email: fmt.Sprintf("ewa%d@northwind.example", i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	before := schemaObjects(t, look, engine, existing > 0)

	// More than one COPY's worth on PostgreSQL, so that chunks meet.
	const loaded = 10_000
	wantLocked, wantRoles := 0, 0
	err = s.Write(ctx, func(tx *db.Tx) error {
		wantLocked, wantRoles = 0, 0
		return tx.BulkInsertContacts(ctx, func(yield func(db.BulkContact) bool) {
			for i := range loaded {
				c := db.BulkContact{ContactFields: db.ContactFields{AccountID: []int64{top.ID, child.ID}[i%2], FirstName: "Zoë", LastName: "Quetzal", Email: fmt.Sprintf("zoe.quetzal%d@northwind.example", i)}, LastLoginAt: time.Unix(int64(1e9+i), 0)}
				if i%7 == 0 {
					c.LockReason, c.FailedLogins = db.LockedByFailedLogins, 10
					wantLocked++
				}
				if i%3 == 0 {
					c.Roles = []db.Role{db.RoleIncidentContact, db.RoleContactAdmin}
					wantRoles += 2
				}
				if !yield(c) {
					return
				}
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	if after := schemaObjects(t, look, engine, existing > 0); !slices.Equal(after, before) {
		t.Errorf("schema after the load:\n%s\nwant as before:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	// The kept counts agree with the rows, account by account.
	kept, counted := map[string]int{}, map[string]int{}
	for query, into := range map[string]map[string]int{
		`SELECT account_id || ' ' || status, n FROM contact_counts WHERE n > 0`:                  kept,
		`SELECT account_id || ' ' || status, count(*) FROM contacts GROUP BY account_id, status`: counted,
	} {
		rows, err := look.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				t.Fatal(err)
			}
			into[key] = n
		}
		rows.Close()
	}
	if !maps.Equal(kept, counted) {
		t.Errorf("contact_counts %v, want the rows' counts %v", kept, counted)
	}
	sc, err := s.ScopeOf(ctx, top.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := s.ContactCounts(ctx, sc); err != nil || c.Active != existing+loaded-wantLocked || c.Locked != wantLocked {
		t.Errorf("section counts %+v, %v; want %d active and %d locked", c, err, existing+loaded-wantLocked, wantLocked)
	}
	var roles int
	if err := look.QueryRowContext(ctx, `SELECT count(*) FROM contact_roles`).Scan(&roles); err != nil || roles != wantRoles {
		t.Errorf("%d roles (%v), want %d", roles, err, wantRoles)
	}
	// Every loaded row holds what a contact created one at a time would: its keys and search
	// words derived from its name and email, its lock, its last login.
	c, err := s.ContactByEmail(ctx, "Zoe.Quetzal1234@northwind.example")
	if err != nil || c.Name() != "Zoë Quetzal" || c.Locked() || !c.LastLoginAt.Equal(time.Unix(1e9+1234, 0)) ||
		c.AccountID != top.ID || c.HasRole(db.RoleIncidentContact) {
		t.Errorf("contact 1234 reads back as %+v, %v", c, err)
	}
	var nameKey, searchText string
	if err := look.QueryRowContext(ctx, `SELECT name_key, search_text FROM contacts WHERE email = 'zoe.quetzal1234@northwind.example'`).
		Scan(&nameKey, &searchText); err != nil || nameKey != db.NameKey("Zoë", "Quetzal") ||
		searchText != db.SearchText("Zoë", "Quetzal", "zoe.quetzal1234@northwind.example") {
		t.Errorf("keys of contact 1234: %q, %q (%v); want %q, %q", nameKey, searchText, err, db.NameKey("Zoë", "Quetzal"),
			db.SearchText("Zoë", "Quetzal", "zoe.quetzal1234@northwind.example"))
	}
	if engine == testdb.SQLite {
		// The search index holds every row, the loaded ones and those there before.
		if _, err := look.ExecContext(ctx, `INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
			t.Errorf("search index integrity check: %v", err)
		}
		for search, want := range map[string]int{"quetzal": loaded, "zoe.quetzal1234": 1, "wojcik": existing} {
			found := 0
			for _, status := range []string{db.StatusActive, db.StatusLocked} {
				p, err := s.ListContacts(ctx, sc, db.ListQuery{Status: status, Search: search, Limit: 20_000})
				if err != nil {
					t.Fatal(err)
				}
				found += len(p.Rows)
			}
			if found != want {
				t.Errorf("search %q found %d contacts, want %d", search, found, want)
			}
		}
	}
	// Every contact knows its company: the top-level account above it.
	var wrong int
	if err := look.QueryRowContext(ctx, `SELECT count(*) FROM contacts WHERE tenant_id <> $1 OR account_id NOT IN ($2, $3)`,
		top.ID, top.ID, child.ID).Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d contacts outside the company %d (%v), want none", wrong, top.ID, err)
	}
	// A contact created after the load takes the next id: the sequence moved past the loaded rows.
	err = s.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: child.ID, FirstName: "Ada", LastName: "Lovelace", Email: "ada@northwind.example"}})
		return err
	})
	if err != nil {
		t.Errorf("create a contact after the load: %v", err)
	}
}

// TestBulkInsertStopsAtADuplicateEmail: a bulk load whose rows repeat an email fails with
// ErrEmailTaken, stops reading its rows soon after (they are read ahead on another
// goroutine), and leaves nothing behind: no contacts, no counts, the indexes and triggers
// it dropped for the load back in place. On both engines.
func TestBulkInsertStopsAtADuplicateEmail(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, engine testdb.Engine) {
		s, look := engineStore(t, engine)
		ctx := context.Background()
		acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
		if err != nil {
			t.Fatal(err)
		}
		before := schemaObjects(t, look, engine, false)
		const total = 100_000
		read := 0
		err = s.Write(ctx, func(tx *db.Tx) error {
			return tx.BulkInsertContacts(ctx, func(yield func(db.BulkContact) bool) {
				for i := 0; i < total; i++ {
					read++
					email := fmt.Sprintf("c%d@northwind.example", i)
					if i == 2000 {
						email = "c3@northwind.example"
					}
					if !yield(db.BulkContact{ContactFields: db.ContactFields{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: email}}) {
						return
					}
				}
			})
		})
		if !errors.Is(err, db.ErrEmailTaken) {
			t.Fatalf("bulk load with a repeated email: %v, want ErrEmailTaken", err)
		}
		if read >= total {
			t.Errorf("read all %d rows after the failure; want it to stop soon after row 2,000", read)
		}
		var contacts, counted int
		if err := look.QueryRow(`SELECT count(*), (SELECT coalesce(sum(n), 0) FROM contact_counts) FROM contacts`).Scan(&contacts, &counted); err != nil {
			t.Fatal(err)
		}
		if contacts != 0 || counted != 0 {
			t.Errorf("after the failed load: %d contacts, counts %d; want none", contacts, counted)
		}
		if after := schemaObjects(t, look, engine, false); !slices.Equal(after, before) {
			t.Errorf("schema after the failed load:\n%s\nwant as before:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
		}
	})
}
