package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portal/db"
	"portal/portaltest"
)

// openMyContacts logs the admin in and follows the banner to My contacts.
func (p *adminPortal) openMyContacts(t *testing.T, opts ...tabOption) *tab {
	t.Helper()
	tb := p.newTab(t, opts...)
	tb.login(p.admin.Email, portaltest.Password)
	tb.clickAndLoad(link("My contacts").within(navigation("Main")))
	tb.waitFor(heading("My contacts"))
	return tb
}

// section is the part of a page under the heading with these words (All Contacts has
// Active contacts and Locked out contacts).
func section(words string) element {
	return find("section "+jsString(words), "section, [role=region]",
		`[...el.querySelectorAll("h1, h2, h3")].some((h) => norm(h.textContent).replace(/\s*\d+$/, "") === `+jsString(words)+`)`)
}

// rowOf is the row (or list item) of a contact in a list, found by its name.
func rowOf(name string) element {
	return find("row of "+jsString(name), "tr, li, [role=row]", "norm(el.textContent).includes("+jsString(name)+")")
}

// createContact fills Create contact the way a person does and submits it.
func (tb *tab) createContact(first, last, email, account string, roles ...string) {
	tb.t.Helper()
	tb.clickAndLoad(link("Create contact"))
	tb.waitFor(heading("Create contact"))
	tb.typeInto(field("First name"), first)
	tb.typeInto(field("Last name"), last)
	tb.typeInto(field("Email"), email)
	tb.typeInto(field("Phone"), "+44 20 7946 0000")
	tb.typeInto(field("Job title"), "Service manager")
	if account != "" {
		tb.choose(field("Account"), account)
	}
	for _, r := range roles {
		tb.click(field(r))
	}
	tb.clickAndLoad(button("Submit"))
}

// TestCreateContact: Create contact in a child organization with a role; the confirmation;
// the contact in Active contacts.
func TestCreateContact(t *testing.T) {
	p := startAdminPortal(t)
	// Colleagues already there, so that All Contacts (and its screenshot) looks like a
	// customer's list, not an empty test database.
	for _, c := range []struct {
		first, last, email string
		child              bool
		roles              []db.Role
	}{
		{"Zoë", "Ærø", "zoe.aero@acme.example", true, []db.Role{db.RoleIncidentContact}},
		{"Łukasz", "Nowak", "lukasz.nowak@acme.example", true, nil},
		{"Amelia", "Schmidt", "amelia.schmidt@acme.example", false, []db.Role{db.RoleContactAdmin}},
		{"Bruno", "Škoda", "bruno.skoda@acme.example", false, nil},
		{"Chloé", "Martin", "chloe.martin@acme.example", true, []db.Role{db.RoleContactAdmin, db.RoleIncidentContact}},
		{"Daniel", "O'Brien", "daniel.obrien@acme.example", false, nil},
	} {
		account := p.company
		if c.child {
			account = p.child
		}
		p.Contact(account, c.first, c.last, c.email, c.roles...)
	}
	tb := p.openMyContacts(t)
	tb.checkA11y("My contacts")
	tb.checkLayout("my-contacts")

	tb.clickAndLoad(link("Create contact"))
	tb.waitFor(heading("Create contact"))
	if got := eval[string](tb, field("Account Name").js+".value"); got != p.company.Name {
		t.Errorf("Account Name: got %q, want the admin's account %q", got, p.company.Name)
	}
	tb.checkA11y("Create contact")
	tb.checkLayout("create-contact")

	// Nothing filled in: errors beside the fields, nothing stored.
	tb.clickAndLoad(button("Submit"))
	tb.waitFor(testID("error-first_name"))
	if got := eval[string](tb, field("First name").js+`.getAttribute("aria-describedby")`); got != "first_name-error" {
		t.Errorf("First name's error is not tied to the field: aria-describedby=%q", got)
	}
	if !tb.focused(field("First name")) {
		t.Errorf("a form with errors should start at the first field to fix; focus is on %s",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : "nothing"`))
	}
	tb.checkA11y("Create contact with errors")

	tb.visit("/my-contacts")
	tb.createContact("Carla", "Child", "carla@acme.example", p.child.Name, "Incident contact")
	tb.waitText("Contact Carla Child has been successfully created.")
	tb.waitFor(heading("Carla Child"))
	if !tb.focused(testID("alert-success")) {
		t.Errorf("after Create contact the focus is not on the confirmation")
	}
	tb.waitText(p.child.Name)
	tb.waitText("Incident contact")
	tb.checkA11y("contact details after Create contact")
	tb.checkLayout("contact-details")

	tb.visit("/my-contacts")
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(heading("All Contacts"))
	tb.waitFor(rowOf("Carla Child").within(section("Active contacts")))
	tb.checkA11y("All Contacts")
	tb.checkLayout("all-contacts")

	// Carla's invitation: the set-your-password mail, the link, her first login.
	mailed := p.mailedLink(t, "carla@acme.example", "/set-password/")
	carla := p.newTab(t)
	carla.setPasswordFromLink(mailed, "Set your password", "carla@acme.example", "")
	carla.waitText("Welcome, Carla")
}

// TestSearchAsYouType: typing narrows the list without a page load (a marker on window
// survives), the URL follows, and Back restores the previous search.
func TestSearchAsYouType(t *testing.T) {
	p := startAdminPortal(t)
	for i, name := range []string{"Zoë Zimmermann", "Łukasz Nowak", "Ærø Hansen", "Škoda Novák", "Mia Moreau", "Noah Martin"} {
		first, last, _ := strings.Cut(name, " ")
		p.Contact(p.company, first, last, fmt.Sprintf("person%d@acme.example", i))
	}
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Noah Martin"))
	tb.checkA11y("All Contacts")

	eval[bool](tb, `window.e2eMarker = "same page"; true`)
	search := field("Search by name or email")
	tb.watchIndicator("#search-indicator")
	tb.typeInto(search, "Nowak")
	tb.until("the list to show only Łukasz Nowak", rowsJS("Łukasz Nowak", "Noah Martin"))
	if !tb.sawIndicator("#search-indicator") {
		t.Errorf("no loading indicator showed while the search ran")
	}
	tb.checkA11y("All Contacts with a search")
	if got := tb.path(); !strings.Contains(got, "Nowak") {
		t.Errorf("after searching, the URL is %s; it should carry the search", got)
	}

	tb.typeInto(search, "Martin")
	tb.until("the list to show only Noah Martin", rowsJS("Noah Martin", "Łukasz Nowak"))
	if got := eval[string](tb, `window.e2eMarker || ""`); got != "same page" {
		t.Errorf("searching reloaded the page (window marker gone)")
	}

	// Back as the browser's button does it: a same-document history step, no page load.
	eval[chromedp.Void](tb, `history.back()`)
	tb.until("Back to restore the search for Nowak", rowsJS("Łukasz Nowak", "Noah Martin"))
	if got := eval[string](tb, search.js+".value"); got != "Nowak" {
		t.Errorf("after Back the search field holds %q, want %q", got, "Nowak")
	}
}

// rowsJS is true when the list shows a row for want and none for gone.
func rowsJS(want, gone string) string {
	return fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll("main tr, main li")].map((r) => r.textContent);
return rows.some((t) => t.includes(%s)) && !rows.some((t) => t.includes(%s)); })()`, jsString(want), jsString(gone))
}

// TestLockAndUnlock: Lock this contact → confirmation → Locked out contacts; the locked
// contact's open session is thrown out on its next click; Unlock this contact →
// confirmation. The one flow that also runs on PostgreSQL: sign-in, sessions, a lock and
// both sections of All Contacts cover what differs most between the engines.
func TestLockAndUnlock(t *testing.T) {
	t.Parallel()
	portaltest.OnEachEngine(t, testLockAndUnlock)
}

func testLockAndUnlock(t *testing.T, engine portaltest.Engine) {
	p := startAdminPortalOn(t, engine)
	p.Contact(p.child, "Lena", "Locke", "lena@acme.example")
	p.Contact(p.child, "Lars", "Last", "lars@acme.example", db.RoleContactAdmin)

	lena := p.newTab(t)
	lena.login("lena@acme.example", portaltest.Password)
	lena.waitText("Welcome, Lena")

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.clickAndLoad(link("Lena Locke").within(section("Active contacts")))
	eval[bool](tb, `window.e2eMarker = "same page"; true`)
	tb.watchIndicator("#action-indicator")
	tb.click(button("Lock this contact"))
	tb.waitFor(testID("alert-success"))
	if got, want := tb.text(testID("alert-success")), "Lena Locke has been successfully locked out."; got != want {
		t.Errorf("confirmation: got %q, want %q", got, want)
	}
	if !tb.focused(testID("alert-success")) {
		t.Errorf("after Lock this contact the focus is not on the confirmation")
	}
	if !eval[bool](tb, `!!document.querySelector('[data-testid="alert-success"]').closest('[aria-live]')`) {
		t.Errorf("the confirmation is not in a live region: screen readers won't announce it")
	}
	if eval[string](tb, `window.e2eMarker || ""`) != "same page" {
		t.Errorf("Lock this contact reloaded the page; HTMX should swap it in place")
	}
	if !tb.sawIndicator("#action-indicator") {
		t.Errorf("no loading indicator showed while Lock this contact ran")
	}
	tb.waitFor(button("Unlock this contact"))
	tb.waitText("Locked by Ada Admin")
	tb.checkA11y("lock confirmation")
	tb.checkLayout("contact-locked")

	tb.clickAndLoad(link("All Contacts"))
	tb.click(sectionTab("Locked out contacts"))
	tb.waitFor(rowOf("Lena Locke").within(section("Locked out contacts")))
	tb.checkA11y("Locked out contacts")

	// Lena's browser still shows the portal; her next click finds her signed out.
	lena.clickAndLoad(link("Customer Support Portal"))
	lena.waitFor(field("User name"))

	tb.clickAndLoad(link("Lena Locke").within(section("Locked out contacts")))
	tb.click(button("Unlock this contact"))
	tb.waitFor(button("Lock this contact"))
	if got, want := tb.text(testID("alert-success")), "Lena Locke has been successfully unlocked."; got != want {
		t.Errorf("confirmation: got %q, want %q", got, want)
	}
	tb.checkA11y("unlock confirmation")
	tb.clickAndLoad(link("All Contacts"))
	tb.waitFor(rowOf("Lena Locke").within(section("Active contacts")))

	lena.login("lena@acme.example", portaltest.Password)
	lena.waitText("Welcome, Lena")

	// The last active contact admin of an account can't be locked out: the page says so
	// instead of offering a button that could only be refused.
	tb.clickAndLoad(link("Lars Last"))
	tb.waitFor(testID("no-lock"))
	if got, want := tb.text(testID("no-lock")), "Lars Last is the last active contact admin of Acme Europe, so they can't be locked out."; got != want {
		t.Errorf("last admin: got %q, want %q", got, want)
	}
	if eval[bool](tb, `!!document.querySelector('[data-testid="lock-contact"]')`) {
		t.Errorf("a Lock this contact button is offered for the last active contact admin")
	}
	tb.checkA11y("last active contact admin")
}

// TestWrongPasswordsLockOut: wrong passwords in the browser until the contact shows in
// Locked out contacts with its reason.
func TestWrongPasswordsLockOut(t *testing.T) {
	p := startAdminPortal(t, "--lockout-threshold", "3")
	p.Contact(p.company, "Walt", "Wrong", "walt@acme.example")
	walt := p.newTab(t)
	for range 3 {
		walt.login("walt@acme.example", "this is not his password")
		walt.waitFor(testID("login-error"))
	}
	walt.login("walt@acme.example", portaltest.Password)
	walt.waitFor(testID("login-error")) // locked now: the right password no longer works

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.click(sectionTab("Locked out contacts"))
	row := rowOf("Walt Wrong").within(section("Locked out contacts"))
	tb.waitFor(row)
	if got := tb.text(row); !strings.Contains(got, "Too many failed login attempts") {
		t.Errorf("Walt's row in Locked out contacts: %q, want the reason", got)
	}
	tb.clickAndLoad(link("Walt Wrong").within(section("Locked out contacts")))
	tb.waitText("Too many failed login attempts")
	tb.checkA11y("auto-locked contact")
}

// TestContactsWithoutJavaScript: with scripts off, log in, create, lock and unlock through
// plain forms and redirects.
func TestContactsWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	tb := p.openMyContacts(t, withoutJavaScript)

	tb.createContact("Nora", "Noscript", "nora@acme.example", p.child.Name, "Incident contact")
	tb.waitText("Contact Nora Noscript has been successfully created.")

	tb.clickAndLoad(button("Lock this contact"))
	tb.waitText("Nora Noscript has been successfully locked out.")
	tb.clickAndLoad(button("Unlock this contact"))
	tb.waitText("Nora Noscript has been successfully unlocked.")

	// Search and sections are plain GET forms and links.
	tb.clickAndLoad(link("All Contacts"))
	tb.typeInto(field("Search by name or email"), "Noscript")
	tb.clickAndLoad(button("Search"))
	tb.waitFor(rowOf("Nora Noscript"))
	if n := eval[int](tb, `document.querySelectorAll('[data-testid="contact-row"]').length`); n != 1 {
		t.Errorf("search without JavaScript shows %d rows, want 1", n)
	}
	tb.clickAndLoad(sectionTab("Locked out contacts"))
	tb.waitFor(section("Locked out contacts"))

	got, err := p.Store.ContactByEmail(p.Ctx, "nora@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != db.StatusActive || got.AccountID != p.child.ID {
		t.Errorf("Nora after create, lock, unlock: status %v in account %d, want active in %d", got.Status, got.AccountID, p.child.ID)
	}
}

// TestContactListByKeyboard: search, switch sections and open a contact with the keyboard
// alone.
func TestContactListByKeyboard(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.company, "Kim", "Keys", "kim@acme.example")
	p.Contact(p.company, "Otto", "Other", "otto@acme.example")
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Otto Other"))

	search := field("Search by name or email")
	tb.tabTo(search)
	tb.do("type a search", chromedp.SendKeys(search.sel(), "Kim"))
	tb.until("the list to show only Kim Keys", rowsJS("Kim Keys", "Otto Other"))
	if !tb.focused(search) {
		t.Errorf("the search field lost the focus while the list was updated")
	}

	tb.tabTo(sectionTab("Locked out contacts"))
	tb.press("\r")
	tb.waitFor(section("Locked out contacts"))
	if !tb.focused(sectionTab("Locked out contacts")) {
		t.Errorf("after switching sections by keyboard the focus is not on the section's tab (it is on %s)",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
	}
	tb.tabTo(sectionTab("Active contacts"))
	tb.press("\r")
	tb.waitFor(section("Active contacts"))

	name := link("Kim Keys").within(section("Active contacts"))
	tb.tabTo(name)
	tb.press("\r")
	tb.waitFor(heading("Kim Keys"))
	tb.tabTo(button("Lock this contact"))
	tb.press("\r")
	tb.waitText("Kim Keys has been successfully locked out.")
}

// TestEditContact: Edit contact from the contact's page changes the fields and confirms.
func TestEditContact(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.company, "Erik", "Edit", "erik@acme.example")
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.clickAndLoad(link("Erik Edit"))
	tb.clickAndLoad(link("Edit contact"))
	tb.waitFor(field("Job title"))
	tb.checkA11y("Edit contact")
	tb.typeInto(field("Job title"), "Head of support")
	tb.choose(field("Account"), p.child.Name)
	tb.click(field("Contact admin"))
	tb.clickAndLoad(button("Submit"))
	tb.waitText("Contact Erik Edit has been successfully updated.")
	if got := tb.text(testID("details-job-title")); got != "Head of support" {
		t.Errorf("job title after Edit contact: got %q, want %q", got, "Head of support")
	}
	if got := tb.text(testID("details-account")); got != p.child.Name {
		t.Errorf("account after Edit contact: got %q, want %q", got, p.child.Name)
	}
	tb.waitText("Contact admin")
}

// TestCreateContactDuplicate: an email of a contact in scope is named and linked; one of
// another customer's contact is refused without saying whose it is.
func TestCreateContactDuplicate(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Dora", "Double", "dora@acme.example")
	other := p.Account("Globex", nil)
	p.Contact(other, "Otto", "Outside", "otto@globex.example")
	tb := p.openMyContacts(t)

	tb.createContact("Dora", "Again", "DORA@acme.example", "")
	tb.waitFor(testID("form-duplicate"))
	if !tb.focused(field("Email")) {
		t.Errorf("the form should start at the Email field, which says the email is in use")
	}
	if got := eval[string](tb, field("Last name").js+".value"); got != "Again" {
		t.Errorf("the form lost what was typed: Last name %q", got)
	}
	tb.checkA11y("Create contact, email in use")
	tb.clickAndLoad(link("Dora Double"))
	tb.waitFor(heading("Dora Double"))

	tb.visit("/my-contacts")
	tb.createContact("Otto", "Other", "otto@globex.example", "")
	tb.waitText("This contact cannot be created. Please contact customer support via live chat or by submitting a support case through the portal.")
	if strings.Contains(eval[string](tb, `document.body.innerText`), "Outside") {
		t.Errorf("the refusal reveals the other customer's contact")
	}
}

// TestPagesByKeyboard: Next → shows the next page in place, keeps the keyboard focus in the
// pager, and the URL follows, so reload keeps the page.
func TestPagesByKeyboard(t *testing.T) {
	p := startAdminPortal(t)
	for i := range 27 {
		p.Contact(p.company, "Paula", fmt.Sprintf("Page%02d", i), fmt.Sprintf("paula%02d@acme.example", i))
	}
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(rowOf("Paula Page00"))
	next := link("Next →")
	tb.tabTo(next)
	tb.press("\r")
	tb.waitFor(rowOf("Paula Page26"))
	if n := eval[int](tb, `document.querySelectorAll('[data-testid="contact-row"]').length`); n != 3 {
		t.Errorf("the second page shows %d rows, want 3 (28 contacts, 25 a page)", n)
	}
	if !tb.focused(link("← Previous")) {
		t.Errorf("after Next → the focus left the pager (it is on %s)",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
	}
	tb.checkA11y("All Contacts, second page")
	tb.do("reload", chromedp.Reload())
	tb.waitFor(rowOf("Paula Page26"))
}
