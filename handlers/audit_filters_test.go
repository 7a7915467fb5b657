package handlers_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/db"
	"portal/export"
	"portal/portaltest"
)

// The days the history of newAuditEnv was recorded on (portaltest's clock starts on the first).
const (
	day1 = "2026-11-22"
	day2 = "2026-11-23"
	day3 = "2026-11-24"
)

// auditEnv is a scope with a known history over three days, and another tenant's.
type auditEnv struct {
	sessionsEnv
	lena  db.Contact          // a second member
	maria *portaltest.Browser // the admin, signed in
}

// newAuditEnv records:
//
//	day 1: the member signs in; the admin locks Lena
//	day 2: two failed sign-ins of the member, one with a formula in its detail
//	day 3: the admin edits Lena; the other tenant's admin edits its own contact; the admin
//	       signs in (and reads the audit log)
func newAuditEnv(t *testing.T, engine portaltest.Engine) auditEnv {
	e := auditEnv{sessionsEnv: newSessionsEnv(t, engine)}
	e.lena = e.Contact(e.account, "Lena", "Lindqvist", "lena@northwind.example")
	audit := func(ev db.Event) {
		t.Helper()
		if err := e.Store.Audit(e.Ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	audit(db.Event{Action: db.ActionLoginSucceeded, ActorID: e.member.ID, TargetID: e.member.ID, AccountID: e.account.ID, RemoteIP: "203.0.113.10"})
	audit(db.Event{Action: db.ActionContactLocked, ActorID: e.admin.ID, TargetID: e.lena.ID, AccountID: e.account.ID, RemoteIP: "192.0.2.1"})
	e.Clock.Advance(24 * time.Hour)
	audit(db.Event{Action: db.ActionLoginFailed, TargetID: e.member.ID, AccountID: e.account.ID, RemoteIP: "192.0.2.66",
		Detail: "wrong password (failure 1 in a row)"})
	audit(db.Event{Action: db.ActionLoginFailed, TargetID: e.member.ID, AccountID: e.account.ID, RemoteIP: "192.0.2.66",
		Detail: `=HYPERLINK("http://evil.example","click") (failure 2 in a row)`})
	e.Clock.Advance(24 * time.Hour)
	audit(db.Event{Action: db.ActionContactEdited, ActorID: e.admin.ID, TargetID: e.lena.ID, AccountID: e.account.ID,
		Detail: "changed phone", RemoteIP: "192.0.2.1"})
	audit(db.Event{Action: db.ActionContactEdited, ActorID: e.olga.ID, TargetID: e.olga.ID, AccountID: e.olga.AccountID,
		Detail: "Contoso's own change"})
	e.maria = e.Login(e.admin.Email)
	return e
}

// auditRows reads the audit log's page at path: each row as "action: detail", newest first.
func auditRows(t *testing.T, b *portaltest.Browser, path string) ([]string, *goquery.Document, portaltest.Response) {
	t.Helper()
	resp := b.Get(path)
	doc := parse(t, resp.Body)
	var rows []string
	doc.Find(`[data-testid="audit-row"]`).Each(func(_ int, s *goquery.Selection) {
		rows = append(rows, s.AttrOr("data-action", "")+": "+strings.TrimSpace(s.Find(`td[data-label="Details"]`).Text()))
	})
	return rows, doc, resp
}

func TestAuditLogFilters(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newAuditEnv(t, engine)
		member, lena, admin := e.member.ID, e.lena.ID, e.admin.ID
		failed1, failed2 := "login_failed: wrong password (failure 1 in a row)", `login_failed: =HYPERLINK("http://evil.example","click") (failure 2 in a row)`
		tests := []struct {
			name, query string
			want        []string
		}{
			{"contact", fmt.Sprintf("contact=%d", member), []string{failed2, failed1, "login_succeeded: —"}},
			{"contact, by or about", fmt.Sprintf("contact=%d", admin), []string{"login_succeeded: —", "contact_edited: changed phone", "contact_locked: —"}},
			{"action", "action=login_failed", []string{failed2, failed1}},
			{"action of the scope only", "action=contact_edited", []string{"contact_edited: changed phone"}},
			{"from", "from=" + day3, []string{"login_succeeded: —", "contact_edited: changed phone"}},
			{"to", "to=" + day1, []string{"contact_locked: —", "login_succeeded: —"}},
			{"one day", "from=" + day2 + "&to=" + day2, []string{failed2, failed1}},
			{"combined", fmt.Sprintf("contact=%d&action=contact_edited&from=%s&to=%s", lena, day3, day3), []string{"contact_edited: changed phone"}},
			{"combined, nothing", fmt.Sprintf("contact=%d&action=login_failed&to=%s", member, day1), nil},
		}
		for _, tc := range tests {
			rows, doc, resp := auditRows(t, e.maria, "/audit?"+tc.query)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s (%s): status %d, want 200", tc.name, tc.query, resp.StatusCode)
				continue
			}
			if fmt.Sprintf("%q", rows) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("%s (%s):\n got %q\nwant %q", tc.name, tc.query, rows, tc.want)
			}
			if len(tc.want) == 0 && doc.Find(`[data-testid="audit-empty"]`).Text() != "No events match these filters." {
				t.Errorf("%s: no events, and no word of it", tc.name)
			}
			if want := "/audit/export.csv?" + tc.query; !sameQuery(doc.Find(`[data-testid="export-audit"]`).AttrOr("href", ""), want) {
				t.Errorf("%s: Export audit log links to %q, want the same filters as %q", tc.name, doc.Find(`[data-testid="export-audit"]`).AttrOr("href", ""), want)
			}
		}

		// The form shows the filters it was sent, so that they can be changed.
		_, doc, _ := auditRows(t, e.maria, fmt.Sprintf("/audit?contact=%d&action=login_failed&from=%s&to=%s", member, day2, day3))
		if got := doc.Find(`[data-testid="filter-contact"] option[selected]`).Text(); got != "Łukasz Kowalski (lukasz@northwind.example)" {
			t.Errorf("contact shown selected: got %q", got)
		}
		if got := doc.Find(`[data-testid="filter-action"] option[selected]`).Text(); got != "Login failed" {
			t.Errorf("action shown selected: got %q, want %q", got, "Login failed")
		}
		if from, to := doc.Find(`[data-testid="filter-from"]`).AttrOr("value", ""), doc.Find(`[data-testid="filter-to"]`).AttrOr("value", ""); from != day2 || to != day3 {
			t.Errorf("dates shown: got %q to %q, want %q to %q", from, to, day2, day3)
		}
		if doc.Find(`[data-testid="filter-contact"] option`).FilterFunction(func(_ int, s *goquery.Selection) bool {
			return strings.Contains(s.Text(), "Olga")
		}).Length() != 0 {
			t.Error("the contact filter offers another tenant's contact")
		}
	})
}

// sameQuery reports whether two URLs have the same path and query parameters, in any order.
func sameQuery(a, b string) bool {
	pa, qa, _ := strings.Cut(a, "?")
	pb, qb, _ := strings.Cut(b, "?")
	split := func(q string) string {
		parts := strings.Split(q, "&")
		for i := range parts {
			parts[i] = strings.ReplaceAll(parts[i], "%2C", ",")
		}
		return fmt.Sprint(sortStrings(parts))
	}
	return pa == pb && split(qa) == split(qb)
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestAuditLogRefusesBadFilters(t *testing.T) {
	e := newAuditEnv(t, portaltest.SQLite)
	tests := []struct {
		name, query string
		status      int
		field, text string
	}{
		{"a date that is not one", "from=2026-13-01", http.StatusBadRequest, "from", "Enter the first day as YYYY-MM-DD, for example 2026-11-30."},
		{"a date in words", "to=yesterday", http.StatusBadRequest, "to", "Enter the last day as YYYY-MM-DD, for example 2026-11-30."},
		{"the last day first", "from=" + day3 + "&to=" + day1, http.StatusBadRequest, "to", "The last day is before the first day."},
		{"a contact that is no id", "contact=lukasz", http.StatusBadRequest, "contact", "Choose a contact from the list."},
		{"an action that is no action", "action=DROP+TABLE", http.StatusBadRequest, "action", "Choose an action from the list."},
		{"another tenant's contact", fmt.Sprintf("contact=%d", e.olga.ID), http.StatusNotFound, "contact", "There is no such contact in your organization."},
		{"no such contact", "contact=999999", http.StatusNotFound, "contact", "There is no such contact in your organization."},
	}
	for _, tc := range tests {
		rows, doc, resp := auditRows(t, e.maria, "/audit?"+tc.query)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if got := strings.TrimSpace(doc.Find(`[data-testid="error-` + tc.field + `"]`).Text()); got != tc.text {
			t.Errorf("%s: message beside %s: got %q, want %q", tc.name, tc.field, got, tc.text)
		}
		if len(rows) != 0 || doc.Find(`[data-testid="export-audit"]`).Length() != 0 {
			t.Errorf("%s: %d events and an export shown under filters that can't be used", tc.name, len(rows))
		}
		if strings.Contains(resp.Body, "Olga") || strings.Contains(resp.Body, "Contoso") {
			t.Errorf("%s: the page names the other tenant", tc.name)
		}
	}
	// A value never seen in the form is shown back as typed (and escaped), not run.
	_, doc, _ := auditRows(t, e.maria, "/audit?to=%3Cscript%3E")
	if got := doc.Find(`[data-testid="filter-to"]`).AttrOr("value", ""); got != "<script>" {
		t.Errorf("bad date shown back as %q, want %q", got, "<script>")
	}
}

func TestAuditLogPagesKeepTheFilters(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newSessionsEnv(t, engine)
		for i := 0; i < 120; i++ {
			action := db.ActionContactEdited
			if i%4 == 0 {
				action = db.ActionContactLocked
			}
			if err := e.Store.Audit(e.Ctx, db.Event{Action: action, ActorID: e.admin.ID, TargetID: e.member.ID,
				AccountID: e.account.ID, Detail: fmt.Sprintf("change %03d", i)}); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				e.Clock.Advance(time.Second) // events of one second and of several, in one order
			}
		}
		b := e.Login(e.admin.Email)
		seen := map[string]bool{}
		path, pages := "/audit?action=contact_edited", 0
		previous := "change 999"
		for path != "" {
			pages++
			rows, doc, resp := auditRows(t, b, path)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			for _, r := range rows {
				detail := strings.TrimPrefix(r, "contact_edited: ")
				if detail == r {
					t.Errorf("page %d shows %q, which the filter leaves out", pages, r)
				}
				if seen[detail] || detail >= previous {
					t.Errorf("page %d: %q shown twice or out of order (after %q)", pages, detail, previous)
				}
				seen[detail], previous = true, detail
			}
			path = doc.Find(`[data-testid="audit-older"]`).AttrOr("href", "")
			if path != "" && !strings.Contains(path, "action=contact_edited") {
				t.Fatalf("Older → lost the filter: %q", path)
			}
			if pages > 1 && !strings.Contains(doc.Find(`[data-testid="audit-newest"]`).AttrOr("href", ""), "action=contact_edited") {
				t.Errorf("← Newest lost the filter")
			}
		}
		if len(seen) != 90 || pages != 2 {
			t.Errorf("saw %d of 90 events over %d pages, want all over 2 pages of 50", len(seen), pages)
		}
	})
}

// exportAudit downloads Export audit log as the portal's own page starts it.
func exportAudit(t *testing.T, b *portaltest.Browser, query, site string) portaltest.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test/audit/export.csv?"+query, nil)
	req.Header.Set("Sec-Fetch-Site", site)
	return b.Do(req)
}

func TestExportAuditLog(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		e := newAuditEnv(t, engine)
		resp := exportAudit(t, e.maria, fmt.Sprintf("contact=%d&from=%s", e.member.ID, day2), "same-origin")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export: status %d: %s", resp.StatusCode, resp.Body)
		}
		if got, want := resp.Header.Get("Content-Disposition"), `attachment; filename="audit-log-2026-11-24.csv"`; got != want {
			t.Errorf("Content-Disposition: got %q, want %q", got, want)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type: got %q", got)
		}
		body := strings.TrimPrefix(resp.Body, "\uFEFF")
		for i, line := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
			if !strings.HasPrefix(line, `"`) || !strings.HasSuffix(line, `"`) || strings.Contains(line, `",=`) {
				t.Errorf("line %d is not quoted field by field: %s", i+1, line)
			}
		}
		records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("parse the CSV: %v", err)
		}
		if fmt.Sprint(records[0]) != fmt.Sprint(export.AuditColumns) {
			t.Errorf("header: got %q, want %q", records[0], export.AuditColumns)
		}
		want := [][]string{
			{"2026-11-23 09:00:00", "Login failed", "login_failed", "System", "Łukasz Kowalski", "Northwind Traders",
				`'=HYPERLINK("http://evil.example","click") (failure 2 in a row)`, "192.0.2.66"},
			{"2026-11-23 09:00:00", "Login failed", "login_failed", "System", "Łukasz Kowalski", "Northwind Traders",
				"wrong password (failure 1 in a row)", "192.0.2.66"},
		}
		if fmt.Sprintf("%q", records[1:]) != fmt.Sprintf("%q", want) {
			t.Errorf("rows:\n got %q\nwant %q", records[1:], want)
		}

		// Everything of the scope, and nothing of the other tenant's.
		all := exportAudit(t, e.maria, "", "same-origin")
		if strings.Contains(all.Body, "Contoso") || strings.Contains(all.Body, "Olga") {
			t.Error("the export holds another tenant's events")
		}
		if got := strings.Count(all.Body, "\r\n") - 1; got < 6 {
			t.Errorf("unfiltered export: %d events, want the scope's 6 at least", got)
		}

		// Each export is on record, with its filters.
		sc, err := e.Store.ScopeOf(e.Ctx, e.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		exports, err := e.Store.AuditLog(e.Ctx, sc, db.AuditFilter{Action: db.ActionAuditExported}, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(exports) != 2 || exports[1].Detail != fmt.Sprintf("csv, contact #%d, from 2026-11-23 00:00 UTC", e.member.ID) ||
			exports[0].Detail != "csv, every event" || exports[1].ActorID != e.admin.ID {
			t.Errorf("audit_exported events: got %+v, want two, the first with its filters", exports)
		}

		// Refused: from another site, with bad filters, with another tenant's contact, without the role.
		if resp := exportAudit(t, e.maria, "", "cross-site"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("started by another site: status %d, want 403", resp.StatusCode)
		}
		if resp := exportAudit(t, e.maria, "from=soon", "same-origin"); resp.StatusCode != http.StatusBadRequest ||
			!strings.Contains(resp.Body, "Enter the first day as YYYY-MM-DD") {
			t.Errorf("bad date: status %d, want 400 with the reason", resp.StatusCode)
		}
		if resp := exportAudit(t, e.maria, fmt.Sprintf("contact=%d", e.olga.ID), "same-origin"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another tenant's contact: status %d, want 404", resp.StatusCode)
		}
		member := e.Login(e.member.Email)
		if resp := exportAudit(t, member, "", "same-origin"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a contact without the Contact admin role: status %d, want 403", resp.StatusCode)
		}
		if n, _ := e.check.CountAudit(e.Ctx, db.ActionAuditExported, 0); n != 2 {
			t.Errorf("audit_exported events after the refusals: got %d, want still 2", n)
		}
	})
}
