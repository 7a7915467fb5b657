package handlers_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"portal/db"
	"portal/db/dbtest"
	"portal/demo"
	"portal/export"
	"portal/handlers"
	"portal/portaltest"
)

// exportFixture is an organization with a child account, a locked contact, names a
// spreadsheet could run as formulas and names outside ASCII, plus another company whose
// contacts must never appear.
type exportFixture struct {
	env   *portaltest.Env
	check *dbtest.DB
	admin db.Contact
	// inScope are the names ("First Last") every export must list, in export order.
	inScope []string
	// outOfScope must appear nowhere.
	outOfScope []string
	member     db.Contact // no role: may not export
}

func newExportFixture(t *testing.T, engine portaltest.Engine) exportFixture {
	return newExportFixtureWith(t, engine, 0)
}

// exportAccessEnds is when the access of the fixture's Zoë Ærø ends.
var exportAccessEnds = time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)

// newExportFixtureWith is newExportFixture with generated more contacts in an account of
// their own under Northwind Traders, loaded first: a bulk load is fast into an empty table.
func newExportFixtureWith(t *testing.T, engine portaltest.Engine, generated int) exportFixture {
	t.Helper()
	env := portaltest.New(t, portaltest.Options{Engine: engine})
	north := env.Account("Northwind Traders", nil)
	nordic := env.Account("Northwind Logistics Nordic", &north)
	contoso := env.Account("Contoso Pharma", nil)
	if generated > 0 {
		env.Populate(demo.Scale{Contacts: generated, Accounts: 1, Parent: north.ID})
	}

	admin := env.Contact(north, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin, db.RoleIncidentContact)
	member := env.Contact(north, "Łukasz", "Wójcik", "lukasz@northwind.example")
	env.Contact(north, "=HYPERLINK(\"http://evil.example\",\"x\")", "+Plus", "formula@northwind.example")
	zoe := env.Contact(nordic, "Zoë", "Ærø", "zoe@nordic.example")
	locked := env.Contact(nordic, "Tomáš", "Škoda", "tomas@nordic.example", db.RoleIncidentContact)
	err := env.Store.Write(env.Ctx, func(tx *db.Tx) error {
		if err := tx.SetAccessEnds(env.Ctx, zoe.ID, exportAccessEnds); err != nil {
			return err
		}
		_, err := tx.RecordLoginFailure(env.Ctx, locked.ID, 1, "192.0.2.1", "wrong password")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !env.Reload(locked).Locked() {
		t.Fatal("fixture: Tomáš Škoda should be locked")
	}
	env.Contact(contoso, "Olga", "Ivanova", "olga@contoso.example", db.RoleContactAdmin)
	soren := env.Contact(north, "Søren", "Nielsen", "soren@northwind.example")
	env.Lock(admin, soren)

	return exportFixture{
		env:   env,
		check: dbtest.Open(t, env.Config.DBPath),
		admin: admin,
		// Sorted by account name (Northwind Logistics Nordic < Northwind Traders), then last name.
		inScope: []string{
			"Zoë Ærø", "Tomáš Škoda",
			"=HYPERLINK(\"http://evil.example\",\"x\") +Plus", "Maria Anders", "Søren Nielsen", "Łukasz Wójcik",
		},
		outOfScope: []string{"Olga", "Ivanova", "olga@contoso.example", "Contoso"},
		member:     member,
	}
}

func TestExportCSV(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
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
			{"soren@northwind.example", 5, "Locked"},
			{"soren@northwind.example", 6, "Locked by Maria Anders"},
			{"maria@northwind.example", 10, "2026-11-22 09:00"}, // signed in for this export
			{"maria@northwind.example", 11, "2026-11-22 09:00"},
			{"lukasz@northwind.example", 0, "Łukasz"},
			{"lukasz@northwind.example", 10, ""}, // never signed in
			{"zoe@nordic.example", 9, "2026-12-31 17:00"},
			{"lukasz@northwind.example", 9, ""}, // access that doesn't end
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

		n, err := fx.check.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
		if err != nil || n != 1 {
			t.Errorf("audit events for the export: got %d (%v), want 1", n, err)
		}
	})
}

// checkFileHeaders checks what makes a response a private download.
func checkFileHeaders(t *testing.T, resp portaltest.Response, contentType, filename string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body: %.300s", resp.StatusCode, resp.Body)
	}
	for header, want := range map[string]string{
		"Content-Type":        contentType,
		"Content-Disposition": `attachment; filename="` + filename + `"`,
		"Cache-Control":       "no-store",
	} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
}

func TestExportExcel(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		resp := fx.env.Login(fx.admin.Email).Get("/contacts/export.xlsx")
		checkFileHeaders(t, resp, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "contacts-2026-11-22.xlsx")

		f, err := excelize.OpenReader(strings.NewReader(resp.Body))
		if err != nil {
			t.Fatalf("workbook does not open: %v", err)
		}
		defer f.Close()
		if got := f.GetSheetList(); !slices.Equal(got, []string{"Contacts"}) {
			t.Errorf("sheets: got %q, want [Contacts]", got)
		}
		rows, err := f.GetRows("Contacts")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], export.Columns) {
			t.Errorf("header: got %q, want %q", rows[0], export.Columns)
		}
		var names []string
		rowOf := map[string]int{} // email -> row number in the sheet
		for i, r := range rows[1:] {
			names = append(names, r[0]+" "+r[1])
			rowOf[r[2]] = i + 2
		}
		if !slices.Equal(names, fx.inScope) {
			t.Errorf("contacts: got %q, want %q (every contact in scope, by account then name)", names, fx.inScope)
		}
		for _, r := range rows {
			for _, cell := range r {
				for _, s := range fx.outOfScope {
					if strings.Contains(cell, s) {
						t.Errorf("workbook contains %q from another company", s)
					}
				}
			}
		}

		cell := func(column, email string) string {
			return column + strconv.Itoa(rowOf[email])
		}
		formula := cell("A", "formula@northwind.example")
		if got, _ := f.GetCellValue("Contacts", formula); got != `=HYPERLINK("http://evil.example","x")` {
			t.Errorf("%s: got %q, want the name as typed", formula, got)
		}
		if got, _ := f.GetCellType("Contacts", formula); got != excelize.CellTypeInlineString {
			t.Errorf("%s type: got %v, want an inline string (never a formula)", formula, got)
		}
		if got, _ := f.GetCellFormula("Contacts", formula); got != "" {
			t.Errorf("%s formula: got %q, want none", formula, got)
		}
		for _, tt := range []struct{ cell, want string }{
			{cell("A", "zoe@nordic.example"), "Zoë"},
			{cell("B", "zoe@nordic.example"), "Ærø"},
			{cell("B", "tomas@nordic.example"), "Škoda"},
			{cell("F", "tomas@nordic.example"), "Locked"},
			{cell("G", "tomas@nordic.example"), "Too many failed login attempts"},
			{cell("E", "maria@northwind.example"), "Contact admin; Incident contact"},
			{cell("G", "soren@northwind.example"), "Locked by Maria Anders"},
			{cell("K", "maria@northwind.example"), "2026-11-22 09:00"},
			{cell("K", "lukasz@northwind.example"), ""},
			{cell("L", "lukasz@northwind.example"), "2026-11-22 09:00"},
			{cell("J", "zoe@nordic.example"), "2026-12-31 17:00"},
			{cell("J", "lukasz@northwind.example"), ""},
		} {
			if got, _ := f.GetCellValue("Contacts", tt.cell); got != tt.want {
				t.Errorf("%s: got %q, want %q", tt.cell, got, tt.want)
			}
		}
		// A real date is a number (days since 1899-12-30) shown through a date format.
		created := cell("L", "maria@northwind.example")
		if got, _ := f.GetCellValue("Contacts", created, excelize.Options{RawCellValue: true}); got != "46348.375" {
			t.Errorf("%s raw value: got %q, want the serial date 46348.375", created, got)
		}
		// On the minute: rounded up, never a hair before it (LibreOffice would show 16:59).
		ends := cell("J", "zoe@nordic.example")
		if got, _ := f.GetCellValue("Contacts", ends, excelize.Options{RawCellValue: true}); got != "46387.7083333334" {
			t.Errorf("%s raw value: got %q, want the serial date 46387.7083333334", ends, got)
		}

		styleID, _ := f.GetCellStyle("Contacts", "A1")
		if style, err := f.GetStyle(styleID); err != nil || style.Font == nil || !style.Font.Bold {
			t.Errorf("header A1 is not bold (style %d, %v)", styleID, err)
		}
		if panes, err := f.GetPanes("Contacts"); err != nil || !panes.Freeze || panes.YSplit != 1 {
			t.Errorf("panes: got %+v (%v), want the header row frozen", panes, err)
		}
		if width, _ := f.GetColWidth("Contacts", "C"); width < 30 {
			t.Errorf("email column width: got %v, want room for an email", width)
		}
		sheetXML := zipEntry(t, resp.Body, "xl/worksheets/sheet1.xml")
		if want := `<autoFilter ref="A1:M7"`; !strings.Contains(strings.ReplaceAll(sheetXML, "$", ""), want) {
			t.Errorf("sheet has no %s (an auto filter over header and every row)", want)
		}
		var mins []int
		for _, m := range colMin.FindAllStringSubmatch(sheetXML, -1) {
			n, _ := strconv.Atoi(m[1])
			mins = append(mins, n)
		}
		if !slices.IsSorted(mins) || len(mins) != len(export.Columns) {
			t.Errorf("<col> elements by min: got %v, want one per column in ascending order (Excel repairs the file otherwise)", mins)
		}

		n, err := fx.check.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
		if err != nil || n != 1 {
			t.Errorf("audit events for the export: got %d (%v), want 1", n, err)
		}
	})
}

var colMin = regexp.MustCompile(`<col min="(\d+)"`)

func zipEntry(t *testing.T, archive, name string) string {
	t.Helper()
	r, err := zip.NewReader(strings.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Open(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pdfPages returns the text of each page of a PDF, read by pdftotext (poppler-utils). It
// skips the test when pdftotext is not installed; CI installs it.
func pdfPages(t *testing.T, pdf string) []string {
	t.Helper()
	if !strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("not a PDF: %.40q", pdf)
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatal("pdftotext not installed in CI (apt-get install poppler-utils): cannot read the PDF's text")
	}
	if err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils): cannot read the PDF's text")
	}
	path := filepath.Join(t.TempDir(), "contacts.pdf")
	if err := os.WriteFile(path, []byte(pdf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	// Wrapped cells come out as several lines: one space for any run of white space.
	pages := strings.Split(strings.TrimSuffix(string(out), "\f"), "\f")
	for i, p := range pages {
		pages[i] = strings.Join(strings.Fields(p), " ")
	}
	return pages
}

func TestExportPDF(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		resp := fx.env.Login(fx.admin.Email).Get("/contacts/export.pdf")
		checkFileHeaders(t, resp, "application/pdf", "contacts-2026-11-22.pdf")
		n, err := fx.check.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
		if err != nil || n != 1 {
			t.Errorf("audit events for the export: got %d (%v), want 1", n, err)
		}

		pages := pdfPages(t, resp.Body)
		if len(pages) != 1 {
			t.Fatalf("pages: got %d, want 1", len(pages))
		}
		text := pages[0]
		for _, want := range []string{
			"Contacts of Northwind Traders", "Generated 2026-11-22 09:00 UTC", "Page 1 of 1",
			"Name", "Email", "Account", "Roles", "Status", "Last login (UTC)", "Access ends (UTC)", "2026-12-31 17:00",
			"Zoë Ærø", "Tomáš Škoda", "Łukasz Wójcik", "Maria Anders", "Northwind Logistics Nordic",
			"Locked: Too many failed login attempts", "Locked: Locked by Maria Anders", "Contact admin; Incident contact",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("PDF text lacks %q", want)
			}
		}
		if got := strings.Count(text, "@"); got != len(fx.inScope) {
			t.Errorf("emails in the PDF: got %d, want %d (one per contact in scope)", got, len(fx.inScope))
		}
		for _, s := range fx.outOfScope {
			if strings.Contains(text, s) {
				t.Errorf("PDF contains %q from another company", s)
			}
		}
	})
}

func TestExportPDFRepeatsHeaderOnEveryPage(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		north, err := fx.env.Store.AccountByName(fx.env.Ctx, "Northwind Traders")
		if err != nil {
			t.Fatal(err)
		}
		const more = 150
		fx.env.Populate(demo.Scale{Contacts: more, Accounts: 1, Parent: north.ID})
		resp := fx.env.Login(fx.admin.Email).Get("/contacts/export.pdf")
		checkFileHeaders(t, resp, "application/pdf", "contacts-2026-11-22.pdf")
		pages := pdfPages(t, resp.Body)
		if len(pages) < 3 {
			t.Fatalf("pages: got %d, want at least 3 for %d contacts", len(pages), more+len(fx.inScope))
		}
		emails := 0
		for i, page := range pages {
			for _, want := range []string{"Contacts of Northwind Traders", "Last login (UTC)", fmt.Sprintf("Page %d of %d", i+1, len(pages))} {
				if !strings.Contains(page, want) {
					t.Errorf("page %d lacks %q", i+1, want)
				}
			}
			emails += strings.Count(page, "@")
		}
		if want := more + len(fx.inScope); emails != want {
			t.Errorf("emails in the PDF: got %d, want %d (one per contact in scope)", emails, want)
		}
	})
}

func TestExportPDFLimit(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		north, err := fx.env.Store.AccountByName(fx.env.Ctx, "Northwind Traders")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := demo.Populate(fx.env.Ctx, fx.env.Store, demo.Scale{Contacts: export.MaxPDFRows, Accounts: 1, Parent: north.ID}); err != nil {
			t.Fatal(err)
		}
		resp := fx.env.Login(fx.admin.Email).Get("/contacts/export.pdf")
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status: got %d, want 422", resp.StatusCode)
		}
		want := fmt.Sprintf("A PDF can hold at most 10,000 contacts, and you have 10,00%d. Use Export Excel or Export CSV instead.",
			len(fx.inScope))
		if !strings.Contains(resp.Body, want) {
			t.Errorf("body lacks %q", want)
		}
		if got := resp.Header.Get("Content-Disposition"); got != "" {
			t.Errorf("Content-Disposition: got %q, want none on an error page", got)
		}
		if n, _ := fx.check.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0); n != 0 {
			t.Errorf("audit events: got %d, want 0 (nothing was exported)", n)
		}
		// CSV has no limit.
		if got := fx.env.Login(fx.admin.Email).Get("/contacts/export.csv").StatusCode; got != http.StatusOK {
			t.Errorf("CSV of the same scope: got %d, want 200", got)
		}
	})
}

func TestExportMenuOnAllContacts(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		page := fx.env.Login(fx.admin.Email).Get("/contacts")
		if page.StatusCode != http.StatusOK {
			t.Fatalf("All Contacts: got %d, want 200", page.StatusCode)
		}
		doc := htmlDoc(t, page.Body)
		menu := doc.Find(`[data-testid="export-menu"]`)
		if !menu.Is("details.menu.dots-menu") {
			t.Fatalf("export menu: got %d elements, want one <details class=\"menu dots-menu\"> (works without JavaScript)", menu.Length())
		}
		summary := menu.Find("summary")
		if got, _ := summary.Attr("aria-haspopup"); got != "true" {
			t.Errorf("menu button aria-haspopup: got %q, want true", got)
		}
		if got, _ := summary.Attr("aria-label"); got == "" {
			t.Errorf("menu button has no accessible name")
		}
		// Top-left corner: the menu comes before the page's title.
		head := doc.Find(".page-head").First().Children()
		if head.First().Find(`[data-testid="export-menu"]`).Length() == 0 {
			t.Errorf("the export menu is not the first thing of the page head")
		}
		for _, item := range []struct{ testID, text, href string }{
			{"export-pdf", "Export PDF", "/contacts/export.pdf"},
			{"export-excel", "Export Excel", "/contacts/export.xlsx"},
			{"export-csv", "Export CSV", "/contacts/export.csv"},
		} {
			link := menu.Find(`a[data-testid="` + item.testID + `"]`)
			if got := strings.TrimSpace(link.Contents().First().Text()); got != item.text {
				t.Errorf("%s text: got %q, want %q", item.testID, got, item.text)
			}
			if got, _ := link.Attr("href"); got != item.href {
				t.Errorf("%s href: got %q, want %q", item.testID, got, item.href)
			}
		}
		if doc.Find(`[data-testid="export-status"][role="status"]`).Length() != 1 {
			t.Errorf("no status line for the loading indication")
		}

		member := fx.env.Login(fx.member.Email).Get("/contacts")
		if strings.Contains(member.Body, "export-menu") {
			t.Errorf("a contact without the Contact admin role sees the export menu")
		}
	})
}

// The menu's script learns that a download began from a cookie echoing its token.
func TestExportReadyCookie(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		browser := fx.env.Login(fx.admin.Email)
		const token = "0123456789abcdef01234567"
		for _, tt := range []struct {
			query string
			want  string
		}{
			{"?ready=" + token, token},
			{"?ready=" + token + "%3B%20Path%3D%2F", ""},
			{"?ready=short", ""},
			{"", ""},
		} {
			resp := browser.Get("/contacts/export.csv" + tt.query)
			got := ""
			for _, c := range resp.Cookies() {
				if c.Name == "export_ready" {
					got = c.Value
				}
			}
			if got != tt.want {
				t.Errorf("export_ready cookie for %q: got %q, want %q", tt.query, got, tt.want)
			}
		}
	})
}

// dialSlowReader connects to addr with a tiny receive buffer, so that the server's writes
// block as soon as its own buffers are full: a download that the client stops reading.
func dialSlowReader(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestExportLimitsAndStops: while two downloads run, a third export is told to come back
// later; a client that goes away mid-download stops its export, which frees its place.
func TestExportLimitsAndStops(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		// About 10 MB of CSV: more than the socket buffers between server and client hold.
		const more = 80_000
		fx := newExportFixtureWith(t, engine, more)
		session := fx.env.Login(fx.admin.Email).Cookie(fx.env.Cookies().Session)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- fx.env.App.Serve(ctx, ln) }()
		t.Cleanup(func() { stop(); <-served })
		addr := ln.Addr().String()
		// One stalled download plain, one compressed: a compressed stream must wait for its
		// client as well (not run ahead into memory) and stop when the client goes away.
		request := func(i int) string {
			return "GET /contacts/export.csv HTTP/1.1\r\nHost: " + addr + "\r\nAccept-Encoding: " + []string{"identity", "gzip"}[i%2] +
				"\r\nCookie: " + session.Name + "=" + session.Value + "\r\n\r\n"
		}
		get := func() (*http.Response, error) { // asks for gzip, and decodes it
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/contacts/export.csv", nil)
			req.AddCookie(session)
			return http.DefaultClient.Do(req)
		}

		var stalled []net.Conn
		for i := range handlers.MaxConcurrentExports {
			conn := dialSlowReader(t, addr)
			if _, err := io.WriteString(conn, request(i)); err != nil {
				t.Fatal(err)
			}
			head := make([]byte, 512)
			if _, err := io.ReadFull(conn, head); err != nil || !strings.HasPrefix(string(head), "HTTP/1.1 200") {
				t.Fatalf("stalled download: got %.40q (%v), want 200", head, err)
			}
			stalled = append(stalled, conn)
		}
		resp, err := get()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("export while %d run: got %d (Retry-After %q), want 503 with Retry-After",
				handlers.MaxConcurrentExports, resp.StatusCode, resp.Header.Get("Retry-After"))
		}

		for _, conn := range stalled {
			conn.Close()
		}
		// The stalled exports fail at their next write and give their places back.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err = get()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
				break
			}
			resp.Body.Close()
			time.Sleep(50 * time.Millisecond)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export after the stalled clients left: got %d, want 200", resp.StatusCode)
		}
		if !resp.Uncompressed {
			t.Errorf("export after the stalled clients left: not sent in gzip, which the client asked for")
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(records)-1, more+len(fx.inScope); got != want {
			t.Errorf("rows: got %d, want %d", got, want)
		}
	})
}

func TestExportNeedsContactAdmin(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		member := fx.env.Login(fx.member.Email)
		signedOut := fx.env.Browser()
		for _, path := range []string{"/contacts/export.csv", "/contacts/export.xlsx", "/contacts/export.pdf"} {
			if got := member.Get(path).StatusCode; got != http.StatusForbidden {
				t.Errorf("GET %s as a contact without the Contact admin role: got %d, want 403", path, got)
			}
			resp := signedOut.Get(path)
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("GET %s signed out: got %d to %q, want 303 to /login", path, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		n, err := fx.check.CountAudit(fx.env.Ctx, db.ActionContactsExported, 0)
		if err != nil || n != 0 {
			t.Errorf("audit events after refused exports: got %d (%v), want 0", n, err)
		}
	})
}
