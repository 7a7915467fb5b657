package e2e

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portal/db"
)

// A contact's life (SPEC 3.10): access that ends on a date, organizations locked and
// unlocked at once, removal.

// typeDateTime types a date and time into a datetime-local field as a person does with
// the keyboard, segment by segment in the browser's en-US order (month, day, year, hour,
// minute, AM/PM), and checks the field took it.
func (tb *tab) typeDateTime(e element, at time.Time) {
	tb.t.Helper()
	tb.do("focus "+e.desc, chromedp.Focus(e.sel(), chromedp.NodeVisible))
	tb.do("type into "+e.desc, chromedp.SendKeys(e.sel(), at.Format("01022006")+"\t"+at.Format("0304PM")))
	if got, want := eval[string](tb, e.js+".value"), at.Format("2006-01-02T15:04"); got != want {
		tb.fail("%s holds %q after typing, want %q", e.desc, got, want)
	}
}

// endAccess gives c an access end at, through the store, as Edit contact would have.
func (p *adminPortal) endAccess(t *testing.T, c db.Contact, at time.Time) {
	t.Helper()
	if err := p.Store.Write(p.Ctx, func(tx *db.Tx) error { return tx.SetAccessEnds(p.Ctx, c.ID, at) }); err != nil {
		t.Fatalf("access end of %s: %v", c.Email, err)
	}
}

// TestAccessEnds: Access ends set on Edit contact shows on the contact's page; a contact
// whose access ended (the job run with the clock past its end) reads "Access ended on …",
// and Unlock this contact takes a new date.
func TestAccessEnds(t *testing.T) {
	p := startAdminPortal(t)
	eve := p.Contact(p.child, "Eve", "Ends", "eve.ends@acme.example")
	abe := p.Contact(p.child, "Abe", "Ended", "abe.ended@acme.example")
	ended := p.Clock.Now().Add(time.Hour)
	p.endAccess(t, abe, ended)
	p.Clock.Advance(2 * time.Hour)
	if _, err := p.App.Contacts().EndExpiredAccess(p.Ctx); err != nil {
		t.Fatalf("end expired access: %v", err)
	}
	if c := p.Reload(abe); c.LockReason != db.LockedAccessEnded {
		t.Fatalf("after the job Abe is %s (%q), want locked because his access ended", c.Status, c.LockReason)
	}

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.clickAndLoad(link("Eve Ends"))
	tb.clickAndLoad(link("Edit contact"))
	ends := time.Date(2026, 12, 31, 17, 30, 0, 0, time.UTC)
	tb.typeDateTime(field("Access ends (UTC)"), ends)
	tb.checkA11y("Edit contact with Access ends")
	tb.checkLayout("edit-contact")
	tb.clickAndLoad(button("Submit"))
	tb.waitText("Contact Eve Ends has been successfully updated.")
	if got, want := tb.text(testID("details-access-ends")), "31 Dec 2026, 17:30 UTC"; got != want {
		t.Errorf("Access ends on Eve's page: got %q, want %q", got, want)
	}
	if got := p.Reload(eve).AccessEndsAt; !got.Equal(ends) {
		t.Errorf("Eve's access ends at %v, want %v", got, ends)
	}

	tb.clickAndLoad(link("All Contacts"))
	tb.click(sectionTab("Locked out contacts"))
	row := rowOf("Abe Ended").within(section("Locked out contacts"))
	tb.waitFor(row)
	tb.clickAndLoad(link("Abe Ended").within(section("Locked out contacts")))
	want := "Access ended on " + ended.Format("2 Jan 2006, 15:04 UTC")
	if got := tb.text(testID("lock-reason")); got != want {
		t.Errorf("why Abe is locked: got %q, want %q", got, want)
	}
	tb.checkA11y("a contact whose access ended")
	tb.checkLayout("access-ended")

	next := time.Date(2027, 3, 31, 18, 0, 0, 0, time.UTC)
	tb.typeDateTime(field("New access end (UTC), optional"), next)
	tb.click(button("Unlock this contact"))
	tb.waitFor(testID("alert-success"))
	if got, want := tb.text(testID("alert-success")), "Abe Ended has been successfully unlocked."; got != want {
		t.Errorf("confirmation: got %q, want %q", got, want)
	}
	if got, want := tb.text(testID("details-access-ends")), "31 Mar 2027, 18:00 UTC"; got != want {
		t.Errorf("Access ends after unlocking: got %q, want %q", got, want)
	}
	if c := p.Reload(abe); c.Locked() || !c.AccessEndsAt.Equal(next) {
		t.Errorf("Abe after Unlock: %s, access ends %v; want active until %v", c.Status, c.AccessEndsAt, next)
	}
	tb.checkA11y("a contact unlocked with a new access end")
}

// orgFamily is Acme Europe with a child of its own, Acme Nordics, each with its only
// contact admin and colleagues.
type orgFamily struct {
	nordics                  db.Account
	lars, zoe, lukasz, nils  db.Contact
	freja, ownColleague      db.Contact
	lockedByLock, leftByLock []db.Contact
}

func (p *adminPortal) orgFamily() orgFamily {
	var f orgFamily
	f.nordics = p.Account("Acme Nordics", &p.child)
	f.lars = p.Contact(p.child, "Lars", "Last", "lars.last@acme.example", db.RoleContactAdmin)
	f.zoe = p.Contact(p.child, "Zoë", "Ærø", "zoe.aero@acme.example", db.RoleIncidentContact)
	f.lukasz = p.Contact(p.child, "Łukasz", "Nowak", "lukasz.nowak@acme.example")
	f.nils = p.Contact(f.nordics, "Nils", "Nord", "nils.nord@acme.example", db.RoleContactAdmin)
	f.freja = p.Contact(f.nordics, "Freja", "Lund", "freja.lund@acme.example")
	f.ownColleague = p.Contact(p.company, "Bruno", "Škoda", "bruno.skoda@acme.example")
	f.lockedByLock = []db.Contact{f.zoe, f.lukasz, f.freja}
	f.leftByLock = []db.Contact{f.lars, f.nils, f.ownColleague, p.admin}
	return f
}

// TestLockOrganization: Organizations from My contacts; Lock organization on Acme Europe by
// keyboard alone → the confirmation → the result with the skip list (the last contact
// admin of each account); then Unlock organization lifts those locks.
func TestLockOrganization(t *testing.T) {
	p := startAdminPortal(t)
	f := p.orgFamily()

	tb := p.openMyContacts(t)
	tb.tabTo(link("Organizations"))
	tb.press("\r")
	tb.waitFor(heading("Organizations"))
	if got, want := eval[[]string](tb, `[...document.querySelectorAll('[data-testid="organization-row"] td[data-label="Organization"]')]
	.map((td) => td.textContent.trim().replace(/^[\s\u00a0\u2014\u2013\u2500-\u257f·.>-]+/, ""))`), []string{"Acme Europe", "Acme Nordics"}; !slices.Equal(got, want) {
		t.Errorf("organizations listed: %q, want %q", got, want)
	}
	tb.checkA11y("Organizations")
	tb.checkLayout("organizations")

	if got, want := tb.accessibleName(link("Lock organization Acme Europe")), "Lock organization Acme Europe"; got != want {
		t.Errorf("a screen reader names the link %q, want %q", got, want)
	}
	tb.tabTo(link("Lock organization Acme Europe"))
	tb.press("\r")
	tb.waitFor(heading("Lock Acme Europe?"))
	tb.checkA11y("Lock organization confirmation")
	tb.checkLayout("lock-organization")
	if !tb.focused(heading("Lock Acme Europe?")) {
		t.Errorf("the confirmation does not start at its question (focus is on %s)",
			eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
	}
	confirm := button("Lock organization")
	tb.tabTo(confirm)
	tb.press("\r")
	tb.waitFor(testID("bulk-message"))
	if got, want := tb.text(testID("bulk-message")), "3 contacts have been locked out."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	skipReason := "The last active contact admin of its account."
	if got, want := tb.skippedRows(), []string{"Lars Last: " + skipReason, "Nils Nord: " + skipReason}; !sameSet(got, want) {
		t.Errorf("left alone: got %q, want %q", got, want)
	}
	tb.checkA11y("Lock organization result")
	tb.checkLayout("lock-organization-result")
	if got, want := p.lockedEmails(t, append(f.lockedByLock, f.leftByLock...)...), emails(f.lockedByLock); !slices.Equal(got, want) {
		t.Errorf("locked out now: %v, want %v", got, want)
	}

	tb.clickAndLoad(link("Organizations"))
	tb.waitFor(heading("Organizations"))
	tb.checkLayout("organizations-locked")
	tb.clickAndLoad(link("Unlock organization Acme Europe"))
	tb.waitFor(heading("Unlock Acme Europe?"))
	tb.checkA11y("Unlock organization confirmation")
	tb.clickAndLoad(button("Unlock organization"))
	if got, want := tb.text(testID("bulk-message")), "3 contacts have been unlocked."; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if got := p.lockedEmails(t, append(f.lockedByLock, f.leftByLock...)...); len(got) != 0 {
		t.Errorf("still locked out after Unlock organization: %v", got)
	}
}

func emails(cs []db.Contact) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Email)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRemoveContact: Remove this contact by keyboard alone: the confirmation names the
// contact, and after it All Contacts says so and no longer lists them.
func TestRemoveContact(t *testing.T) {
	p := startAdminPortal(t)
	rita := p.Contact(p.child, "Rita", "Remove", "rita.remove@acme.example")
	p.Contact(p.child, "Otto", "Other", "otto@acme.example")

	tb := p.openMyContacts(t)
	tb.visit(fmt.Sprintf("/contacts/%d", rita.ID))
	tb.waitFor(heading("Rita Remove"))
	tb.tabTo(link("Remove this contact"))
	tb.press("\r")
	tb.waitFor(heading("Remove Rita Remove?"))
	tb.waitText("Rita Remove (rita.remove@acme.example) is signed out everywhere")
	tb.checkA11y("Remove this contact confirmation")
	tb.checkLayout("remove-contact")
	if _, err := p.Store.ContactByEmail(p.Ctx, rita.Email); err != nil {
		t.Fatalf("the confirmation removed Rita before it was confirmed: %v", err)
	}

	tb.tabTo(button("Remove this contact"))
	tb.press("\r")
	tb.waitFor(heading("All Contacts"))
	tb.waitText("Rita Remove has been removed, and their personal data erased.")
	tb.waitFor(rowOf("Otto Other"))
	if eval[bool](tb, rowOf("Rita Remove").js+" !== null") {
		t.Errorf("Rita Remove is still listed after Remove this contact")
	}
	tb.checkA11y("All Contacts after Remove this contact")
	if _, err := p.Store.ContactByEmail(p.Ctx, rita.Email); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Rita's email after Remove this contact: %v, want not found", err)
	}
}

// TestLifecycleWithoutJavaScript: with scripts off, Unlock with a new access end, Lock
// organization and Remove this contact are plain forms and redirects.
func TestLifecycleWithoutJavaScript(t *testing.T) {
	p := startAdminPortal(t)
	f := p.orgFamily()
	abe := p.Contact(p.company, "Abe", "Ended", "abe.ended@acme.example")
	p.endAccess(t, abe, p.Clock.Now().Add(time.Minute))
	p.Clock.Advance(time.Minute)
	if _, err := p.App.Contacts().EndExpiredAccess(p.Ctx); err != nil {
		t.Fatalf("end expired access: %v", err)
	}

	tb := p.openMyContacts(t, withoutJavaScript)
	tb.visit(fmt.Sprintf("/contacts/%d", abe.ID))
	tb.waitText("Access ended on 22 Nov 2026, 09:01 UTC")
	tb.typeDateTime(field("New access end (UTC), optional"), time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC))
	tb.clickAndLoad(button("Unlock this contact"))
	tb.waitText("Abe Ended has been successfully unlocked.")
	tb.waitText("15 Jan 2027, 09:00 UTC")

	tb.visit("/organizations")
	tb.clickAndLoad(link("Lock organization Acme Nordics"))
	tb.clickAndLoad(button("Lock organization"))
	tb.waitText("1 contact has been locked out.")
	if got, want := p.lockedEmails(t, f.nils, f.freja), []string{f.freja.Email}; !slices.Equal(got, want) {
		t.Errorf("locked out after Lock organization Acme Nordics: %v, want %v", got, want)
	}

	tb.visit(fmt.Sprintf("/contacts/%d", f.lukasz.ID))
	tb.clickAndLoad(link("Remove this contact"))
	tb.clickAndLoad(button("Remove this contact"))
	tb.waitText("Łukasz Nowak has been removed, and their personal data erased.")
	if _, err := p.Store.ContactByEmail(p.Ctx, f.lukasz.Email); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("Łukasz's email after Remove this contact: %v, want not found", err)
	}
}
