package db

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// schemaObjects lists every object of the schema (type, name, table and SQL), and with
// placement also where it lives (its rowid in sqlite_master and its root page), which
// changes when an object is dropped and created again.
func schemaObjects(t *testing.T, s *Store, placement bool) []string {
	t.Helper()
	rows, err := s.read.Query(`SELECT type, name, tbl_name, coalesce(sql, ''), rowid, rootpage FROM sqlite_master ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, name, table, ddl string
		var rowid, rootpage int64
		if err := rows.Scan(&kind, &name, &table, &ddl, &rowid, &rootpage); err != nil {
			t.Fatal(err)
		}
		o := fmt.Sprintf("%s %s ON %s: %s", kind, name, table, ddl)
		if placement {
			o += fmt.Sprintf(" (row %d, page %d)", rowid, rootpage)
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
// and every contact's company are right, for the rows loaded and those there before. SQLite
// only, as the next test, until the bulk loader runs on PostgreSQL.
func TestBulkLoadLeavesTheSchemaAsMigrated(t *testing.T) {
	for _, existing := range []int{0, 40} {
		t.Run(fmt.Sprintf("%d contacts before", existing), func(t *testing.T) {
			s := openTestStore(t)
			ctx := context.Background()
			top, err := s.CreateAccount(ctx, "Northwind Traders", 0)
			if err != nil {
				t.Fatal(err)
			}
			child, err := s.CreateAccount(ctx, "Northwind Logistics", top.ID)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Write(ctx, func(tx *Tx) error {
				for i := range existing {
					if _, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: child.ID, FirstName: "Ewa", LastName: "Wójcik", Email: fmt.Sprintf("ewa%d@northwind.example", i)}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			before := schemaObjects(t, s, existing > 0)

			const loaded = 2000
			wantLocked := 0
			err = s.Write(ctx, func(tx *Tx) error {
				return tx.BulkInsertContacts(ctx, func(yield func(BulkContact) bool) {
					for i := range loaded {
						c := BulkContact{ContactFields: ContactFields{AccountID: []int64{top.ID, child.ID}[i%2], FirstName: "Zoë", LastName: "Quetzal", Email: fmt.Sprintf("zoe.quetzal%d@northwind.example", i), Roles: []Role{RoleIncidentContact}}, LastLoginAt: time.Unix(int64(1e9+i), 0)}
						if i%7 == 0 {
							c.LockReason, c.FailedLogins = LockedByFailedLogins, 10
							wantLocked++
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

			if after := schemaObjects(t, s, existing > 0); !slices.Equal(after, before) {
				t.Errorf("schema after the load:\n%s\nwant as before:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
			// The kept counts agree with the rows, account by account.
			kept, counted := map[string]int{}, map[string]int{}
			for query, into := range map[string]map[string]int{
				`SELECT account_id || ' ' || status, n FROM contact_counts WHERE n > 0`:                  kept,
				`SELECT account_id || ' ' || status, count(*) FROM contacts GROUP BY account_id, status`: counted,
			} {
				rows, err := s.read.QueryContext(ctx, query)
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
			// The search index holds every row, the loaded ones and those there before.
			if _, err := s.write.ExecContext(ctx, `INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('integrity-check', 1)`); err != nil {
				t.Errorf("search index integrity check: %v", err)
			}
			for search, want := range map[string]int{"quetzal": loaded, "zoe.quetzal1234": 1, "wojcik": existing} {
				found := 0
				for _, status := range []string{StatusActive, StatusLocked} {
					p, err := s.ListContacts(ctx, sc, ListQuery{Status: status, Search: search, Limit: 10_000})
					if err != nil {
						t.Fatal(err)
					}
					found += len(p.Rows)
				}
				if found != want {
					t.Errorf("search %q found %d contacts, want %d", search, found, want)
				}
			}
			// Every contact knows its company: the top-level account above it.
			var wrong int
			if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM contacts
				WHERE tenant_id IS NOT ? OR account_id NOT IN (?, ?)`, top.ID, top.ID, child.ID).Scan(&wrong); err != nil || wrong != 0 {
				t.Errorf("%d contacts outside the company %d (%v), want none", wrong, top.ID, err)
			}
		})
	}
}

// TestBulkInsertStopsAtADuplicateEmail: a bulk load whose rows repeat an email fails with
// ErrEmailTaken, stops reading its rows soon after (they are read ahead on another
// goroutine), and leaves nothing behind: no contacts, no counts, the indexes and triggers
// it dropped for the load back in place.
func TestBulkInsertStopsAtADuplicateEmail(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	before := schemaObjects(t, s, false)
	const total = 100_000
	read := 0
	err = s.Write(ctx, func(tx *Tx) error {
		return tx.BulkInsertContacts(ctx, func(yield func(BulkContact) bool) {
			for i := 0; i < total; i++ {
				read++
				email := fmt.Sprintf("c%d@northwind.example", i)
				if i == 2000 {
					email = "c3@northwind.example"
				}
				if !yield(BulkContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: email}}) {
					return
				}
			}
		})
	})
	if !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("bulk load with a repeated email: %v, want ErrEmailTaken", err)
	}
	if read >= total {
		t.Errorf("read all %d rows after the failure; want it to stop soon after row 2,000", read)
	}
	var contacts, counted int
	if err := s.read.QueryRow(`SELECT count(*), (SELECT coalesce(sum(n), 0) FROM contact_counts) FROM contacts`).Scan(&contacts, &counted); err != nil {
		t.Fatal(err)
	}
	if contacts != 0 || counted != 0 {
		t.Errorf("after the failed load: %d contacts, counts %d; want none", contacts, counted)
	}
	if after := schemaObjects(t, s, false); !slices.Equal(after, before) {
		t.Errorf("schema after the failed load:\n%s\nwant as before:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}
