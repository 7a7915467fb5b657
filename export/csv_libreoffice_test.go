package export_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/export"
)

// TestCSVRunsNoFormulaInLibreOffice is issue 14's CSV injection through ";": a cell such as
// "Bob;=2*21;x" was written unquoted, and LibreOffice (or German and French Excel) reading
// the file with ";" as separator split it and ran "=2*21" (it showed 42). The export is
// opened in LibreOffice with ";", "," and tab as separator, as a user may choose, and no
// cell may come out computed.
func TestCSVRunsNoFormulaInLibreOffice(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		needReader(t, "LibreOffice", "apt-get install libreoffice-calc")
	}
	rows := func(fn func(*db.ExportRow) error) error {
		return fn(&db.ExportRow{
			FirstName: []byte("Bob;=2*21;x"), LastName: []byte("=3*3"), Email: []byte("eve@example.test"),
			Account: []byte("Tab\t=4*4"), Roles: []byte("x,=5*5"), Status: []byte(db.StatusActive),
			Phone: []byte("+44 20 7946 0958"), JobTitle: []byte("@SUM(1,6)"),
			Created: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC),
		})
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if _, err := export.CSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	computed := []string{"42", "9", "16", "25", "7"}
	for _, sep := range []struct{ name, code string }{{"semicolon", "59"}, {"comma", "44"}, {"tab", "9"}} {
		out := filepath.Join(dir, sep.name)
		// LibreOffice reads the file with the separator given (double quote as text
		// delimiter, UTF-8, from line 1) and writes what its cells show as plain CSV.
		cmd := exec.Command(soffice, "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--headless",
			"--infilter=CSV:"+sep.code+",34,76,1", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1",
			"--outdir", out, in)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: soffice: %v\n%s", sep.name, err, msg)
		}
		data, err := os.ReadFile(filepath.Join(out, "contacts.csv"))
		if err != nil {
			t.Fatalf("%s: LibreOffice wrote nothing: %v", sep.name, err)
		}
		shown, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
		if err != nil {
			t.Fatalf("%s: LibreOffice's CSV does not parse: %v\n%s", sep.name, err, data)
		}
		for _, row := range shown {
			for _, cell := range row {
				for _, c := range computed {
					if strings.TrimSpace(cell) == c {
						t.Errorf("%s: a cell shows %q: a formula ran\n%s", sep.name, cell, data)
					}
				}
			}
		}
		if sep.name == "comma" { // the export's own separator: every cell arrives as written
			want := []string{"Bob;=2*21;x", "'=3*3", "eve@example.test", "Tab\t=4*4", "x,=5*5", "Active", "",
				"'+44 20 7946 0958", "'@SUM(1,6)", "", "", "2026-11-22 09:30:00", "Off"}
			if len(shown) != 2 || strings.Join(shown[1], "|") != strings.Join(want, "|") {
				t.Errorf("comma: LibreOffice read\n%q\nwant\n%q", shown[len(shown)-1], want)
			}
		}
	}
}
