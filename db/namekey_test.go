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

// TestMigrateRefreshesOldContactKeys: rows written under an old rule (name keys in plain
// lower case, no search text) get the new values at the next start, once, and can be
// found by search afterwards.
func TestMigrateRefreshesOldContactKeys(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	err = s.Write(ctx, func(tx *Tx) error {
		id, err = tx.CreateContact(ctx, NewContact{AccountID: acc.ID, FirstName: "Søren", LastName: "Ærø", Email: "soren@northwind.example"})
		if err != nil {
			return err
		}
		// As an older version of the portal wrote it.
		_, err = tx.tx.ExecContext(ctx, `
			UPDATE contacts SET name_key = 'ærø søren', search_text = '' WHERE id = ?;
			UPDATE settings SET value = 'name 1' WHERE key = 'contact_keys_version'`, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
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
}
