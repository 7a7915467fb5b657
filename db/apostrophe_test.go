package db_test

import (
	"context"
	"testing"

	"portal/db"
	"portal/db/testdb"
)

// TestNamesWithAnApostropheAreFoundWithout: Zoë O’Brien is found as "obrien" as well as
// "O'Brien", "o'bri" (while typing) and "brien", on both engines, also when she was stored
// before the rule (migration 98 adds the word to search texts written without it).
func TestNamesWithAnApostropheAreFoundWithout(t *testing.T) {
	if got, want := db.SearchText("Zoë", "O’Brien", "zoe@northwind.example"), " zoe o brien zoe northwind example obrien "; got != want {
		t.Errorf("search text %q, want %q", got, want)
	}
	if got, want := db.SearchText("Siobhán", "O'Brien", "s.obrien@northwind.example"), " siobhan o brien s obrien northwind example "; got != want {
		t.Errorf("search text %q, want %q: a word the email has already is not added again", got, want)
	}
	testdb.OnEachEngine(t, func(t *testing.T, engine testdb.Engine) {
		ctx := context.Background()
		store, plain := engineStore(t, engine)
		acc, err := store.CreateAccount(ctx, "Northwind Traders", 0)
		if err != nil {
			t.Fatal(err)
		}
		var zoe, dan, removed int64
		err = store.Write(ctx, func(tx *db.Tx) error {
			if zoe, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID,
				FirstName: "Zoë", LastName: "O’Brien", Email: "zoe@northwind.example"}}); err != nil {
				return err
			}
			dan, err = tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID,
				FirstName: "Dan", LastName: "D'Angelo", Email: "dan@northwind.example"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := store.ScopeOf(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		finds := func(step string, id int64, searches ...string) {
			t.Helper()
			for _, search := range searches {
				p, err := store.ListContacts(ctx, sc, db.ListQuery{Search: search})
				if err != nil || len(p.Rows) != 1 || p.Rows[0].ID != id {
					t.Errorf("%s: search %q found %d rows (%v), want contact %d alone", step, search, len(p.Rows), err, id)
				}
			}
		}
		finds("new", zoe, "obrien", "O'Brien", "o’brien", "o'bri", "obri", "brien", "zoe obrien")
		finds("new", dan, "dangelo", "D'Angelo", "angelo")

		// A removed contact, whose search text is erased and must stay so.
		err = store.Write(ctx, func(tx *db.Tx) error {
			id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID,
				FirstName: "Ola", LastName: "O'Neill", Email: "ola@northwind.example"}})
			if err != nil {
				return err
			}
			ola, err := tx.ContactByID(ctx, id)
			if err != nil {
				return err
			}
			removed = id
			return tx.RemoveContact(ctx, ola)
		})
		if err != nil {
			t.Fatal(err)
		}

		// Dan as an older portal stored him: his search text without the joined word.
		if _, err := plain.Exec(`UPDATE contacts SET search_text = ' dan d angelo dan northwind example ' WHERE id = $1`, dan); err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Exec(`DELETE FROM schema_version WHERE version = 98`); err != nil {
			t.Fatal(err)
		}
		if p, _ := store.ListContacts(ctx, sc, db.ListQuery{Search: "dangelo"}); len(p.Rows) != 0 {
			t.Fatalf("the old search text still finds %q: the test did not set it", "dangelo")
		}
		if err := store.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		finds("after migration 98", dan, "dangelo", "D'Angelo", "d'ang", "angelo")
		finds("after migration 98", zoe, "obrien")
		var text string
		if err := plain.QueryRow(`SELECT search_text FROM contacts WHERE id = $1`, removed).Scan(&text); err != nil || text != "" {
			t.Errorf("a removed contact's search text after migration 98: %q, %v; want it still erased", text, err)
		}
	})
}
