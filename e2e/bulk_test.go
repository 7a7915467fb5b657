package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"portal/db"
	"portal/portaltest"
)

// The bar of All Contacts (SPEC 3.8): tick contacts, act on them all, see one message and
// who was left alone.

// rowBox is the checkbox that selects a contact's row; finding it by its label proves a
// screen reader names it.
func rowBox(name string) element { return field("Select " + name) }

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
// contacts" (ticked with the keyboard) takes every match, the confirmation names them all,
// and the export menu's current view follows the search. On both engines: all matching is
// carried as the search, which each engine runs its own way.
func TestBulkSelectPageAndAllMatching(t *testing.T) {
	t.Parallel()
	portaltest.OnEachEngine(t, testBulkSelectPageAndAllMatching)
}

func testBulkSelectPageAndAllMatching(t *testing.T, engine portaltest.Engine) {
	p := startAdminPortalOn(t, engine)
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
	// Typing searches as it goes ("P", "Pa", …): wait for the list of the whole word, whose
	// bar has the (still hidden) Select all 30 matching contacts.
	tb.until("the list and its export menu to follow the search",
		`document.getElementById("export-view-heading").textContent.trim() === "Active contacts matching “Paula”"
		&& document.querySelector('[data-testid="select-all-matching"][data-count="30"]') !== null`)
	if eval[bool](tb, field("Select all 30 matching contacts").js+" !== null") {
		t.Errorf("Select all 30 matching contacts is offered before anything is selected")
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
	tb.tabTo(field("Select all 30 matching contacts"))
	tb.press(" ")
	tb.waitCount("All 30 matching contacts selected")
	if n := len(tb.ticked()); n != 25 {
		t.Errorf("with all matching selected, %d rows of the page are ticked, want all 25", n)
	}
	tb.checkA11y("All Contacts with all matching selected")
	tb.clickAndLoad(button("Lock selected"))
	tb.waitFor(heading("Lock 30 contacts?"))
	// Only 25 were on the page: 30 locked means the selection went as the search.
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
	tb.checkLayout("bulk-without-javascript")
	tb.clickAndLoad(button("Lock selected"))
	tb.waitFor(heading("Lock 2 contacts?"))
	tb.clickAndLoad(button("Lock 2 contacts"))
	tb.waitText("2 contacts have been locked out.")
	if got, want := p.lockedEmails(t, bruno, daniel, zoe), []string{bruno.Email, daniel.Email}; !slices.Equal(got, want) {
		t.Errorf("locked out now: %v, want %v", got, want)
	}
}

// TestBulkSendResetLinks: Send reset links by keyboard alone on three contacts: the one
// with a password gets a link; the locked one and the invited one without a password are
// listed with why, and get no mail.
func TestBulkSendResetLinks(t *testing.T) {
	p := startAdminPortal(t)
	lukasz := p.Contact(p.child, "Łukasz", "Nowak", "lukasz.nowak@acme.example")
	zoe := p.Contact(p.child, "Zoë", "Ærø", "zoe.aero@acme.example")
	p.Lock(p.admin, zoe)
	var nina db.Contact
	err := p.Store.Write(p.Ctx, func(tx *db.Tx) error {
		id, err := tx.CreateContact(p.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: p.child.ID,
			FirstName: "Nina", LastName: "Invited", Email: "nina.invited@acme.example"}})
		nina.ID = id
		return err
	})
	if err != nil {
		t.Fatalf("an invited contact without a password: %v", err)
	}
	check := p.Check()
	mailsOf := func(c db.Contact) int {
		t.Helper()
		m, err := check.MailTo(p.Ctx, c.ID)
		if err != nil {
			t.Fatalf("mail to contact %d: %v", c.ID, err)
		}
		return len(m)
	}
	before := map[string]int{"Łukasz": mailsOf(lukasz), "Zoë": mailsOf(zoe), "Nina": mailsOf(nina)}

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	// Zoë is locked out: her row is in the other section; the bar acts on one section.
	tb.waitFor(rowOf("Nina Invited"))
	for i, name := range []string{"Łukasz Nowak", "Nina Invited"} {
		tb.tabTo(rowBox(name))
		tb.press(" ")
		tb.waitCount(fmt.Sprintf("%d selected", i+1))
	}
	tb.tabTo(button("Send reset links"))
	tb.press("\r")
	tb.waitFor(heading("Send reset links to 2 contacts?"))
	tb.press("\t")
	tb.press("\r")
	tb.waitFor(testID("bulk-message"))
	if got, want := tb.text(testID("bulk-message")), "1 contact has been sent a reset link."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := tb.skippedRows(), []string{"Nina Invited: No password set yet: resend the invitation instead."}; !slices.Equal(got, want) {
		t.Errorf("left alone: got %q, want %q", got, want)
	}

	// The locked one, from Locked out contacts.
	tb.clickAndLoad(link("All Contacts"))
	tb.click(sectionTab("Locked out contacts"))
	tb.waitFor(rowOf("Zoë Ærø").within(section("Locked out contacts")))
	tb.click(rowBox("Zoë Ærø"))
	tb.waitCount("1 selected")
	tb.clickAndLoad(button("Send reset links"))
	tb.waitFor(heading("Send reset links to 1 contact?"))
	tb.clickAndLoad(button("Send reset links to 1 contact"))
	if got, want := tb.text(testID("bulk-message")), "No contacts have been sent a reset link."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got, want := tb.skippedRows(), []string{"Zoë Ærø: Locked out, so no reset link was sent."}; !slices.Equal(got, want) {
		t.Errorf("left alone: got %q, want %q", got, want)
	}
	tb.checkA11y("Send reset links result")

	after := map[string]int{"Łukasz": mailsOf(lukasz), "Zoë": mailsOf(zoe), "Nina": mailsOf(nina)}
	want := map[string]int{"Łukasz": before["Łukasz"] + 1, "Zoë": before["Zoë"], "Nina": before["Nina"]}
	if !maps.Equal(after, want) {
		t.Errorf("mails queued: got %v, want %v (one reset link, to Łukasz only)", after, want)
	}
}
