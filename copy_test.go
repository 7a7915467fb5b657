package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"portal/auth"
	"portal/db"
	"portal/db/dbtest"
	"portal/demo"
	"portal/portaltest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// demoDatabase is a SQLite file holding `portal demo --contacts n`: the demo organization
// and n generated contacts in three accounts. It returns the demo admin's login.
func demoDatabase(t *testing.T, n int) (path, email, password string) {
	t.Helper()
	ctx := context.Background()
	path = filepath.Join(t.TempDir(), "portal.db")
	store, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	email, password, err = demo.Seed(ctx, store, auth.NewHasher(portaltest.FastParams, 2), demo.Bulk{Contacts: n, Accounts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return path, email, password
}

// TestCopyCommandRefusesWhatItCannotDo: portal copy checks its arguments before it touches
// either database.
func TestCopyCommandRefusesWhatItCannotDo(t *testing.T) {
	file := filepath.Join(t.TempDir(), "portal.db")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "give --from FILE and --to postgres://"},
		{"no target", []string{"--from", file}, "give --from FILE and --to postgres://"},
		{"PostgreSQL as the source", []string{"--from", "postgres://localhost/a", "--to", "postgres://localhost/b"}, "pg_dump"},
		{"a file as the target", []string{"--from", file, "--to", "copy.db"}, "--to must be a postgres:// or postgresql:// URL"},
		{"a source that does not exist", []string{"--from", file, "--to", "postgres://localhost/b"}, "no such file"},
		{"a stray argument", []string{"--from", file, "--to", "postgres://localhost/b", "now"}, `unexpected argument "now"`},
	} {
		r := runCLI(t, "", append([]string{"copy"}, tc.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want 1 and %q", tc.name, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(file); err == nil {
		t.Errorf("a refused copy created %s", file)
	}
}

// TestCopyCommandRoundTrip: the demo database with 100,000 generated contacts, copied by
// portal copy into PostgreSQL, prints every table as the same on both sides, and the portal
// started on the copy answers the pages the admin reads exactly as the portal on the
// original does: All Contacts by each sort, a page deep in the list, the locked section,
// common and rare searches, a contact's details. The admin's session cookie from the
// original works on the copy (sessions and the session secret moved too). A second copy
// into the same database is refused.
func TestCopyCommandRoundTrip(t *testing.T) {
	contacts := 100_000
	if testing.Short() {
		contacts = 5_000
	}
	source, email, password := demoDatabase(t, contacts)
	target := dbtest.PostgresURL(t)

	original := portaltest.New(t, portaltest.Options{Args: []string{"--db", source}})
	// Signed in on the original before the copy: the session moves with it.
	admin := original.Browser()
	if resp := admin.Login(email, password); resp.StatusCode != 303 {
		t.Fatalf("login on the original: status %d", resp.StatusCode)
	}

	r := runCLI(t, "", "copy", "--from", source, "--to", target)
	if r.code != 0 {
		t.Fatalf("copy: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, table := range []string{"accounts", "contacts", "contact_roles", "contact_counts", "audit_events", "settings"} {
		if !regexp.MustCompile(`(?m)^` + table + ` +\d+ +\d+ +[0-9a-f]{16} +[0-9a-f]{16} +same$`).MatchString(r.stdout) {
			t.Errorf("no line saying table %s is the same on both sides in:\n%s", table, r.stdout)
		}
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^contacts +%d +%d `, contacts+61, contacts+61)).MatchString(r.stdout) {
		t.Errorf("want %d contacts on both sides in:\n%s", contacts+61, r.stdout)
	}
	if strings.Contains(r.stdout, "DIFFERENT") {
		t.Errorf("a table differs:\n%s", r.stdout)
	}

	// The servers on PostgreSQL read the key file the SQLite installation made beside its
	// database (docs/OPERATIONS.md): the sealed secrets moved with the rows.
	copied := portaltest.New(t, portaltest.Options{Args: []string{"--db", target, "--secrets-key-file", source + ".secrets-key"}})
	// The same session cookie, presented to the copy.
	onCopy := copied.Browser()
	cookie := admin.Cookie(original.Cookies().Session)
	if cookie == nil {
		t.Fatal("no session cookie after the login")
	}
	onCopy.SetCookie(cookie)

	deep := admin.Get("/contacts?sort=email")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(deep.Body))
	if err != nil {
		t.Fatal(err)
	}
	rows := doc.Find(`[data-testid="contact-row"]`)
	if rows.Length() != 25 {
		t.Fatalf("first page by email: %d rows, want 25", rows.Length())
	}
	last, _ := rows.Last().Attr("data-contact-id")
	rareEmail := strings.TrimSpace(rows.Eq(3).Find(`[data-testid="contact-email"]`).Text())
	rare, _, _ := strings.Cut(rareEmail, "@")
	for _, page := range []string{
		"/contacts", "/contacts?sort=email", "/contacts?sort=account", "/contacts?sort=last_login",
		"/contacts?sort=email&after=" + last, "/contacts?section=locked",
		"/contacts?q=anna", "/contacts?q=" + url.QueryEscape("müller"), "/contacts?q=" + url.QueryEscape(rare),
		"/contacts?q=" + url.QueryEscape("zoe nielsen"), "/contacts/" + last,
	} {
		want, got := admin.Get(page), onCopy.Get(page)
		if want.StatusCode != 200 || got.StatusCode != 200 {
			t.Errorf("%s: status %d on the original, %d on the copy; want 200", page, want.StatusCode, got.StatusCode)
			continue
		}
		if w, g := mainContent(t, want.Body), mainContent(t, got.Body); w != g {
			t.Errorf("%s differs on the copy:\n%s\nwant as on the original:\n%s", page, g, w)
		} else if !strings.Contains(w, "contact-") {
			t.Errorf("%s: no contacts on the page:\n%s", page, w)
		}
	}

	r = runCLI(t, "", "copy", "--from", source, "--to", target)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds accounts or contacts") {
		t.Errorf("second copy: exit %d, %q; want 1 and a refusal", r.code, r.stderr)
	}
}

// csrf matches the per-render CSRF tokens, which differ between any two renders.
var csrf = regexp.MustCompile(`(name="_csrf" value|content|data-csrf|X-CSRF-Token&#34;:\s*&#34;)="?[A-Za-z0-9_\-]{40,}`)

// mainContent is the page's main element, without its CSRF tokens.
func mainContent(t *testing.T, body string) string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	html, err := goquery.OuterHtml(doc.Find("main"))
	if err != nil {
		t.Fatal(err)
	}
	return csrf.ReplaceAllString(html, "")
}
