package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"portal/db"
)

// The bar of All Contacts (SPEC 3.8): tick contacts, act on them all, see one message and
// who was left alone.

// rowBox is the checkbox that selects a contact's row; finding it by its label proves a
// screen reader names it.
func rowBox(name string) element { return field("Select " + name) }

// bulkCount is what the bar says is selected, as a screen reader hears it.
func (tb *tab) bulkCount() string {
	tb.t.Helper()
	return eval[string](tb, `(() => { const el = document.querySelector('[data-testid="bulk-count"]');
return el ? el.textContent.replace(/\s+/g, " ").trim() : "no bar"; })()`)
}

// waitCount waits until the bar says words.
func (tb *tab) waitCount(words string) {
	tb.t.Helper()
	tb.until("the bar to say "+jsString(words),
		fmt.Sprintf(`document.querySelector('[data-testid="bulk-count"]').textContent.replace(/\s+/g, " ").trim() === %s`, jsString(words)))
}

// skippedRows are the lines of the list of contacts a bulk action left alone.
func (tb *tab) skippedRows() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('[data-testid="skipped-row"]')].map((li) => li.textContent.replace(/\s+/g, " ").trim())`)
}

// ticked is the names of the rows whose checkbox is ticked, in the list's order.
func (tb *tab) ticked() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('[data-testid="contact-row"]')]
	.filter((r) => r.querySelector('input[name="id"]').checked)
	.map((r) => r.querySelector('[data-testid="contact-name"]').textContent.trim())`)
}

// accessibleName is the name the browser's accessibility tree gives the element: what a
// screen reader announces, hidden words included and spaces as computed.
func (tb *tab) accessibleName(e element) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	found, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: e.js})
	if err != nil || found.Result == nil || found.Result.ObjectID == "" {
		tb.fail("find %s: %v", e.desc, err)
	}
	tree, err := chromedp.Call(ctx, accessibility.GetPartialAXTree,
		accessibility.GetPartialAXTreeParams{ObjectID: found.Result.ObjectID, FetchRelatives: new(false)})
	if err != nil || len(tree.Nodes) == 0 || tree.Nodes[0].Name == nil {
		tb.fail("the accessibility tree of %s: %v", e.desc, err)
	}
	var name string
	if err := json.Unmarshal(tree.Nodes[0].Name.Value, &name); err != nil {
		tb.fail("the accessible name of %s: %v", e.desc, err)
	}
	return name
}

// lockedEmails is the emails of the contacts of want that are locked out now.
func (p *adminPortal) lockedEmails(t *testing.T, want ...db.Contact) []string {
	t.Helper()
	var locked []string
	for _, c := range want {
		if p.Reload(c).Locked() {
			locked = append(locked, c.Email)
		}
	}
	return locked
}

// TestBulkLock: three contacts ticked with the mouse, the bar counts them in a live region,
// Lock selected asks "Lock 3 contacts?", and the page after says how many were locked and
// which one was left alone, and why.
func TestBulkLock(t *testing.T) {
	p := startAdminPortal(t)
	bruno := p.Contact(p.company, "Bruno", "Škoda", "bruno.skoda@acme.example")
	daniel := p.Contact(p.company, "Daniel", "O'Brien", "daniel.obrien@acme.example")
	lars := p.Contact(p.child, "Lars", "Last", "lars.last@acme.example", db.RoleContactAdmin)
	zoe := p.Contact(p.child, "Zoë", "Ærø", "zoe.aero@acme.example", db.RoleIncidentContact)
	p.Contact(p.child, "Łukasz", "Nowak", "lukasz.nowak@acme.example")

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Bruno Škoda"))
	if eval[bool](tb, button("Lock selected").js+" !== null") {
		t.Errorf("the bar offers its buttons before anything is selected")
	}

	for _, name := range []string{"Bruno Škoda", "Daniel O'Brien", "Lars Last"} {
		tb.click(rowBox(name))
	}
	tb.waitCount("3 selected")
	if !eval[bool](tb, `!!document.querySelector('[data-testid="bulk-count"]').closest('[aria-live]')`) {
		t.Errorf("the count of the selection is not in a live region: a screen reader would not hear it change")
	}
	tb.waitFor(button("Lock selected"))
	tb.checkA11y("All Contacts with a selection")
	tb.checkLayout("bulk-selection")

	tb.clickAndLoad(button("Lock selected"))
	tb.waitFor(heading("Lock 3 contacts?"))
	tb.checkA11y("bulk lock confirmation")
	tb.checkLayout("bulk-confirm")
	if got := p.lockedEmails(t, bruno, daniel, lars); len(got) != 0 {
		t.Fatalf("the confirmation locked %v before it was confirmed", got)
	}

	tb.clickAndLoad(button("Lock 3 contacts"))
	tb.waitFor(testID("bulk-message"))
	if got, want := tb.text(testID("bulk-message")), "2 contacts have been locked out."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := tb.skippedRows(), []string{"Lars Last: The last active contact admin of its account."}; !slices.Equal(got, want) {
		t.Errorf("left alone: got %q, want %q", got, want)
	}
	if !tb.focused(testID("bulk-message")) {
		t.Errorf("the page after Lock selected does not start at its message")
	}
	tb.checkA11y("bulk lock result")
	tb.checkLayout("bulk-result")
	if got, want := p.lockedEmails(t, bruno, daniel, lars, zoe), []string{bruno.Email, daniel.Email}; !slices.Equal(got, want) {
		t.Errorf("locked out now: %v, want %v", got, want)
	}

	// Back to the list the selection was made on: the two are in Locked out contacts.
	tb.clickAndLoad(link("All Contacts"))
	tb.waitFor(heading("All Contacts"))
	if got := tb.text(testID("count-locked")); got != "2" {
		t.Errorf("Locked out contacts counts %s, want 2", got)
	}
}

// TestBulkLockByKeyboard: the same with Tab, Space and Enter alone; the admin ticked
// themselves too, and is told they were left alone.
func TestBulkLockByKeyboard(t *testing.T) {
	p := startAdminPortal(t)
	kim := p.Contact(p.company, "Kim", "Keys", "kim@acme.example")
	otto := p.Contact(p.company, "Otto", "Other", "otto@acme.example")
	p.Contact(p.company, "Amelia", "Schmidt", "amelia@acme.example", db.RoleContactAdmin)

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Otto Other"))
	for i, name := range []string{"Ada Admin", "Kim Keys", "Otto Other"} {
		tb.tabTo(rowBox(name))
		tb.press(" ")
		tb.waitCount(fmt.Sprintf("%d selected", i+1))
	}
	if got, want := tb.ticked(), []string{"Ada Admin", "Kim Keys", "Otto Other"}; !slices.Equal(got, want) {
		t.Errorf("ticked with Space: %q, want %q", got, want)
	}
	tb.tabTo(button("Lock selected"))
	tb.press("\r")
	tb.waitFor(heading("Lock 3 contacts?"))
	// The page starts at its question, which a screen reader reads out; the button is the
	// next stop, so Enter alone can't confirm what nobody has read yet.
	if !tb.focused(heading("Lock 3 contacts?")) {
		t.Errorf("the confirmation does not start at its question (focus is on %s)",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
	}
	tb.press("\t")
	confirm := button("Lock 3 contacts")
	if !tb.focused(confirm) {
		t.Errorf("one Tab after the question is not the confirm button (focus is on %s)",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
	}
	tb.tabTo(confirm)
	tb.press("\r")
	tb.waitFor(testID("bulk-message"))
	if got, want := tb.text(testID("bulk-message")), "2 contacts have been locked out."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := tb.skippedRows(), []string{"Ada Admin: You can't lock yourself out."}; !slices.Equal(got, want) {
		t.Errorf("left alone: got %q, want %q", got, want)
	}
	if got, want := p.lockedEmails(t, p.admin, kim, otto), []string{kim.Email, otto.Email}; !slices.Equal(got, want) {
		t.Errorf("locked out now: %v, want %v", got, want)
	}
}

// TestBulkSelectPageAndAllMatching: the header checkbox ticks the page and shows a partial
// selection as mixed; after a search that matches more than a page, "Select all N matching
// contacts" takes every match, the confirmation names them all, and the export menu's
// current view follows the search.
func TestBulkSelectPageAndAllMatching(t *testing.T) {
	p := startAdminPortal(t)
	var paulas []db.Contact
	for i := range 30 {
		paulas = append(paulas, p.Contact(p.company, "Paula", fmt.Sprintf("Page%02d", i), fmt.Sprintf("paula%02d@acme.example", i)))
	}
	otto := p.Contact(p.company, "Otto", "Other", "otto@acme.example")

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Paula Page00"))
	pageBox := field("Select all contacts on this page")
	state := func() string {
		return eval[string](tb, pageBox.js+`.checked ? "checked" : `+pageBox.js+`.indeterminate ? "mixed" : "clear"`)
	}

	tb.click(rowBox("Paula Page00"))
	tb.waitCount("1 selected")
	if got := state(); got != "mixed" {
		t.Errorf("one row ticked: the header checkbox is %s, want mixed (indeterminate)", got)
	}
	tb.click(pageBox)
	tb.waitCount("25 selected")
	if got, rows := state(), len(tb.ticked()); got != "checked" || rows != 25 {
		t.Errorf("after the header checkbox: it is %s with %d rows ticked, want checked with all 25", got, rows)
	}
	tb.checkA11y("All Contacts with the page selected")
	tb.click(pageBox)
	tb.until("the selection to be cleared", `document.querySelectorAll('input[name="id"]:checked').length === 0`)
	if got := state(); got != "clear" {
		t.Errorf("after the header checkbox again: it is %s, want clear", got)
	}

	// A search that matches 30: more than the page, so the bar offers all of them.
	tb.typeInto(field("Search by name or email"), "Paula")
	tb.waitFor(testID("search-summary"))
	if eval[bool](tb, field("Select all 30 matching contacts").js+" !== null") {
		t.Errorf("Select all 30 matching contacts is offered before anything is selected")
	}
	if got := eval[string](tb, `document.getElementById("export-view-heading").textContent.trim()`); got != "Active contacts matching “Paula”" {
		t.Errorf("the export menu's current view reads %q after the search, want Active contacts matching “Paula”", got)
	}
	tb.click(button("Export contacts"))
	viewCSV := link("Export CSV of Active contacts matching “Paula”") // its words, hidden ones included
	if got, want := tb.accessibleName(viewCSV), "Export CSV of Active contacts matching “Paula”"; got != want {
		t.Errorf("a screen reader names the current view's CSV link %q, want %q", got, want)
	}
	name, data := tb.download("Export CSV of the current view", func() { tb.click(viewCSV) })
	if !strings.HasSuffix(name, ".csv") {
		t.Errorf("the current view's CSV saved as %q", name)
	}
	if got := csvEmails(t, data); len(got) != 30 || !allPaulas(got) {
		t.Errorf("the current view's CSV holds %d contacts (%v), want the 30 Paulas the search matched", len(got), got)
	}

	// As in a mail client: tick the page, and the bar offers every match.
	tb.click(pageBox)
	tb.waitCount("25 selected")
	tb.click(field("Select all 30 matching contacts"))
	tb.waitCount("All 30 matching contacts selected")
	if n := len(tb.ticked()); n != 25 {
		t.Errorf("with all matching selected, %d rows of the page are ticked, want all 25", n)
	}
	tb.checkA11y("All Contacts with all matching selected")
	tb.clickAndLoad(button("Lock selected"))
	tb.waitFor(heading("Lock 30 contacts?"))
	tb.clickAndLoad(button("Lock 30 contacts"))
	if got, want := tb.text(testID("bulk-message")), "30 contacts have been locked out."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got := p.lockedEmails(t, append([]db.Contact{p.admin, otto}, paulas...)...); len(got) != 30 || !allPaulas(got) {
		t.Errorf("locked out: %d contacts %v, want the 30 Paulas and nobody else", len(got), got)
	}
}

// csvEmails reads the Email column of an export.
func csvEmails(t *testing.T, data []byte) []string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("not a CSV with a header: %v\n%s", err, data)
	}
	col := slices.Index(rows[0], "Email")
	if col < 0 {
		t.Fatalf("the CSV has no Email column: %q", rows[0])
	}
	var emails []string
	for _, r := range rows[1:] {
		emails = append(emails, r[col])
	}
	slices.Sort(emails)
	return emails
}

func allPaulas(emails []string) bool {
	for _, e := range emails {
		if !strings.HasPrefix(e, "paula") {
			return false
		}
	}
	return true
}

// TestBulkExportSelected: Export selected offers the selection in the three formats, and
// the CSV holds exactly the ticked contacts.
func TestBulkExportSelected(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.company, "Bruno", "Škoda", "bruno.skoda@acme.example")
	p.Contact(p.child, "Zoë", "Ærø", "zoe.aero@acme.example")
	locked := p.Contact(p.child, "Łukasz", "Nowak", "lukasz.nowak@acme.example")
	p.Lock(p.admin, locked)

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.click(rowBox("Bruno Škoda"))
	tb.click(rowBox("Zoë Ærø"))
	tb.waitCount("2 selected")
	tb.clickAndLoad(button("Export selected"))
	tb.waitFor(heading("Export 2 contacts"))
	tb.checkA11y("Export selected")
	tb.checkLayout("bulk-export")
	name, data := tb.download("Export CSV of the selection", func() { tb.click(link("Export CSV")) })
	if !strings.HasSuffix(name, ".csv") {
		t.Errorf("Export CSV of the selection saved as %q", name)
	}
	if got, want := csvEmails(t, data), []string{"bruno.skoda@acme.example", "zoe.aero@acme.example"}; !slices.Equal(got, want) {
		t.Errorf("Export CSV of the selection holds %v, want exactly %v", got, want)
	}
}

// TestBulkLockWithoutJavaScript: with scripts off the list is a plain form of checkboxes:
// tick, Lock selected, confirm, and the same message.
func TestBulkLockWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	bruno := p.Contact(p.company, "Bruno", "Škoda", "bruno.skoda@acme.example")
	daniel := p.Contact(p.company, "Daniel", "O'Brien", "daniel.obrien@acme.example")
	zoe := p.Contact(p.child, "Zoë", "Ærø", "zoe.aero@acme.example")

	tb := p.openMyContacts(t, withoutJavaScript)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Bruno Škoda"))
	if eval[bool](tb, `(() => { const el = document.querySelector('[data-testid="select-page"]'); return !!el && !!el.offsetParent; })()`) {
		t.Errorf("without JavaScript the header checkbox shows, but nothing would make it tick the page")
	}
	tb.click(rowBox("Bruno Škoda"))
	tb.click(rowBox("Daniel O'Brien"))
	tb.clickAndLoad(button("Lock selected"))
	tb.waitFor(heading("Lock 2 contacts?"))
	tb.clickAndLoad(button("Lock 2 contacts"))
	tb.waitText("2 contacts have been locked out.")
	if got, want := p.lockedEmails(t, bruno, daniel, zoe), []string{bruno.Email, daniel.Email}; !slices.Equal(got, want) {
		t.Errorf("locked out now: %v, want %v", got, want)
	}
}
