package export_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"portal/db"
	"portal/export"
	"portal/validate"
)

// cells are a row's fields in the order of export.ImportColumns.
type cells = [8]string

func readCells(t *testing.T, data []byte) *export.Sheet {
	t.Helper()
	sheet, err := export.Read(data)
	if err != nil {
		t.Fatalf("Read: %v\n%s", err, data)
	}
	return sheet
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		rows    []cells
		lines   []int
		ignored []string
	}{
		{
			name:  "the export's header with a byte order mark, CRLF, every cell quoted",
			file:  "\uFEFF\"First name\",\"Last name\",\"Email\",\"Account\",\"Roles\",\"Status\",\"Lock reason\",\"Phone\",\"Job title\",\"Access ends (UTC)\",\"Last login (UTC)\",\"Created (UTC)\"\r\n\"Zoë\",\"Ærø\",\"zoe@example.com\",\"Nordic\",\"Contact admin; Incident contact\",\"Active\",\"\",\"'+44 20 7946 0958\",\"Lead\",\"2026-12-31 17:00\",\"\",\"2026-11-22 09:00\"\r\n",
			rows:  []cells{{"Zoë", "Ærø", "zoe@example.com", "+44 20 7946 0958", "Lead", "Nordic", "Contact admin; Incident contact", "2026-12-31 17:00"}},
			lines: []int{2},
		},
		{
			name: "semicolons, LF, no byte order mark, headers in any case, without (UTC)",
			file: "first NAME;  Last Name ;EMAIL;access ends\nAnn;Lee;ann@example.com;2026-11-30T17:00\n\"Bo; Jr\";\"Ek\";bo@example.com;\n",
			rows: []cells{{"Ann", "Lee", "ann@example.com", "", "", "", "", "2026-11-30T17:00"},
				{"Bo; Jr", "Ek", "bo@example.com"}},
			lines: []int{2, 3},
		},
		{
			name:    "unknown columns are named, the export's own are not, blank rows and short rows",
			file:    "Email,Notes,First name,Last name,Status,Last login,\n\n,,,,,\nann@example.com,met at fair,Ann,Lee,Active\nbo@example.com\n",
			rows:    []cells{{"Ann", "Lee", "ann@example.com"}, {"", "", "bo@example.com"}},
			lines:   []int{4, 5},
			ignored: []string{"Notes"},
		},
		{
			name: "one apostrophe of the export comes off, nothing else",
			file: "First name,Last name,Email,Job title\n'=1+1,''=2,'Tis,'Twas\n\"'@x\",\"'-\",e@example.com,\"'\"\n",
			rows: []cells{{"=1+1", "'=2", "'Tis", "", "'Twas"}, {"@x", "-", "e@example.com", "", "'"}},
		},
		{
			name:  "a quoted cell over two lines counts from its first",
			file:  "First name,Last name,Email\n\"Ann\nMarie\",Lee,ann@example.com\nBo,Ek,bo@example.com\n",
			rows:  []cells{{"Ann\nMarie", "Lee", "ann@example.com"}, {"Bo", "Ek", "bo@example.com"}},
			lines: []int{2, 4},
		},
		{
			name: "a formula is text and stays as typed",
			file: "First name,Last name,Email\n\"=HYPERLINK(\"\"http://evil.example\"\";\"\"x\"\")\",=2*21,f@example.com\n",
			rows: []cells{{`=HYPERLINK("http://evil.example";"x")`, "=2*21", "f@example.com"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sheet := readCells(t, []byte(tt.file))
			var got []cells
			var lines []int
			for _, r := range sheet.Rows {
				got = append(got, r.Cells)
				lines = append(lines, r.Line)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.rows) {
				t.Errorf("rows:\n got %q\nwant %q", got, tt.rows)
			}
			if tt.lines != nil && fmt.Sprint(lines) != fmt.Sprint(tt.lines) {
				t.Errorf("lines: got %v, want %v", lines, tt.lines)
			}
			if fmt.Sprint(sheet.Ignored) != fmt.Sprint(tt.ignored) {
				t.Errorf("ignored columns: got %q, want %q", sheet.Ignored, tt.ignored)
			}
		})
	}
}

// zipOf builds a zip archive of the named parts.
func zipOf(t testing.TB, parts map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lyingZip is a zip whose one part says in the directory that it unpacks to 100 bytes,
// while its data inflates to 200 MB of zeros.
func lyingZip(t testing.TB) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	crc := crc32.NewIEEE()
	for range 200 {
		fw.Write(zeros)
		crc.Write(zeros)
	}
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(raw.Len()), UncompressedSize64: 100})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw.Bytes())
	for _, name := range []string{"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"} {
		w, _ := zw.Create(name)
		w.Write([]byte("<x/>"))
	}
	zw.Close()
	return buf.Bytes()
}

// TestReadRefuses gives each kind of bad file and checks the words of its refusal. The zip
// bombs are refused from their directory: reading one takes far less memory than it
// unpacks to.
func TestReadRefuses(t *testing.T) {
	header := "First name,Last name,Email\n"
	manyRows := header + strings.Repeat("Ann,Lee,ann@example.com\n", export.MaxImportRows+1)
	bigCell := header + "Ann,Lee," + strings.Repeat("a", export.MaxImportBytes) + "\n"
	pdf, err := os.ReadFile(pdfFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	manyParts := map[string][]byte{}
	for i := range 201 {
		manyParts[fmt.Sprintf("xl/media/image%d.png", i)] = []byte("x")
	}
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "The file is empty."},
		{"only spaces and a byte order mark", []byte("\uFEFF \r\n"), "The file is empty."},
		{"a PDF renamed .csv", pdf, "neither a CSV file nor an Excel workbook"},
		{"an image", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "neither a CSV file nor an Excel workbook"},
		{"an old .xls", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00"), "Excel 97–2003 workbook (.xls)"},
		{"UTF-16", []byte("\xFF\xFEF\x00i\x00"), "“Unicode Text” (UTF-16)"},
		{"Latin-1, not UTF-8", []byte(header + "Ann,Lee,ann@example.com\nZo\xEB,Lee,zoe@example.com\n"),
			"Line 3 of the file is not in UTF-8"},
		{"a quote left open", []byte(header + "Ann,Lee,ann@example.com\n\"Bo,Ek,bo@example.com\n"), "Line 3 of the file can't be read as CSV"},
		{"a quote inside a cell", []byte(header + "A\"nn,Lee,ann@example.com\n"), "Line 2 of the file can't be read as CSV"},
		{"no Email column", []byte("First name,Last name,Mail\nAnn,Lee,ann@example.com\n"), "first row has no Email column"},
		{"no name columns", []byte("Email\nann@example.com\n"), "first row has no First name and Last name columns"},
		{"two Email columns", []byte("First name,Last name,Email,E-mail,email\n"), "The file has two Email columns"},
		{"more than 10,000 rows", []byte(manyRows), "more than 10,000 rows"},
		{"more than 5 MB", []byte(bigCell), "larger than 5 MB"},
		{"a zip bomb named .xlsx", zipOf(t, map[string][]byte{"xl/worksheets/sheet1.xml": make([]byte, 70<<20)}),
			"unpacks to far more than a list of contacts"},
		{"a zip of too many parts", zipOf(t, manyParts), "unpacks to far more than a list of contacts"},
		{"a zip whose directory lies", lyingZip(t), "This .xlsx can't be opened"},
		{"a zip that is no workbook", zipOf(t, map[string][]byte{"readme.txt": []byte("hello")}), "This .xlsx can't be opened"},
		{"a cut-off zip", zipOf(t, map[string][]byte{"a": []byte("b")})[:30], "This .xlsx can't be opened"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			sheet, err := export.Read(tt.file)
			runtime.ReadMemStats(&after)
			var problem export.FileProblem
			if !errors.As(err, &problem) {
				t.Fatalf("Read: got %v (%d rows), want a FileProblem saying %q", err, rowsOf(sheet), tt.want)
			}
			if !strings.Contains(string(problem), tt.want) {
				t.Errorf("problem: got %q, want it to say %q", problem, tt.want)
			}
			if strings.Contains(tt.name, "zip") {
				if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 16<<20 {
					t.Errorf("reading it allocated %d MB, want far less than it unpacks to", allocated>>20)
				}
			}
		})
	}
}

func rowsOf(s *export.Sheet) int {
	if s == nil {
		return 0
	}
	return len(s.Rows)
}

// pdfFixture writes a small real PDF (an export of one contact) and returns its path.
func pdfFixture(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	_, err := export.PDF(&buf, func(fn func(*db.ExportRow) error) error {
		return fn(&db.ExportRow{FirstName: []byte("Ann"), LastName: []byte("Lee"), Email: []byte("ann@example.com"),
			Status: []byte(db.StatusActive), Created: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)})
	}, export.Meta{Account: "Northwind", GeneratedAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC), Total: 1})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "contacts.csv") // renamed, as a user might
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// roundTripRows are contacts as the export writes them, with every kind of value the
// import must get back unchanged.
var roundTripRows = []db.ExportRow{
	{FirstName: []byte("Zoë"), LastName: []byte("Ærø"), Email: []byte("zoe@example.com"), Account: []byte("Nordic"),
		Roles: []byte("Contact admin; Incident contact"), Status: []byte(db.StatusActive), Phone: []byte("+44 20 7946 0958"),
		JobTitle: []byte("Lead, \"North\""), AccessEnds: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC),
		LastLogin: time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC), Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
	{FirstName: []byte(`=HYPERLINK("http://evil.example","x")`), LastName: []byte("-Minus"), Email: []byte("f@example.com"),
		Account: []byte("Nordic"), Status: []byte(db.StatusLocked), LockReason: []byte(db.LockedByFailedLogins),
		JobTitle: []byte("@home; 'quoted'"), AccessEnds: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
	{FirstName: []byte("太郎"), LastName: []byte("'=not a formula"), Email: []byte("taro@example.jp"), Account: []byte("Müller & Söhne"),
		Status: []byte(db.StatusActive), Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
}

func roundTripWant() []cells {
	var want []cells
	for _, r := range roundTripRows {
		ends := ""
		if !r.AccessEnds.IsZero() {
			ends = r.AccessEnds.Format("2006-01-02 15:04")
			if r.AccessEnds.Second() != 0 {
				ends = r.AccessEnds.Format("2006-01-02 15:04:05")
			}
		}
		want = append(want, cells{string(r.FirstName), string(r.LastName), string(r.Email), string(r.Phone),
			string(r.JobTitle), string(r.Account), string(r.Roles), ends})
	}
	return want
}

func exportOf(t testing.TB, write func(*bytes.Buffer, export.Rows) error) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := write(&buf, func(fn func(*db.ExportRow) error) error {
		for i := range roundTripRows {
			if err := fn(&roundTripRows[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sheetCells(s *export.Sheet) []cells {
	var out []cells
	for _, r := range s.Rows {
		out = append(out, r.Cells)
	}
	return out
}

// An export imports back as it was: CSV and Excel alike.
func TestReadExportRoundTrip(t *testing.T) {
	for _, format := range []struct {
		name  string
		write func(*bytes.Buffer, export.Rows) error
	}{
		{"csv", func(b *bytes.Buffer, r export.Rows) error { _, err := export.CSV(b, r); return err }},
		{"xlsx", func(b *bytes.Buffer, r export.Rows) error {
			_, err := export.Excel(b, r, export.Meta{Account: "Nordic", GeneratedAt: time.Now()})
			return err
		}},
	} {
		t.Run(format.name, func(t *testing.T) {
			sheet := readCells(t, exportOf(t, format.write))
			if got, want := sheetCells(sheet), roundTripWant(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("read back:\n got %q\nwant %q", got, want)
			}
			if len(sheet.Ignored) != 0 {
				t.Errorf("ignored columns: got %q, want none (the export's own columns are ignored silently)", sheet.Ignored)
			}
			for i, has := range sheet.Has {
				if !has {
					t.Errorf("column %s not found in the export", export.ImportColumns[i])
				}
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	var csvFile, xlsx bytes.Buffer
	if err := export.TemplateCSV(&csvFile); err != nil {
		t.Fatal(err)
	}
	if err := export.TemplateExcel(&xlsx); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"csv": csvFile.Bytes(), "xlsx": xlsx.Bytes()} {
		sheet := readCells(t, data)
		if len(sheet.Rows) != 0 || len(sheet.Ignored) != 0 {
			t.Errorf("%s template: got %d rows and ignored %q, want the header alone", name, len(sheet.Rows), sheet.Ignored)
		}
		for i, has := range sheet.Has {
			if !has {
				t.Errorf("%s template lacks %s", name, export.ImportColumns[i])
			}
		}
	}
	f, err := excelize.OpenReader(bytes.NewReader(xlsx.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != "Contacts" {
		t.Errorf("template sheets: got %q, want [Contacts]", got)
	}
}

// The rows an import leaves out come back as a CSV that reads as it was, with its reason.
func TestRejectedCSV(t *testing.T) {
	var buf bytes.Buffer
	has := [8]bool{true, true, true, false, false, true}
	err := export.RejectedCSV(&buf, has, []export.RejectedRow{
		{Cells: cells{"=1+1", "Lee", "ann@", "", "", "Nordic"}, Reason: "Enter a valid email address, like name@example.com."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"'=1+1"`) {
		t.Errorf("a formula-like cell is not neutralised:\n%s", buf.String())
	}
	sheet := readCells(t, buf.Bytes())
	if got, want := sheetCells(sheet), []cells{{"=1+1", "Lee", "ann@", "", "", "Nordic"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back: got %q, want %q", got, want)
	}
	if fmt.Sprint(sheet.Ignored) != "[Reason]" {
		t.Errorf("ignored: got %q, want [Reason]", sheet.Ignored)
	}
}

// needSoffice is LibreOffice's soffice, or the test is skipped (failed in CI, which has it).
func needSoffice(t *testing.T) string {
	t.Helper()
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		needReader(t, "LibreOffice", "apt-get install libreoffice-calc")
	}
	return soffice
}

// soffice converts in to the format (a --convert-to argument) with its own profile and
// returns the file it wrote.
func soffice(t *testing.T, bin, in, convertTo, ext string, more ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--headless"}, more...)
	args = append(args, "--convert-to", convertTo, "--outdir", dir, in)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in)) + "." + ext
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("LibreOffice wrote no %s: %v", ext, err)
	}
	return data
}

// Files that LibreOffice wrote import like the export they came from: the export's CSV
// opened and saved as .xlsx, and saved as CSV with semicolons, as it does set to German.
func TestReadLibreOfficeFiles(t *testing.T) {
	bin := needSoffice(t)
	in := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(in, exportOf(t, func(b *bytes.Buffer, r export.Rows) error { _, err := export.CSV(b, r); return err }), 0o600); err != nil {
		t.Fatal(err)
	}
	want := roundTripWant()
	// A CSV opened in Calc keeps the export's apostrophes as text, and the import takes
	// them off as it does from the CSV itself.
	t.Run("xlsx", func(t *testing.T) {
		xlsx := soffice(t, bin, in, "xlsx", "xlsx", "--infilter=CSV:44,34,76,1")
		if got := sheetCells(readCells(t, xlsx)); fmt.Sprint(sameDates(got)) != fmt.Sprint(sameDates(want)) {
			t.Errorf("read back:\n got %q\nwant %q", got, want)
		}
	})
	t.Run("semicolons", func(t *testing.T) {
		semicolons := soffice(t, bin, in, "csv:Text - txt - csv (StarCalc):59,34,76,1", "csv", "--infilter=CSV:44,34,76,1")
		if !bytes.Contains(semicolons, []byte(";")) || bytes.HasPrefix(semicolons, []byte(`"First name",`)) {
			t.Fatalf("LibreOffice did not write semicolons:\n%s", semicolons)
		}
		if got := sheetCells(readCells(t, semicolons)); fmt.Sprint(sameDates(got)) != fmt.Sprint(sameDates(want)) {
			t.Errorf("read back:\n got %q\nwant %q", got, want)
		}
	})
	// Typed into Calc, Access ends is a real date: the import reads its serial number.
	t.Run("dates as dates", func(t *testing.T) {
		typed := filepath.Join(t.TempDir(), "typed.csv")
		os.WriteFile(typed, []byte("First name,Last name,Email,Access ends\nAnn,Lee,ann@example.com,2026-11-30 17:00\n"), 0o600)
		xlsx := soffice(t, bin, typed, "xlsx", "xlsx", "--infilter=CSV:44,34,76,1,,1033,false,true")
		rows := readCells(t, xlsx).Rows
		if len(rows) != 1 || rows[0].Cells[export.FieldAccessEnds] != "2026-11-30 17:00" {
			t.Errorf("Access ends: got %+v, want 2026-11-30 17:00", rows)
		}
	})
}

// sameDates writes every Access ends of rows to the second, as the import reads it:
// LibreOffice writes "17:00:00" where the export wrote "17:00".
func sameDates(rows []cells) []cells {
	out := append([]cells(nil), rows...)
	for i := range out {
		cell := &out[i][export.FieldAccessEnds]
		if t, err := validate.DateTime("Access ends", *cell); err == nil && !t.IsZero() {
			*cell = t.Format(time.DateTime)
		}
	}
	return out
}

// FuzzRead: no file makes Read panic, take more rows than the limit, or hand out text that
// is not UTF-8 or that is longer than a cell may be.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"", "First name,Last name,Email\nAnn,Lee,a@b.c\n", "First name;Last name;Email\r\n\"A;\"\"x\";B;c\r\n",
		"\uFEFFemail,first name,last name,roles\n'=1,'+2,'-3,'@4\n", "PK\x03\x04", "\xD0\xCF\x11\xE0", "Email\n\"",
	} {
		f.Add([]byte(seed))
	}
	f.Add(exportOf(f, func(b *bytes.Buffer, r export.Rows) error {
		_, err := export.Excel(b, r, export.Meta{Account: "x", GeneratedAt: time.Now()})
		return err
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		sheet, err := export.Read(data)
		if err != nil {
			var problem export.FileProblem
			if !errors.As(err, &problem) {
				t.Fatalf("error %v is not a FileProblem", err)
			}
			return
		}
		if len(sheet.Rows) > export.MaxImportRows {
			t.Fatalf("%d rows, over the limit", len(sheet.Rows))
		}
		last := 0
		for _, r := range sheet.Rows {
			if r.Line <= last {
				t.Errorf("line %d after line %d", r.Line, last)
			}
			last = r.Line
			for _, c := range r.Cells {
				if !utf8Valid(c) || len(c) > 4096 {
					t.Errorf("cell %.40q: not UTF-8 or longer than a cell may be", c)
				}
			}
		}
	})
}

// FuzzCSVRoundTrip: whatever a contact holds, the export's CSV reads back unchanged.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("Zoë", "=1+1", "+44 20", "a;b,\"c\"", "'x")
	f.Add("'=x", "-", "@", "\t", "")
	f.Fuzz(func(t *testing.T, first, last, phone, job, account string) {
		for _, v := range []string{first, last, phone, job, account} {
			if !utf8Valid(v) || strings.ContainsAny(v, "\r\x00") || len(v) > 4096 {
				t.Skip("not a value a contact can hold (CR is normalised by every CSV reader)")
			}
		}
		row := db.ExportRow{FirstName: []byte(first), LastName: []byte(last), Email: []byte("x@example.com"),
			Phone: []byte(phone), JobTitle: []byte(job), Account: []byte(account), Status: []byte(db.StatusActive)}
		var buf bytes.Buffer
		if _, err := export.CSV(&buf, func(fn func(*db.ExportRow) error) error { return fn(&row) }); err != nil {
			t.Fatal(err)
		}
		sheet, err := export.Read(buf.Bytes())
		if err != nil {
			t.Fatalf("Read: %v\n%q", err, buf.String())
		}
		want := cells{first, last, "x@example.com", phone, job, account}
		if len(sheet.Rows) != 1 || sheet.Rows[0].Cells != want {
			t.Errorf("read back: got %+v, want %q", sheet.Rows, want)
		}
	})
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// TestReadWorkbookFormulas: a formula in an .xlsx is read as the text typed, as in a CSV,
// never as the value a spreadsheet computed from it; cells around it keep their values.
func TestReadWorkbookFormulas(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for cell, value := range map[string]string{"A1": "First name", "B1": "Last name", "C1": "Email", "D1": "Job title",
		"A2": "Ann", "C2": "ann@example.com", "A3": "Bo", "B3": "Ek", "C3": "bo@example.com"} {
		if err := f.SetCellValue(sheet, cell, value); err != nil {
			t.Fatal(err)
		}
	}
	for cell, formula := range map[string]string{"B2": "1+1", "D2": `HYPERLINK("http://evil.example","x")`, "D3": `A3&"@x"`} {
		if err := f.SetCellFormula(sheet, cell, formula); err != nil {
			t.Fatal(err)
		}
	}
	// The value a spreadsheet would have stored beside the formula, which must not be read.
	if err := f.SetCellValue(sheet, "B2", 2); err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellFormula(sheet, "B2", "1+1"); err != nil {
		t.Fatal(err)
	}
	got := sheetCells(readCells(t, xlsxOf(t, f)))
	want := []cells{
		{"Ann", "=1+1", "ann@example.com", "", `=HYPERLINK("http://evil.example","x")`},
		{"Bo", "Ek", "bo@example.com", "", `=A3&"@x"`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
}

func TestReadWorkbookMergedCells(t *testing.T) {
	// A job title and an account merged over two rows: a spreadsheet shows the value in
	// every cell of the merge, and an import takes it so.
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	for cell, value := range map[string]any{"A1": "First name", "B1": "Last name", "C1": "Email", "D1": "Job title", "E1": "Account",
		"A2": "Merged", "B2": "A", "C2": "a@example.com", "D2": "Merged title", "E2": "Northwind Logistics",
		"A3": "Merged", "B3": "B", "C3": "b@example.com",
		"A4": "Cy", "B4": "C", "C4": "c@example.com", "D4": "Buyer"} {
		if err := f.SetCellValue(sheet, cell, value); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range [][2]string{{"D2", "D3"}, {"E2", "E3"}} {
		if err := f.MergeCell(sheet, r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	got := sheetCells(readCells(t, xlsxOf(t, f)))
	want := []cells{
		{"Merged", "A", "a@example.com", "", "Merged title", "Northwind Logistics", "", ""},
		{"Merged", "B", "b@example.com", "", "Merged title", "Northwind Logistics", "", ""},
		{"Cy", "C", "c@example.com", "", "Buyer", "", "", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}

	// 200,000 merges: refused at the 1,001st, before anything compares them with each other
	// (excelize's GetMergeCells does, and would take hours; the test's timeout stands guard).
	parts := partsOf(t, xlsxOf(t, f))
	var many strings.Builder
	fmt.Fprintf(&many, `<mergeCells count="200000">`)
	for i := range 200_000 {
		fmt.Fprintf(&many, `<mergeCell ref="G%d:H%d"/>`, 10+i, 10+i)
	}
	many.WriteString(`</mergeCells>`)
	xml := string(parts["xl/worksheets/sheet1.xml"])
	start, end := strings.Index(xml, "<mergeCells"), strings.Index(xml, "</mergeCells>")+len("</mergeCells>")
	parts["xl/worksheets/sheet1.xml"] = []byte(xml[:start] + many.String() + xml[end:])
	if _, err := export.Read(zipOf(t, parts)); err == nil || !strings.Contains(err.Error(), "more than 1,000 merged cells") {
		t.Errorf("a workbook of 200,000 merged cells: %v, want it refused", err)
	}
}

// xlsxOf is the workbook f as a file.
func xlsxOf(t testing.TB, f *excelize.File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// partsOf unpacks a zip archive into its parts.
func partsOf(t testing.TB, archive []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if parts[f.Name], err = io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	return parts
}

func TestReadWorkbookReadsItsFirstSheetOnly(t *testing.T) {
	// Instructions on the first sheet, the contacts on the second: the answer says which
	// sheet was read.
	f := excelize.NewFile()
	defer f.Close()
	first := f.GetSheetName(0)
	if err := f.SetCellValue(first, "A1", "Fill in the contacts on the next sheet."); err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewSheet("Contacts"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetRow("Contacts", "A1", &[]any{"First name", "Last name", "Email"}); err != nil {
		t.Fatal(err)
	}
	_, err := export.Read(xlsxOf(t, f))
	if want := "The first row of the workbook's first sheet (the only one read) has no First name, Last name and Email columns."; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}
