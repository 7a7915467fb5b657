package db

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// nameKeyVersion names the rule NameKey follows. When the rule changes, Migrate recomputes
// the stored keys once, so that old rows sort like new ones.
const nameKeyVersion = "2"

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

// refreshNameKeys recomputes every contact's name key when the rule changed since they were
// written, in one transaction with the recorded rule version.
func (s *Store) refreshNameKeys(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		var version string
		err := tx.tx.QueryRowContext(ctx, `SELECT coalesce((SELECT value FROM settings WHERE key = 'name_key_version'), '1')`).Scan(&version)
		if err != nil || version == nameKeyVersion {
			return err
		}
		rows, err := tx.tx.QueryContext(ctx, `SELECT id, first_name, last_name, name_key FROM contacts`)
		if err != nil {
			return err
		}
		type change struct {
			id  int64
			key string
		}
		var changes []change
		for rows.Next() {
			var c change
			var first, last, old string
			if err := rows.Scan(&c.id, &first, &last, &old); err != nil {
				rows.Close()
				return err
			}
			if c.key = NameKey(first, last); c.key != old {
				changes = append(changes, c)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		stmt, err := tx.tx.PrepareContext(ctx, `UPDATE contacts SET name_key = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range changes {
			if _, err := stmt.ExecContext(ctx, c.key, c.id); err != nil {
				return fmt.Errorf("store: name key of contact %d: %w", c.id, err)
			}
		}
		_, err = tx.tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('name_key_version', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, nameKeyVersion)
		return err
	})
}
