package export_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"portal/db"
	"portal/export"
)

func TestNeutralizeCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Anna", "Anna"},
		{"=1+1", "'=1+1"},
		{"+44 20 7946 0958", "'+44 20 7946 0958"},
		{"-2", "'-2"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"\ncmd", "'\ncmd"},
		{"a=b", "a=b"},
		{" =1+1", " =1+1"},
		{"'quoted", "'quoted"},
		{"'=1+1", "''=1+1"},
		{"''+44", "'''+44"},
		{"'", "'"},
		{"Zoë", "Zoë"},
	}
	for _, tt := range tests {
		if got := export.NeutralizeCell(tt.in); got != tt.want {
			t.Errorf("NeutralizeCell(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// oneRow is a Rows with a single contact whose text fields all hold value.
func oneRow(value string) export.Rows {
	return func(fn func(*db.ExportRow) error) error {
		v := []byte(value)
		return fn(&db.ExportRow{
			FirstName: v, LastName: v, Email: v, Account: v, Roles: v, Status: []byte(db.StatusActive),
			Phone: v, JobTitle: v, Created: time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC),
		})
	}
}

// csvFields writes one row holding value and reads it back with encoding/csv.
func csvFields(t *testing.T, value string) []string {
	t.Helper()
	var buf bytes.Buffer
	n, err := export.CSV(&buf, oneRow(value))
	if err != nil || n != 1 {
		t.Fatalf("CSV: got %d rows, %v; want 1, nil", n, err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF")))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV of %q does not parse: %v\n%s", value, err, buf.String())
	}
	if len(records) != 2 {
		t.Fatalf("CSV of %q: got %d records, want 2 (header and row)", value, len(records))
	}
	return records[1]
}

func TestCSVQuotesAndNeutralizes(t *testing.T) {
	for _, value := range []string{
		"plain", "with, comma", `with "quotes"`, "line\nbreak", "crlf\r\nbreak", `=HYPERLINK("http://x","y")`,
		"-1", "Škoda", "",
	} {
		fields := csvFields(t, value)
		want := export.NeutralizeCell(value)
		// encoding/csv turns \r\n inside a quoted field into \n, as RFC 4180 readers may.
		want = strings.ReplaceAll(want, "\r\n", "\n")
		for _, column := range []int{0, 1, 2, 3, 4, 7, 8} {
			if fields[column] != want {
				t.Errorf("column %s of %q: got %q, want %q", export.Columns[column], value, fields[column], want)
			}
		}
		if got := fields[11]; got != "2026-11-22 09:30" {
			t.Errorf("Created: got %q, want 2026-11-22 09:30", got)
		}
	}
}

// FuzzCSVCell checks that any value survives a round trip through CSV, neutralised, and
// that no cell a spreadsheet reads back can start a formula.
func FuzzCSVCell(f *testing.F) {
	for _, seed := range []string{"", "a", "=1", "\"", "a,b", "\r\n", "+\"=", "Zoë"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsRune(value, '\r') {
			t.Skip("encoding/csv normalises CR inside fields, so it can't judge those")
		}
		fields := csvFields(t, value)
		if got, want := fields[0], export.NeutralizeCell(value); got != want {
			t.Errorf("round trip of %q: got %q, want %q", value, got, want)
		}
		if got := fields[0]; got != "" && strings.ContainsRune("=+-@\t\r\n", rune(got[0])) {
			t.Errorf("cell %q starts like a formula", got)
		}
	})
}

// TestCSVAccessEndsAndLockReasons: an access end is written as the import reads it (to the
// minute, or to the second when it has seconds), and every lock reason in words.
func TestCSVAccessEndsAndLockReasons(t *testing.T) {
	created := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		name       string
		row        db.ExportRow
		reason, at string
	}{
		{"access that doesn't end", db.ExportRow{Status: []byte(db.StatusActive)}, "", ""},
		{"to the minute", db.ExportRow{Status: []byte(db.StatusActive), AccessEnds: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)},
			"", "2026-12-31 17:00"},
		{"with seconds", db.ExportRow{Status: []byte(db.StatusActive), AccessEnds: time.Date(2026, 12, 31, 17, 0, 9, 0, time.UTC)},
			"", "2026-12-31 17:00:09"},
		{"ended", db.ExportRow{Status: []byte(db.StatusLocked), LockReason: []byte(db.LockedAccessEnded),
			AccessEnds: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, "Access ended", "2026-11-01 00:00"},
		{"with its organization", db.ExportRow{Status: []byte(db.StatusLocked), LockReason: []byte(db.LockedWithOrganization),
			LockedBy: []byte("Maria Anders")}, "Locked with its organization by Maria Anders", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			row := tt.row
			row.FirstName, row.LastName, row.Email, row.Created = []byte("Ann"), []byte("Lee"), []byte("ann@example.com"), created
			var buf bytes.Buffer
			if _, err := export.CSV(&buf, func(fn func(*db.ExportRow) error) error { return fn(&row) }); err != nil {
				t.Fatal(err)
			}
			records, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF"))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if got := records[0][9]; got != "Access ends (UTC)" {
				t.Errorf("header of column 10: got %q, want Access ends (UTC)", got)
			}
			if got := records[1][6]; got != tt.reason {
				t.Errorf("Lock reason: got %q, want %q", got, tt.reason)
			}
			if got := records[1][9]; got != tt.at {
				t.Errorf("Access ends: got %q, want %q", got, tt.at)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567"} {
		if got := export.Thousands(n); got != want {
			t.Errorf("Thousands(%d): got %q, want %q", n, got, want)
		}
	}
}
