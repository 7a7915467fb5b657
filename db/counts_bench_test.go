package db_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"portal/db"
	"portal/db/testdb"
)

// BenchmarkCountsTriggerOneRow is what the per-statement section counts of PostgreSQL
// (0097_contact_counts_per_statement.sql) cost the writes that change no section: a trigger
// with transition tables cannot name columns, so it fires on every UPDATE of contacts, as a
// sign-in's last_login_at. Each iteration updates one contact's last_login_at in contacts and
// in a copy of the table without triggers (same rows, same indexes), in turn, each in a
// transaction of its own, and reports the ratio of the medians.
//
//	go test -tags sqlite_fts5 ./db -run '^$' -bench CountsTriggerOneRow -benchtime 2000x
func BenchmarkCountsTriggerOneRow(b *testing.B) {
	ctx := context.Background()
	store, plain := engineStore(b, testdb.Postgres)
	account, err := store.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		b.Fatal(err)
	}
	const contacts = 1000
	err = store.Write(ctx, func(tx *db.Tx) error {
		for i := range contacts {
			if _, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: account.ID,
				FirstName: "Member", LastName: fmt.Sprint(i), Email: fmt.Sprintf("m%d@northwind.example", i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []string{
		`CREATE TABLE contacts_bare (LIKE contacts INCLUDING ALL)`,
		`INSERT INTO contacts_bare SELECT * FROM contacts`,
		`VACUUM ANALYZE contacts`,
		`VACUUM ANALYZE contacts_bare`,
	} {
		if _, err := plain.Exec(step); err != nil {
			b.Fatalf("%s: %v", step, err)
		}
	}
	var first int64
	if err := plain.QueryRow(`SELECT min(id) FROM contacts`).Scan(&first); err != nil {
		b.Fatal(err)
	}
	update := func(table string, i int) time.Duration {
		start := time.Now()
		res, err := plain.Exec(`UPDATE `+table+` SET last_login_at = $1 WHERE id = $2`, i, first+int64(i%contacts))
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			b.Fatalf("UPDATE %s changed %d rows, want 1", table, n)
		}
		return took
	}
	var counted, bare []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			counted = append(counted, update("contacts", i))
			bare = append(bare, update("contacts_bare", i))
		} else {
			bare = append(bare, update("contacts_bare", i))
			counted = append(counted, update("contacts", i))
		}
	}
	b.StopTimer()
	kept, recounted := storedCounts(b, plain)
	if !maps.Equal(kept, recounted) {
		b.Errorf("contact_counts holds %v after the updates, want %v", kept, recounted)
	}
	p50counted, p50bare := median(counted), median(bare)
	b.ReportMetric(p50counted, "trigger-p50-µs")
	b.ReportMetric(p50bare, "bare-p50-µs")
	b.ReportMetric(p50counted/p50bare, "x-bare")
}

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds())
}
