package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/export"
)

// excelContact is one contact of the readers' test: the row handed to Excel and the cells a
// reader must find for it (nil: an empty cell; a time.Time: a real date).
type excelContact struct {
	row   db.ExportRow
	cells []any
}

var (
	excelGeneratedAt = time.Date(2026, 11, 23, 14, 5, 9, 0, time.UTC)
	excelLastLogin   = time.Date(2026, 11, 20, 8, 15, 42, 0, time.UTC)
	excelCreated     = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	excelAccessEnds  = time.Date(2027, 3, 31, 17, 30, 0, 0, time.UTC)
)

var excelContacts = []excelContact{
	{
		row: db.ExportRow{
			FirstName: []byte("Zoë"), LastName: []byte("Ångström"), Email: []byte("zoe@example.com"),
			Account: []byte("Müller & Söhne"), Roles: []byte("Admin; Support"), Status: []byte(db.StatusLocked),
			LockReason: []byte(db.LockedByAdmin), LockedBy: []byte("Anna Admin"), Phone: []byte("+44 20 7946 0958"),
			JobTitle: []byte("Kundenbetreuerin"), LastLogin: excelLastLogin, Created: excelCreated, TwoFactor: true,
			AccessEnds: excelAccessEnds,
		},
		cells: []any{"Zoë", "Ångström", "zoe@example.com", "Müller & Söhne", "Admin; Support", "Locked",
			"Locked by Anna Admin", "+44 20 7946 0958", "Kundenbetreuerin", excelAccessEnds, excelLastLogin, excelCreated, "On"},
	},
	{
		row: db.ExportRow{
			FirstName: []byte("太郎"), LastName: []byte("山田"), Email: []byte("taro@example.jp"),
			Account: []byte("Müller & Söhne"), Roles: []byte("Support"), Status: []byte(db.StatusActive),
			Created: excelCreated,
		},
		cells: []any{"太郎", "山田", "taro@example.jp", "Müller & Söhne", "Support", "Active",
			nil, nil, nil, nil, nil, excelCreated, "Off"},
	},
	{
		row: db.ExportRow{
			FirstName: []byte(`=HYPERLINK("http://x.example","y")`), LastName: []byte("Żółć"), Email: []byte("l@example.pl"),
			Account: []byte("Müller & Söhne"), Roles: []byte("Billing"), Status: []byte(db.StatusLocked),
			LockReason: []byte(db.LockedByFailedLogins), LastLogin: excelLastLogin, Created: excelCreated,
		},
		cells: []any{`=HYPERLINK("http://x.example","y")`, "Żółć", "l@example.pl", "Müller & Söhne", "Billing", "Locked",
			"Too many failed login attempts", nil, nil, nil, excelLastLogin, excelCreated, "Off"},
	},
}

// writeExcelFile exports excelContacts to an .xlsx in a temporary folder and returns its path.
func writeExcelFile(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	n, err := export.Excel(&buf, func(fn func(*db.ExportRow) error) error {
		for i := range excelContacts {
			if err := fn(&excelContacts[i].row); err != nil {
				return err
			}
		}
		return nil
	}, export.Meta{Account: "Müller & Söhne", GeneratedAt: excelGeneratedAt, Total: len(excelContacts)})
	if err != nil || n != len(excelContacts) {
		t.Fatalf("Excel: got %d rows, %v; want %d, nil", n, err, len(excelContacts))
	}
	path := filepath.Join(t.TempDir(), "contacts.xlsx")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needReader skips the test when a reader is not installed, except in CI, which installs
// them all (.ci/run), so that a missing one fails there instead of passing unseen.
func needReader(t *testing.T, what, install string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not available, and CI must run this test: %s", what, install)
	}
	t.Skipf("%s is not available (%s)", what, install)
}

// workbookRead is what export/testdata/exceljs/read.js and openpyxl/read.py print.
type workbookRead struct {
	Title, Creator    string
	Created, Modified string
	Sheets            []string
	Frozen            struct {
		State       string
		YSplit      int
		TopLeftCell string
	}
	AutoFilter string
	HeaderBold []bool
	Rows       [][]*struct{ Type, Value string }
}

// TestExcelOpensInReaders opens one export with the readers people use on it and checks
// that each sees the same workbook: the properties dated at the export (excelize's own
// core.xml once made exceljs refuse the file and said 2006), a frozen bold header, the
// auto filter over the table, texts unchanged (a formula stays text) and real dates.
func TestExcelOpensInReaders(t *testing.T) {
	path := writeExcelFile(t)
	readers := []struct {
		name string
		run  func(t *testing.T) []byte
	}{
		{"exceljs", func(t *testing.T) []byte {
			if _, err := exec.LookPath("node"); err != nil {
				needReader(t, "node", "apt-get install nodejs npm")
			}
			if _, err := os.Stat("testdata/exceljs/node_modules/exceljs"); err != nil {
				needReader(t, "exceljs", "npm ci --prefix export/testdata/exceljs")
			}
			return runReader(t, "node", "testdata/exceljs/read.js", path)
		}},
		{"openpyxl", func(t *testing.T) []byte {
			python := pythonWithOpenpyxl()
			if python == "" {
				needReader(t, "python3 with openpyxl", "apt-get install python3-openpyxl")
			}
			return runReader(t, python, "testdata/openpyxl/read.py", path)
		}},
	}
	for _, reader := range readers {
		t.Run(reader.name, func(t *testing.T) {
			var got workbookRead
			out := reader.run(t)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s printed no workbook: %v\n%s", reader.name, err, out)
			}
			checkWorkbookRead(t, got)
		})
	}
}

func checkWorkbookRead(t *testing.T, got workbookRead) {
	t.Helper()
	at := excelGeneratedAt.Format(time.RFC3339)
	for _, p := range []struct{ name, got, want string }{
		{"title", got.Title, "Contacts of Müller & Söhne"},
		{"creator", got.Creator, "Customer Support Portal"},
		{"created", got.Created, at},
		{"modified", got.Modified, at},
		{"frozen pane state", got.Frozen.State, "frozen"},
		{"frozen pane top left cell", got.Frozen.TopLeftCell, "A2"},
		{"auto filter", got.AutoFilter, "A1:M4"},
	} {
		if p.got != p.want {
			t.Errorf("%s: got %q, want %q", p.name, p.got, p.want)
		}
	}
	if got.Frozen.YSplit != 1 {
		t.Errorf("frozen pane ySplit: got %d, want 1 (the header row stays in view)", got.Frozen.YSplit)
	}
	if want := []string{export.SheetName}; !reflect.DeepEqual(got.Sheets, want) {
		t.Errorf("sheets: got %q, want %q", got.Sheets, want)
	}
	for i, bold := range got.HeaderBold {
		if !bold {
			t.Errorf("header cell %s: not bold, want bold", export.Columns[i])
		}
	}
	if len(got.HeaderBold) != len(export.Columns) {
		t.Errorf("header: got %d styled cells, want %d", len(got.HeaderBold), len(export.Columns))
	}

	want := [][]any{make([]any, len(export.Columns))}
	for i, name := range export.Columns {
		want[0][i] = name
	}
	for _, c := range excelContacts {
		want = append(want, c.cells)
	}
	if len(got.Rows) != len(want) {
		t.Fatalf("rows: got %d, want %d (the header and %d contacts)", len(got.Rows), len(want), len(excelContacts))
	}
	for r, row := range want {
		if len(got.Rows[r]) != len(row) {
			t.Errorf("row %d: got %d cells, want %d", r+1, len(got.Rows[r]), len(row))
			continue
		}
		for i, wantCell := range row {
			cell := got.Rows[r][i]
			var gotCell string
			if cell != nil {
				gotCell = cell.Type + " " + cell.Value
			}
			var wantText string
			switch v := wantCell.(type) {
			case string:
				wantText = "text " + v
			case time.Time:
				wantText = "date " + v.Format(time.RFC3339)
			}
			if gotCell != wantText {
				t.Errorf("row %d, %s: got %q, want %q", r+1, export.Columns[i], gotCell, wantText)
			}
		}
	}
}

// TestExcelOpensInLibreOffice converts an export to CSV with LibreOffice Calc: every text
// arrives unchanged, and the dates show in the export's date format, so Calc took them as
// dates.
func TestExcelOpensInLibreOffice(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		needReader(t, "LibreOffice", "apt-get install libreoffice-calc")
	}
	path := writeExcelFile(t)
	dir := t.TempDir()
	// Its own profile, so that a LibreOffice already running (or another test's) is not
	// asked to do the conversion instead. Filter options: comma, double quote, UTF-8.
	out, err := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", dir, path).CombinedOutput()
	if err != nil {
		t.Fatalf("soffice --convert-to csv: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "contacts.csv"))
	if err != nil {
		t.Fatalf("LibreOffice wrote no CSV: %v\n%s", err, out)
	}
	got, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("LibreOffice's CSV does not parse: %v\n%s", err, data)
	}
	want := [][]string{export.Columns}
	for _, c := range excelContacts {
		row := make([]string, len(c.cells))
		for i, cell := range c.cells {
			switch v := cell.(type) {
			case string:
				row[i] = v
			case time.Time:
				row[i] = v.Format("2006-01-02 15:04")
			}
		}
		want = append(want, row)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LibreOffice read:\n%q\nwant:\n%q", got, want)
	}
}

// runReader runs a reader script and returns what it printed.
func runReader(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// pythonWithOpenpyxl is a python3 that imports openpyxl: the one on PATH, or Debian's,
// whose python3-openpyxl a python3 earlier on PATH (pyenv's, say) does not see.
func pythonWithOpenpyxl() string {
	for _, python := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(python, "-c", "import openpyxl").Run() == nil {
			return python
		}
	}
	return ""
}
