package db

import (
	"context"
	"slices"
	"testing"
)

func TestNamesSortWhereReadersLookForThem(t *testing.T) {
	names := [][2]string{{"Anna", "Schmidt"}, {"Søren", "Ærø"}, {"Tomáš", "Škoda"}, {"Łukasz", "Nowak"},
		{"Zoë", "Adams"}, {"Inès", "Zola"}, {"Karl", "Müller"}, {"Lars", "Østergaard"}, {"Ola", "Mueller"}}
	keys := make([]string, len(names))
	byKey := map[string]string{}
	for i, n := range names {
		keys[i] = NameKey(n[0], n[1])
		byKey[keys[i]] = n[1]
	}
	slices.Sort(keys)
	var got []string
	for _, k := range keys {
		got = append(got, byKey[k])
	}
	want := []string{"Adams", "Ærø", "Mueller", "Müller", "Nowak", "Østergaard", "Schmidt", "Škoda", "Zola"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted by NameKey: %v, want %v", got, want)
	}
}

// oldContactKeys makes s look like a database an older portal left behind: one contact
// whose name key and search text follow older rules, the settings row that recorded which
// rules (value), and migration 50 not yet run. It returns the contact's id.
func oldContactKeys(t *testing.T, s *Store, accountID int64, value string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.CreateContact(ctx, NewContact{ContactFields: ContactFields{AccountID: accountID, FirstName: "Søren", LastName: "Ærø", Email: "soren@northwind.example"}})
		if err != nil {
			return err
		}
		_, err = tx.tx.ExecContext(ctx, `
			UPDATE contacts SET name_key = 'ærø søren', search_text = '' WHERE id = ?;
			INSERT INTO settings(key, value) VALUES ('contact_keys_version', ?);
			DELETE FROM schema_version WHERE version = 50`, id, value)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func contactKeysSetting(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.read.QueryRow(`SELECT count(*) FROM settings WHERE key = 'contact_keys_version'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateRefreshesOldContactKeys: rows written under an old rule (name keys in plain
// lower case, no search text) get the new values from migration 50, once, and can be found
// by search afterwards; the setting that recorded the old rule is gone. SQLite only, as the
// next test: migration 50 is SQLite's history, and the refresh is SQLite's alone for now.
func TestMigrateRefreshesOldContactKeys(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	if n := contactKeysSetting(t, s); n != 0 {
		t.Errorf("a new database has %d contact_keys_version settings, want none", n)
	}
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	id := oldContactKeys(t, s, acc.ID, "name 1")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var key string
	if err := s.read.QueryRowContext(ctx, `SELECT name_key FROM contacts WHERE id = ?`, id).Scan(&key); err != nil || key != "aero soren" {
		t.Fatalf("name key after Migrate = %q, %v; want %q", key, err, "aero soren")
	}
	sc, err := s.ScopeOf(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, search := range []string{"aero", "søren", "SOREN@north"} {
		p, err := s.ListContacts(ctx, sc, ListQuery{Search: search})
		if err != nil || len(p.Rows) != 1 || p.Rows[0].ID != id || p.Counts.Active != 1 {
			t.Errorf("search %q after Migrate: %+v, %v; want contact %d", search, p, err, id)
		}
	}
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?`,
		ftsUpdateTrigger).Scan(&n); err != nil || n != 1 {
		t.Errorf("search index update trigger after Migrate: %d, %v", n, err)
	}
	if n := contactKeysSetting(t, s); n != 0 {
		t.Errorf("%d contact_keys_version settings after Migrate, want none", n)
	}
}

// TestMigrateTrustsARefreshMadeBefore: a database whose old setting records today's rules
// was refreshed by them already, so migration 50 does not read its contacts through again
// (the one row left stale on purpose stays so); it only drops the setting.
func TestMigrateTrustsARefreshMadeBefore(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	id := oldContactKeys(t, s, acc.ID, "name 2, search 1")
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var key string
	if err := s.read.QueryRowContext(ctx, `SELECT name_key FROM contacts WHERE id = ?`, id).Scan(&key); err != nil || key != "ærø søren" {
		t.Errorf("name key after Migrate = %q, %v; want it untouched, %q", key, err, "ærø søren")
	}
	if n := contactKeysSetting(t, s); n != 0 {
		t.Errorf("%d contact_keys_version settings after Migrate, want none", n)
	}
}
