package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"portal/db"
)

// Scale is how much Populate adds.
type Scale struct {
	Contacts int    // contacts to add, spread evenly over the accounts
	Accounts int    // accounts to create (at least 1): a root and Accounts-1 children of it
	Parent   int64  // the root goes under this account; 0 makes it a new top-level company
	Prefix   string // names the accounts ("Fabrikam", "Fabrikam Division 2", ...); default "Fabrikam"
}

// Population is what Populate created.
type Population struct {
	Root     db.Account
	Accounts []db.Account // Root first
}

// Populate adds accounts and contacts in bulk for benchmarks and load tests: realistic
// names (some non-ASCII), about 3% locked by an admin (none recorded as the locker) and 1%
// locked after failed logins, last logins spread over the past year (a tenth never logged
// in), some incident contacts. Nobody it creates has a password. It is deterministic apart
// from the ids it starts at. It is fast into a database without contacts: see
// db.Tx.BulkInsertContacts.
func Populate(ctx context.Context, store *db.Store, sc Scale) (Population, error) {
	if sc.Accounts < 1 {
		sc.Accounts = 1
	}
	if sc.Prefix == "" {
		sc.Prefix = "Fabrikam"
	}
	var pop Population
	for i := 0; i < sc.Accounts; i++ {
		name, parent := sc.Prefix, sc.Parent
		if i > 0 {
			name, parent = fmt.Sprintf("%s Division %d", sc.Prefix, i+1), pop.Root.ID
		}
		a, err := store.CreateAccount(ctx, name, parent)
		if err != nil {
			return Population{}, fmt.Errorf("demo: populate: %w", err)
		}
		if i == 0 {
			pop.Root = a
		}
		pop.Accounts = append(pop.Accounts, a)
	}

	// Emails carry a number past every existing id, so that repeated runs never collide.
	next, err := store.MaxContactID(ctx)
	if err != nil {
		return Population{}, err
	}
	next++
	now := store.Now()
	domains := make([]string, len(pop.Accounts))
	for i, a := range pop.Accounts {
		domains[i] = strings.ReplaceAll(ascii(a.Name), " ", "-")
	}
	asciiFirst, asciiLast := make([]string, len(bulkFirstNames)), make([]string, len(bulkLastNames))
	for i, n := range bulkFirstNames {
		asciiFirst[i] = ascii(n)
	}
	for i, n := range bulkLastNames {
		asciiLast[i] = ascii(n)
	}
	// One transaction for the whole load: the bulk insert rebuilds indexes once per call.
	rows := func(yield func(db.BulkContact) bool) {
		// Seeded here, so that a run again (PostgreSQL) makes the same contacts.
		rng := rand.New(rand.NewPCG(uint64(sc.Contacts), uint64(sc.Accounts)))
		for i := 0; i < sc.Contacts; i++ {
			acc := i % len(pop.Accounts)
			f, l := rng.IntN(len(bulkFirstNames)), rng.IntN(len(bulkLastNames))
			first, last := bulkFirstNames[f], bulkLastNames[l]
			c := db.BulkContact{ContactFields: db.ContactFields{AccountID: pop.Accounts[acc].ID, FirstName: first, LastName: last, Email: fmt.Sprintf("%s.%s.%d@%s.example", asciiFirst[f], asciiLast[l], next+int64(i), domains[acc]), Phone: fmt.Sprintf("+1 555 %03d %04d", rng.IntN(1000), rng.IntN(10000)), JobTitle: jobTitles[rng.IntN(len(jobTitles))]}}
			switch r := rng.IntN(100); {
			case r < 3:
				c.LockReason = db.LockedByAdmin
			case r < 4:
				c.LockReason, c.FailedLogins = db.LockedByFailedLogins, 10
			}
			if rng.IntN(10) > 0 {
				c.LastLoginAt = now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
			}
			if rng.IntN(20) == 0 {
				c.Roles = []db.Role{db.RoleIncidentContact}
			}
			if !yield(c) {
				return
			}
		}
	}
	if err := store.Write(ctx, func(tx *db.Tx) error { return tx.BulkInsertContacts(ctx, rows) }); err != nil {
		return Population{}, fmt.Errorf("demo: populate: %w", err)
	}
	if err := store.Analyze(ctx); err != nil {
		return Population{}, err
	}
	return pop, nil
}

// bulkFirstNames and bulkLastNames give about 4,000 distinct names, a sixth of them with
// letters outside ASCII, so that sorting, search and exports meet what real data holds.
var bulkFirstNames = []string{
	"Anna", "Łukasz", "Zoë", "Jürgen", "Søren", "Chloé", "Mateo", "Aiko", "Olga", "Priya",
	"Tomáš", "Inès", "Björn", "Fatima", "Kwame", "Léa", "Nikolai", "Sinéad", "Hiroshi", "Ewa",
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
	"Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ashley",
	"Wei", "Mei", "Arjun", "Sofia", "Lucas", "Emma", "Noah", "Olivia", "Liam", "Amelia",
	"Ahmed", "Yusuf", "Elif", "Mehmet", "Chiara", "Giulia", "Pierre", "Camille", "Javier", "Lucía",
}

var bulkLastNames = []string{
	"Kowalski", "Müller", "Ærø", "Dubois", "Novák", "García", "Tanaka", "Ivanova", "Sharma", "Škoda",
	"O'Brien", "Lindqvist", "Mensah", "Haddad", "Nielsen", "Rossi", "Fernández", "Wójcik", "Yamamoto", "Brennan",
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
	"Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
	"Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
	"Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Wagner", "Hoffmann", "Schäfer", "Koch", "Richter",
}
