package db

import (
	"context"
	"testing"
	"time"

	"portal/db/testdb"
)

// TestScopeSeesAccountsAddedElsewhere: scopes are kept between requests, yet an account
// added by this process is in the very next scope of its ancestors, one added by another
// process (the CLI, here a second Store on the same file) once scopeCheckInterval has
// passed, and a sibling's scope never gains either.
func TestScopeSeesAccountsAddedElsewhere(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testScopeSeesAccountsAddedElsewhere(t, e)
	})
}

func testScopeSeesAccountsAddedElsewhere(t *testing.T, e testdb.Engine) {
	ctx := context.Background()
	path := testdb.New(t, e)
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s, err := Open(path, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	root, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := s.CreateAccount(ctx, "Contoso", 0)
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.ScopeOf(ctx, root.ID)
	if err != nil || len(before.Accounts()) != 1 {
		t.Fatalf("scope before: %+v, %v", before.Accounts(), err)
	}
	if _, err := s.ScopeOf(ctx, sibling.ID); err != nil {
		t.Fatal(err)
	}

	here, err := s.CreateAccount(ctx, "Northwind Retail", root.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := s.ScopeOf(ctx, root.ID); err != nil || len(sc.Accounts()) != 2 || !sc.Contains(here.ID) {
		t.Fatalf("scope after this process added %d: %+v, %v", here.ID, sc.Accounts(), err)
	}

	cli, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	child, err := cli.CreateAccount(ctx, "Northwind Logistics", root.ID)
	cli.Close()
	if err != nil {
		t.Fatal(err)
	}

	now = now.Add(scopeCheckInterval)
	after, err := s.ScopeOf(ctx, root.ID)
	if err != nil || len(after.Accounts()) != 3 || !after.Contains(child.ID) {
		t.Fatalf("scope after another process added %d: %+v, %v", child.ID, after.Accounts(), err)
	}
	other, err := s.ScopeOf(ctx, sibling.ID)
	if err != nil || other.Contains(child.ID) || other.Contains(here.ID) || len(other.Accounts()) != 1 {
		t.Fatalf("sibling's scope: %+v, %v", other.Accounts(), err)
	}
	if _, err := s.ScopeOf(ctx, 999); err != ErrNotFound {
		t.Fatalf("scope of a missing account: %v, want ErrNotFound", err)
	}
}
