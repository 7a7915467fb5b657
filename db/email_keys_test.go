package db

import (
	"context"
	"path/filepath"
	"testing"
)

// TestUserNamesKeyedUnderPRECIS: migration 71 keys user names the way EmailKey does
// ("José" composed and decomposed is one user name), and two contacts whose user names
// become the same are left as they were and reported, never merged (issue 14 item 8).
// SQLite only: migration 71 is SQLite's history (PostgreSQL starts with PRECIS keys).
func TestUserNamesKeyedUnderPRECIS(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Contacts as an older portal stored them: keys folded by lower case alone.
	ids := map[string]int64{}
	err = s.Write(ctx, func(tx *Tx) error {
		for _, email := range []string{"Jose\u0301@northwind.example", "josé@northwind.example", "ＺＯＥ@northwind.example",
			"anna@northwind.example"} {
			id, err := tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "A",
				LastName: "B", Email: email}})
			if err != nil {
				return err
			}
			if _, err := tx.tx.ExecContext(ctx, `UPDATE contacts SET email_key = lower(email) WHERE id = ?`, id); err != nil {
				return err
			}
			ids[email] = id
		}
		_, err := tx.tx.ExecContext(ctx, `DELETE FROM schema_version WHERE version = 71`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := func(email string) string {
		var k string
		if err := s.read.QueryRowContext(ctx, `SELECT email_key FROM contacts WHERE id = ?`, ids[email]).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if got := key("ＺＯＥ@northwind.example"); got != "zoe@northwind.example" {
		t.Errorf("full-width user name keyed %q, want zoe@northwind.example", got)
	}
	if got := key("Jose\u0301@northwind.example"); got != "jose\u0301@northwind.example" {
		t.Errorf("colliding user name keyed %q, want it left as it was", got)
	}
	conflicts, err := s.EmailKeyConflicts(ctx)
	if err != nil || len(conflicts) != 2 {
		t.Fatalf("conflicts: got %+v, %v; want both josés", conflicts, err)
	}
	var audited int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE action = ?`, ActionEmailKeyConflict).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("audit rows: got %d, %v; want 2", audited, err)
	}
	if c, err := s.ContactByEmail(ctx, "anna@NORTHWIND.example"); err != nil || c.ID != ids["anna@northwind.example"] {
		t.Errorf("anna by her user name: got %d, %v", c.ID, err)
	}
}
