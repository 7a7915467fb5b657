package e2e

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portal/db"
	"portal/portaltest"
)

// signedInTabs signs the contact in from n tabs of their own, as from n browsers.
func (p *adminPortal) signedInTabs(t *testing.T, c db.Contact, n int) []*tab {
	t.Helper()
	tabs := make([]*tab, n)
	for i := range tabs {
		tabs[i] = p.newTab(t)
		tabs[i].login(c.Email, portaltest.Password)
		tabs[i].waitPath("/")
	}
	return tabs
}

// TestSignOutEverywhere: a contact admin sees a colleague's two sessions and their failed
// sign-in on the colleague's page, and ends both sessions by keyboard alone; the colleague's
// next page is the login page.
func TestSignOutEverywhere(t *testing.T) {
	p := startAdminPortal(t)
	colleague := p.Contact(p.child, "Łukasz", "Nowak", "lukasz.nowak@acme.example")
	wrong := p.newTab(t)
	wrong.login(colleague.Email, "not the password")
	wrong.waitText("Invalid user name or password")
	browsers := p.signedInTabs(t, colleague, 2)

	tb := p.newTab(t)
	tb.login(p.admin.Email, portaltest.Password)
	tb.visit(fmt.Sprintf("/contacts/%d", colleague.ID))
	tb.waitFor(heading("Sessions"))
	if n := eval[int](tb, `document.querySelectorAll('[data-testid="session-row"]').length`); n != 2 {
		t.Errorf("sessions listed: %d, want 2", n)
	}
	if got := tb.text(testID("session-browser")); got != "Chrome on Linux" {
		t.Errorf("a session's browser reads %q, want %q (headless Chromium on Linux)", got, "Chrome on Linux")
	}
	if got := tb.text(testID("session-address")); got != "127.0.0.1" {
		t.Errorf("a session's address reads %q, want 127.0.0.1", got)
	}
	tb.waitFor(heading("Login history"))
	tb.waitText("wrong password (failure 1 in a row)")
	tb.checkA11y("a contact's page with sessions and login history")
	tb.checkLayout("contact-sessions")

	tb.tabTo(button("Sign out everywhere"))
	tb.press("\r")
	tb.waitText("Łukasz Nowak has been signed out everywhere (2 sessions ended).")
	tb.waitText("Łukasz Nowak is not signed in anywhere.")
	if got := tb.path(); got != fmt.Sprintf("/contacts/%d", colleague.ID) {
		t.Errorf("after Sign out everywhere the browser is at %s, want the contact's page", got)
	}
	tb.checkA11y("a contact's page after Sign out everywhere")

	for i, b := range browsers {
		b.visit("/")
		b.waitFor(heading("Log in"))
		if got := b.path(); !strings.HasPrefix(got, "/login") {
			t.Errorf("browser %d after Sign out everywhere: at %s, want the login page", i+1, got)
		}
	}
}

// TestSignOutEverywhereWithoutJavaScript: the same through a plain form and a redirect.
func TestSignOutEverywhereWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	colleague := p.Contact(p.child, "Nora", "Noscript", "nora@acme.example")
	browsers := p.signedInTabs(t, colleague, 1)

	tb := p.newTab(t, withoutJavaScript)
	tb.login(p.admin.Email, portaltest.Password)
	tb.visit(fmt.Sprintf("/contacts/%d", colleague.ID))
	tb.clickAndLoad(button("Sign out everywhere"))
	tb.waitText("Nora Noscript has been signed out everywhere (1 session ended).")
	tb.waitText("Nora Noscript is not signed in anywhere.")
	tb.checkA11y("a contact's page after Sign out everywhere, without JavaScript")

	browsers[0].visit("/")
	browsers[0].waitFor(heading("Log in"))
}

// TestAuditLogFilteredAndExported: from a contact's page to its events in the audit log, the
// action filter chosen, Back and reload keeping the filters, and Export audit log saving
// exactly the events shown.
func TestAuditLogFilteredAndExported(t *testing.T) {
	p := startAdminPortal(t)
	colleague := p.Contact(p.child, "Zoë", "Zimmermann", "zoe@acme.example")
	other := p.Contact(p.child, "Olaf", "Other", "olaf@acme.example")
	for _, c := range []db.Contact{colleague, colleague, other} {
		wrong := p.newTab(t)
		wrong.login(c.Email, "not the password")
		wrong.waitText("Invalid user name or password")
	}
	p.signedInTabs(t, colleague, 1)

	tb := p.newTab(t)
	tb.login(p.admin.Email, portaltest.Password)
	tb.visit(fmt.Sprintf("/contacts/%d", colleague.ID))
	tb.clickAndLoad(link("See all in the audit log"))
	contactOnly := fmt.Sprintf("/audit?contact=%d", colleague.ID)
	tb.waitPath(contactOnly)
	tb.waitFor(heading("Audit log"))
	if got := eval[string](tb, `(() => { const s = document.getElementById("audit-contact"); return s.options[s.selectedIndex].text; })()`); got != "Zoë Zimmermann (zoe@acme.example)" {
		t.Errorf("contact filter shows %q, want Zoë Zimmermann", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('[data-testid="audit-row"]').length`); n != 3 {
		t.Errorf("Zoë's events: %d rows, want 3 (two failures, one sign-in)", n)
	}

	tb.choose(field("Action"), "Login failed")
	tb.clickAndLoad(button("Filter"))
	filtered := fmt.Sprintf("/audit?contact=%d&action=login_failed&from=&to=", colleague.ID) // as the form sends it
	tb.waitPath(filtered)
	actions := func() string {
		return eval[string](tb, `[...document.querySelectorAll('[data-testid="audit-row"]')].map((r) => r.dataset.action).join(",")`)
	}
	if got := actions(); got != "login_failed,login_failed" {
		t.Errorf("filtered rows: %s, want Zoë's two failed sign-ins", got)
	}
	tb.checkA11y("the audit log, filtered")
	tb.checkLayout("audit-log-filtered")

	tb.do("reload", chromedp.Reload())
	tb.waitPath(filtered)
	if got := eval[string](tb, `document.getElementById("audit-action").value`); got != "login_failed" || actions() != "login_failed,login_failed" {
		t.Errorf("after reload: action filter %q, rows %s; want the same filters and rows", got, actions())
	}
	eval[chromedp.Void](tb, `history.back()`)
	tb.waitPath(contactOnly)
	eval[chromedp.Void](tb, `history.forward()`)
	tb.waitPath(filtered)
	if got := eval[string](tb, `document.getElementById("audit-action").value`); got != "login_failed" {
		t.Errorf("after Back and Forward: action filter %q, want login_failed", got)
	}
	tb.visit(filtered) // chromedp's DOM queries lose track of pages restored from history

	name, data := tb.download("Export audit log", func() { tb.click(link("Export audit log")) })
	if name != "audit-log-2026-11-22.csv" {
		t.Errorf("export saved as %q, want audit-log-2026-11-22.csv", name)
	}
	records, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(data), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatalf("the export is not CSV: %v", err)
	}
	if len(records) != 3 {
		t.Fatalf("export: %d lines, want a header and Zoë's two failed sign-ins:\n%q", len(records), records)
	}
	for _, r := range records[1:] {
		if r[2] != db.ActionLoginFailed || r[4] != "Zoë Zimmermann" {
			t.Errorf("exported row %q is not one of Zoë's failed sign-ins", r)
		}
	}
	tb.visit("/audit?action=audit_exported")
	tb.waitText("Audit log exported")
}

// TestAuditLogFiltersWithoutJavaScript: the filters are a plain GET form.
func TestAuditLogFiltersWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	colleague := p.Contact(p.child, "Nora", "Noscript", "nora@acme.example")
	wrong := p.newTab(t)
	wrong.login(colleague.Email, "not the password")
	wrong.waitText("Invalid user name or password")

	tb := p.newTab(t, withoutJavaScript)
	tb.login(p.admin.Email, portaltest.Password)
	tb.visit("/audit")
	tb.choose(field("Contact"), "Nora Noscript (nora@acme.example)")
	tb.choose(field("Action"), "Login failed")
	tb.clickAndLoad(button("Filter"))
	tb.waitPath(fmt.Sprintf("/audit?contact=%d&action=login_failed&from=&to=", colleague.ID))
	tb.waitText("wrong password (failure 1 in a row)")
	tb.clickAndLoad(link("Clear filters"))
	tb.waitPath("/audit")
}
