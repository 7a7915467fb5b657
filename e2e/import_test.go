package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"portal/db"
	"portal/portaltest"
)

// chooseFile puts the file at path into a file field, as choosing it in the browser's
// dialog does (the dialog itself is the operating system's, outside the page).
func (tb *tab) chooseFile(e element, path string) {
	tb.t.Helper()
	tb.do("choose "+filepath.Base(path)+" in "+e.desc, chromedp.SetUploadFiles(e.sel(), []string{path}))
}

// TestImportContacts: from My contacts, a contact admin uploads a spreadsheet, reads the
// preview (new, updated, and a row with an error with its reason), confirms by keyboard, and
// finds the new colleagues in All Contacts. A file over 5 MB is refused before it is sent.
// On each engine: the import writes contacts, roles, audit rows and mail in batches, which
// each engine takes its own way.
func TestImportContacts(t *testing.T) {
	portaltest.OnEachEngine(t, testImportContacts)
}

func testImportContacts(t *testing.T, engine portaltest.Engine) {
	p := startAdminPortalOn(t, engine)
	// The pages are the same on both engines; their screenshots are taken once.
	checkLayout := func(tb *tab, name string) {
		if engine == portaltest.SQLite {
			tb.checkLayout(name)
		}
	}
	p.Contact(p.child, "Grace", "Hopper", "grace@acme.example")
	dir := t.TempDir()
	file := filepath.Join(dir, "team.csv")
	err := os.WriteFile(file, []byte("\uFEFFFirst name;Last name;Email;Job title;Account;Roles\r\n"+
		"Katherine;Johnson;katherine@acme.example;Mathematician;Acme Europe;Incident contact\r\n"+
		"Dorothy;Vaughan;dorothy@acme.example;Supervisor;;\r\n"+
		";;grace@acme.example;Rear admiral;;\r\n"+
		"Mary;Jackson;mary@acme;Engineer;;\r\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Import contacts"))
	tb.waitFor(heading("Import contacts"))
	tb.checkA11y("import contacts")
	checkLayout(tb, "import")

	// Too large: the page says so at once, and nothing is sent.
	big := filepath.Join(dir, "big.csv")
	if err := os.WriteFile(big, []byte("First name,Last name,Email\n"+strings.Repeat("x", 5<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	tb.chooseFile(field("File"), big)
	tb.click(button("Upload and preview"))
	tb.waitText("The file is larger than 5 MB.")
	if got := tb.path(); got != "/contacts/import" {
		t.Errorf("after choosing a file over 5 MB: at %s, want still /contacts/import", got)
	}
	if !tb.focused(field("File")) {
		t.Error("the file field does not have the focus after the refusal")
	}

	// By keyboard: Tab to the file field (the dialog is the system's), then to the button.
	tb.visit("/contacts/import")
	tb.tabTo(field("File"))
	tb.chooseFile(field("File"), file)
	tb.tabTo(button("Upload and preview"))
	tb.pressAndLoad("\r")
	tb.waitFor(heading("Preview of team.csv"))
	tb.checkA11y("import preview")
	checkLayout(tb, "import-preview")
	for id, want := range map[string]string{"count-new": "New 2", "count-update": "Update 1", "count-unchanged": "Unchanged 0",
		"count-error": "Error 1"} {
		if got := tb.text(testID(id)); got != want {
			t.Errorf("%s: got %q, want %q", id, got, want)
		}
	}
	if got := tb.text(rowOf("mary@acme")); !strings.Contains(got, "Error") || !strings.Contains(got, "Enter a valid email address") {
		t.Errorf("Mary's row: got %q, want an error saying the email is not valid", got)
	}
	if got := tb.text(rowOf("grace@acme.example")); !strings.Contains(got, "Job title: — → Rear admiral") {
		t.Errorf("Grace's row: got %q, want the job title it changes", got)
	}
	tb.tabTo(button("Import 3 contacts"))
	tb.pressAndLoad("\r")
	tb.waitText("3 contacts have been imported: 2 new (each was sent an email to set a password) and 1 updated.")
	if got := tb.path(); got != "/contacts" {
		t.Errorf("after Import: at %s, want All Contacts", got)
	}
	tb.waitFor(rowOf("Katherine Johnson"))
	tb.waitFor(rowOf("Dorothy Vaughan"))
	katherine, err := p.Store.ContactByEmail(p.Ctx, "katherine@acme.example")
	if err != nil || katherine.AccountID != p.child.ID || !katherine.HasRole(db.RoleIncidentContact) {
		t.Errorf("Katherine: got %+v (%v), want in Acme Europe, an incident contact", katherine, err)
	}
}

// pressAndLoad presses a key that leads to another page and waits until it has loaded.
func (tb *tab) pressAndLoad(key string) {
	tb.t.Helper()
	before := eval[string](tb, `String(performance.timeOrigin)`)
	tb.press(key)
	tb.until("the next page to load", `String(performance.timeOrigin) !== `+jsString(before)+` && document.readyState === "complete"`)
}
