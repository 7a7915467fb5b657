package export

import (
	"io"
	"strconv"

	"portal/db"
)

// AuditColumns are the header row of the audit log's CSV. What is the action as the portal
// words it; Action its stored name, which never changes, for filtering in a spreadsheet.
var AuditColumns = []string{
	"When (UTC)", "What", "Action", "By", "Contact", "Account", "Details", "From",
}

// AuditEvents feeds the audit log's CSV: it calls fn for each event in order and stops at
// fn's first error, which it returns. (*db.AuditExport).Each is one.
type AuditEvents func(fn func(*db.Event) error) error

// auditTimeLayout is how the audit CSV prints times: to the second, since events of one
// minute are many.
const auditTimeLayout = "2006-01-02 15:04:05"

// AuditCSV writes the events as the contacts CSV writes contacts (see CSV): UTF-8 with a
// byte order mark, CRLF line ends, every field quoted, and every formula-like cell
// neutralised: details and user names are text that people outside the organization can
// choose (a user name typed at the login page lands in the log). label words an action.
// Each row is built in the output buffer, so memory does not grow with the log. It
// returns how many events it wrote.
func AuditCSV(w io.Writer, events AuditEvents, label func(action string) string) (int, error) {
	f, err := startCSV(w, AuditColumns)
	if err != nil {
		return 0, err
	}
	var field []byte // each text field, copied here to go through appendCSVCell
	cell := func(line []byte, s string) []byte {
		field = append(field[:0], s...)
		return appendCSVCell(append(line, ','), field)
	}
	err = events(func(e *db.Event) error {
		line := f.line()
		line = append(e.At.UTC().AppendFormat(append(line, '"'), auditTimeLayout), '"')
		line = cell(line, label(e.Action))
		line = cell(line, e.Action)
		line = cell(line, personOrID(e.ActorName, e.ActorID, "System"))
		line = cell(line, personOrID(e.TargetName, e.TargetID, ""))
		line = cell(line, e.AccountName)
		line = cell(line, e.Detail)
		line = cell(line, e.RemoteIP)
		return f.row(line)
	})
	return f.end(err)
}

// personOrID names the contact of an event: its name, "Contact #id" when it has none left,
// or none when there is no contact (nobody: what the event records without one).
func personOrID(name string, id int64, nobody string) string {
	switch {
	case name != "":
		return name
	case id == 0:
		return nobody
	}
	return "Contact #" + strconv.FormatInt(id, 10)
}
