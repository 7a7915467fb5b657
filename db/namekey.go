package db

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// contactKeysVersion names the rules of the derived columns NameKey and SearchText fill.
// When a rule changes, Migrate recomputes the stored values once, so that old rows sort and
// match like new ones.
const contactKeysVersion = "name 2, search 1"

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

// refreshContactKeys recomputes every contact's name key and search text when a rule
// changed since they were written, in one transaction with the recorded rule version. When
// search texts change, the search index is rebuilt once instead of row by row.
func (s *Store) refreshContactKeys(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		var version string
		err := tx.tx.QueryRowContext(ctx, `SELECT coalesce((SELECT value FROM settings WHERE key = 'contact_keys_version'), '')`).Scan(&version)
		if err != nil || version == contactKeysVersion {
			return err
		}
		rows, err := tx.tx.QueryContext(ctx, `SELECT id, first_name, last_name, email, name_key, search_text FROM contacts`)
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
			if err := tx.tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?`,
				ftsUpdateTrigger).Scan(&restoreTrigger); err != nil {
				return fmt.Errorf("store: search index trigger: %w", err)
			}
			if _, err := tx.tx.ExecContext(ctx, `DROP TRIGGER `+ftsUpdateTrigger); err != nil {
				return err
			}
		}
		stmt, err := tx.tx.PrepareContext(ctx, `UPDATE contacts SET name_key = ?, search_text = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range changes {
			if _, err := stmt.ExecContext(ctx, c.nameKey, c.search, c.id); err != nil {
				return fmt.Errorf("store: keys of contact %d: %w", c.id, err)
			}
		}
		if searchChanged {
			if _, err := tx.tx.ExecContext(ctx, `INSERT INTO contacts_fts(contacts_fts) VALUES ('rebuild');
				INSERT INTO contacts_fts(contacts_fts) VALUES ('optimize')`); err != nil {
				return fmt.Errorf("store: rebuild search index: %w", err)
			}
			if _, err := tx.tx.ExecContext(ctx, restoreTrigger); err != nil {
				return err
			}
		}
		_, err = tx.tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('contact_keys_version', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value;
			DELETE FROM settings WHERE key = 'name_key_version'`, contactKeysVersion)
		return err
	})
}
