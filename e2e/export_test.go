package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp/kb"

	"portal/db"
	"portal/db/dbtest"
)

// menuItem is an entry of an open menu whose words start with these (an entry may carry a
// hint after its name).
func menuItem(words string) element {
	return find("menu item "+jsString(words), "a, button, [role=menuitem]", "norm(el.textContent).startsWith("+jsString(words)+")")
}

// TestExports: the three-dots menu of All Contacts opens and closes by keyboard, and
// downloads the PDF, the Excel and the CSV file of every contact in scope, locked ones
// included (the last one by keyboard alone), while its status line says what is going on;
// each export is audited.
func TestExports(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Zoë", "Zimmermann", "zoe@acme.example", db.RoleIncidentContact)
	locked := p.Contact(p.child, "Łukasz", "Locked", "lukasz@acme.example")
	p.Lock(p.admin, locked)
	tb := p.openMyContacts(t)
	tb.clickAndLoad(link("Manage your contacts"))
	menu := button("Export contacts")

	tb.click(menu)
	tb.waitFor(menuItem("Export PDF"))
	tb.checkA11y("All Contacts with the export menu open")
	tb.checkLayout("export-menu")
	tb.press(kb.Escape)
	if !tb.focused(menu) {
		t.Errorf("Escape did not give the focus back to the menu button")
	}

	tb.click(menu)
	tb.watchText(testID("export-status"))
	name, pdf := tb.download("Export PDF", func() { tb.click(menuItem("Export PDF")) })
	// The status line said so while the file was prepared, and then that it started.
	tb.until("the export status to say the download started",
		`document.querySelector('[data-testid="export-status"]').textContent.includes("Your download has started.")`)
	if said := tb.watchedText(); !strings.Contains(said, "Preparing your export") {
		t.Errorf("the export status never said it was preparing the export; it said %q", said)
	}
	if !strings.HasSuffix(name, ".pdf") || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("Export PDF saved %q starting %q; want a .pdf file starting %%PDF-", name, head(pdf))
	} else if text := pdfText(t, pdf); text != "" && !strings.Contains(text, "Zimmermann") {
		t.Errorf("the PDF does not list Zoë Zimmermann; its text:\n%s", indent(text))
	}

	tb.click(menu)
	name, xlsx := tb.download("Export Excel", func() { tb.click(menuItem("Export Excel")) })
	if !strings.HasSuffix(name, ".xlsx") || !bytes.HasPrefix(xlsx, []byte("PK\x03\x04")) {
		t.Errorf("Export Excel saved %q starting %q; want a .xlsx file (a zip, PK)", name, head(xlsx))
	} else if zr, err := zip.NewReader(bytes.NewReader(xlsx), int64(len(xlsx))); err != nil {
		t.Errorf("Export Excel: not a zip: %v", err)
	} else if !hasFile(zr, "xl/workbook.xml") {
		t.Errorf("Export Excel: the zip has no xl/workbook.xml: not a workbook")
	}

	// The keyboard way: Tab to the menu, open it, Tab to Export CSV, Enter.
	tb.visit("/contacts")
	tb.tabTo(menu)
	tb.press("\r")
	tb.tabTo(menuItem("Export CSV"))
	name, data := tb.download("Export CSV", func() { tb.press("\r") })
	if !strings.HasSuffix(name, ".csv") {
		t.Errorf("Export CSV saved %q; want a .csv file", name)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatalf("Export CSV: not CSV: %v\n%s", err, data)
	}
	if len(rows) != 4 || !strings.Contains(strings.Join(rows[0], ","), "Email") {
		t.Fatalf("Export CSV: got %d rows (header %q), want a header with Email and the 3 contacts in scope", len(rows), rows[0])
	}
	all := string(data)
	for _, want := range []string{"\uFEFF\"First name\",\"Last name\",\"Email\"", "\"Zoë\",\"Zimmermann\",\"zoe@acme.example\"", "lukasz@acme.example", "Łukasz", p.admin.Email} {
		if !strings.Contains(all, want) {
			t.Errorf("Export CSV lacks %q:\n%s", want, all)
		}
	}
	if n, err := dbtest.Open(t, p.Config.DBPath).CountAudit(p.Ctx, db.ActionContactsExported, 0); err != nil || n != 3 {
		t.Errorf("audited exports: got %d (%v), want 3", n, err)
	}
}

func head(b []byte) string { return string(b[:min(len(b), 8)]) }

func hasFile(zr *zip.Reader, name string) bool {
	for _, f := range zr.File {
		if f.Name == name {
			return true
		}
	}
	return false
}

// pdfText extracts the text of a PDF with poppler's pdftotext, or returns "" without it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return ""
	}
	file := filepath.Join(t.TempDir(), "export.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", file, "-").Output()
	if err != nil {
		t.Errorf("pdftotext: %v", err)
		return ""
	}
	return string(out)
}
