package handlers_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"testing"

	"portal/db"
	"portal/export"
	"portal/portaltest"
)

// exportFixture is an organization with a child account, a locked contact, names a
// spreadsheet could run as formulas and names outside ASCII, plus another company whose
// contacts must never appear.
type exportFixture struct {
	env   *portaltest.Env
	admin db.Contact
	// inScope are the names ("First Last") every export must list, in export order.
	inScope []string
	// outOfScope must appear nowhere.
	outOfScope []string
	member     db.Contact // no role: may not export
}

func newExportFixture(t *testing.T) exportFixture {
	t.Helper()
	env := portaltest.New(t)
	north := env.Account("Northwind Traders", nil)
	nordic := env.Account("Northwind Logistics Nordic", &north)
	contoso := env.Account("Contoso Pharma", nil)

	admin := env.Contact(north, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin, db.RoleIncidentContact)
	member := env.Contact(north, "Łukasz", "Wójcik", "lukasz@northwind.example")
	env.Contact(north, "=HYPERLINK(\"http://evil.example\",\"x\")", "+Plus", "formula@northwind.example")
	env.Contact(nordic, "Zoë", "Ærø", "zoe@nordic.example")
	locked := env.Contact(nordic, "Tomáš", "Škoda", "tomas@nordic.example", db.RoleIncidentContact)
	if _, err := env.Store.RecordLoginFailure(env.Ctx, locked.ID, 1, "192.0.2.1", "wrong password", nil); err != nil {
		t.Fatal(err)
	}
	if !env.Reload(locked).Locked() {
		t.Fatal("fixture: Tomáš Škoda should be locked")
	}
	env.Contact(contoso, "Olga", "Ivanova", "olga@contoso.example", db.RoleContactAdmin)

	return exportFixture{
		env:   env,
		admin: admin,
		// Sorted by account name (Northwind Logistics Nordic < Northwind Traders), then last name.
		inScope: []string{
			"Zoë Ærø", "Tomáš Škoda",
			"=HYPERLINK(\"http://evil.example\",\"x\") +Plus", "Maria Anders", "Łukasz Wójcik",
		},
		outOfScope: []string{"Olga", "Ivanova", "olga@contoso.example", "Contoso"},
		member:     member,
	}
}

func TestExportCSV(t *testing.T) {
	fx := newExportFixture(t)
	browser := fx.env.Login(fx.admin.Email)
	resp := browser.Get("/contacts/export.csv")

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body: %.300s", resp.StatusCode, resp.Body)
	}
	for header, want := range map[string]string{
		"Content-Type":        "text/csv; charset=utf-8",
		"Content-Disposition": `attachment; filename="contacts-2026-11-22.csv"`,
		"Cache-Control":       "no-store",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}

	body, ok := strings.CutPrefix(resp.Body, "\uFEFF")
	if !ok {
		t.Errorf("CSV does not start with a UTF-8 byte order mark")
	}
	if !strings.Contains(body, "\r\n") {
		t.Errorf("CSV lines do not end in CRLF (RFC 4180)")
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if !slices.Equal(records[0], export.Columns) {
		t.Errorf("header: got %q, want %q", records[0], export.Columns)
	}
	rows := records[1:]
	var names []string
	for _, r := range rows {
		names = append(names, strings.TrimPrefix(r[0], "'")+" "+strings.TrimPrefix(r[1], "'"))
	}
	if !slices.Equal(names, fx.inScope) {
		t.Errorf("contacts: got %q, want %q (every contact in scope, by account then name)", names, fx.inScope)
	}
	for _, s := range fx.outOfScope {
		if strings.Contains(body, s) {
			t.Errorf("CSV contains %q from another company", s)
		}
	}

	byEmail := map[string][]string{}
	for _, r := range rows {
		byEmail[r[2]] = r
	}
	tests := []struct {
		email  string
		column int
		want   string
	}{
		{"formula@northwind.example", 0, `'=HYPERLINK("http://evil.example","x")`},
		{"formula@northwind.example", 1, "'+Plus"},
		{"zoe@nordic.example", 0, "Zoë"},
		{"zoe@nordic.example", 1, "Ærø"},
		{"zoe@nordic.example", 3, "Northwind Logistics Nordic"},
		{"zoe@nordic.example", 5, "Active"},
		{"tomas@nordic.example", 1, "Škoda"},
		{"tomas@nordic.example", 4, "Incident contact"},
		{"tomas@nordic.example", 5, "Locked"},
		{"tomas@nordic.example", 6, "Too many failed login attempts"},
		{"maria@northwind.example", 4, "Contact admin; Incident contact"},
		{"maria@northwind.example", 9, "2026-11-22 09:00"}, // signed in for this export
		{"maria@northwind.example", 10, "2026-11-22 09:00"},
		{"lukasz@northwind.example", 0, "Łukasz"},
		{"lukasz@northwind.example", 9, ""}, // never signed in
	}
	for _, tt := range tests {
		row, ok := byEmail[tt.email]
		if !ok {
			t.Errorf("no row for %s", tt.email)
			continue
		}
		if got := row[tt.column]; got != tt.want {
			t.Errorf("%s, %s: got %q, want %q", tt.email, export.Columns[tt.column], got, tt.want)
		}
	}

	n, err := fx.env.Store.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
	if err != nil || n != 1 {
		t.Errorf("audit events for the export: got %d (%v), want 1", n, err)
	}
}

func TestExportNeedsContactAdmin(t *testing.T) {
	fx := newExportFixture(t)
	member := fx.env.Login(fx.member.Email)
	signedOut := fx.env.Browser()
	for _, path := range []string{"/contacts/export.csv"} {
		if got := member.Get(path).StatusCode; got != http.StatusForbidden {
			t.Errorf("GET %s as a contact without the Contact admin role: got %d, want 403", path, got)
		}
		resp := signedOut.Get(path)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("GET %s signed out: got %d to %q, want 303 to /login", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	n, err := fx.env.Store.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
	if err != nil || n != 0 {
		t.Errorf("audit events after refused exports: got %d (%v), want 0", n, err)
	}
}
