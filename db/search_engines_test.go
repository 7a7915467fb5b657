package db_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"portal/db"
	"portal/db/testdb"
)

// searchFixture is the same data on one engine: Northwind Traders (a company with Retail,
// and Logistics with Logistics North below it) holding the people the search table looks
// for and a crowd of generated ones, and Contoso, another company with namesakes of them.
type searchFixture struct {
	store *db.Store
	// company is Northwind's scope (one range of the company's index); part is Logistics
	// and its child (merged ranges of its accounts).
	company, part db.Scope
	emails        map[int64]string // every contact's email by id
}

// searchPeople are the contacts the search table is about: accents, letters that are spelled
// out when folded, scripts without case, names inside other names, emails of every shape.
// Account is an index into the fixture's accounts; locked ones are locked by an admin.
var searchPeople = []struct {
	first, last, email string
	account            int
	locked             bool
}{
	{"Zoë", "Ærø", "zoe.aero@northwind.example", 1, false},
	{"Zoe", "Adams", "zadams@northwind.example", 2, false},
	{"Łukasz", "Kowalski", "lukasz.kowalski@northwind.example", 2, false},
	{"Anna", "Kowalska", "anna.k@northwind.example", 0, false},
	{"Anna", "Karlsson", "anna.karlsson@northwind.example", 1, true},
	{"Annabel", "Lee", "annabel@northwind.example", 3, false},
	{"Hanna", "Berg", "hanna.berg@northwind.example", 3, false},
	{"Tomáš", "Škoda", "tomas.skoda@northwind.example", 2, false},
	{"Jan", "Skoda", "jan.skoda@northwind.example", 3, true},
	{"太郎", "東京", "taro@northwind.example", 1, false},
	{"花子", "東", "hanako@northwind.example", 2, false},
	{"Jürgen", "Müller", "juergen.mueller@northwind.example", 0, false},
	{"Karl", "Muller", "karl.muller@northwind.example", 2, false},
	{"Ola", "Mueller", "ola@mueller.northwind.example", 3, false},
	{"Søren", "Ørsted", "soren@northwind.example", 3, false},
	{"Siobhán", "O'Brien", "s.obrien+portal@northwind.example", 1, false},
	{"Grete", "Straße", "grete.strasse@northwind.example", 2, false},
	{"Иван", "Петров", "ivan.petrov@northwind.example", 3, false},
	{"Anna", "Kowalska", "anna.k@contoso.example", 4, false},
	{"Zoë", "Ærø", "zoe.aero@contoso.example", 4, false},
}

// searchTable is what people type into the search box: names, emails and their parts,
// prefixes, accents and their folded spellings, other scripts, several words at once, and
// input with nothing searchable or with SQL and LIKE syntax in it.
var searchTable = []string{
	"zoe", "Zoë", "ZOË", "zoe ærø", "ærø", "aero", "AERO", "ae",
	"lukasz", "Łukasz", "łuk", "kowalsk", "Kowalski", "kowalska anna", "anna kowalska",
	"anna", "ANNA", "ann", "anna k", "anna.k", "anna.k@north", "annab", "hanna", "nna",
	"skoda", "Škoda", "ško", "tomas skoda", "東京", "東", "京", "太郎 東京", "taro",
	"muller", "müller", "mueller", "mu", "jurgen", "jürgen müller",
	"soren", "søren", "ørsted", "orsted", "o'brien", "obrien", "brien", "s.obrien+portal",
	"strasse", "straße", "strass", "Иван", "петров",
	"@northwind", "northwind.example", "@northwind.example", "mueller.northwind", "example", "e", "z",
	"nobody", "zz", "   ", "@", "%", "_", "a%", "'; DROP TABLE contacts; --",
}

func newSearchFixture(t *testing.T, e testdb.Engine) searchFixture {
	t.Helper()
	ctx := context.Background()
	store := openStoreOn(t, e)
	northwind := company(t, store, "Northwind Traders", 1, 0)[0]
	retail, err := store.CreateAccount(ctx, "Northwind Retail", northwind.ID)
	if err != nil {
		t.Fatal(err)
	}
	logistics, err := store.CreateAccount(ctx, "Northwind Logistics", northwind.ID)
	if err != nil {
		t.Fatal(err)
	}
	north, err := store.CreateAccount(ctx, "Northwind Logistics North", logistics.ID)
	if err != nil {
		t.Fatal(err)
	}
	contoso := company(t, store, "Contoso", 1, 0)[0]
	accounts := []db.Account{northwind, retail, logistics, north, contoso}

	var rows []db.BulkContact
	for _, p := range searchPeople {
		c := db.BulkContact{ContactFields: db.ContactFields{AccountID: accounts[p.account].ID, FirstName: p.first,
			LastName: p.last, Email: p.email}}
		if p.locked {
			c.LockReason = db.LockedByAdmin
		}
		rows = append(rows, c)
	}
	// More contacts than SearchCountCap match "example", so that a common word is walked in
	// list order and a rare one found through the search index.
	rows = append(rows, people(db.SearchCountCap+200, accounts[:4], store.Now(), 0)...)
	addContacts(t, store, rows)

	f := searchFixture{store: store, emails: map[int64]string{}}
	if f.company, err = store.ScopeOf(ctx, northwind.ID); err != nil {
		t.Fatal(err)
	}
	if f.part, err = store.ScopeOf(ctx, logistics.ID); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []db.Scope{f.company, contosoScope(t, store, contoso)} {
		for _, status := range []string{db.StatusActive, db.StatusLocked} {
			p, err := store.ListContacts(ctx, sc, db.ListQuery{Status: status, Limit: 100_000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Rows {
				f.emails[r.ID] = r.Email
			}
		}
	}
	if len(f.emails) != len(rows) {
		t.Fatalf("%s: listed %d contacts, want the %d inserted", e, len(f.emails), len(rows))
	}
	return f
}

func contosoScope(t *testing.T, store *db.Store, contoso db.Account) db.Scope {
	t.Helper()
	sc, err := store.ScopeOf(context.Background(), contoso.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// searchResult is everything a search shows in one section, one sort order: the counts, the
// whole list in one page, and the ids page by page forwards and then backwards from the end.
type searchResult struct {
	counts   db.SectionCounts
	all      []int64
	forward  []int64
	backward []int64
}

func runSearch(t *testing.T, store *db.Store, sc db.Scope, status, sort, search string) searchResult {
	t.Helper()
	ctx := context.Background()
	all, err := store.ListContacts(ctx, sc, db.ListQuery{Status: status, Sort: sort, Search: search, Limit: 100_000})
	if err != nil {
		t.Fatalf("search %q (%s, %s): %v", search, status, sort, err)
	}
	r := searchResult{counts: all.Counts, all: ids(all.Rows)}
	const limit = 40
	q := db.ListQuery{Status: status, Sort: sort, Search: search, Limit: limit}
	var last db.Page
	for pages := 0; ; pages++ {
		p, err := store.ListContacts(ctx, sc, q)
		if err != nil {
			t.Fatalf("search %q (%s, %s): %v", search, status, sort, err)
		}
		if p.Counts != all.Counts {
			t.Fatalf("search %q (%s, %s): a page counts %+v, the whole list %+v", search, status, sort, p.Counts, all.Counts)
		}
		r.forward, last = append(r.forward, ids(p.Rows)...), p
		if p.NextID == 0 || pages > len(all.Rows)/limit+1 {
			break
		}
		q.After = p.NextID
	}
	r.backward = ids(last.Rows)
	q = db.ListQuery{Status: status, Sort: sort, Search: search, Limit: limit, Before: last.PrevID}
	for pages := 0; q.Before != 0 && pages <= len(all.Rows)/limit+1; pages++ {
		p, err := store.ListContacts(ctx, sc, q)
		if err != nil {
			t.Fatalf("search %q (%s, %s): %v", search, status, sort, err)
		}
		r.backward, q.Before = append(ids(p.Rows), r.backward...), p.PrevID
	}
	return r
}

// TestSearchAgreesOnBothEngines types every search of searchTable into both sections of a
// whole company and of part of one, in every sort order, on SQLite and on PostgreSQL holding
// the same contacts: both must show the same contacts in the same order, whole and page by
// page in both directions, with the same counts; and what they show must be the contacts of
// the scope and section whose words start with the typed ones, found here without SQL.
func TestSearchAgreesOnBothEngines(t *testing.T) {
	t.Parallel()
	sqlite, postgres := newSearchFixture(t, testdb.SQLite), newSearchFixture(t, testdb.Postgres)
	if !maps.Equal(sqlite.emails, postgres.emails) {
		t.Fatal("the engines gave the same contacts different ids: orders that break ties by id can't be compared")
	}
	ctx := context.Background()
	for _, scope := range []struct {
		name       string
		sqlite, pg db.Scope
	}{{"whole company", sqlite.company, postgres.company}, {"part of a company", sqlite.part, postgres.part}} {
		for _, status := range []string{db.StatusActive, db.StatusLocked} {
			t.Run(scope.name+"/"+status, func(t *testing.T) {
				t.Parallel()
				everyone, err := sqlite.store.ListContacts(ctx, scope.sqlite, db.ListQuery{Status: status, Limit: 100_000})
				if err != nil {
					t.Fatal(err)
				}
				for _, search := range searchTable {
					// The contacts the search must find, worked out from their names and emails:
					// each typed word, folded, starts a run of a contact's folded words. With
					// nothing searchable typed, the section lists everyone.
					searching := db.SearchQuery(search) != ""
					var want []db.ListRow
					for _, r := range everyone.Rows {
						text := db.SearchText(r.FirstName, r.LastName, r.Email)
						match := true
						for _, typed := range strings.Fields(search) {
							// The typed word's phrase: its folded words, "anna.k" → " anna k".
							if p := strings.Trim(db.SearchQuery(typed), `"*`); p != "" && !strings.Contains(text, " "+p) {
								match = false
							}
						}
						if match || !searching {
							want = append(want, r)
						}
					}
					for _, sort := range db.Sorts {
						name := fmt.Sprintf("%s/%q", sort, search)
						got := runSearch(t, sqlite.store, scope.sqlite, status, sort, search)
						gotPG := runSearch(t, postgres.store, scope.pg, status, sort, search)

						wantSorted := slices.Clone(want)
						slices.SortFunc(wantSorted, sortedBy(sort))
						if !slices.Equal(got.all, ids(wantSorted)) {
							t.Errorf("%s: SQLite shows %v, want %v", name, sqlite.named(got.all), sqlite.named(ids(wantSorted)))
						}
						for _, dir := range []struct {
							what      string
							got, want []int64
						}{{"the whole list", gotPG.all, got.all}, {"forward", gotPG.forward, got.forward},
							{"backward", gotPG.backward, got.backward}, {"SQLite forward", got.forward, got.all},
							{"SQLite backward", got.backward, got.all}} {
							if !slices.Equal(dir.got, dir.want) {
								t.Errorf("%s, %s: PostgreSQL shows %v, SQLite %v", name, dir.what, sqlite.named(dir.got), sqlite.named(dir.want))
							}
						}
						wantCounts := got.counts
						if searching && !wantCounts.AtLeast {
							if n := len(want); n != section(wantCounts, status) {
								t.Errorf("%s: SQLite counts %+v, want %d in the section", name, wantCounts, n)
							}
						}
						if gotPG.counts.AtLeast != wantCounts.AtLeast ||
							!wantCounts.AtLeast && gotPG.counts != wantCounts ||
							wantCounts.AtLeast && gotPG.counts.Active+gotPG.counts.Locked != wantCounts.Active+wantCounts.Locked {
							t.Errorf("%s: PostgreSQL counts %+v, SQLite %+v", name, gotPG.counts, wantCounts)
						}
					}
				}
			})
		}
	}
}

func section(c db.SectionCounts, status string) int {
	if status == db.StatusLocked {
		return c.Locked
	}
	return c.Active
}

// named shows ids by their emails, for failure messages.
func (f searchFixture) named(list []int64) []string {
	out := make([]string, len(list))
	for i, id := range list {
		out[i] = f.emails[id]
	}
	if len(out) > 12 {
		out = append(out[:12], fmt.Sprintf("... (%d in all)", len(list)))
	}
	return out
}
