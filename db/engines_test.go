package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/db/testdb"
)

// openStoreOn opens a fresh, migrated store of engine e, closed when t ends.
func openStoreOn(t testing.TB, e testdb.Engine, opts ...db.Option) *db.Store {
	t.Helper()
	store, err := db.Open(testdb.New(t, e), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

// addContacts inserts rows in one transaction: through the bulk loader on SQLite, with plain
// INSERTs on PostgreSQL until the bulk loader runs there. Either way the rows get ids in their order.
func addContacts(t testing.TB, store *db.Store, rows []db.BulkContact) {
	t.Helper()
	ctx := context.Background()
	err := store.Write(ctx, func(tx *db.Tx) error {
		if store.Postgres() {
			return tx.InsertContactsPlain(ctx, rows)
		}
		return tx.BulkInsertContacts(ctx, func(yield func(db.BulkContact) bool) {
			for _, r := range rows {
				if !yield(r) {
					return
				}
			}
		})
	})
	if err != nil {
		t.Fatalf("add %d contacts: %v", len(rows), err)
	}
	// As after a bulk load (which ends with it) or autovacuum: PostgreSQL's planner without
	// statistics reads a whole scope to join a page of ids to it.
	if err := store.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
}

// company creates a top-level account (under parent, when not 0) named name and accounts-1
// children of it ("name Division 2", ...), as demo.Populate does, and returns them, the root
// first.
func company(t testing.TB, store *db.Store, name string, accounts int, parent int64) []db.Account {
	t.Helper()
	ctx := context.Background()
	var list []db.Account
	for i := range accounts {
		n, p := name, parent
		if i > 0 {
			n, p = fmt.Sprintf("%s Division %d", name, i+1), list[0].ID
		}
		a, err := store.CreateAccount(ctx, n, p)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, a)
	}
	return list
}

// people makes n contacts spread over accounts, deterministically: names from lists with
// letters outside ASCII (a sixth of them), about 3% locked by an admin and 1% after failed
// logins, last logins over the past year (a tenth never logged in, so last login ties), a
// twentieth incident contacts. Emails are unique among all calls with different first.
func people(n int, accounts []db.Account, now time.Time, first int) []db.BulkContact {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(accounts))))
	rows := make([]db.BulkContact, n)
	for i := range rows {
		acc := accounts[i%len(accounts)]
		f, l := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		domain := strings.ToLower(strings.ReplaceAll(acc.Name, " ", "-"))
		c := db.BulkContact{ContactFields: db.ContactFields{AccountID: acc.ID, FirstName: f, LastName: l,
			Email: fmt.Sprintf("%s.%s.%d@%s.example", asciiName(f), asciiName(l), first+i, domain)}}
		switch r := rng.IntN(100); {
		case r < 3:
			c.LockReason = db.LockedByAdmin
		case r < 4:
			c.LockReason, c.FailedLogins = db.LockedByFailedLogins, 10
		}
		if rng.IntN(10) > 0 {
			c.LastLoginAt = now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
		}
		if rng.IntN(20) == 0 {
			c.Roles = []db.Role{db.RoleIncidentContact}
		}
		rows[i] = c
	}
	return rows
}

var (
	firstNames = []string{"Anna", "Łukasz", "Zoë", "Jürgen", "Søren", "Chloé", "Mateo", "Aiko", "Olga", "Priya",
		"Tomáš", "Inès", "Björn", "Fatima", "Kwame", "Léa", "James", "Mary", "Robert", "Patricia", "John",
		"Jennifer", "Michael", "Linda", "David", "Wei", "Mei", "Arjun", "Sofia", "Lucas", "Emma", "太郎"}
	lastNames = []string{"Kowalski", "Müller", "Ærø", "Dubois", "Novák", "García", "Tanaka", "Ivanova", "Sharma",
		"Škoda", "O'Brien", "Lindqvist", "Mensah", "Nielsen", "Rossi", "Wójcik", "Smith", "Johnson", "Williams",
		"Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Schmidt", "Schäfer", "東京"}
)

// asciiName is a name as an email's local part spells it: folded, letters and digits only
// ("x" when none is left, as of 東京).
func asciiName(s string) string {
	var b strings.Builder
	for _, r := range db.NameKey(s, "") {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}
