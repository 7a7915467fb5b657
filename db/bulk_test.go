package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestBulkInsertStopsAtADuplicateEmail: a bulk load whose rows repeat an email fails with
// ErrEmailTaken, stops reading its rows soon after (they are read ahead on another
// goroutine), and leaves nothing behind: no contacts, no counts, the indexes and triggers
// it dropped for the load back in place.
func TestBulkInsertStopsAtADuplicateEmail(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	schema := func() (n int) {
		if err := s.read.QueryRow(`SELECT count(*) FROM sqlite_master WHERE tbl_name = 'contacts'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := schema()
	const total = 100_000
	read := 0
	err = s.Write(ctx, func(tx *Tx) error {
		return tx.BulkInsertContacts(ctx, func(yield func(BulkContact) bool) {
			for i := 0; i < total; i++ {
				read++
				email := fmt.Sprintf("c%d@northwind.example", i)
				if i == 2000 {
					email = "c3@northwind.example"
				}
				if !yield(BulkContact{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: email}) {
					return
				}
			}
		})
	})
	if !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("bulk load with a repeated email: %v, want ErrEmailTaken", err)
	}
	if read >= total {
		t.Errorf("read all %d rows after the failure; want it to stop soon after row 2,000", read)
	}
	var contacts, counted int
	if err := s.read.QueryRow(`SELECT count(*), (SELECT coalesce(sum(n), 0) FROM contact_counts) FROM contacts`).Scan(&contacts, &counted); err != nil {
		t.Fatal(err)
	}
	if contacts != 0 || counted != 0 {
		t.Errorf("after the failed load: %d contacts, counts %d; want none", contacts, counted)
	}
	if after := schema(); after != before {
		t.Errorf("contacts has %d indexes and triggers after the failed load, %d before", after, before)
	}
}
