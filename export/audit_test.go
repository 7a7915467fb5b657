package export

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"portal/db"
)

// events yields n copies of e, as a snapshot of the audit log would.
func events(n int, e db.Event) AuditEvents {
	return func(fn func(*db.Event) error) error {
		for i := 0; i < n; i++ {
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	}
}

func label(action string) string { return strings.ToUpper(action) }

func TestAuditCSVQuotesAndNeutralisesEveryField(t *testing.T) {
	e := db.Event{At: time.Date(2026, 11, 22, 9, 30, 5, 0, time.UTC), Action: "login_failed",
		ActorName: "@SUM(1+1)", TargetID: 42, AccountName: "-Acme", Detail: "unknown user name =cmd|' /C calc'!A0, \"quoted\"",
		RemoteIP: "+203.0.113.7"}
	var buf bytes.Buffer
	n, err := AuditCSV(&buf, events(2, e), label)
	if err != nil || n != 2 {
		t.Fatalf("AuditCSV: %d events, %v; want 2, nil", n, err)
	}
	out := strings.TrimPrefix(buf.String(), byteOrderMark)
	if out == buf.String() {
		t.Error("no byte order mark: Excel would read the file in the ANSI code page")
	}
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-11-22 09:30:05", "LOGIN_FAILED", "login_failed", "'@SUM(1+1)", "Contact #42", "'-Acme",
		"unknown user name =cmd|' /C calc'!A0, \"quoted\"", "'+203.0.113.7"}
	if fmt.Sprintf("%q", records[1]) != fmt.Sprintf("%q", want) {
		t.Errorf("row:\n got %q\nwant %q", records[1], want)
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		fields := strings.Count(line, `","`) + 1
		if !strings.HasPrefix(line, `"`) || !strings.HasSuffix(line, `"`) || fields < len(AuditColumns) {
			t.Errorf("not every field quoted: %s", line)
		}
	}
}

func TestAuditCSVNamesWhoActed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		id       int64
		nobody   string
		want     string
		whatThis string
	}{
		{"Maria Anders", 3, "System", "Maria Anders", "a named contact"},
		{"", 0, "System", "System", "nobody signed in"},
		{"", 9, "System", "Contact #9", "a contact without a name left"},
		{"", 0, "", "", "no contact concerned"},
	} {
		if got := personOrID(tc.name, tc.id, tc.nobody); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.whatThis, got, tc.want)
		}
	}
}

// The audit CSV allocates nothing per event: memory stays flat however long the log.
func TestAuditCSVStreamsInBoundedMemory(t *testing.T) {
	e := db.Event{At: time.Now(), Action: "contact_edited", ActorName: "Maria Anders", TargetName: "Łukasz Kowalski",
		AccountName: "Northwind Traders", Detail: strings.Repeat("changed phone, ", 10), RemoteIP: "203.0.113.7"}
	edited := func(string) string { return "Edited" } // the portal's labels are constants too
	few := testing.AllocsPerRun(5, func() { _, _ = AuditCSV(io.Discard, events(10, e), edited) })
	many := testing.AllocsPerRun(5, func() { _, _ = AuditCSV(io.Discard, events(10_000, e), edited) })
	// A line that no longer fits the output buffer's free space is built in a new slice: once
	// per 64 KiB written, some 300 events here, never once per event.
	if perEvent := (many - few) / (10_000 - 10); perEvent > 0.02 {
		t.Errorf("allocations: %.0f for 10 events, %.0f for 10,000 (%.3f per event); want none per event", few, many, perEvent)
	}
}
