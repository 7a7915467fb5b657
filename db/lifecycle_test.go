package db

import (
	"context"
	"path/filepath"
	"testing"
)

// TestContactsBuiltAnewKeepEverything: migration 85 builds contacts anew with foreign keys
// off. Run again on a database with contacts, roles, sessions, links and audit rows, it
// loses none of them, the search index still finds everyone, every index and trigger is
// back as it was, and the counts still follow changes.
func TestContactsBuiltAnewKeepEverything(t *testing.T) {
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
	var anna, zoe int64
	err = s.Write(ctx, func(tx *Tx) error {
		if anna, err = tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "Anna",
			LastName: "Kowalski", Email: "anna@northwind.example", Roles: []Role{RoleContactAdmin}}, PasswordHash: "x"}); err != nil {
			return err
		}
		if zoe, err = tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: acc.ID, FirstName: "Zoë",
			LastName: "Ærø", Email: "zoe@northwind.example"}}); err != nil {
			return err
		}
		if _, err := tx.LockContact(ctx, zoe, anna); err != nil {
			return err
		}
		_, err := tx.IssueLink(ctx, LinkRequest{Contact: Contact{ID: anna, AccountID: acc.ID, Email: "anna@northwind.example"},
			Purpose: PurposeReset, TTL: ResetLinkTTL})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, []byte("session-of-anna-32-bytes-long!!!"), anna, []byte("{}"), SessionOrigin{}); err != nil {
		t.Fatal(err)
	}
	schema := func() map[string]string {
		out := map[string]string{}
		rows, err := s.read.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name, ddl string
			if err := rows.Scan(&name, &ddl); err != nil {
				t.Fatal(err)
			}
			out[name] = ddl
		}
		return out
	}
	count := func(table string) int {
		var n int
		if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := schema()
	tables := []string{"contacts", "contact_roles", "sessions", "password_tokens", "outbox", "audit_events", "contacts_fts"}
	counts := map[string]int{}
	for _, table := range tables {
		counts[table] = count(table)
	}

	if _, err := s.write.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		t.Fatal(err)
	}
	// Later migrations added columns to contacts, which step 85 knows nothing of: they come
	// off before it runs again, and back after, as those migrations add them.
	later := map[string]string{
		"two_factor":     `INTEGER NOT NULL DEFAULT 0 CHECK (two_factor IN (0, 1))`,
		"password_short": `INTEGER NOT NULL DEFAULT 0 CHECK (password_short IN (0, 1))`,
	}
	for column := range later {
		if _, err := s.write.ExecContext(ctx, `ALTER TABLE contacts DROP COLUMN `+column); err != nil {
			t.Fatal(err)
		}
	}
	err = s.Write(ctx, func(tx *Tx) error { return migrateContactLifecycle(ctx, tx) })
	for column, definition := range later {
		if _, err := s.write.ExecContext(ctx, `ALTER TABLE contacts ADD COLUMN `+column+` `+definition); err != nil {
			t.Fatal(err)
		}
	}
	if _, onErr := s.write.ExecContext(ctx, `PRAGMA foreign_keys = ON`); onErr != nil {
		t.Fatal(onErr)
	}
	if err != nil {
		t.Fatalf("build contacts anew: %v", err)
	}

	after := schema()
	for name, ddl := range before {
		if after[name] != ddl && name != "contacts" {
			t.Errorf("%s changed:\n%s\nwas\n%s", name, after[name], ddl)
		}
	}
	for _, table := range tables {
		if got := count(table); got != counts[table] {
			t.Errorf("%s: %d rows, want %d", table, got, counts[table])
		}
	}
	var found int64
	if err := s.read.QueryRowContext(ctx, `SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?`, SearchQuery("zoe")).Scan(&found); err != nil || found != zoe {
		t.Errorf("search for zoe: got %d, %v", found, err)
	}
	c, err := s.ContactByID(ctx, zoe)
	if err != nil || !c.Locked() || c.LockedByID != anna {
		t.Errorf("zoe after the rebuild: %+v, %v", c, err)
	}
	sc, err := s.ScopeOf(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.UnlockContact(ctx, zoe); return err }); err != nil {
		t.Fatal(err)
	}
	if counts, err := s.ContactCounts(ctx, sc); err != nil || counts.Active != 2 || counts.Locked != 0 {
		t.Errorf("counts after an unlock: %+v, %v; the count triggers are gone", counts, err)
	}
}

// TestReplaceWholeLeavesLongerNamesAlone: removing a contact erases its name and addresses
// where they stand whole, never inside someone else's.
func TestReplaceWholeLeavesLongerNamesAlone(t *testing.T) {
	const label = "Removed contact #5"
	for _, tc := range []struct {
		s, old string
		email  bool
		want   string
	}{
		{"by Ann Lee (Reset password)", "Ann Lee", false, "by Removed contact #5 (Reset password)"},
		{"by Ann Leeds (Reset password)", "Ann Lee", false, "by Ann Leeds (Reset password)"},
		{"by Joann Lee", "Ann Lee", false, "by Joann Lee"},
		{"Ann Lee", "Ann Lee", false, label},
		{"from ann@x.example to b@x.example", "ann@x.example", true, "from Removed contact #5 to b@x.example"},
		{"from joann@x.example to ann@x.example.", "ann@x.example", true, "from joann@x.example to Removed contact #5."},
		{"unknown user name jo.ann@x.example", "ann@x.example", true, "unknown user name jo.ann@x.example"},
		{"mail to ann@x.example.au not sent", "ann@x.example", true, "mail to ann@x.example.au not sent"},
		{"ann@x.example and ann@x.example; ann@x.example", "ann@x.example", true, label + " and " + label + "; " + label},
		{"Zoë Ærø, Zoë Ærøe", "Zoë Ærø", false, label + ", Zoë Ærøe"},
	} {
		if got := replaceWhole(tc.s, tc.old, label, tc.email); got != tc.want {
			t.Errorf("replaceWhole(%q, %q) = %q, want %q", tc.s, tc.old, got, tc.want)
		}
	}
}
