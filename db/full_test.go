package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestFullDiskRollsBackAndRecovers uses PRAGMA max_page_count on the writer connection as a
// stand-in for a full disk: a write that doesn't fit fails with ErrFull, leaves nothing of
// itself behind, and writing works again once there is room. SQLite only: PostgreSQL has no
// page limit to stand in for a full disk (classify's mapping of its disk-full code is left
// untested).
func TestFullDiskRollsBackAndRecovers(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+2)); err != nil {
		t.Fatal(err)
	}

	// One transaction of many contacts: far more than two pages.
	err = s.Write(ctx, func(tx *Tx) error {
		for i := 0; i < 500; i++ {
			if _, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: fmt.Sprintf("anna%d@northwind.example", i), JobTitle: "A job title long enough to fill pages quickly"}}); err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("write past the size limit: %v, want ErrFull", err)
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM contacts`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("contacts after the failed write: %d, %v; want 0 (nothing partial)", n, err)
	}
	var check string
	if err := s.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v; want ok", check, err)
	}

	if _, err := s.write.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		_, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: "anna@northwind.example"}})
		return err
	})
	if err != nil {
		t.Fatalf("write once there is room again: %v", err)
	}
}
