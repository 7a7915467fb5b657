package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Import contacts (SPEC 3.9): an uploaded file waits in contact_imports between its
// preview and its commit, and the commit writes many contacts in one transaction with a
// few statements of many rows each instead of a few statements per contact.

// PendingImport is an uploaded file, read, waiting for its admin to import or cancel it.
type PendingImport struct {
	ID        string
	ContactID int64 // the admin who uploaded it
	FileName  string
	Header    string // the file's columns as read, JSON that the rules write and read back
	CreatedAt time.Time
	Rows      []ImportRow
}

// ImportRow is one row of a pending import: its number in the spreadsheet, the email it
// names (kept as a user name's key, so that removing a contact erases its row) and its
// fields as text.
type ImportRow struct {
	Line  int
	Email string
	Cells []string
}

// importBatch is how many rows one multi-row statement writes: PostgreSQL takes at most
// 65,535 parameters and SQLite 32,766, and a contact takes 16.
const importBatch = 500

// SaveImport stores an uploaded file's rows as the one pending import of its admin
// (any older one of theirs goes) and returns its id.
func (t *Tx) SaveImport(ctx context.Context, p PendingImport) (string, error) {
	id := newID()
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM contact_imports WHERE contact_id = ?`, p.ContactID); err != nil {
		return "", fmt.Errorf("store: replace pending import of contact %d: %w", p.ContactID, err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO contact_imports(id, contact_id, file_name, header, created_at)
		VALUES (?, ?, ?, ?, ?)`, id, p.ContactID, p.FileName, p.Header, unix(t.now)); err != nil {
		return "", fmt.Errorf("store: save import of contact %d: %w", p.ContactID, err)
	}
	for batch := range slices.Chunk(p.Rows, importBatch) {
		args := make([]any, 0, 4*len(batch))
		for _, r := range batch {
			cells, err := json.Marshal(r.Cells)
			if err != nil {
				return "", fmt.Errorf("store: save import of contact %d: %w", p.ContactID, err)
			}
			args = append(args, id, r.Line, EmailKey(r.Email), string(cells))
		}
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO contact_import_rows(import_id, line, email_key, cells) VALUES `+
			valuesList(len(batch), 4), args...); err != nil {
			return "", fmt.Errorf("store: save import of contact %d: %w", p.ContactID, err)
		}
	}
	return id, nil
}

// PendingImport reads the pending import id of contactID uploaded after since: ErrNotFound
// when it is another admin's, was committed or cancelled, or is older.
func (s *Store) PendingImport(ctx context.Context, id string, contactID int64, since time.Time) (PendingImport, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return PendingImport{}, fmt.Errorf("store: pending import: %w", classify(err))
	}
	defer tx.Rollback()
	return readImport(ctx, tx, id, contactID, since)
}

// PendingImport is Store.PendingImport inside tx: the commit reads the rows it writes.
func (t *Tx) PendingImport(ctx context.Context, id string, contactID int64, since time.Time) (PendingImport, error) {
	return readImport(ctx, t.tx, id, contactID, since)
}

func readImport(ctx context.Context, tx txn, id string, contactID int64, since time.Time) (PendingImport, error) {
	p := PendingImport{ID: id, ContactID: contactID}
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT file_name, header, created_at FROM contact_imports
		WHERE id = ? AND contact_id = ? AND created_at >= ?`, id, contactID, unix(since)).Scan(&p.FileName, &p.Header, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return PendingImport{}, ErrNotFound
	}
	if err != nil {
		return PendingImport{}, fmt.Errorf("store: pending import: %w", err)
	}
	p.CreatedAt = time.Unix(created, 0).UTC()
	rows, err := tx.QueryContext(ctx, `SELECT line, cells FROM contact_import_rows WHERE import_id = ? ORDER BY line`, id)
	if err != nil {
		return PendingImport{}, fmt.Errorf("store: rows of pending import: %w", err)
	}
	defer rows.Close()
	var cells []byte
	for rows.Next() {
		var r ImportRow
		if err := rows.Scan(&r.Line, &cells); err != nil {
			return PendingImport{}, fmt.Errorf("store: rows of pending import: %w", err)
		}
		if err := json.Unmarshal(cells, &r.Cells); err != nil {
			return PendingImport{}, fmt.Errorf("store: row %d of pending import: %w", r.Line, err)
		}
		p.Rows = append(p.Rows, r)
	}
	return p, rows.Err()
}

// DeleteImport deletes the pending import id of contactID (committed or cancelled) and
// reports whether it was there: of two commits of one import, the second finds nothing.
func (t *Tx) DeleteImport(ctx context.Context, id string, contactID int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM contact_imports WHERE id = ? AND contact_id = ?`, id, contactID)
	if err != nil {
		return false, fmt.Errorf("store: delete pending import: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteImportsBefore deletes the pending imports uploaded before t (abandoned: nobody
// imported or cancelled them) and returns how many it deleted.
func (s *Store) DeleteImportsBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM contact_imports WHERE created_at < ?`, unix(t))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete abandoned imports: %w", err)
	}
	return n, nil
}

// analyzeAfterImport is how many contacts an import creates before AnalyzeImported
// refreshes PostgreSQL's statistics of them.
const analyzeAfterImport = 1000

// AnalyzeImported refreshes the planner's statistics of contacts and their roles after an
// import created created of them, on PostgreSQL. Until autovacuum comes round, the planner
// takes a table that has grown from a few rows to thousands in one transaction for as small
// as it was, and looks the next file's 10,000 emails up by scanning every contact for each
// batch of them: a preview of 10,000 rows took 7 to 18 s instead of 0.2 s (measured beside
// BenchmarkImport). SQLite keeps no statistics that could mislead it so.
func (s *Store) AnalyzeImported(ctx context.Context, created int) error {
	if !s.Postgres() || created < analyzeAfterImport {
		return nil
	}
	if _, err := s.write.ExecContext(ctx, `ANALYZE contacts, contact_roles`); err != nil {
		return fmt.Errorf("store: analyze after importing %d contacts: %w", created, err)
	}
	return nil
}

// ActionContactsImported records an import as a whole (each contact it created or changed
// has its own row too); Detail names the file and the counts.
const ActionContactsImported = "contacts_imported"

// ImportState is what the rules of an import read of the portal, from one snapshot.
type ImportState struct {
	// Contacts are the contacts whose user names the file names, by EmailKey, anywhere in
	// the portal: the rules decide what may be told of one outside the scope.
	Contacts map[string]Contact
	// Admins counts the active contact admins who can sign in, by account of the scope.
	Admins map[int64]int
}

// ImportState reads what the preview of an import of emails into sc needs.
func (s *Store) ImportState(ctx context.Context, sc Scope, emails []string) (ImportState, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return ImportState{}, fmt.Errorf("store: import state: %w", classify(err))
	}
	defer tx.Rollback()
	return importState(ctx, tx, sc, emails)
}

// ImportState is Store.ImportState inside tx, for the commit's rules.
func (t *Tx) ImportState(ctx context.Context, sc Scope, emails []string) (ImportState, error) {
	return importState(ctx, t.tx, sc, emails)
}

func importState(ctx context.Context, tx txn, sc Scope, emails []string) (ImportState, error) {
	contacts, err := contactsByEmail(ctx, tx, emails)
	if err != nil {
		return ImportState{}, err
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT c.account_id, count(*) FROM contact_roles r JOIN contacts c ON c.id = r.contact_id
		WHERE r.role = 'contact_admin' AND c.status = 'active' AND c.password_hash <> '' AND c.account_id IN `+sc.inList()+`
		GROUP BY c.account_id`)
	if err != nil {
		return ImportState{}, fmt.Errorf("store: active admins: %w", err)
	}
	defer rows.Close()
	admins := map[int64]int{}
	for rows.Next() {
		var account int64
		var n int
		if err := rows.Scan(&account, &n); err != nil {
			return ImportState{}, fmt.Errorf("store: active admins: %w", err)
		}
		admins[account] = n
	}
	if err := rows.Err(); err != nil {
		return ImportState{}, fmt.Errorf("store: active admins: %w", err)
	}
	return ImportState{Contacts: contacts, Admins: admins}, nil
}

func contactsByEmail(ctx context.Context, tx txn, emails []string) (map[string]Contact, error) {
	keys := make([]string, 0, len(emails))
	seen := make(map[string]bool, len(emails))
	for _, e := range emails {
		if k := EmailKey(e); k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	out := make(map[string]Contact, len(keys))
	for batch := range slices.Chunk(keys, importBatch) {
		args := make([]any, len(batch))
		for i, k := range batch {
			args[i] = k
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+contactColumns+`, c.email_key`+contactFrom+
			`WHERE c.email_key IN `+valuesList(1, len(batch))+` AND c.status <> 'removed'`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: contacts by email: %w", err)
		}
		for rows.Next() {
			var key string
			c, err := scanContact(rows, &key)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: contacts by email: %w", err)
			}
			out[key] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: contacts by email: %w", err)
		}
	}
	return out, nil
}

// CreateContacts inserts the contacts of list with their roles inside t, a few hundred
// rows per statement, and returns their ids in list's order. None of them has a password.
func (t *Tx) CreateContacts(ctx context.Context, list []NewContact) ([]int64, error) {
	now := unix(t.now)
	ids := make([]int64, 0, len(list))
	for batch := range slices.Chunk(list, importBatch) {
		args := make([]any, 0, 16*len(batch))
		for _, n := range batch {
			args = append(args, n.AccountID, n.AccountID, n.FirstName, n.LastName, strings.TrimSpace(n.Email), EmailKey(n.Email),
				NameKey(n.FirstName, n.LastName), SearchText(n.FirstName, n.LastName, n.Email), n.Phone, n.JobTitle,
				n.PasswordHash, nullTime(time.Time{}), nullID(n.CreatedByID), now, now, nullTime(n.AccessEnds))
		}
		// The second value of each row, the company, is the account's.
		values := strings.ReplaceAll(valuesList(len(batch), 16), "(?, ?,", "(?, (SELECT tenant_id FROM accounts WHERE id = ?),")
		rows, err := t.tx.QueryContext(ctx, `
			INSERT INTO contacts(account_id, tenant_id, first_name, last_name, email, email_key, name_key, search_text, phone,
				job_title, password_hash, password_changed_at, created_by, created_at, updated_at, access_ends_at)
			VALUES `+values+` RETURNING id, email_key`, args...)
		if isUniqueViolation(err) {
			return nil, ErrEmailTaken
		}
		if err != nil {
			return nil, fmt.Errorf("store: create contacts: %w", err)
		}
		byKey := make(map[string]int64, len(batch))
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: create contacts: %w", err)
			}
			byKey[key] = id
		}
		rows.Close()
		if err := rows.Err(); isUniqueViolation(err) {
			return nil, ErrEmailTaken
		} else if err != nil {
			return nil, fmt.Errorf("store: create contacts: %w", err)
		}
		var roles []any
		for _, n := range batch {
			id, ok := byKey[EmailKey(n.Email)]
			if !ok {
				return nil, fmt.Errorf("store: create contacts: no id came back for %q", n.Email)
			}
			ids = append(ids, id)
			for _, r := range SortedRoles(n.Roles) {
				roles = append(roles, id, string(r))
			}
		}
		if len(roles) > 0 {
			if _, err := t.tx.ExecContext(ctx, `INSERT INTO contact_roles(contact_id, role) VALUES `+
				valuesList(len(roles)/2, 2), roles...); err != nil {
				return nil, fmt.Errorf("store: roles of created contacts: %w", err)
			}
		}
	}
	return ids, nil
}

// InviteNew issues set-your-password links valid for ttl to contacts created in t (their
// ID, AccountID, Email and names are used), as IssueLink does for one: the link, the mail
// that carries it, its audit event; a few hundred per statement. A new contact has no
// older link to void. requestedBy is the admin who asked.
func (t *Tx) InviteNew(ctx context.Context, list []Contact, ttl time.Duration, requestedBy *Contact, remoteIP, detail string) error {
	now := unix(t.now)
	var byID int64
	if requestedBy != nil {
		byID = requestedBy.ID
	}
	for batch := range slices.Chunk(list, importBatch) {
		args := make([]any, 0, 5*len(batch))
		for _, c := range batch {
			args = append(args, c.ID, PurposeInvite, nullID(byID), now, unix(t.now.Add(ttl)))
		}
		rows, err := t.tx.QueryContext(ctx, `INSERT INTO password_tokens(contact_id, purpose, created_by, created_at, expires_at)
			VALUES `+valuesList(len(batch), 5)+` RETURNING id, contact_id`, args...)
		if err != nil {
			return fmt.Errorf("store: invite %d contacts: %w", len(batch), err)
		}
		tokens := make(map[int64]int64, len(batch))
		for rows.Next() {
			var token, contact int64
			if err := rows.Scan(&token, &contact); err != nil {
				rows.Close()
				return fmt.Errorf("store: invite %d contacts: %w", len(batch), err)
			}
			tokens[contact] = token
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: invite %d contacts: %w", len(batch), err)
		}
		mail := make([]any, 0, 12*len(batch))
		events := make([]Event, 0, len(batch))
		for _, c := range batch {
			mailID := newID()
			m := OutboxMail{Kind: MailInvite, ToContactID: c.ID, ToEmail: c.Email, ToName: c.Name(), TokenID: tokens[c.ID]}
			if requestedBy != nil {
				m.AboutID, m.AboutName, m.AboutEmail = requestedBy.ID, requestedBy.Name(), requestedBy.Email
			}
			mail = append(mail, mailID, m.Kind, m.ToContactID, m.ToEmail, m.ToName, nullID(m.AboutID), m.AboutName, m.AboutEmail,
				nullID(m.TokenID), nullID(0), now, now)
			events = append(events, Event{Action: ActionInvitationSent, ActorID: byID, TargetID: c.ID, AccountID: c.AccountID,
				RemoteIP: remoteIP, Detail: detail})
		}
		if _, err := t.tx.ExecContext(ctx, `
			INSERT INTO outbox(id, kind, to_contact_id, to_email, to_name, about_id, about_name, about_email,
				token_id, email_change_id, next_attempt_at, created_at)
			VALUES `+valuesList(len(batch), 12), mail...); err != nil {
			return fmt.Errorf("store: queue %d invitations: %w", len(batch), err)
		}
		t.queuedMail = true
		if err := t.AuditAll(ctx, events); err != nil {
			return err
		}
	}
	return nil
}

// valuesList is the VALUES list of rows rows of columns placeholders: (?, ?), (?, ?).
// rows = 1 makes a plain list for IN: (?, ?, ?).
func valuesList(rows, columns int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", columns), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}
