package demo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"portal/auth"
	"portal/db"
	"portal/db/dbtest"
	"portal/demo"
	"portal/portaltest"
)

// openStore opens a migrated store on engine: a SQLite file, or a PostgreSQL database.
func openStore(t testing.TB, engine portaltest.Engine) *db.Store {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "portal.db")
	if engine == portaltest.Postgres {
		dsn = dbtest.PostgresURL(t)
	}
	store, err := db.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

func fastHasher() *auth.Hasher {
	return auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2)
}

func TestPopulate(t *testing.T) { portaltest.OnEachEngine(t, testPopulate) }

func testPopulate(t *testing.T, engine portaltest.Engine) {
	ctx := context.Background()
	store := openStore(t, engine)
	pop, err := demo.Populate(ctx, store, demo.Scale{Contacts: 3000, Accounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(pop.Accounts), 3; got != want {
		t.Fatalf("got %d accounts, want %d", got, want)
	}
	for _, a := range pop.Accounts[1:] {
		if a.ParentID != pop.Root.ID {
			t.Errorf("account %q: got parent %d, want the root %d", a.Name, a.ParentID, pop.Root.ID)
		}
	}
	if got, err := store.MaxContactID(ctx); err != nil || got != 3000 {
		t.Fatalf("got %d contacts (%v), want 3000", got, err)
	}
	// A second run adds more without colliding on emails.
	if _, err := demo.Populate(ctx, store, demo.Scale{Contacts: 10, Accounts: 1, Prefix: "Second"}); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

func BenchmarkPopulate100k(b *testing.B) {
	for b.Loop() {
		store := openStore(b, portaltest.SQLite)
		if _, err := demo.Populate(context.Background(), store, demo.Scale{Contacts: 100_000, Accounts: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPopulate1M10(b *testing.B) {
	for b.Loop() {
		store := openStore(b, portaltest.SQLite)
		if _, err := demo.Populate(context.Background(), store, demo.Scale{Contacts: 1_000_000, Accounts: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSeedShowsLockedContacts(t *testing.T) {
	portaltest.OnEachEngine(t, testSeedShowsLockedContacts)
}

func testSeedShowsLockedContacts(t *testing.T, engine portaltest.Engine) {
	ctx := context.Background()
	store := openStore(t, engine)
	email, password, err := demo.Seed(ctx, store, fastHasher(), demo.Bulk{})
	if err != nil || email != demo.AdminEmail || password == "" {
		t.Fatalf("seed: %q %q %v", email, password, err)
	}
	admin, err := store.ContactByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.ScopeOf(ctx, admin.AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(sc.Accounts()); got < 4 {
		t.Errorf("the admin's scope has %d accounts, want a company with child organizations", got)
	}
	locked, err := store.ListContacts(ctx, sc, db.ListQuery{Status: db.StatusLocked, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, r := range locked.Rows {
		reasons[r.LockReason]++
	}
	if reasons[db.LockedByAdmin] < 2 || reasons[db.LockedByFailedLogins] != 1 {
		t.Errorf("got locked contacts by reason %v, want a few by an admin and one after failed logins", reasons)
	}
}

// TestSeedAddsGeneratedContacts: `portal demo --contacts` puts the generated contacts in
// accounts of their own under the demo company, those locked by an admin recorded as locked
// by the demo admin; running it again on the same database adds more beside them. On both
// engines.
func TestSeedAddsGeneratedContacts(t *testing.T) {
	portaltest.OnEachEngine(t, testSeedAddsGeneratedContacts)
}

func testSeedAddsGeneratedContacts(t *testing.T, engine portaltest.Engine) {
	ctx := context.Background()
	store := openStore(t, engine)
	for run, bulk := range []demo.Bulk{{Contacts: 3000, Accounts: 2}, {Contacts: 500, Accounts: 1}} {
		email, _, err := demo.Seed(ctx, store, fastHasher(), bulk)
		if err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		admin, err := store.ContactByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("Northwind Bulk %d", run+1)
		acc, err := store.AccountByName(ctx, name)
		if err != nil || acc.ParentID != admin.AccountID {
			t.Fatalf("run %d: account %q: %+v, %v; want it under the admin's account %d", run+1, name, acc, err, admin.AccountID)
		}
		sc, err := store.ScopeOf(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := store.ContactCounts(ctx, sc)
		if err != nil || counts.Active+counts.Locked != bulk.Contacts || len(sc.Accounts()) != bulk.Accounts {
			t.Fatalf("run %d: %d accounts with counts %+v (%v), want %d accounts with %d contacts",
				run+1, len(sc.Accounts()), counts, err, bulk.Accounts, bulk.Contacts)
		}
		locked, err := store.ListContacts(ctx, sc, db.ListQuery{Status: db.StatusLocked, Limit: bulk.Contacts})
		if err != nil {
			t.Fatal(err)
		}
		byAdmin := 0
		for _, r := range locked.Rows {
			if r.LockReason != db.LockedByAdmin {
				continue
			}
			byAdmin++
			if r.LockedByName != "Maria Anders" {
				t.Errorf("run %d: %s locked by %q, want Maria Anders", run+1, r.Name(), r.LockedByName)
			}
		}
		if byAdmin == 0 {
			t.Errorf("run %d: no generated contact is locked by an admin, want about 3%%", run+1)
		}
	}
}
