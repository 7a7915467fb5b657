package db

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// The keys a contact and an account are stored under, computed from what was typed: the
// user name an email is (EmailKey), where a name sorts (NameKey), the words it is found by
// (SearchText), and where an account name sorts (FoldKey). They are columns, not
// expressions in SQL, because SQLite and PostgreSQL fold differently and neither does
// what these do; the migration at the end recomputes them when a rule changes.

// FoldKey is the case-insensitive key under which account names are unique and sorted.
func FoldKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// EmailKey is the key under which an email is a user name: unique across the portal, and
// what signing in looks up. It is the address under PRECIS's UsernameCaseMapped profile
// (RFC 8265): full-width letters mapped, lower case, NFC, so that "José" typed composed or
// decomposed, or with an input method's full-width letters, is one user name. An address
// the profile refuses (it holds control, format or direction characters, which validation
// refuses on the way in) keeps its plain lower-case form, which no valid key equals.
func EmailKey(email string) string {
	email = strings.TrimSpace(email)
	if key, err := precis.UsernameCaseMapped.String(email); err == nil {
		return key
	}
	return strings.ToLower(email)
}

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

// searchWords folds text the way names sort (lower case, accents dropped, special letters
// spelled out: Zoë → zoe, Ærø → aero) and splits it into words of letters and digits.
func searchWords(s string) []string {
	return strings.FieldsFunc(sortFold(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.Is(unicode.Mc, r)
	})
}

// SearchText is the search_text of a contact. A word written with an apostrophe is also
// there without it, at the end: people type O'Brien as "obrien" as often as "o'brien", and
// while they type, "o'bri" still finds the words as split ("o bri").
func SearchText(first, last, email string) string {
	words := append(append(searchWords(first), searchWords(last)...), searchWords(email)...)
	has := map[string]bool{}
	for _, w := range words {
		has[w] = true
	}
	for _, w := range searchWords(withoutApostrophes.Replace(first + " " + last + " " + email)) {
		if !has[w] {
			words, has[w] = append(words, w), true
		}
	}
	return " " + strings.Join(words, " ") + " "
}

// withoutApostrophes drops the apostrophes names are written with (typed, typographic, and
// the modifier letter).
var withoutApostrophes = strings.NewReplacer("'", "", "\u2019", "", "\u02bc", "")

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
	return tx.refreshContactKeys(ctx, true)
}

// migrateApostrophes is migration 98: search texts gain the words written with an
// apostrophe without it (SearchText). Few contacts change, and their search index entries
// follow through its trigger on SQLite.
func migrateApostrophes(ctx context.Context, tx *Tx) error { return tx.refreshContactKeys(ctx, false) }

// refreshContactKeys recomputes every contact's name key and search text and writes those
// that changed (a removed contact's stay erased). With rebuild (SQLite, where the search index was not built from the stored
// search texts), the index is rebuilt once instead of row by row.
func (t *Tx) refreshContactKeys(ctx context.Context, rebuild bool) error {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, first_name, last_name, email, name_key, search_text FROM contacts
		WHERE status <> 'removed'`)
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
	searchChanged = searchChanged && rebuild
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
