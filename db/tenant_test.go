package db

import (
	"context"
	"path/filepath"
	"testing"

	"portal/db/testdb"
)

// companyMismatches counts the accounts and contacts whose tenant_id is not the top-level
// account above them, computed here independently with a walk up the tree.
func companyMismatches(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	err := s.read.QueryRowContext(context.Background(), `
		WITH RECURSIVE up(id, top) AS (
			SELECT id, id FROM accounts WHERE parent_id IS NULL
			UNION ALL SELECT a.id, up.top FROM accounts a JOIN up ON a.parent_id = up.id)
		SELECT (SELECT count(*) FROM accounts a JOIN up ON up.id = a.id WHERE a.tenant_id IS DISTINCT FROM up.top)
		     + (SELECT count(*) FROM contacts c JOIN up ON up.id = c.account_id WHERE c.tenant_id IS DISTINCT FROM up.top)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestEveryContactKnowsItsCompany: the company (tenant_id) that whole-company listings read
// stays right however contacts are written: created, bulk loaded, inserted by a writer
// that leaves it out, or moved, even to another company. On PostgreSQL, where its triggers
// keep it, the bulk load is left out until the bulk loader runs there.
func TestEveryContactKnowsItsCompany(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testEveryContactKnowsItsCompany(t, e)
	})
}

func testEveryContactKnowsItsCompany(t *testing.T, e testdb.Engine) {
	s := openTestStoreOn(t, e)
	ctx := context.Background()
	top, err := s.CreateAccount(ctx, "Contoso", 0)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := s.CreateAccount(ctx, "Contoso Retail", top.ID)
	grandchild, _ := s.CreateAccount(ctx, "Contoso Retail North", child.ID)
	other, err := s.CreateAccount(ctx, "Northwind", 0)
	if err != nil {
		t.Fatal(err)
	}
	var moved int64
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: grandchild.ID, FirstName: "Ada", LastName: "Byron", Email: "ada@contoso.example"}}); err != nil {
			return err
		}
		if moved, err = tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: child.ID, FirstName: "Alan", LastName: "Turing", Email: "alan@contoso.example"}}); err != nil {
			return err
		}
		// A writer that knows nothing of companies.
		if _, err := tx.tx.ExecContext(ctx, `INSERT INTO contacts(account_id, first_name, last_name, email, email_key, name_key, created_at, updated_at)
			VALUES (?, 'Grace', 'Hopper', 'grace@contoso.example', 'grace@contoso.example', 'hopper grace', 0, 0)`, grandchild.ID); err != nil {
			return err
		}
		if s.Postgres() {
			return nil // until the bulk loader runs on PostgreSQL
		}
		bulk := func(yield func(BulkContact) bool) {
			for _, a := range []int64{top.ID, child.ID, grandchild.ID, other.ID} {
				if !yield(BulkContact{ContactFields: ContactFields{AccountID: a, FirstName: "Bulk", LastName: "Loaded", Email: "bulk" + string(rune('a'+a)) + "@x.example"}}) {
					return
				}
			}
		}
		return tx.BulkInsertContacts(ctx, bulk)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := companyMismatches(t, s); n != 0 {
		t.Fatalf("%d rows with the wrong company after inserts", n)
	}
	if _, err := s.write.ExecContext(ctx, `UPDATE contacts SET account_id = ? WHERE id = ?`, other.ID, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, `UPDATE contacts SET tenant_id = 0 WHERE id = ?`, moved); err != nil {
		t.Fatal(err)
	}
	if n := companyMismatches(t, s); n != 0 {
		t.Fatalf("%d rows with the wrong company after a move", n)
	}
}

// TestMigrateGivesExistingContactsTheirCompany: a database made before companies were
// recorded gets them for every account and contact at the next start. SQLite only: it
// replays SQLite's migrations (PostgreSQL starts with companies recorded).
func TestMigrateGivesExistingContactsTheirCompany(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	list, err := sqliteEngine{}.migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.version >= 40 {
			break
		}
		if _, err := s.write.Exec(m.sql+`; INSERT INTO schema_version(version) VALUES (?)`, m.version); err != nil {
			t.Fatal(m.name, err)
		}
	}
	// As the portal wrote them before: a company, a child and a grandchild with contacts.
	_, err = s.write.Exec(`
		INSERT INTO accounts(id, name, name_key, parent_id, created_at) VALUES
			(1, 'Contoso', 'contoso', NULL, 0), (2, 'Retail', 'retail', 1, 0), (3, 'North', 'north', 2, 0),
			(4, 'Northwind', 'northwind', NULL, 0);
		INSERT INTO contacts(account_id, first_name, last_name, email, email_key, name_key, search_text, created_at, updated_at) VALUES
			(3, 'Ada', 'Byron', 'ada@c.example', 'ada@c.example', 'byron ada', ' ada byron ada c example ', 0, 0),
			(2, 'Alan', 'Turing', 'alan@c.example', 'alan@c.example', 'turing alan', ' alan turing alan c example ', 0, 0),
			(4, 'Grace', 'Hopper', 'grace@n.example', 'grace@n.example', 'hopper grace', ' grace hopper grace n example ', 0, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := companyMismatches(t, s); n != 0 {
		t.Fatalf("%d rows with the wrong company after Migrate", n)
	}
	var top int64
	if err := s.read.QueryRow(`SELECT tenant_id FROM contacts WHERE email = 'ada@c.example'`).Scan(&top); err != nil || top != 1 {
		t.Fatalf("Ada's company = %d, %v; want 1", top, err)
	}
	// The search index was rebuilt with the new prefix lengths and still finds them.
	var found int
	if err := s.read.QueryRow(`SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH '"turin"*'`).Scan(&found); err != nil || found != 1 {
		t.Fatalf("search after Migrate found %d, %v; want 1", found, err)
	}
}
