package db

import (
	"context"
	"testing"

	"portal/db/testdb"
)

// openTestStore opens a fresh, migrated SQLite store.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	return openTestStoreOn(t, testdb.SQLite)
}

// openTestStoreOn opens a fresh, migrated store of engine e.
func openTestStoreOn(t testing.TB, e testdb.Engine) *Store {
	t.Helper()
	s, err := Open(testdb.New(t, e))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenTunesSQLiteForAWebServer is about SQLite's connection settings (PRAGMAs, one
// writer connection, a read-only pool): SQLite only.
func TestOpenTunesSQLiteForAWebServer(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	for _, pool := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"writer", func(p string) (v string, err error) { err = s.write.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); return }},
		{"reader", func(p string) (v string, err error) { err = s.read.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); return }},
	} {
		for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000", "mmap_size": "268435456"} {
			got, err := pool.q(pragma)
			if err != nil || got != want {
				t.Errorf("%s: PRAGMA %s = %q, %v; want %q", pool.name, pragma, got, err, want)
			}
		}
	}
	if got := s.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer pool allows %d connections, want 1", got)
	}
	if _, err := s.read.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testMigrateIsIdempotentAndVersioned(t, e)
	})
}

func testMigrateIsIdempotentAndVersioned(t *testing.T, e testdb.Engine) {
	s := openTestStoreOn(t, e)
	ctx := context.Background()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	list, err := s.engine.migrations()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	err = s.read.QueryRowContext(ctx, `SELECT max(version) FROM schema_version`).Scan(&got)
	if err != nil || got != list[len(list)-1].version {
		t.Fatalf("schema version %d, %v; want %d", got, err, list[len(list)-1].version)
	}
}

func TestWriteRollsBackOnError(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testWriteRollsBackOnError(t, e)
	})
}

func testWriteRollsBackOnError(t *testing.T, e testdb.Engine) {
	s := openTestStoreOn(t, e)
	ctx := context.Background()
	_, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: 1, FirstName: "A", LastName: "B", Email: "a@b.example"}}); err != nil {
			return err
		}
		_, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: 1, FirstName: "C", LastName: "D", Email: "A@B.example"}})
		return err
	})
	if err != ErrEmailTaken {
		t.Fatalf("second contact with the same email (other case): %v, want ErrEmailTaken", err)
	}
	if _, err := s.ContactByEmail(ctx, "a@b.example"); err != ErrNotFound {
		t.Fatalf("first contact of the failed transaction: %v, want ErrNotFound (rolled back)", err)
	}
}

// TestMigrateRunsAMigrationThatLandedOutOfOrder: a database that has 0020 but not 0011
// (work merged in a different order than its numbers) gets 0011 at the next start. SQLite
// only: those steps are SQLite's history (PostgreSQL starts where they leave SQLite).
func TestMigrateRunsAMigrationThatLandedOutOfOrder(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if _, err := s.write.ExecContext(ctx, `DROP INDEX password_tokens_open; DELETE FROM schema_version WHERE version = 11`); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'password_tokens_open'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("index of migration 0011 after Migrate: %d, %v; want it created", n, err)
	}
	var versions int
	s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_version`).Scan(&versions)
	list, _ := sqliteEngine{}.migrations()
	if versions != len(list) {
		t.Errorf("%d versions recorded, want %d (one per migration)", versions, len(list))
	}
}
