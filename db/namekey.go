package db

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// letterFolds spells out letters that are not a base letter plus accents, so that they sort
// where readers look for them: Ærø near "Aero", Łukasz near "Lukasz".
var letterFolds = strings.NewReplacer("æ", "ae", "ø", "o", "ł", "l", "đ", "d", "ð", "d", "þ", "th", "ß", "ss",
	"œ", "oe", "ı", "i", "ŧ", "t", "ħ", "h")

// NameKey is the sort key of a name, last name first: lower case, accents dropped and
// special letters spelled out, so that Škoda sorts with the S's and Zoë with Zoe.
func NameKey(first, last string) string { return sortFold(last + " " + first) }

func sortFold(s string) string {
	s = letterFolds.Replace(strings.ToLower(strings.TrimSpace(s)))
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) { // combining marks: the accents NFD split off
			b.WriteRune(r)
		}
	}
	return b.String()
}

// migrateContactKeys is migration 50: every contact's name key and search text computed by
// today's NameKey and SearchText. When either rule changes, a new migration calls
// refreshContactKeys again, so that old rows sort and match like new ones.
//
// Before this step, a setting outside the migrations (contact_keys_version) named the rules
// the stored values followed and was checked at every start. Its last value was "name 2,
// search 1", today's rules: a database that records it holds the right values already and
// is not read through again (a million contacts take seconds). The setting goes either way.
func migrateContactKeys(ctx context.Context, tx *Tx) error {
	var rules string
	if err := tx.tx.QueryRowContext(ctx,
		`SELECT coalesce((SELECT value FROM settings WHERE key = 'contact_keys_version'), '')`).Scan(&rules); err != nil {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx,
		`DELETE FROM settings WHERE key IN ('contact_keys_version', 'name_key_version')`); err != nil {
		return err
	}
	if rules == "name 2, search 1" {
		return nil
	}
	return tx.refreshContactKeys(ctx)
}

// refreshContactKeys recomputes every contact's name key and search text and writes those
// that changed. When search texts change, the search index is rebuilt once instead of row
// by row.
func (t *Tx) refreshContactKeys(ctx context.Context) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, first_name, last_name, email, name_key, search_text FROM contacts`)
	if err != nil {
		return err
	}
	type change struct {
		id              int64
		nameKey, search string
	}
	var changes []change
	searchChanged := false
	for rows.Next() {
		var c change
		var first, last, email, oldKey, oldSearch string
		if err := rows.Scan(&c.id, &first, &last, &email, &oldKey, &oldSearch); err != nil {
			rows.Close()
			return err
		}
		c.nameKey, c.search = NameKey(first, last), SearchText(first, last, email)
		if c.nameKey != oldKey || c.search != oldSearch {
			changes = append(changes, c)
			searchChanged = searchChanged || c.search != oldSearch
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var restoreTrigger string
	if searchChanged {
		// Row-by-row index updates would first "delete" texts the index never held.
		if err := t.tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?`,
			ftsUpdateTrigger).Scan(&restoreTrigger); err != nil {
			return fmt.Errorf("store: search index trigger: %w", err)
		}
		if _, err := t.tx.ExecContext(ctx, `DROP TRIGGER `+ftsUpdateTrigger); err != nil {
			return err
		}
	}
	stmt, err := t.tx.PrepareContext(ctx, `UPDATE contacts SET name_key = ?, search_text = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, c := range changes {
		if _, err := stmt.ExecContext(ctx, c.nameKey, c.search, c.id); err != nil {
			return fmt.Errorf("store: keys of contact %d: %w", c.id, err)
		}
	}
	if !searchChanged {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild');
		INSERT INTO contacts_fts(contacts_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("store: rebuild search index: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, restoreTrigger)
	return err
}
