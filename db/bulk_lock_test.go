package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"testing"

	"portal/db"
	"portal/db/testdb"
)

// storedCounts reads contact_counts ("account/status" → n, rows of 0 left out) and what
// counting the contacts themselves gives, in the same form.
func storedCounts(t testing.TB, plain *sql.DB) (kept, counted map[string]int) {
	t.Helper()
	read := func(query string) map[string]int {
		rows, err := plain.Query(query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var account int64
			var status string
			var n int
			if err := rows.Scan(&account, &status, &n); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%d/%s", account, status)] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	return read(`SELECT account_id, status, n FROM contact_counts WHERE n <> 0`),
		read(`SELECT account_id, status, count(*) FROM contacts GROUP BY account_id, status`)
}

// TestSectionCountsFollowEveryStatement: the section counts stay equal to the contacts they
// count through inserts, a lock and an unlock of many contacts in one statement each, a move
// to another account, a removal, an update that changes no section, and a delete of several
// rows at once. (On PostgreSQL the counts are kept per statement, from the statement's
// changed rows; on SQLite per row.)
func TestSectionCountsFollowEveryStatement(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, engine testdb.Engine) {
		ctx := context.Background()
		store, plain := engineStore(t, engine)
		north, err := store.CreateAccount(ctx, "Northwind Traders", 0)
		if err != nil {
			t.Fatal(err)
		}
		contoso, err := store.CreateAccount(ctx, "Contoso Pharma", 0)
		if err != nil {
			t.Fatal(err)
		}
		var northIDs, contosoIDs []int64
		err = store.Write(ctx, func(tx *db.Tx) error {
			for i := range 40 {
				account, ids := north.ID, &northIDs
				if i%4 == 3 {
					account, ids = contoso.ID, &contosoIDs
				}
				id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: account,
					FirstName: "Member", LastName: fmt.Sprint(i), Email: fmt.Sprintf("m%d@northwind.example", i)}})
				if err != nil {
					return err
				}
				*ids = append(*ids, id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := func(step string, counts map[string]int) {
			t.Helper()
			kept, counted := storedCounts(t, plain)
			if !maps.Equal(kept, counted) {
				t.Errorf("%s: contact_counts holds %v, want the contacts' own counts %v", step, kept, counted)
			}
			if !maps.Equal(counted, counts) {
				t.Errorf("%s: the contacts count %v, want %v", step, counted, counts)
			}
		}
		n, c := fmt.Sprint(north.ID), fmt.Sprint(contoso.ID)
		want("created", map[string]int{n + "/active": 30, c + "/active": 10})

		err = store.Write(ctx, func(tx *db.Tx) error {
			locked, err := tx.LockContacts(ctx, append(slices.Clone(northIDs[:20]), contosoIDs[:4]...), 0, db.LockedByAdmin, 0)
			if err == nil && len(locked) != 24 {
				err = fmt.Errorf("locked %d, want 24", len(locked))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want("locked 24 in one statement", map[string]int{n + "/active": 10, n + "/locked": 20, c + "/active": 6, c + "/locked": 4})

		err = store.Write(ctx, func(tx *db.Tx) error {
			unlocked, err := tx.UnlockContacts(ctx, northIDs[:5], db.LockedByAdmin)
			if err == nil && len(unlocked) != 5 {
				err = fmt.Errorf("unlocked %d, want 5", len(unlocked))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want("unlocked 5", map[string]int{n + "/active": 15, n + "/locked": 15, c + "/active": 6, c + "/locked": 4})

		moved, err := store.ContactByID(ctx, northIDs[25])
		if err != nil {
			t.Fatal(err)
		}
		err = store.Write(ctx, func(tx *db.Tx) error {
			fields := db.ContactFields{AccountID: contoso.ID, FirstName: moved.FirstName, LastName: moved.LastName,
				Email: moved.Email}
			if err := tx.UpdateContact(ctx, moved.ID, fields); err != nil {
				return err
			}
			gone, err := tx.ContactsForChange(ctx, mustScope(t, store, contoso.ID), contosoIDs[5:6])
			if err != nil {
				return err
			}
			return tx.RemoveContact(ctx, gone[0])
		})
		if err != nil {
			t.Fatal(err)
		}
		want("moved one, removed one", map[string]int{n + "/active": 14, n + "/locked": 15, c + "/active": 6,
			c + "/locked": 4, c + "/removed": 1})

		if _, err := plain.Exec(`UPDATE contacts SET job_title = 'Field engineer'`); err != nil {
			t.Fatal(err)
		}
		want("no section changed", map[string]int{n + "/active": 14, n + "/locked": 15, c + "/active": 6,
			c + "/locked": 4, c + "/removed": 1})

		if _, err := plain.Exec(fmt.Sprintf(`DELETE FROM contacts WHERE id IN (%d, %d, %d)`,
			northIDs[0], northIDs[10], contosoIDs[9])); err != nil {
			t.Fatal(err)
		}
		want("deleted 3", map[string]int{n + "/active": 13, n + "/locked": 14, c + "/active": 5,
			c + "/locked": 4, c + "/removed": 1})
	})
}

func mustScope(t *testing.T, store *db.Store, account int64) db.Scope {
	t.Helper()
	sc, err := store.ScopeOf(context.Background(), account)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestAuditAll: AuditAll writes one row per event with every field, past the rows one
// statement takes, and nothing for no events.
func TestAuditAll(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, engine testdb.Engine) {
		ctx := context.Background()
		store, plain := engineStore(t, engine)
		north, err := store.CreateAccount(ctx, "Northwind Traders", 0)
		if err != nil {
			t.Fatal(err)
		}
		const contacts = 2345 // more than two statements' worth
		var events []db.Event
		var at int64 // the transaction's time, which every row gets
		err = store.Write(ctx, func(tx *db.Tx) error {
			for i := range contacts {
				id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: north.ID,
					FirstName: "Member", LastName: fmt.Sprint(i), Email: fmt.Sprintf("m%d@northwind.example", i)}})
				if err != nil {
					return err
				}
				events = append(events, db.Event{Action: db.ActionContactLocked, ActorID: id - int64(i), TargetID: id,
					AccountID: north.ID, Detail: fmt.Sprintf("detail %d", i), RemoteIP: "192.0.2.7"})
			}
			at = tx.Now().Unix()
			if err := tx.AuditAll(ctx, nil); err != nil {
				return err
			}
			return tx.AuditAll(ctx, events)
		})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := plain.Query(`SELECT at, action, actor_id, target_id, account_id, detail, remote_ip
				FROM audit_events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var gotAt int64
			var got db.Event
			if err := rows.Scan(&gotAt, &got.Action, &got.ActorID, &got.TargetID, &got.AccountID, &got.Detail, &got.RemoteIP); err != nil {
				t.Fatal(err)
			}
			if i >= len(events) {
				continue
			}
			if got != events[i] || gotAt != at {
				t.Fatalf("row %d: got %+v at %d, want %+v at %d", i, got, gotAt, events[i], at)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if i != contacts {
			t.Errorf("%d audit rows, want %d", i, contacts)
		}
	})
}
