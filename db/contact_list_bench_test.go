package db_test

import (
	"context"
	"testing"

	"portal/db"
)

// BenchmarkListContactsBranches isolates what a multi-account scope costs the list query:
// a page of a whole ten-account company (one range of the company index), of one of its
// accounts (one range of the account index), and of ten accounts below the top level of
// another company (ten ranges merged).
func BenchmarkListContactsBranches(b *testing.B) {
	ctx := context.Background()
	store, sc := populated(b, 200_000, 10)
	one, err := store.ScopeOf(ctx, sc.Accounts()[1].ID)
	if err != nil {
		b.Fatal(err)
	}
	partStore, part := populatedBelow(b, 200_000, 10)
	for _, tc := range []struct {
		name  string
		store *db.Store
		scope db.Scope
	}{{"company-of-10-accounts", store, sc}, {"1-account", store, one}, {"10-accounts-below-the-top", partStore, part}} {
		store := tc.store
		b.Run(tc.name+"/list", func(b *testing.B) {
			for b.Loop() {
				if _, err := store.ListContacts(ctx, tc.scope, db.ListQuery{Limit: 25}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/counts", func(b *testing.B) {
			for b.Loop() {
				if _, err := store.ContactCounts(ctx, tc.scope); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/scope", func(b *testing.B) {
			for b.Loop() {
				if _, err := store.ScopeOf(ctx, tc.scope.Root().ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListContactsSQL runs only the page statement of a first page (ids in order),
// without the Go around it and without reading the rows' columns.
func BenchmarkListContactsSQL(b *testing.B) {
	ctx := context.Background()
	store, sc := populated(b, 200_000, 10)
	one, _ := store.ScopeOf(ctx, sc.Accounts()[1].ID)
	for _, tc := range []struct {
		name  string
		scope db.Scope
	}{{"company-of-10-accounts", sc}, {"1-account", one}} {
		query, args, err := store.ListStatement(ctx, tc.scope, db.ListQuery{Limit: 25})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if n, err := store.RunForTest(query, args...); err != nil || n != 26 {
					b.Fatal(n, err)
				}
			}
		})
	}
}
