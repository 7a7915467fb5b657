package contacts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"portal/db"
	"portal/export"
	"portal/validate"
)

// Import contacts (SPEC 3.9). An uploaded file is read (export.Read) and kept in the
// database as a pending import of its admin; its preview says what importing it would do
// to each row, judged against the contacts as they are when the preview is shown; Import N
// contacts judges it again inside its one transaction and writes every row it would change,
// or nothing if the answer is no longer the one the admin saw.

// ImportTTL is how long an uploaded file waits for its admin to import or cancel it.
const ImportTTL = time.Hour

// ErrImportChanged: the contacts changed between the preview and Import N contacts, so
// that the import would no longer do what the preview showed; nothing was written.
var ErrImportChanged = errors.New("contacts changed since the preview")

// ErrNothingToImport: the file has no row that is new or changes a contact.
var ErrNothingToImport = errors.New("nothing to import")

// ReasonOutsideOrganization is a row's answer for the email of a contact outside the admin's
// scope: the words of SPEC 3.2, which tell nothing of that contact.
const ReasonOutsideOrganization = "This contact cannot be created. Please contact customer support via live chat " +
	"or by submitting a support case through the portal."

// RowKind is what importing a row does.
type RowKind int

// The kinds of rows of a preview (SPEC 3.9).
const (
	RowNew RowKind = iota + 1
	RowUpdate
	RowUnchanged
	RowError
)

// ImportRow is one row of an uploaded file and what importing it does.
type ImportRow struct {
	Line    int                               // its number in the spreadsheet
	Cells   [len(export.ImportColumns)]string // as read
	Kind    RowKind
	Reason  string   // RowError: why, in words
	Changes []Change // RowUpdate: what changes
	Notes   []string // things worth knowing that don't stop the row
	Name    string   // "First Last" as the row will leave the contact

	contactID int64 // RowUpdate, RowUnchanged: the contact it names
	fields    db.ContactFields
	before    db.Contact
}

// Change is a field an Update row changes, with its value before and after, as shown.
type Change struct{ Field, From, To string }

// ImportPreview is what importing a pending import would do, row by row.
type ImportPreview struct {
	ID                              string
	FileName                        string
	ExpiresAt                       time.Time
	Has                             [len(export.ImportColumns)]bool // the columns the file has
	Ignored                         []string                        // the headers of columns the import does not read
	Rows                            []ImportRow
	New, Updated, Unchanged, Errors int
	// Version fingerprints what Import would write: the form carries it, and the commit
	// refuses to write anything else (ErrImportChanged).
	Version string
}

// ToImport is how many rows Import N contacts writes.
func (p ImportPreview) ToImport() int { return p.New + p.Updated }

// ChangesRoles reports whether an Update row changes a contact's roles: a change of access,
// which needs the admin's fresh proof of who they are (SPEC 3.11), as in Edit contact.
// (An import can't change an email: the email is how a row finds its contact.)
func (p ImportPreview) ChangesRoles() bool {
	for _, r := range p.Rows {
		if r.Kind == RowUpdate && slices.ContainsFunc(r.Changes, func(c Change) bool { return c.Field == "Roles" }) {
			return true
		}
	}
	return false
}

// ImportResult is what an import did.
type ImportResult struct{ Created, Updated int }

// importHeader is what a pending import keeps of its file's header row.
type importHeader struct {
	Has     [len(export.ImportColumns)]bool `json:"has"`
	Ignored []string                        `json:"ignored,omitempty"`
}

// UploadImport reads an uploaded file and keeps it as the actor's pending import (one per
// admin: a new upload replaces an older one), returning its id. A file that can't be read
// is an export.FileProblem. Rows naming contacts outside the actor's scope count toward the
// limit of Create contact, each one, and are audited as Create contact's are: a file is no
// faster way than the form to learn who has an account. Over the limit the whole file is
// refused (ErrThrottled), so that which of its rows were outside is not told either.
func (s *Service) UploadImport(ctx context.Context, actor Actor, fileName string, data []byte) (string, error) {
	sheet, err := export.Read(data)
	if err != nil {
		return "", err
	}
	if len(sheet.Rows) == 0 {
		return "", export.FileProblem("The file has its header row but no contacts under it. " +
			"Add a row for each contact, and upload it again.")
	}
	header, err := json.Marshal(importHeader{Has: sheet.Has, Ignored: sheet.Ignored})
	if err != nil {
		return "", err
	}
	p := db.PendingImport{ContactID: actor.ID(), FileName: cleanFileName(fileName), Header: string(header)}
	emails := make([]string, 0, len(sheet.Rows))
	for _, r := range sheet.Rows {
		email := strings.TrimSpace(r.Cells[export.FieldEmail])
		emails = append(emails, email)
		p.Rows = append(p.Rows, db.ImportRow{Line: r.Line, Email: email, Cells: r.Cells[:]})
	}
	if _, err := s.store.DeleteImportsBefore(ctx, s.store.Now().Add(-ImportTTL)); err != nil {
		return "", err
	}
	state, err := s.store.ImportState(ctx, actor.Scope, emails)
	if err != nil {
		return "", err
	}
	var refused []db.Event
	seen := map[string]bool{}
	for _, email := range emails {
		key := db.EmailKey(email)
		owner, ok := state.Contacts[key]
		if !ok || actor.Scope.Contains(owner.AccountID) || seen[key] {
			continue
		}
		seen[key] = true
		if actor.ID() != 0 {
			if ok, err := s.createLimiter.Allow(ctx, fmt.Sprint(actor.ID())); err != nil || !ok {
				return "", cmp.Or(err, ErrThrottled)
			}
		}
		refused = append(refused, db.Event{Action: db.ActionCreateRefused, ActorID: actor.ID(), AccountID: actor.Contact.AccountID,
			RemoteIP: actor.RemoteIP, Detail: "import of " + p.FileName + ": the email " + email +
				" belongs to a contact outside the organization"})
	}
	var id string
	err = s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		if id, err = tx.SaveImport(ctx, p); err != nil {
			return err
		}
		return tx.AuditAll(ctx, refused)
	})
	if err != nil {
		return "", fmt.Errorf("upload import: %w", err)
	}
	return id, nil
}

// cleanFileName is the name of an uploaded file as the pages show it: no folders, no
// control characters, not too long.
func cleanFileName(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	if strings.TrimSpace(name) == "" {
		return "the file"
	}
	return name
}

// ImportPreview says what importing the actor's pending import id would do now
// (ErrNotFound when it was imported, cancelled, or is older than ImportTTL, or is another
// admin's).
func (s *Service) ImportPreview(ctx context.Context, actor Actor, id string) (ImportPreview, error) {
	p, err := s.store.PendingImport(ctx, id, actor.ID(), s.store.Now().Add(-ImportTTL))
	if err != nil {
		return ImportPreview{}, err
	}
	state, err := s.store.ImportState(ctx, actor.Scope, importEmails(p))
	if err != nil {
		return ImportPreview{}, err
	}
	return judgeImport(actor, p, state, s.store.Now())
}

// CommitImport is Import N contacts: it judges the pending import again inside one
// transaction and, if that comes to the preview the admin saw (version), creates the New
// rows with their set-your-password mail and changes the Update rows, each with its audit
// row, and ends the pending import; else it writes nothing and returns ErrImportChanged.
// A second commit of the same import finds nothing (ErrNotFound).
func (s *Service) CommitImport(ctx context.Context, actor Actor, id, version string) (ImportResult, error) {
	var result ImportResult
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		result = ImportResult{}
		p, err := tx.PendingImport(ctx, id, actor.ID(), tx.Now().Add(-ImportTTL))
		if err != nil {
			return err
		}
		state, err := tx.ImportState(ctx, actor.Scope, importEmails(p))
		if err != nil {
			return err
		}
		preview, err := judgeImport(actor, p, state, tx.Now())
		if err != nil {
			return err
		}
		switch {
		case preview.Version != version:
			return ErrImportChanged
		case preview.ToImport() == 0:
			return ErrNothingToImport
		case preview.ChangesRoles() && !actor.Reauthenticated(tx.Now()):
			return ErrReauthRequired
		}
		if result.Created, err = s.createImported(ctx, tx, actor, preview); err != nil {
			return err
		}
		if result.Updated, err = updateImported(ctx, tx, actor, preview); err != nil {
			return err
		}
		if _, err := tx.DeleteImport(ctx, id, actor.ID()); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionContactsImported, ActorID: actor.ID(), AccountID: actor.Contact.AccountID,
			RemoteIP: actor.RemoteIP, Detail: fmt.Sprintf("%s: %d new, %d updated, %d unchanged, %d left out with errors",
				preview.FileName, result.Created, result.Updated, preview.Unchanged, preview.Errors)})
	})
	if errors.Is(err, db.ErrEmailTaken) {
		// Someone created one of the file's contacts between the judging and the insert
		// (PostgreSQL, another server): the preview no longer holds.
		return ImportResult{}, ErrImportChanged
	}
	if err != nil {
		return ImportResult{}, fmt.Errorf("import contacts: %w", err)
	}
	// The import is done: statistics that could not be refreshed only slow the next one.
	if err := s.store.AnalyzeImported(ctx, result.Created); err != nil {
		s.log.Warn("after import", "err", err)
	}
	return result, nil
}

func (s *Service) createImported(ctx context.Context, tx *db.Tx, actor Actor, p ImportPreview) (int, error) {
	var list []db.NewContact
	for _, r := range p.Rows {
		if r.Kind == RowNew {
			list = append(list, db.NewContact{ContactFields: r.fields, CreatedByID: actor.ID()})
		}
	}
	if len(list) == 0 {
		return 0, nil
	}
	ids, err := tx.CreateContacts(ctx, list)
	if err != nil {
		return 0, err
	}
	created := make([]db.Contact, len(list))
	events := make([]db.Event, len(list))
	for i, n := range list {
		created[i] = db.Contact{ID: ids[i], AccountID: n.AccountID, FirstName: n.FirstName, LastName: n.LastName, Email: n.Email}
		events[i] = db.Event{Action: db.ActionContactCreated, ActorID: actor.ID(), TargetID: ids[i], AccountID: n.AccountID,
			RemoteIP: actor.RemoteIP, Detail: "imported from " + p.FileName + "; roles: " + db.RolesDetail(n.Roles)}
	}
	if err := tx.AuditAll(ctx, events); err != nil {
		return 0, err
	}
	err = tx.InviteNew(ctx, created, s.settings.InviteTTL, actor.requestedBy(), actor.RemoteIP, "set-your-password link (Import contacts)")
	return len(list), err
}

func updateImported(ctx context.Context, tx *db.Tx, actor Actor, p ImportPreview) (int, error) {
	var events []db.Event
	for _, r := range p.Rows {
		if r.Kind != RowUpdate {
			continue
		}
		if err := tx.UpdateContact(ctx, r.contactID, r.fields); err != nil {
			return 0, err
		}
		detail := "changed " + strings.Join(changedFields(r.before, r.fields), ", ") + " (imported from " + p.FileName + ")"
		if db.RolesDetail(r.before.Roles) != db.RolesDetail(r.fields.Roles) {
			detail += "; roles: " + db.RolesDetail(r.fields.Roles)
		}
		events = append(events, db.Event{Action: db.ActionContactEdited, ActorID: actor.ID(), TargetID: r.contactID,
			AccountID: r.fields.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
	}
	return len(events), tx.AuditAll(ctx, events)
}

// CancelImport is Cancel import: the actor's pending import id is deleted, and nothing
// else changes. Cancelling one that is gone already is no error.
func (s *Service) CancelImport(ctx context.Context, actor Actor, id string) error {
	return s.store.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.DeleteImport(ctx, id, actor.ID())
		return err
	})
}

// DeleteAbandonedImports deletes the pending imports older than ImportTTL.
func (s *Service) DeleteAbandonedImports(ctx context.Context) (int64, error) {
	return s.store.DeleteImportsBefore(ctx, s.store.Now().Add(-ImportTTL))
}

func importEmails(p db.PendingImport) []string {
	emails := make([]string, len(p.Rows))
	for i, r := range p.Rows {
		if len(r.Cells) > int(export.FieldEmail) {
			emails[i] = strings.TrimSpace(r.Cells[export.FieldEmail])
		}
	}
	return emails
}

// judgeImport says what importing p into the actor's scope does to each row, given the
// state of the portal and the time: the rules of Create contact for New rows, of Edit
// contact for Update rows (an empty cell leaves its field as it is; Roles and Account
// obey the last-admin and self-demotion rules, counted over the whole file).
func judgeImport(actor Actor, p db.PendingImport, state db.ImportState, now time.Time) (ImportPreview, error) {
	var h importHeader
	if err := json.Unmarshal([]byte(p.Header), &h); err != nil {
		return ImportPreview{}, fmt.Errorf("pending import %s: header: %w", p.ID, err)
	}
	out := ImportPreview{ID: p.ID, FileName: p.FileName, ExpiresAt: p.CreatedAt.Add(ImportTTL), Has: h.Has, Ignored: h.Ignored,
		Rows: make([]ImportRow, len(p.Rows))}
	lines := map[string][]int{} // email key → the lines that name it
	for i, r := range p.Rows {
		row := &out.Rows[i]
		row.Line = r.Line
		copy(row.Cells[:], r.Cells)
		for j := range row.Cells {
			row.Cells[j] = strings.TrimSpace(row.Cells[j])
		}
		if key := db.EmailKey(row.Cells[export.FieldEmail]); key != "" {
			lines[key] = append(lines[key], r.Line)
		}
	}
	for i := range out.Rows {
		judgeRow(actor, &out.Rows[i], h.Has, state, lines, now)
	}
	judgeAdmins(actor, out.Rows, state)
	version := sha256.New()
	for i := range out.Rows {
		r := &out.Rows[i]
		switch r.Kind {
		case RowNew:
			out.New++
		case RowUpdate:
			out.Updated++
			r.Changes = changesOf(actor.Scope, r.before, r.fields)
		case RowUnchanged:
			out.Unchanged++
		case RowError:
			out.Errors++
		}
		if r.Kind == RowNew || r.Kind == RowUpdate {
			f := r.fields
			fmt.Fprintf(version, "%d %d %d %q %d %q %q %q %q %q %q %d|", r.Line, r.Kind, r.contactID, r.before.EditVersion(""),
				f.AccountID, f.FirstName, f.LastName, f.Email, f.Phone, f.JobTitle, db.SortedRoles(f.Roles), f.AccessEnds.Unix())
		}
	}
	out.Version = hex.EncodeToString(version.Sum(nil)[:16])
	return out, nil
}

// judgeRow decides one row's kind by the rules that need no other row (all but the last
// admin's).
func judgeRow(actor Actor, r *ImportRow, has [len(export.ImportColumns)]bool, state db.ImportState, lines map[string][]int, now time.Time) {
	fail := func(reason string) { r.Kind, r.Reason = RowError, reason }
	cell := func(f export.Field) string { return r.Cells[f] }
	email := cell(export.FieldEmail)
	if err := validate.Email(email); err != nil {
		fail(err.Error())
		return
	}
	key := db.EmailKey(email)
	if others := lines[key]; len(others) > 1 {
		fail("The same email is in rows " + joinLines(others) + " of the file. Keep one row per contact.")
		return
	}
	owner, exists := state.Contacts[key]
	if exists && !actor.Scope.Contains(owner.AccountID) {
		fail(ReasonOutsideOrganization)
		return
	}

	var f db.ContactFields
	stored := time.Time{}
	if exists {
		r.contactID, r.before, f, stored = owner.ID, owner, owner.Fields(), owner.AccessEndsAt
	} else {
		f = db.ContactFields{AccountID: actor.Scope.Root().ID, Email: email}
	}
	// An empty cell leaves the field as it is: a new contact's, empty; a stored one's, as
	// stored. Only New rows need names.
	set := func(field export.Field, to *string) {
		if v := cell(field); v != "" {
			*to = v
		}
	}
	set(export.FieldFirstName, &f.FirstName)
	set(export.FieldLastName, &f.LastName)
	set(export.FieldPhone, &f.Phone)
	set(export.FieldJobTitle, &f.JobTitle)
	if name := cell(export.FieldAccount); name != "" {
		id, ok := accountNamed(actor.Scope, name)
		if !ok {
			fail("The account “" + name + "” is not one of your organization's accounts. Use an account name as the export writes it, or leave Account empty.")
			return
		}
		f.AccountID = id
	}
	if text := cell(export.FieldRoles); text != "" {
		roles, reason := parseRoles(text)
		if reason != "" {
			fail(reason)
			return
		}
		f.Roles = roles
	}
	if text := cell(export.FieldAccessEnds); text != "" {
		at, err := validate.DateTime("Access ends", text)
		if err != nil {
			fail(err.Error())
			return
		}
		f.AccessEnds = at
	}
	f = clean(f)
	if err := check(f, actor.Scope, now, stored); err != nil {
		fail(fieldReasons(err))
		return
	}
	f.Roles = db.SortedRoles(f.Roles)
	r.fields = f
	r.Name = strings.TrimSpace(f.FirstName + " " + f.LastName)
	for _, fv := range []struct {
		field export.Field
		value string
	}{{export.FieldFirstName, f.FirstName}, {export.FieldLastName, f.LastName}, {export.FieldJobTitle, f.JobTitle}} {
		if has[fv.field] && strings.HasPrefix(fv.value, "=") {
			r.Notes = append(r.Notes, export.ImportColumns[fv.field]+" starts with “=”: it is kept as text, never run as a formula.")
		}
	}
	switch {
	case !exists:
		r.Kind = RowNew
	case len(changedFields(r.before, f)) == 0:
		r.Kind = RowUnchanged
	default:
		r.Kind = RowUpdate
	}
	if exists && r.before.ID == actor.ID() && r.before.IsAdmin() && !f.HasRole(db.RoleContactAdmin) {
		fail("You can't remove your own Contact admin role.")
	}
}

// judgeAdmins applies the last-admin rule over the whole file: every account keeps at
// least one active contact admin who can sign in. Rows that make someone such an admin
// count first; then the rows that take the role away (or move an admin to another
// account), in file order, are refused once their account would have none left.
func judgeAdmins(actor Actor, rows []ImportRow, state db.ImportState) {
	admins := make(map[int64]int, len(state.Admins))
	for k, v := range state.Admins {
		admins[k] = v
	}
	isAdminAfter := func(r *ImportRow) bool { return r.fields.HasRole(db.RoleContactAdmin) }
	loses := func(r *ImportRow) bool {
		return r.before.IsAdmin() && (!isAdminAfter(r) || r.fields.AccountID != r.before.AccountID)
	}
	for i := range rows {
		r := &rows[i]
		if r.Kind == RowUpdate && !loses(r) && isAdminAfter(r) && !r.before.IsAdmin() && !r.before.Locked() && r.before.HasPassword {
			admins[r.fields.AccountID]++
		}
	}
	for i := range rows {
		r := &rows[i]
		if r.Kind != RowUpdate || !loses(r) {
			continue
		}
		if r.before.ActiveAdmin() && admins[r.before.AccountID] <= 1 {
			r.Kind, r.Reason = RowError, r.before.Name()+" is the last active contact admin of "+r.before.AccountName+
				" and must keep the Contact admin role there."
			continue
		}
		if r.before.ActiveAdmin() {
			admins[r.before.AccountID]--
			if isAdminAfter(r) {
				admins[r.fields.AccountID]++
			}
		}
	}
}

// accountNamed finds the account of sc named name, compared as account names are unique.
func accountNamed(sc db.Scope, name string) (int64, bool) {
	key := db.FoldKey(name)
	for _, a := range sc.Accounts() {
		if db.FoldKey(a.Name) == key {
			return a.ID, true
		}
	}
	return 0, false
}

// parseRoles reads a Roles cell spelled as the export writes it: role names separated by
// semicolons ("Contact admin; Incident contact"), in any letter case.
func parseRoles(text string) ([]db.Role, string) {
	var roles []db.Role
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == ',' }) {
		name := strings.Join(strings.Fields(part), " ")
		if name == "" {
			continue
		}
		found := false
		for _, role := range db.AllRoles {
			if strings.EqualFold(role.Label(), name) {
				roles, found = append(roles, role), true
			}
		}
		if !found {
			return nil, "Roles: “" + name + "” is not a role. Write Contact admin, Incident contact, or both separated by “;”, as the export does."
		}
	}
	return roles, ""
}

// fieldReasons is a FieldErrors as one sentence per field, in the order of the columns.
func fieldReasons(err error) string {
	var fe FieldErrors
	if !errors.As(err, &fe) {
		return err.Error()
	}
	var out []string
	for _, field := range []string{"first_name", "last_name", "email", "phone", "job_title", "account_id", "role", "access_ends"} {
		if msg, ok := fe[field]; ok {
			if field == "access_ends" {
				msg = "Access ends must lie in the future, or be left empty."
			}
			out = append(out, msg)
		}
	}
	return strings.Join(out, " ")
}

// changesOf lists what an Update row changes, with values as the preview shows them.
func changesOf(sc db.Scope, before db.Contact, after db.ContactFields) []Change {
	var out []Change
	add := func(field, from, to string) {
		if from != to {
			out = append(out, Change{Field: field, From: from, To: to})
		}
	}
	add("First name", before.FirstName, after.FirstName)
	add("Last name", before.LastName, after.LastName)
	add("Phone", before.Phone, after.Phone)
	add("Job title", before.JobTitle, after.JobTitle)
	add("Account", sc.Name(before.AccountID), sc.Name(after.AccountID))
	add("Roles", db.RolesDetail(before.Roles), db.RolesDetail(after.Roles))
	add("Access ends", accessEndsText(before.AccessEndsAt), accessEndsText(after.AccessEnds))
	return out
}

func accessEndsText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if t.Second() != 0 {
		return t.UTC().Format(validate.DateTimeLayout+":05") + " UTC"
	}
	return t.UTC().Format(validate.DateTimeLayout) + " UTC"
}

func joinLines(lines []int) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprint(l)
	}
	if len(parts) <= 2 {
		return strings.Join(parts, " and ")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
