package db_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"portal/db"
	"portal/db/testdb"
)

// TestExportSnapshot: the count agrees with the rows, the rows come sorted by account then
// name, and cancelling the context (a client that went away) stops the query.
func TestExportSnapshot(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testExportSnapshot(t, e)
	})
}

func testExportSnapshot(t *testing.T, e testdb.Engine) {
	const contacts = 3000
	store, sc := populatedOn(t, e, contacts, 3, false)

	exp, err := store.BeginExport(context.Background(), sc, db.ExportView{})
	if err != nil {
		t.Fatal(err)
	}
	if exp.Total != contacts {
		t.Errorf("Total: got %d, want %d", exp.Total, contacts)
	}
	n := 0
	var lastAccount, lastName []byte
	err = exp.Each(func(r *db.ExportRow) error {
		n++
		name := []byte(db.NameKey(string(r.FirstName), string(r.LastName)))
		account := bytes.ToLower(r.Account)
		if c := bytes.Compare(account, lastAccount); c < 0 || c == 0 && bytes.Compare(name, lastName) < 0 {
			t.Errorf("row %d (%s, %s %s) is out of order", n, r.Account, r.FirstName, r.LastName)
		}
		lastAccount, lastName = append(lastAccount[:0], account...), append(lastName[:0], name...)
		return nil
	})
	if err != nil || n != contacts {
		t.Errorf("Each: got %d rows (%v), want %d", n, err, contacts)
	}
	if err := exp.Close(); err != nil {
		t.Error(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exp, err = store.BeginExport(ctx, sc, db.ExportView{})
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	n = 0
	err = exp.Each(func(*db.ExportRow) error {
		n++
		if n == 100 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n >= contacts {
		t.Errorf("Each after cancel: got %d rows and %v, want it stopped with context.Canceled", n, err)
	}
}
