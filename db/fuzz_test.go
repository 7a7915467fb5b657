package db

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzSearchBox types anything into the search box of All Contacts: SearchQuery must keep
// every FTS5 operator out of the expression, so that listing never fails with an SQL error
// (which the user would see as a 500), in either section and any sort order. And the two
// ways a search finds contacts (the FTS5 match, and the substring test on search_text the
// list uses for common words) must find the same contacts.
func FuzzSearchBox(f *testing.F) {
	for _, seed := range []string{`anna`, `"anna`, `an"na`, `NEAR(anna kowalski)`, `anna*`, `-anna`, `anna -kowalski`,
		`(anna OR zoë`, `first_name:anna`, `^anna`, `anna AND`, `*`, `"`, `)(`, `Zoë Ærø`, `Škoda`, `'; DROP TABLE contacts; --`,
		"anna\x00kowalski", `{first_name last_name}:anna`, `anna + kowalski`, strings.Repeat("a ", 100),
		`søren`, `SS`, `straße`, `strasse`, `Ørsted`, `東京`, `Иван`, `o'brien`, `anna.k`, `k@north`, `ıi`, `ﬁ`, `Ǆ`,
		`मनोज`, `e\u0301`, `ANNA KOW`, `north example`, `0`, `a-b`} {
		f.Add(seed)
	}
	s := openTestStore(f)
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		f.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		for _, c := range []ContactFields{
			{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: "anna@northwind.example"},
			{AccountID: acc.ID, FirstName: "Zoë", LastName: "Ærø", Email: "zoe@northwind.example"},
			{AccountID: acc.ID, FirstName: "Søren", LastName: "Straße-Ørsted", Email: "s.o'brien+1@northwind.example"},
			{AccountID: acc.ID, FirstName: "Иван", LastName: "東京", Email: "ivan@例え.jp"},
			{AccountID: acc.ID, FirstName: "मनोज", LastName: "Ǆurić", Email: "ﬁle0@a-b.example"},
		} {
			if _, err := tx.CreateContact(ctx, NewContact{ContactFields: c}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	sc, err := s.ScopeOf(ctx, acc.ID)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		for _, status := range []string{StatusActive, StatusLocked} {
			for _, sort := range []string{"name", "last_login"} {
				if _, err := s.ListContacts(ctx, sc, ListQuery{Status: status, Sort: sort, Search: typed, Limit: 25}); err != nil {
					t.Fatalf("search %q (%s, %s): %v (expression %q)", typed, status, sort, err, SearchQuery(typed))
				}
			}
		}
		match := SearchQuery(typed)
		if match == "" {
			return
		}
		byFTS, err := s.queryIDs(ctx, `SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ? ORDER BY rowid`, match)
		if err != nil {
			t.Fatalf("search %q: %v", typed, err)
		}
		where, args := "1", []any{}
		for _, n := range searchNeedles(typed) {
			where += ` AND instr(search_text, ?) > 0`
			args = append(args, n)
		}
		byText, err := s.queryIDs(ctx, `SELECT id FROM contacts WHERE `+where+` ORDER BY id`, args...)
		if err != nil {
			t.Fatalf("search %q: %v", typed, err)
		}
		if !slices.Equal(byFTS, byText) {
			t.Fatalf("search %q: FTS5 finds %v, search_text finds %v (expression %q)", typed, byFTS, byText, match)
		}
	})
}

// FuzzResetToken feeds anything as the token of a set-password link: it must never match
// a link unless it is the exact token, and never fail with anything but ErrNotFound.
func FuzzResetToken(f *testing.F) {
	good := base64.RawURLEncoding.EncodeToString(make([]byte, TokenBytes))
	for _, seed := range []string{good, good + "=", good[:42], "", "%00", "../../etc/passwd", strings.Repeat("A", 44),
		strings.ToUpper(good), "AAAA.AAAA"} {
		f.Add(seed)
	}
	s := openTestStore(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		hash := HashToken(raw)
		if hash != nil {
			b, err := base64.RawURLEncoding.DecodeString(raw)
			if err != nil || len(b) != TokenBytes {
				t.Fatalf("HashToken accepted %q, which is not 32 base64url bytes", raw)
			}
			if sum := sha256.Sum256(b); string(sum[:]) != string(hash) {
				t.Fatalf("HashToken(%q) is not the SHA-256 of its bytes", raw)
			}
		}
		if _, err := s.TokenByRaw(ctx, raw); !errors.Is(err, ErrNotFound) {
			t.Fatalf("TokenByRaw(%q) on an empty table = %v, want ErrNotFound", raw, err)
		}
	})
}
