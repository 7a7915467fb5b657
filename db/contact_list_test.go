package db_test

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/db/testdb"
	"portal/demo"
)

// populated is a SQLite store with a company of contacts in accounts, made by the demo's
// bulk population: the plan tests and the benchmarks read it.
func populated(t testing.TB, contacts, accounts int) (*db.Store, db.Scope) {
	t.Helper()
	store := openStore(t)
	return store, populate(t, store, demo.Scale{Contacts: contacts, Accounts: accounts})
}

// populatedBelow is populated, but the accounts hang below a top-level company that has
// contacts of its own elsewhere: the scope is part of a company, which ListContacts reads by
// merging its accounts' index ranges, not from the company's.
func populatedBelow(t testing.TB, contacts, accounts int) (*db.Store, db.Scope) {
	t.Helper()
	ctx := context.Background()
	store := openStore(t)
	holding, err := store.CreateAccount(ctx, "Holding", 0)
	if err != nil {
		t.Fatal(err)
	}
	// The population first, into the empty table, where a bulk load is fast.
	sc := populate(t, store, demo.Scale{Contacts: contacts, Accounts: accounts, Parent: holding.ID})
	populate(t, store, demo.Scale{Contacts: 500, Accounts: 1, Parent: holding.ID, Prefix: "Holding Staff"})
	return store, sc
}

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

// populate adds the population and returns the scope of its root account.
func populate(t testing.TB, store *db.Store, scale demo.Scale) db.Scope {
	t.Helper()
	ctx := context.Background()
	pop, err := demo.Populate(ctx, store, scale)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.ScopeOf(ctx, pop.Root.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// sortedBy is the order a sort promises, computed independently of the SQL.
func sortedBy(sort string) func(a, b db.ListRow) int {
	return func(a, b db.ListRow) int {
		switch sort {
		case db.SortEmail:
			return cmp.Or(strings.Compare(db.EmailKey(a.Email), db.EmailKey(b.Email)), cmp.Compare(a.ID, b.ID))
		case db.SortLastLogin:
			return cmp.Or(b.LastLoginAt.Compare(a.LastLoginAt), cmp.Compare(b.ID, a.ID))
		case db.SortAccount:
			if c := strings.Compare(db.FoldKey(a.AccountName), db.FoldKey(b.AccountName)); c != 0 {
				return c
			}
		}
		return cmp.Or(strings.Compare(db.NameKey(a.FirstName, a.LastName), db.NameKey(b.FirstName, b.LastName)),
			cmp.Compare(a.ID, b.ID))
	}
}

func ids(rows []db.ListRow) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

// populatedOn is a store of engine e with a company of contacts (people) in accounts, and
// the company's scope. With below, the company hangs below a top-level one that has 500
// contacts of its own elsewhere: the scope is part of a company, which ListContacts reads by
// merging its accounts' index ranges, not from the company's.
func populatedOn(t testing.TB, e testdb.Engine, contacts, accounts int, below bool) (*db.Store, db.Scope) {
	t.Helper()
	store := openStoreOn(t, e)
	var parent int64
	var rows []db.BulkContact
	if below {
		holding := company(t, store, "Holding", 1, 0)
		parent = holding[0].ID
		staff := company(t, store, "Holding Staff", 1, parent)
		rows = people(500, staff, store.Now(), contacts)
	}
	accs := company(t, store, "Fabrikam", accounts, parent)
	addContacts(t, store, append(people(contacts, accs, store.Now(), 0), rows...))
	sc, err := store.ScopeOf(context.Background(), accs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return store, sc
}

func TestListContactsPagesWithoutGapsOrDuplicates(t *testing.T) {
	searches := []string{"", "an", "Müller", "example"}
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		t.Run("a whole company, one index range", func(t *testing.T) {
			t.Parallel()
			store, sc := populatedOn(t, e, 3000, 3, false)
			testPaging(t, store, sc, 3000, searches...)
		})
		t.Run("part of a company, one branch per account", func(t *testing.T) {
			t.Parallel()
			store, sc := populatedOn(t, e, 3000, 3, true)
			testPaging(t, store, sc, 3000, searches...)
		})
		t.Run("part of a company of more accounts than are merged, one query", func(t *testing.T) {
			t.Parallel()
			store, sc := populatedOn(t, e, 3000, db.MaxMergedAccounts+1, true)
			testPaging(t, store, sc, 3000, searches...)
		})
	})
}

// TestSearchWhoseWalkFallsShort: a common word whose matches all lie further down every
// sort order than a search walks (db.SearchWalkRows rows of each section come first) is
// found by collecting its matches instead, page by page, in a whole company, in part of one
// and account by account.
func TestSearchWhoseWalkFallsShort(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testSearchWhoseWalkFallsShort(t, e)
	})
}

func testSearchWhoseWalkFallsShort(t *testing.T, e testdb.Engine) {
	ctx := context.Background()
	store := openStoreOn(t, e)
	// Holding > Middle > Alpha and Zeta: Holding's scope is a whole company, Middle's is not.
	var accounts []db.Account
	for _, a := range []struct {
		name   string
		parent int // index in accounts; -1 for the top
	}{{"Holding", -1}, {"Middle", 0}, {"Alpha", 1}, {"Zeta", 1}} {
		var parentID int64
		if a.parent >= 0 {
			parentID = accounts[a.parent].ID
		}
		acc, err := store.CreateAccount(ctx, a.name, parentID)
		if err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, acc)
	}
	alpha, zeta := accounts[2], accounts[3]
	ahead, zulus := db.SearchWalkRows+500, 600 // per section; 1,200 matches are more than SearchCountCap
	now := store.Now()
	rows := make([]db.BulkContact, 2*(ahead+zulus))
	for i := range rows {
		// Alpha's Aaron Abbotts, who logged in lately, come before Zeta's Zora Zulus, who
		// never did, in every order.
		c := db.BulkContact{ContactFields: db.ContactFields{AccountID: alpha.ID, FirstName: "Aaron", LastName: "Abbott", Email: fmt.Sprintf("aaron.abbott%d@alpha.example", i)}, LastLoginAt: now.Add(-time.Duration(i) * time.Minute)}
		if i >= 2*ahead {
			c = db.BulkContact{ContactFields: db.ContactFields{AccountID: zeta.ID, FirstName: "Zora", LastName: "Zulu", Email: fmt.Sprintf("zora.zulu%d@zeta.example", i)}}
		}
		if i%2 == 1 {
			c.LockReason = db.LockedByAdmin
		}
		rows[i] = c
	}
	addContacts(t, store, rows)
	for _, root := range accounts[:2] {
		sc, err := store.ScopeOf(ctx, root.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(root.Name, func(t *testing.T) { testPaging(t, store, sc, 2*(ahead+zulus), "zulu") })
	}
}

// testPaging lists every section of sc (total contacts) in every order, whole and page by
// page in both directions, with each of searches, and checks the pages against each other,
// the counts and the order the sort promises.
func testPaging(t *testing.T, store *db.Store, sc db.Scope, total int, searches ...string) {
	ctx := context.Background()
	counts, err := store.ContactCounts(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Active+counts.Locked != total || counts.Locked == 0 {
		t.Fatalf("got counts %+v, want %d in all with some locked", counts, total)
	}
	for _, search := range searches {
		for _, status := range []string{db.StatusActive, db.StatusLocked} {
			for _, sort := range db.Sorts {
				name := strings.Join([]string{status, sort, search}, "/")
				all, err := store.ListContacts(ctx, sc, db.ListQuery{Status: status, Sort: sort, Search: search, Limit: 100_000})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := slices.Clone(all.Rows)
				slices.SortFunc(want, sortedBy(sort))
				if !slices.Equal(ids(all.Rows), ids(want)) {
					t.Fatalf("%s: rows out of order", name)
				}
				for _, r := range all.Rows {
					if r.Status != status {
						t.Fatalf("%s: contact %d has status %s", name, r.ID, r.Status)
					}
				}
				if search != "" {
					// Every contact of the section whose words start with the typed ones, and
					// no other: checked against the listing without a search.
					everyone, err := store.ListContacts(ctx, sc, db.ListQuery{Status: status, Sort: sort, Limit: 100_000})
					if err != nil {
						t.Fatal(err)
					}
					needle := strings.TrimRight(db.SearchText(search, "", ""), " ")
					var matching []int64
					for _, r := range everyone.Rows {
						if strings.Contains(db.SearchText(r.FirstName, r.LastName, r.Email), needle) {
							matching = append(matching, r.ID)
						}
					}
					if len(matching) == 0 || !slices.Equal(ids(all.Rows), matching) {
						t.Fatalf("%s: got %d rows, want the %d contacts whose words start with %q", name, len(all.Rows), len(matching), needle)
					}
				}
				if search == "" {
					wantN := counts.Active
					if status == db.StatusLocked {
						wantN = counts.Locked
					}
					if len(all.Rows) != wantN {
						t.Fatalf("%s: got %d rows, want the count %d", name, len(all.Rows), wantN)
					}
				}

				// Forward, page by page.
				var forward []int64
				q := db.ListQuery{Status: status, Sort: sort, Search: search, Limit: 37}
				var last db.Page
				for pages := 0; ; pages++ {
					p, err := store.ListContacts(ctx, sc, q)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					forward = append(forward, ids(p.Rows)...)
					last = p
					if p.NextID == 0 {
						break
					}
					if pages > 200 {
						t.Fatalf("%s: paging does not end", name)
					}
					q.After = p.NextID
				}
				if !slices.Equal(forward, ids(all.Rows)) {
					t.Fatalf("%s: forward paging got %d ids, want %d in the same order", name, len(forward), len(all.Rows))
				}
				// And back from the last page.
				backward := ids(last.Rows)
				q = db.ListQuery{Status: status, Sort: sort, Search: search, Limit: 37, Before: last.PrevID}
				for q.Before != 0 {
					p, err := store.ListContacts(ctx, sc, q)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					backward = append(ids(p.Rows), backward...)
					q.Before = p.PrevID
				}
				if !slices.Equal(backward, ids(all.Rows)) {
					t.Fatalf("%s: backward paging got %d ids, want %d in the same order", name, len(backward), len(all.Rows))
				}
			}
		}
	}
}

// TestSearchQueryIsAlwaysValid: nothing typed reaches either engine's search as syntax.
func TestSearchQueryIsAlwaysValid(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testSearchQueryIsAlwaysValid(t, e)
	})
}

func testSearchQueryIsAlwaysValid(t *testing.T, e testdb.Engine) {
	ctx := context.Background()
	store, sc := populatedOn(t, e, 200, 1, false)
	for _, input := range []string{`"`, `""`, `anna"`, `NEAR(anna`, `*`, `-`, `anna -kow`, `(`, `)`, `a:b`,
		`first_name:anna`, `AND`, `OR anna`, `NOT`, `^anna`, `anna*`, `'`, `\`, `<img src=x onerror=alert(1)>`,
		"\x00", "é", "Zoë Ærø", `%`, `_`, `a%b`, `a_b`, `100%`, `\%`, `$1`, `?`, `?1`, `::text`, strings.Repeat("a", 5000), strings.Repeat("a ", 500)} {
		for _, sort := range db.Sorts {
			if _, err := store.ListContacts(ctx, sc, db.ListQuery{Search: input, Sort: sort}); err != nil {
				t.Errorf("search %q: %v", input, err)
			}
		}
	}
	if got, want := db.SearchQuery(`Zoë "x" NEAR( anna.k@north`), `"zoe"* "x"* "near"* "anna k north"*`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSearchFindsNamesWithoutDiacriticsAndEmails(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testSearchFindsNamesWithoutDiacriticsAndEmails(t, e)
	})
}

func testSearchFindsNamesWithoutDiacriticsAndEmails(t *testing.T, e testdb.Engine) {
	ctx := context.Background()
	store, sc := populatedOn(t, e, 2000, 2, false)
	for _, tc := range []struct{ search, want string }{{"zoe", "Zoë"}, {"lukasz", "Łukasz"}, {"muller", "Müller"}, {"mul", "Müller"}} {
		p, err := store.ListContacts(ctx, sc, db.ListQuery{Search: tc.search, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Rows) == 0 {
			t.Errorf("search %q found nothing", tc.search)
		}
		for _, r := range p.Rows {
			if !strings.Contains(r.Name(), tc.want) {
				t.Errorf("search %q found %q, want names with %q", tc.search, r.Name(), tc.want)
			}
		}
	}
}
