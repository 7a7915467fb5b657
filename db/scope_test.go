package db

import (
	"context"
	"path/filepath"
	"testing"
)

// TestScopeSeesAccountsAddedElsewhere: scopes are kept between requests, yet an account
// added by another process (the CLI, here a second Store on the same file) is in the very
// next scope of its ancestors, and a sibling's scope never gains it.
func TestScopeSeesAccountsAddedElsewhere(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	s, err := Open(path)
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

	cli, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	child, err := cli.CreateAccount(ctx, "Northwind Logistics", root.ID)
	cli.Close()
	if err != nil {
		t.Fatal(err)
	}

	after, err := s.ScopeOf(ctx, root.ID)
	if err != nil || len(after.Accounts()) != 2 || !after.Contains(child.ID) {
		t.Fatalf("scope after another process added %d: %+v, %v", child.ID, after.Accounts(), err)
	}
	other, err := s.ScopeOf(ctx, sibling.ID)
	if err != nil || other.Contains(child.ID) || len(other.Accounts()) != 1 {
		t.Fatalf("sibling's scope: %+v, %v", other.Accounts(), err)
	}
	if _, err := s.ScopeOf(ctx, 999); err != ErrNotFound {
		t.Fatalf("scope of a missing account: %v, want ErrNotFound", err)
	}
}
