package handlers_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"portal/contacts"
	"portal/db"
	"portal/export"
	"portal/handlers"
	"portal/portaltest"
)

// upload posts a file as the Import contacts form does: multipart, with the CSRF token.
func upload(t *testing.T, b *portaltest.Browser, name string, data []byte) portaltest.Response {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("_csrf", b.CSRF); err != nil {
		t.Fatal(err)
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test/contacts/import", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.ContentLength = int64(body.Len())
	return b.Do(req)
}

// preview is a preview page as a test reads it.
type preview struct {
	path string
	doc  *goquery.Document
	body string
}

// uploadForPreview uploads a file and opens the preview it leads to.
func uploadForPreview(t *testing.T, b *portaltest.Browser, name string, data []byte) preview {
	t.Helper()
	b.Get("/contacts/import") // a page with the CSRF token, as a person would have open
	resp := upload(t, b, name, data)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload of %s: status %d, want 303; page says: %s", name, resp.StatusCode, testText(t, resp.Body, "import-problem"))
	}
	return openPreview(t, b, resp.Header.Get("Location"))
}

func openPreview(t *testing.T, b *portaltest.Browser, path string) preview {
	t.Helper()
	page := b.Get(path)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("preview %s: status %d, want 200", path, page.StatusCode)
	}
	return preview{path: path, doc: htmlDoc(t, page.Body), body: page.Body}
}

// counts reads the counts at the top of a preview: New, Update, Unchanged, Error.
func (p preview) counts(t *testing.T) [4]int {
	t.Helper()
	var out [4]int
	for i, id := range []string{"count-new", "count-update", "count-unchanged", "count-error"} {
		fields := strings.Fields(p.doc.Find(`[data-testid="` + id + `"]`).Text())
		if len(fields) == 0 {
			t.Fatalf("preview has no %s", id)
		}
		n, err := strconv.Atoi(strings.ReplaceAll(fields[len(fields)-1], ",", ""))
		if err != nil {
			t.Fatalf("%s: %q is no count", id, fields)
		}
		out[i] = n
	}
	return out
}

// row is the preview's row of line: its result and what happens, as text.
func (p preview) row(t *testing.T, line int) (kind, outcome string) {
	t.Helper()
	r := p.doc.Find(fmt.Sprintf(`[data-testid="import-row"][data-line="%d"]`, line))
	if r.Length() != 1 {
		t.Fatalf("preview has %d rows for line %d, want 1", r.Length(), line)
	}
	kind, _ = r.Attr("data-kind")
	var parts []string
	r.Find(`td[data-label="What happens"] li, td[data-label="What happens"] p`).Each(func(_ int, s *goquery.Selection) {
		parts = append(parts, strings.Join(strings.Fields(s.Text()), " "))
	})
	return kind, strings.Join(parts, " ")
}

// commit presses Import N contacts and returns the answer (a redirect).
func (p preview) commit(t *testing.T, b *portaltest.Browser) portaltest.Response {
	t.Helper()
	version, ok := p.doc.Find(`[data-testid="commit-form"] input[name="version"]`).Attr("value")
	if !ok {
		t.Fatalf("preview has no Import button: %s", p.doc.Find(`[data-testid="import-summary"]`).Text())
	}
	return p.commitWith(t, b, url.Values{"version": {version}})
}

// commitWith presses Import N contacts with the form's other fields in form.
func (p preview) commitWith(t *testing.T, b *portaltest.Browser, form url.Values) portaltest.Response {
	t.Helper()
	version, ok := p.doc.Find(`[data-testid="commit-form"] input[name="version"]`).Attr("value")
	if !ok {
		t.Fatalf("preview has no Import button: %s", p.doc.Find(`[data-testid="import-summary"]`).Text())
	}
	form.Set("version", version)
	return b.PostForm(p.path, form)
}

// csvOf writes rows as a CSV file, the first row being the header.
func csvOf(rows ...[]string) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.WriteAll(rows)
	return buf.Bytes()
}

// flashAfter follows a redirect and returns the page's flash of kind.
func flashAfter(t *testing.T, b *portaltest.Browser, resp portaltest.Response, kind string) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303 (a redirect with a message)", resp.StatusCode)
	}
	return testText(t, b.Get(resp.Header.Get("Location")).Body, "alert-"+kind)
}

var importHeader = []string{"First name", "Last name", "Email", "Phone", "Job title", "Account", "Roles", "Access ends", "Notes"}

// TestImportCreatesUpdatesAndRefuses is a file with every kind of row: its preview says
// what each does and why, Import writes exactly that in one go (contacts, their audit
// rows, the new ones' invitations), and the same file again changes nothing.
func TestImportCreatesUpdatesAndRefuses(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		file := csvOf(importHeader,
			[]string{"Ada", "Lovelace", "ada@northwind.example", "+44 20 7946 0958", "Engineer", "Northwind Retail", "Incident contact", "2027-01-31 17:00", "met at a fair"}, // 2
			[]string{"Bo", "Ek", "bo@northwind.example", "", "", "", "", "", ""},                                                                                              // 3: new, in Maria's own account
			[]string{"", "", "ZOE@northwind.example", "030 1234", "Lead", "", "contact admin;Incident Contact", "", ""},                                                       // 4: update
			[]string{"Łukasz", "Kowalski", "lukasz@northwind.example", "", "", "Northwind Logistics", "", "", ""},                                                             // 5: unchanged
			[]string{"Eve", "Doe", "not-an-email", "", "", "", "", "", ""},                                                                                                    // 6
			[]string{"Cy", "", "cy@northwind.example", "", "", "", "", "", ""},                                                                                                // 7
			[]string{"Kwame", "Mensah", "kwame@contoso.example", "", "", "", "", "", ""},                                                                                      // 8: outside
			[]string{"Dee", "One", "dup@northwind.example", "", "", "", "", "", ""},                                                                                           // 9
			[]string{"Dee", "Two", "Dup@Northwind.example", "", "", "", "", "", ""},                                                                                           // 10
			[]string{"Al", "Pha", "al@northwind.example", "", "", "Contoso Pharma", "", "", ""},                                                                               // 11
			[]string{"Ro", "Le", "ro@northwind.example", "", "", "", "Admin", "", ""},                                                                                         // 12
			[]string{"Pa", "St", "pa@northwind.example", "", "", "", "", "2020-01-01 00:00", ""},                                                                              // 13
			[]string{"=1+1", "Formula", "formula@northwind.example", "", "", "", "", "", ""},                                                                                  // 14
			[]string{"", "", "noah@northwind.example", "'+44 1", "", "", "", "", ""},                                                                                          // 15
		)
		p := uploadForPreview(t, b, "team.csv", file)
		if got, want := p.counts(t), [4]int{3, 2, 1, 8}; got != want {
			t.Errorf("counts (new, update, unchanged, error): got %v, want %v", got, want)
		}
		for _, tt := range []struct {
			line          int
			kind, outcome string
		}{
			{2, "New", "Will be created, and sent an email to set a password."},
			{3, "New", "Will be created"},
			{4, "Update", "Phone: — → 030 1234 Job title: — → Lead Roles: Incident contact → Contact admin, Incident contact"},
			{5, "Unchanged", "Nothing to change."},
			{6, "Error", "Enter a valid email address, like name@example.com."},
			{7, "Error", "Enter the last name."},
			{8, "Error", contacts.ReasonOutsideOrganization},
			{9, "Error", "The same email is in rows 9 and 10 of the file."},
			{10, "Error", "The same email is in rows 9 and 10 of the file."},
			{11, "Error", "The account “Contoso Pharma” is not one of your organization's accounts."},
			{12, "Error", "Roles: “Admin” is not a role."},
			{13, "Error", "Access ends must lie in the future"},
			{14, "New", "First name starts with “=”: it is kept as text, never run as a formula."},
			{15, "Update", "Phone: — → +44 1"},
		} {
			kind, outcome := p.row(t, tt.line)
			if kind != tt.kind || !strings.Contains(outcome, tt.outcome) {
				t.Errorf("row %d: got %s %q, want %s %q", tt.line, kind, outcome, tt.kind, tt.outcome)
			}
		}
		// The contact outside the organization is not revealed: only the sentence of 3.2.
		if _, outcome := p.row(t, 8); strings.Contains(outcome, "Contoso") || strings.Contains(p.body, "Kwame Mensah (") {
			t.Errorf("row 8 tells about the contact outside the organization: %q", outcome)
		}
		if got := testText(t, p.body, "import-ignored"); !strings.Contains(got, "“Notes”") {
			t.Errorf("ignored columns note: got %q, want it to name “Notes”", got)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionCreateRefused, 0); n != 1 {
			t.Errorf("create_refused audit rows: got %d, want 1 (the email outside the organization)", n)
		}
		if _, err := f.Store.ContactByEmail(f.Ctx, "ada@northwind.example"); err == nil {
			t.Fatal("a contact was created by the preview, before Import")
		}

		// The rows with errors come back as a CSV to fix, with the reason of each.
		rejected := b.Get(p.path + "/rejected.csv")
		if rejected.StatusCode != http.StatusOK || !strings.Contains(rejected.Header.Get("Content-Disposition"), "contacts-not-imported.csv") {
			t.Fatalf("rejected rows: status %d, disposition %q", rejected.StatusCode, rejected.Header.Get("Content-Disposition"))
		}
		records, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(rejected.Body, "\uFEFF"))).ReadAll()
		if err != nil || len(records) != 9 || records[0][len(records[0])-1] != "Reason" {
			t.Fatalf("rejected rows CSV: %d records (%v), want the header and 8 rows ending in Reason:\n%s", len(records), err, rejected.Body)
		}

		// The file makes Zoë a contact admin: ten minutes after signing in, that asks for the
		// admin's password again (SPEC 3.11), and nothing is imported without it.
		f.Clock.Advance(10*time.Minute + time.Second)
		if !hasTestID(t, b.Get(p.path).Body, "reauth") {
			t.Error("the preview of a change of roles asks no password ten minutes after signing in")
		}
		for _, secret := range []string{"", "not my password"} {
			resp := p.commitWith(t, b, url.Values{"reauth": {secret}})
			if resp.StatusCode != http.StatusUnprocessableEntity || !hasTestID(t, resp.Body, "error-reauth") {
				t.Errorf("import with reauth %q: got %d, want 422 asking for the password", secret, resp.StatusCode)
			}
		}
		if _, err := f.Store.ContactByEmail(f.Ctx, "ada@northwind.example"); err == nil {
			t.Fatal("imported without a fresh proof")
		}
		resp := p.commitWith(t, b, url.Values{"reauth": {portaltest.Password}})
		want := "5 contacts have been imported: 3 new (each was sent an email to set a password) and 2 updated."
		if got := flashAfter(t, b, resp, "success"); got != want {
			t.Errorf("message: got %q, want %q", got, want)
		}
		ada, err := f.Store.ContactByEmail(f.Ctx, "ada@northwind.example")
		if err != nil {
			t.Fatalf("Ada was not created: %v", err)
		}
		if ada.AccountID != f.sibling.ID || ada.Phone != "+44 20 7946 0958" || ada.JobTitle != "Engineer" ||
			db.RolesDetail(ada.Roles) != "Incident contact" || !ada.AccessEndsAt.Equal(time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC)) {
			t.Errorf("Ada: got %+v", ada)
		}
		if bo, err := f.Store.ContactByEmail(f.Ctx, "bo@northwind.example"); err != nil || bo.AccountID != f.root.ID {
			t.Errorf("Bo: got account %d (%v), want Maria's own %d", bo.AccountID, err, f.root.ID)
		}
		if formula, err := f.Store.ContactByEmail(f.Ctx, "formula@northwind.example"); err != nil || formula.FirstName != "=1+1" {
			t.Errorf("formula: got first name %q (%v), want the text =1+1", formula.FirstName, err)
		}
		zoe := f.Reload(f.zoe)
		if zoe.Phone != "030 1234" || zoe.JobTitle != "Lead" || !zoe.IsAdmin() || zoe.FirstName != "Zoë" {
			t.Errorf("Zoë: got %+v, want phone, job title and the admin role added, her name kept", zoe)
		}
		if noah := f.Reload(f.noah); noah.Phone != "+44 1" {
			t.Errorf("Noah's phone: got %q, want +44 1 (the export's apostrophe taken off)", noah.Phone)
		}
		for _, c := range []struct {
			action string
			want   int
		}{{db.ActionContactCreated, 3}, {db.ActionInvitationSent, 3}, {db.ActionContactEdited, 2}, {db.ActionContactsImported, 1}} {
			if n, _ := f.check.CountAudit(f.Ctx, c.action, 0); n != c.want {
				t.Errorf("%s audit rows: got %d, want %d", c.action, n, c.want)
			}
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactCreated, ada.ID); n != 1 {
			t.Errorf("Ada's created audit rows: got %d, want 1", n)
		}
		if mail, _ := f.check.MailTo(f.Ctx, ada.ID); len(mail) != 1 || mail[0].Kind != db.MailInvite || mail[0].AboutID != f.maria.ID {
			t.Errorf("Ada's mail: got %+v, want one invitation naming Maria", mail)
		}
		if imports, rows, _ := f.check.PendingImports(f.Ctx); imports != 0 || rows != 0 {
			t.Errorf("pending imports after Import: got %d with %d rows, want none", imports, rows)
		}
		f.DeliverMail()
		if got := len(f.SMTP.Messages()); got != 3 {
			t.Errorf("mail sent: got %d, want the 3 invitations", got)
		}

		// The same file again: nothing left to do.
		again := uploadForPreview(t, b, "team.csv", file)
		if got, want := again.counts(t), [4]int{0, 0, 6, 8}; got != want {
			t.Errorf("counts of the same file again: got %v, want %v", got, want)
		}
		if again.doc.Find(`[data-testid="nothing-to-import"]`).Length() != 1 || again.doc.Find(`[data-testid="commit-import"]`).Length() != 0 {
			t.Error("the same file again offers an Import button, want none: there is nothing to import")
		}
	})
}

// needSoffice is LibreOffice's soffice, or the test is skipped (failed in CI, which has it).
func needSoffice(t *testing.T) string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("LibreOffice is not available, and CI must run this test: apt-get install libreoffice-calc")
		}
		t.Skip("LibreOffice is not available (apt-get install libreoffice-calc)")
	}
	return soffice
}

// libreOffice converts data (a file named name) with soffice --convert-to and returns what
// it wrote, with the extension ext.
func libreOffice(t *testing.T, name string, data []byte, convertTo, ext string, more ...string) []byte {
	t.Helper()
	bin := needSoffice(t)
	dir := t.TempDir()
	in := filepath.Join(dir, name)
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--headless"}, more...)
	out, err := exec.Command(bin, append(args, "--convert-to", convertTo, "--outdir", filepath.Join(dir, "out"), in)...).CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	converted, err := os.ReadFile(filepath.Join(dir, "out", strings.TrimSuffix(name, filepath.Ext(name))+"."+ext))
	if err != nil {
		t.Fatalf("LibreOffice wrote nothing: %v\n%s", err, out)
	}
	return converted
}

// TestImportRoundTrip: an export imported back is all Unchanged, as CSV, as Excel, and
// after LibreOffice opened the CSV and saved it as .xlsx or with semicolons (as it does
// set to German).
func TestImportRoundTrip(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		// Values an export neutralises, and an access end to the second.
		err := f.Store.Write(f.Ctx, func(tx *db.Tx) error {
			fields := f.zoe.Fields()
			fields.FirstName, fields.Phone, fields.JobTitle = `=HYPERLINK("http://evil.example","x")`, "+44 20 7946 0958", "'=quoted"
			fields.AccessEnds = time.Date(2027, 3, 31, 17, 30, 9, 0, time.UTC)
			return tx.UpdateContact(f.Ctx, f.zoe.ID, fields)
		})
		if err != nil {
			t.Fatal(err)
		}
		b := f.Login(f.maria.Email)
		inScope := 9
		exportCSV := []byte(b.Get("/contacts/export.csv").Body)
		files := []struct {
			name string
			data func(t *testing.T) []byte
		}{
			{"contacts.csv", func(*testing.T) []byte { return exportCSV }},
			{"contacts.xlsx", func(*testing.T) []byte { return []byte(b.Get("/contacts/export.xlsx").Body) }},
			{"libreoffice.xlsx", func(t *testing.T) []byte {
				return libreOffice(t, "contacts.csv", exportCSV, "xlsx", "xlsx", "--infilter=CSV:44,34,76,1")
			}},
			{"german.csv", func(t *testing.T) []byte {
				return libreOffice(t, "contacts.csv", exportCSV, "csv:Text - txt - csv (StarCalc):59,34,76,1", "csv", "--infilter=CSV:44,34,76,1")
			}},
		}
		for _, file := range files {
			t.Run(file.name, func(t *testing.T) {
				p := uploadForPreview(t, b, file.name, file.data(t))
				if got, want := p.counts(t), [4]int{0, 0, inScope, 0}; got != want {
					t.Errorf("counts: got %v, want %v (every contact unchanged)\n%s", got, want,
						strings.Join(strings.Fields(p.doc.Find(`[data-testid="import-rows"]`).Text()), " "))
				}
				if p.doc.Find(`[data-testid="import-ignored"]`).Length() != 0 {
					t.Errorf("an export's own columns are noted as ignored: %s", testText(t, p.body, "import-ignored"))
				}
			})
		}
	})
}

// TestImportSemicolonCSV: a CSV as a spreadsheet set to German saves it, by hand: a byte
// order mark, semicolons, CRLF, decimal commas in no way confused with separators.
func TestImportSemicolonCSV(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		file := "\uFEFFVorname;Nachname;First name;Last name;Email;Job title\r\n" +
			";;Jürgen;Weiß;juergen@northwind.example;\"Leiter; Vertrieb\"\r\n" +
			";;Änne;Groß;aenne@northwind.example;2,5 Stellen\r\n"
		p := uploadForPreview(t, b, "kontakte.csv", []byte(file))
		if got, want := p.counts(t), [4]int{2, 0, 0, 0}; got != want {
			t.Errorf("counts: got %v, want %v", got, want)
		}
		p.commit(t, b)
		if c, err := f.Store.ContactByEmail(f.Ctx, "juergen@northwind.example"); err != nil || c.LastName != "Weiß" || c.JobTitle != "Leiter; Vertrieb" {
			t.Errorf("Jürgen: got %+v (%v)", c, err)
		}
		if c, err := f.Store.ContactByEmail(f.Ctx, "aenne@northwind.example"); err != nil || c.JobTitle != "2,5 Stellen" {
			t.Errorf("Änne: got %+v (%v)", c, err)
		}
	})
}

// TestImportBadFiles: each kind of file that can't be imported gets the upload page again
// with its reason, and nothing is stored.
func TestImportBadFiles(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		header := "First name,Last name,Email\n"
		var pdf bytes.Buffer
		export.PDF(&pdf, func(fn func(*db.ExportRow) error) error {
			return fn(&db.ExportRow{FirstName: []byte("Ann"), Email: []byte("ann@example.com"), Status: []byte(db.StatusActive)})
		}, export.Meta{Account: "Northwind", GeneratedAt: f.Clock.Now(), Total: 1})
		tooLarge := []byte(header + strings.Repeat("Ann,Lee,ann@example.com,"+strings.Repeat("x", 1000)+"\n", export.MaxImportBytes/1000))
		tests := []struct {
			name, file string
			data       []byte
			status     int
			want       string
		}{
			{"a PDF renamed .csv", "contacts.csv", pdf.Bytes(), 422, "neither a CSV file nor an Excel workbook"},
			{"a zip bomb named .xlsx", "contacts.xlsx", zipBomb(t), 422, "unpacks to far more than a list of contacts"},
			{"not UTF-8", "contacts.csv", []byte(header + "Zo\xEB,Lee,zoe@example.com\n"), 422, "Line 2 of the file is not in UTF-8"},
			{"more than 10,000 rows", "contacts.csv", []byte(header + strings.Repeat("Ann,Lee,ann@example.com\n", 10_001)), 422, "more than 10,000 rows"},
			{"more than 5 MB", "contacts.csv", tooLarge, 413, "larger than 5 MB"},
			{"no Email column", "contacts.csv", []byte("First name,Last name\nAnn,Lee\n"), 422, "no Email column"},
			{"a header and nothing else", "contacts.csv", []byte(header), 422, "no contacts under it"},
			{"an empty file", "contacts.csv", nil, 422, "The file is empty."},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b.Get("/contacts/import")
				resp := upload(t, b, tt.file, tt.data)
				if resp.StatusCode != tt.status {
					t.Fatalf("status: got %d, want %d", resp.StatusCode, tt.status)
				}
				if got := testText(t, resp.Body, "import-problem"); !strings.Contains(got, tt.want) {
					t.Errorf("problem: got %q, want it to say %q", got, tt.want)
				}
				if htmlDoc(t, resp.Body).Find(`[data-testid="import-form"] input[type="file"][aria-invalid="true"]`).Length() != 1 {
					t.Error("the file field is not marked invalid")
				}
				if imports, rows, _ := f.check.PendingImports(f.Ctx); imports != 0 || rows != 0 {
					t.Errorf("pending imports: got %d with %d rows, want none", imports, rows)
				}
			})
		}
		t.Run("no file chosen", func(t *testing.T) {
			b.Get("/contacts/import")
			var body bytes.Buffer
			w := multipart.NewWriter(&body)
			w.WriteField("_csrf", b.CSRF)
			w.CreateFormFile("file", "")
			w.Close()
			req, _ := http.NewRequest(http.MethodPost, "http://portal.example.test/contacts/import", &body)
			req.Header.Set("Content-Type", w.FormDataContentType())
			resp := b.Do(req)
			if resp.StatusCode != 422 || !strings.Contains(testText(t, resp.Body, "import-problem"), "Choose a file") {
				t.Errorf("got %d %q, want 422 asking to choose a file", resp.StatusCode, testText(t, resp.Body, "import-problem"))
			}
		})
	})
}

// zipBomb is a zip named like a workbook whose one part unpacks to 70 MB of zeros.
func zipBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range 70 {
		w.Write(zeros)
	}
	zw.Close()
	return buf.Bytes()
}

// TestImportBodyLimit: the upload takes files up to 5 MB, and a body over its own limit is
// refused as soon as its length is known, in words about the file; every other request
// keeps the limit of 64 KB.
func TestImportBodyLimit(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		// 4.5 MB: 9,000 contacts with a long note each, which the import ignores.
		rows := [][]string{{"First name", "Last name", "Email", "Notes"}}
		for i := range 9_000 {
			rows = append(rows, []string{"Ann", "Lee", fmt.Sprintf("ann%d@northwind.example", i), strings.Repeat("n", 480)})
		}
		big := csvOf(rows...)
		if len(big) < 4<<20 || len(big) > export.MaxImportBytes {
			t.Fatalf("test file is %d bytes, want between 4 and 5 MB", len(big))
		}
		p := uploadForPreview(t, b, "big.csv", big)
		if got := p.counts(t); got[0] != 9_000 {
			t.Errorf("new rows of a 4.5 MB file: got %d, want 9,000", got[0])
		}

		// Bodies over the limit are refused from their length, before a byte of them is read
		// (and before anyone is signed in): sent over a real connection, only the headers go.
		base := f.Serve()
		for _, tt := range []struct {
			path   string
			length int
			want   string
		}{
			{"/contacts/import", handlers.MaxUploadBody + 1, "larger than 5 MB"},
			{"/Contacts/Import/", handlers.MaxUploadBody + 1, "larger than 5 MB"},
			{"/contacts/import/" + strings.Repeat("a", 32) + "/cancel", handlers.BodyLimit + 1, "What you sent is too large."},
			{"/contacts", handlers.BodyLimit + 1, "What you sent is too large."},
			{"/contacts/import?x=1", handlers.MaxUploadBody + 1, "larger than 5 MB"},
		} {
			resp, body, closed := rawExchange(t, base, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: portal\r\n"+
				"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n", tt.path, tt.length))
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, tt.want) || !closed {
				t.Errorf("POST %s of %d bytes: got %d (closed %v) %q, want 413 saying %q", tt.path, tt.length, resp.StatusCode, closed,
					testText(t, body, "error-page"), tt.want)
			}
		}
		// Within its limit, another route reads its body as before.
		small := b.PostForm(p.path+"/cancel", url.Values{"note": {strings.Repeat("x", handlers.BodyLimit/2)}})
		if small.StatusCode != http.StatusSeeOther {
			t.Errorf("Cancel import with a 32 KB form: got %d, want 303", small.StatusCode)
		}
	})
}

// TestImportAdminRules: Roles and Account obey the rules of Edit contact over the whole
// file: nobody removes their own Contact admin role, and an account keeps one active contact
// admin (counting the admins the same file makes).
func TestImportAdminRules(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		head := []string{"First name", "Last name", "Email", "Account", "Roles"}
		p := uploadForPreview(t, b, "demote.csv", csvOf(head,
			[]string{"", "", f.maria.Email, "", "Incident contact"},               // 2: herself
			[]string{"", "", f.soren.Email, "", "Incident contact"},               // 3: Logistics' only admin
			[]string{"", "", f.freja.Email, "Northwind Retail", ""},               // 4: the Nordics' only admin, moved to Retail
			[]string{"", "", f.ines.Email, "Northwind Logistics Nordics", ""},     // 5: Retail's only admin, moved to the Nordics
			[]string{"", "", f.olu.Email, "", "Contact admin"},                    // 6: made an admin of the Nordics
			[]string{"", "", f.lukasz.Email, "Northwind Retail", "Contact admin"}, // 7: moved to Retail as an admin
		))
		for _, tt := range []struct {
			line          int
			kind, outcome string
		}{
			{2, "Error", "You can't remove your own Contact admin role."},
			{3, "Error", "Søren Nielsen is the last active contact admin of Northwind Logistics"},
			// Olu becomes an admin of the Nordics in the same file, so Freja may leave; she
			// arrives in Retail as an admin, so Inès may leave Retail.
			{4, "Update", "Account: Northwind Logistics Nordics → Northwind Retail"},
			{5, "Update", "Account: Northwind Retail → Northwind Logistics Nordics"},
			{6, "Update", "Roles: none → Contact admin"},
			{7, "Update", "Account: Northwind Logistics → Northwind Retail"},
		} {
			if kind, outcome := p.row(t, tt.line); kind != tt.kind || !strings.Contains(outcome, tt.outcome) {
				t.Errorf("row %d: got %s %q, want %s %q", tt.line, kind, outcome, tt.kind, tt.outcome)
			}
		}

		// A file that makes Zoë an admin of Logistics lets Søren give the role up.
		p = uploadForPreview(t, b, "handover.csv", csvOf(head,
			[]string{"", "", f.soren.Email, "", "Incident contact"},
			[]string{"", "", f.zoe.Email, "", "Contact admin"},
		))
		if got, want := p.counts(t), [4]int{0, 2, 0, 0}; got != want {
			t.Fatalf("handover counts: got %v, want %v", got, want)
		}
		flashAfter(t, b, p.commit(t, b), "success")
		if soren, zoe := f.Reload(f.soren), f.Reload(f.zoe); soren.IsAdmin() || !zoe.IsAdmin() {
			t.Errorf("after the handover: Søren admin %v, Zoë admin %v; want false, true", soren.IsAdmin(), zoe.IsAdmin())
		}

		// Two admins of Retail (Inès and Noah, made one) can't both give the role up.
		p = uploadForPreview(t, b, "noah.csv", csvOf(head, []string{"", "", f.noah.Email, "", "Contact admin"}))
		flashAfter(t, b, p.commit(t, b), "success")
		p = uploadForPreview(t, b, "both.csv", csvOf(head,
			[]string{"", "", f.ines.Email, "", "Incident contact"},
			[]string{"", "", f.noah.Email, "", "Incident contact"},
		))
		if kind, _ := p.row(t, 2); kind != "Update" {
			t.Errorf("the first of two admins of Retail giving the role up: got %s, want Update", kind)
		}
		if kind, outcome := p.row(t, 3); kind != "Error" || !strings.Contains(outcome, "last active contact admin of Northwind Retail") {
			t.Errorf("the second: got %s %q, want Error, the last active contact admin", kind, outcome)
		}
	})
}

// TestImportPendingLifecycle: a pending import is its admin's alone, lasts an hour, is
// replaced by the next upload, ends with Cancel or Import, and is not imported if the
// contacts changed since its preview.
func TestImportPendingLifecycle(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		file := csvOf([]string{"First name", "Last name", "Email", "Phone"}, []string{"", "", f.zoe.Email, "111 222"})

		t.Run("another admin can't see it", func(t *testing.T) {
			p := uploadForPreview(t, b, "a.csv", file)
			other := f.Login(f.ines.Email)
			if got := flashAfter(t, other, other.Get(p.path), "info"); !strings.Contains(got, "no longer waiting") {
				t.Errorf("another admin's view: got %q, want the import to be no longer waiting", got)
			}
			if got := other.Get(p.path + "/rejected.csv"); got.StatusCode != http.StatusSeeOther {
				t.Errorf("another admin's download of its rows: got %d, want 303 away", got.StatusCode)
			}
		})
		t.Run("a second upload replaces the first", func(t *testing.T) {
			first := uploadForPreview(t, b, "a.csv", file)
			uploadForPreview(t, b, "b.csv", file)
			if imports, _, _ := f.check.PendingImports(f.Ctx); imports != 1 {
				t.Errorf("pending imports: got %d, want 1", imports)
			}
			if resp := b.Get(first.path); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("the first preview: got %d, want 303 away", resp.StatusCode)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			p := uploadForPreview(t, b, "a.csv", file)
			resp := b.PostForm(p.path+"/cancel", nil)
			if got := flashAfter(t, b, resp, "info"); got != "The import was cancelled. Nothing was changed." {
				t.Errorf("message: got %q", got)
			}
			if imports, rows, _ := f.check.PendingImports(f.Ctx); imports != 0 || rows != 0 {
				t.Errorf("after Cancel: %d pending imports with %d rows, want none", imports, rows)
			}
			if zoe := f.Reload(f.zoe); zoe.Phone != "" {
				t.Errorf("Zoë's phone after Cancel: got %q, want none", zoe.Phone)
			}
		})
		t.Run("contacts changed since the preview", func(t *testing.T) {
			p := uploadForPreview(t, b, "a.csv", file)
			err := f.Store.Write(f.Ctx, func(tx *db.Tx) error {
				fields := f.Reload(f.zoe).Fields()
				fields.JobTitle = "Changed meanwhile"
				return tx.UpdateContact(f.Ctx, f.zoe.ID, fields)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := flashAfter(t, b, p.commit(t, b), "error"); !strings.Contains(got, "Contacts changed since this preview") {
				t.Errorf("message: got %q", got)
			}
			if zoe := f.Reload(f.zoe); zoe.Phone != "" {
				t.Errorf("Zoë's phone: got %q, want nothing imported", zoe.Phone)
			}
			again := openPreview(t, b, p.path)
			flashAfter(t, b, again.commit(t, b), "success")
			if zoe := f.Reload(f.zoe); zoe.Phone != "111 222" || zoe.JobTitle != "Changed meanwhile" {
				t.Errorf("Zoë: got phone %q, job title %q; want the import's phone and the other change kept", zoe.Phone, zoe.JobTitle)
			}
			if got := flashAfter(t, b, again.commit(t, b), "info"); !strings.Contains(got, "no longer waiting") {
				t.Errorf("the same Import pressed twice: got %q, want the import no longer waiting", got)
			}
			if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactsImported, 0); n != 1 {
				t.Errorf("imports audited: got %d, want 1", n)
			}
		})
		t.Run("an hour later it is gone", func(t *testing.T) {
			p := uploadForPreview(t, b, "a.csv", file)
			f.Clock.Advance(contacts.ImportTTL + time.Second)
			if resp := b.Get(p.path); resp.StatusCode != http.StatusSeeOther {
				t.Errorf("preview after an hour: got %d, want 303 away", resp.StatusCode)
			}
			if n, err := f.App.Contacts().DeleteAbandonedImports(f.Ctx); err != nil || n != 1 {
				t.Errorf("abandoned imports deleted: got %d (%v), want 1", n, err)
			}
			if imports, rows, _ := f.check.PendingImports(f.Ctx); imports != 0 || rows != 0 {
				t.Errorf("after an hour: %d pending imports with %d rows, want none", imports, rows)
			}
		})
		t.Run("contacts without the role can't import", func(t *testing.T) {
			member := f.Login(f.lukasz.Email)
			if got := member.Get("/contacts/import").StatusCode; got != http.StatusForbidden {
				t.Errorf("GET /contacts/import as a contact without the role: got %d, want 403", got)
			}
		})
	})
}

// TestImportOutsideOrganizationIsThrottled: emails of contacts outside the organization
// count toward Create contact's limit, one each; a file with more than it allows is
// refused whole, so that it tells nothing of which rows they were.
func TestImportOutsideOrganizationIsThrottled(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		rows := [][]string{{"First name", "Last name", "Email"}}
		for i := range 31 {
			email := fmt.Sprintf("staff%d@contoso.example", i)
			f.Contact(f.other, "Staff", strconv.Itoa(i), email)
			rows = append(rows, []string{"Staff", strconv.Itoa(i), email})
		}
		b := f.Login(f.maria.Email)
		b.Get("/contacts/import")
		resp := upload(t, b, "probe.csv", csvOf(rows...))
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(testText(t, resp.Body, "import-problem"), "Too many attempts") {
			t.Errorf("31 emails outside the organization: got %d %q, want 429 Too many attempts", resp.StatusCode, testText(t, resp.Body, "import-problem"))
		}
		if imports, _, _ := f.check.PendingImports(f.Ctx); imports != 0 {
			t.Errorf("pending imports: got %d, want none", imports)
		}
		f.Clock.Advance(10 * time.Minute)
		p := uploadForPreview(t, b, "one.csv", csvOf(rows[0], rows[1]))
		if kind, outcome := p.row(t, 2); kind != "Error" || outcome != contacts.ReasonOutsideOrganization {
			t.Errorf("one email outside, later: got %s %q", kind, outcome)
		}
	})
}

// TestImportTenThousandRows imports the most a file may hold, on each engine.
func TestImportTenThousandRows(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		rows := [][]string{{"First name", "Last name", "Email", "Account", "Roles"}}
		for i := range export.MaxImportRows {
			rows = append(rows, []string{"Member", strconv.Itoa(i), fmt.Sprintf("member%05d@northwind.example", i), "Northwind Logistics", "Incident contact"})
		}
		started := time.Now()
		p := uploadForPreview(t, b, "10k.csv", csvOf(rows...))
		previewed := time.Since(started)
		if got, want := p.counts(t), [4]int{export.MaxImportRows, 0, 0, 0}; got != want {
			t.Fatalf("counts: got %v, want %v", got, want)
		}
		if got := p.doc.Find(`[data-testid="import-row"]`).Length(); got != 100 {
			t.Errorf("rows on the first page: got %d, want 100", got)
		}
		started = time.Now()
		flashAfter(t, b, p.commit(t, b), "success")
		t.Logf("10,000 rows on %s: upload and preview %v, Import %v", engine, previewed.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
		mail, _ := f.check.AllMail(f.Ctx)
		if len(mail) != export.MaxImportRows {
			t.Errorf("invitations queued: got %d, want %d", len(mail), export.MaxImportRows)
		}
		if n, _ := f.check.CountAudit(f.Ctx, db.ActionContactCreated, 0); n != export.MaxImportRows {
			t.Errorf("created audit rows: got %d, want %d", n, export.MaxImportRows)
		}
		last, err := f.Store.ContactByEmail(f.Ctx, "member09999@northwind.example")
		if err != nil || last.AccountID != f.child.ID || !last.HasRole(db.RoleIncidentContact) {
			t.Errorf("the last member: got %+v (%v)", last, err)
		}
	})
}

// TestRemoveErasesThePendingImportRow: removing a contact erases its row from an import
// that waits for its preview to be confirmed (R-LIFECYCLE: gone from every table).
func TestRemoveErasesThePendingImportRow(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		f := newFamily(t, engine)
		b := f.Login(f.maria.Email)
		p := uploadForPreview(t, b, "a.csv", csvOf([]string{"First name", "Last name", "Email", "Job title"},
			[]string{"Noah", "Berg", f.noah.Email, "Quartermaster-Oyelaran"}, []string{"", "", f.zoe.Email, "Lead"}))
		if resp := b.PostForm(fmt.Sprintf("/contacts/%d/remove", f.noah.ID), nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("remove Noah: status %d", resp.StatusCode)
		}
		for _, text := range []string{f.noah.Email, "Quartermaster-Oyelaran"} {
			if found, err := f.check.Where(f.Ctx, text); err != nil || len(found) > 0 {
				t.Errorf("%q is still in %v (%v)", text, found, err)
			}
		}
		if got := openPreview(t, b, p.path).counts(t); got != [4]int{0, 1, 0, 0} {
			t.Errorf("the preview after the removal: got %v, want Zoë's update alone", got)
		}
	})
}
