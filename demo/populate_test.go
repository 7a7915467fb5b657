package demo_test

import (
	"context"
	"path/filepath"
	"testing"

	"portal/auth"
	"portal/db"
	"portal/demo"
)

func openStore(t testing.TB) *db.Store {
	t.Helper()
	store, err := db.Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestPopulate(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
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
		store := openStore(b)
		if _, err := demo.Populate(context.Background(), store, demo.Scale{Contacts: 100_000, Accounts: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPopulate1M10(b *testing.B) {
	for b.Loop() {
		store := openStore(b)
		if _, err := demo.Populate(context.Background(), store, demo.Scale{Contacts: 1_000_000, Accounts: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSeedShowsLockedContacts(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	email, password, err := demo.Seed(ctx, store, auth.NewHasher(auth.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}, 2))
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
