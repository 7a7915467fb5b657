package db

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Lock reasons and a status of a contact's whole life (SPEC R-LIFECYCLE), beside the lock
// reasons of contacts.go.
const (
	// LockedAccessEnded: the contact's access ended on the date it was given (AccessEndsAt).
	LockedAccessEnded = "access_ended"
	// LockedWithOrganization: Lock organization locked it with its organization
	// (LockedOrgID); Unlock organization lifts only these.
	LockedWithOrganization = "organization"
	// StatusRemoved is a removed contact: its personal data erased, its row kept so that
	// the audit log and the outbox still point somewhere ("Removed contact #id").
	StatusRemoved = "removed"
)

// migrateContactLifecycle builds contacts anew (SQLite changes constraints no other way)
// with a removed status, the lock reasons of access that ends and of a locked organization,
// and the columns they need. Every index and trigger of contacts is made again exactly as it
// was, from sqlite_master.
func migrateContactLifecycle(ctx context.Context, tx *Tx) error {
	rows, err := tx.tx.QueryContext(ctx, `SELECT sql FROM sqlite_master
		WHERE tbl_name = 'contacts' AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY rowid`)
	if err != nil {
		return err
	}
	var objects []string
	for rows.Next() {
		var ddl string
		if err := rows.Scan(&ddl); err != nil {
			rows.Close()
			return err
		}
		objects = append(objects, ddl)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	const columns = `id, account_id, first_name, last_name, email, email_key, name_key, phone, job_title, status,
		lock_reason, locked_by, locked_at, password_hash, password_changed_at, failed_logins, last_failed_at,
		last_login_at, created_by, created_at, updated_at, search_text, tenant_id`
	steps := []string{`
		CREATE TABLE contacts_new (
			id                  INTEGER PRIMARY KEY,
			account_id          INTEGER NOT NULL REFERENCES accounts(id) ON DELETE RESTRICT,
			first_name          TEXT    NOT NULL,
			last_name           TEXT    NOT NULL,
			email               TEXT    NOT NULL,
			email_key           TEXT    NOT NULL UNIQUE, -- the user name's key (db.EmailKey)
			name_key            TEXT    NOT NULL,        -- folded "last first": the sort key for names
			phone               TEXT    NOT NULL DEFAULT '',
			job_title           TEXT    NOT NULL DEFAULT '',
			status              TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'removed')),
			lock_reason         TEXT    NOT NULL DEFAULT ''
				CHECK (lock_reason IN ('', 'admin', 'failed_logins', 'access_ended', 'organization')),
			locked_by           INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
			locked_at           INTEGER,
			password_hash       TEXT    NOT NULL DEFAULT '', -- empty: no password yet, the contact cannot log in
			password_changed_at INTEGER,
			failed_logins       INTEGER NOT NULL DEFAULT 0,
			last_failed_at      INTEGER,
			last_login_at       INTEGER NOT NULL DEFAULT 0, -- 0: never; keeps keyset paging free of NULLs
			created_by          INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
			created_at          INTEGER NOT NULL,
			updated_at          INTEGER NOT NULL,
			search_text         TEXT    NOT NULL DEFAULT '',
			tenant_id           INTEGER NOT NULL DEFAULT 0,
			access_ends_at      INTEGER, -- the contact's access ends then (unix seconds, UTC); NULL: never
			locked_org_id       INTEGER REFERENCES accounts(id) ON DELETE SET NULL, -- the organization Lock organization locked it with
			removed_at          INTEGER, -- when it was removed and its personal data erased
			CHECK ((status = 'locked') = (lock_reason <> ''))
		) STRICT`,
		`INSERT INTO contacts_new(` + columns + `) SELECT ` + columns + ` FROM contacts`,
		`DROP TABLE contacts`,
		`ALTER TABLE contacts_new RENAME TO contacts`,
	}
	steps = append(steps, objects...)
	steps = append(steps, `CREATE INDEX IF NOT EXISTS contacts_access_ends ON contacts(access_ends_at) WHERE access_ends_at IS NOT NULL`,
		// A removed contact's words must leave the search index, not only stop matching:
		// with secure-delete, FTS5 takes them out of its pages as well (SQLite's own
		// secure_delete, set on the writer's connection, then overwrites what is freed).
		`INSERT INTO contacts_fts(contacts_fts, rank) VALUES ('secure-delete', 1)`)
	for _, step := range steps {
		if _, err := tx.tx.ExecContext(ctx, step); err != nil {
			return fmt.Errorf("store: rebuild contacts: %s: %w", strings.Fields(step)[0], err)
		}
	}
	var broken int
	if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&broken); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("store: rebuild contacts: %d rows refer to rows that are gone", broken)
	}
	return nil
}

// AccessEnded is a contact whose access ended and that EndExpiredAccess locked.
type AccessEnded struct {
	ID, AccountID int64
	At            time.Time
}

// EndExpiredAccess locks up to limit active contacts whose access has ended by now, with the
// reason LockedAccessEnded and the lock dated when access ended, ends their sessions and
// voids their links. A contact is locked this way once: the UPDATE takes only active ones,
// so two servers running it at once never both lock the same contact.
func (t *Tx) EndExpiredAccess(ctx context.Context, limit int) ([]AccessEnded, error) {
	now := unix(t.now)
	rows, err := t.tx.QueryContext(ctx, `
		UPDATE contacts SET status = 'locked', lock_reason = 'access_ended', locked_by = NULL, locked_org_id = NULL,
			locked_at = access_ends_at, updated_at = ?1
		WHERE id IN (SELECT id FROM contacts WHERE status = 'active' AND access_ends_at IS NOT NULL AND access_ends_at <= ?1
			ORDER BY access_ends_at, id LIMIT ?2)
		RETURNING id, account_id, access_ends_at`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("store: end expired access: %w", err)
	}
	var ended []AccessEnded
	var ids []int64
	for rows.Next() {
		var e AccessEnded
		var at int64
		if err := rows.Scan(&e.ID, &e.AccountID, &at); err != nil {
			rows.Close()
			return nil, err
		}
		e.At = time.Unix(at, 0).UTC()
		ended = append(ended, e)
		ids = append(ids, e.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ended, t.endSessionsAndLinks(ctx, ids)
}

// endSessionsAndLinks ends the sessions and voids the open links of contacts ids: what
// every lock does.
func (t *Tx) endSessionsAndLinks(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	in := idList(ids)
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sessions WHERE contact_id IN `+in); err != nil {
		return fmt.Errorf("store: end sessions: %w", err)
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE password_tokens SET voided_at = ?
		WHERE contact_id IN `+in+` AND used_at IS NULL AND voided_at IS NULL`, unix(t.now)); err != nil {
		return fmt.Errorf("store: void links: %w", err)
	}
	return nil
}

// idList renders ids as a literal SQL list. They are integers, so embedding them is safe.
func idList(ids []int64) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	if len(ids) == 0 {
		b.WriteString("NULL")
	}
	b.WriteByte(')')
	return b.String()
}

// ContactsForChange reads the contacts of ids that lie in sc, inside tx, for the rules of
// an action on many contacts; removed contacts and ids outside sc are left out.
func (t *Tx) ContactsForChange(ctx context.Context, sc Scope, ids []int64) ([]Contact, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+contactColumns+contactFrom+
		`WHERE c.id IN `+idList(ids)+` AND c.account_id IN `+sc.inList()+` AND c.status <> 'removed' ORDER BY c.id`)
	if err != nil {
		return nil, fmt.Errorf("store: contacts for change: %w", err)
	}
	defer rows.Close()
	var out []Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, fmt.Errorf("store: contacts for change: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ActiveAdmins counts, per account of accountIDs, the active contact admins who can sign
// in: the admins an account must keep one of.
func (t *Tx) ActiveAdmins(ctx context.Context, accountIDs []int64) (map[int64]int, error) {
	rows, err := t.tx.QueryContext(ctx, `
		SELECT c.account_id, count(*) FROM contact_roles r JOIN contacts c ON c.id = r.contact_id
		WHERE r.role = 'contact_admin' AND c.status = 'active' AND c.password_hash <> '' AND c.account_id IN `+idList(accountIDs)+`
		GROUP BY c.account_id`)
	if err != nil {
		return nil, fmt.Errorf("store: active admins: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var account int64
		var n int
		if err := rows.Scan(&account, &n); err != nil {
			return nil, err
		}
		out[account] = n
	}
	return out, rows.Err()
}

// LockContacts locks the active contacts of ids, as LockContact locks one: by is the admin
// who locked them; reason is LockedByAdmin, or LockedWithOrganization with org the
// organization locked. It returns the ids it locked: one already locked (by someone else
// meanwhile) is left as it is.
func (t *Tx) LockContacts(ctx context.Context, ids []int64, by int64, reason string, org int64) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	now := unix(t.now)
	locked, err := t.changedIDs(ctx, `
		UPDATE contacts SET status = 'locked', lock_reason = ?, locked_by = ?, locked_org_id = ?, locked_at = ?, updated_at = ?
		WHERE id IN `+idList(ids)+` AND status = 'active' RETURNING id`, reason, nullID(by), nullID(org), now, now)
	if err != nil {
		return nil, fmt.Errorf("store: lock contacts: %w", err)
	}
	return locked, t.endSessionsAndLinks(ctx, locked)
}

// UnlockContacts unlocks the locked contacts of ids whose lock reason is one of reasons,
// and clears their failed-login counts; it returns the ids it unlocked.
func (t *Tx) UnlockContacts(ctx context.Context, ids []int64, reasons ...string) ([]int64, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	quoted := make([]string, len(reasons))
	for i, r := range reasons {
		quoted[i] = "'" + r + "'" // the lock reasons are this package's constants
	}
	unlocked, err := t.changedIDs(ctx, `
		UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_org_id = NULL, locked_at = NULL,
			failed_logins = 0, last_failed_at = NULL, updated_at = ?
		WHERE id IN `+idList(ids)+` AND status = 'locked' AND lock_reason IN (`+strings.Join(quoted, ", ")+`)
		RETURNING id`, unix(t.now))
	if err != nil {
		return nil, fmt.Errorf("store: unlock contacts: %w", err)
	}
	return unlocked, nil
}

func (t *Tx) changedIDs(ctx context.Context, update string, args ...any) ([]int64, error) {
	rows, err := t.tx.QueryContext(ctx, update, args...)
	if err != nil {
		return nil, err
	}
	return scanIDs(rows)
}

// OrganizationCounts are the contacts of an organization and of the organizations below it,
// by state: Active, Locked out, and how many of those Lock organization locked with it.
type OrganizationCounts struct {
	Active, Locked, LockedWithIt int
}

// OrganizationCounts counts the contacts of every account of sc and of the accounts below
// it, in one snapshot. The states come from contact_counts, which triggers keep, so a
// million contacts cost one row per account; only the contacts locked with an organization
// are read, grouped.
func (s *Store) OrganizationCounts(ctx context.Context, sc Scope) (map[int64]OrganizationCounts, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return nil, fmt.Errorf("store: organization counts: %w", classify(err))
	}
	defer tx.Rollback()
	own := map[int64]OrganizationCounts{} // each account's own contacts
	withOrg := map[[2]int64]int{}         // {account, organization locked with} → contacts
	rows, err := tx.QueryContext(ctx, `SELECT account_id, status, n FROM contact_counts
		WHERE account_id IN `+sc.inList()+` AND status IN ('active', 'locked')`)
	if err != nil {
		return nil, fmt.Errorf("store: organization counts: %w", classify(err))
	}
	for rows.Next() {
		var account int64
		var status string
		var n int
		if err := rows.Scan(&account, &status, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: organization counts: %w", err)
		}
		c := own[account]
		if status == StatusActive {
			c.Active += n
		} else {
			c.Locked += n
		}
		own[account] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: organization counts: %w", classify(err))
	}
	rows, err = tx.QueryContext(ctx, `SELECT account_id, locked_org_id, count(*) FROM contacts
		WHERE account_id IN `+sc.inList()+` AND status = 'locked' AND lock_reason = 'organization'
		AND locked_org_id IS NOT NULL GROUP BY account_id, locked_org_id`)
	if err != nil {
		return nil, fmt.Errorf("store: organization counts: %w", classify(err))
	}
	for rows.Next() {
		var account, org int64
		var n int
		if err := rows.Scan(&account, &org, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: organization counts: %w", err)
		}
		withOrg[[2]int64{account, org}] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: organization counts: %w", classify(err))
	}
	// The scope lists accounts depth first: the accounts below accounts[i] are those that
	// follow it deeper than it.
	out := map[int64]OrganizationCounts{}
	for i, org := range sc.accounts {
		var total OrganizationCounts
		for j := i; j < len(sc.accounts) && (j == i || sc.accounts[j].Depth > org.Depth); j++ {
			a := sc.accounts[j].ID
			total.Active += own[a].Active
			total.Locked += own[a].Locked
			total.LockedWithIt += withOrg[[2]int64{a, org.ID}]
		}
		out[org.ID] = total
	}
	return out, nil
}

// OrganizationContacts lists the ids of the contacts of account org and every account below
// it, in sc, with status, in id order: what Lock organization and Unlock organization act
// on (Unlock organization only on those it locked: lockedWith).
func (s *Store) OrganizationContacts(ctx context.Context, sc Scope, org int64, status string, lockedWith bool) ([]int64, error) {
	query := `
		WITH RECURSIVE tree(id) AS (
			SELECT id FROM accounts WHERE id = ?
			UNION ALL
			SELECT a.id FROM accounts a JOIN tree ON a.parent_id = tree.id
		)
		SELECT c.id FROM contacts c WHERE c.account_id IN (SELECT id FROM tree) AND c.account_id IN ` + sc.inList() + `
			AND c.status = ?`
	args := []any{org, status}
	if lockedWith {
		query += ` AND c.lock_reason = 'organization' AND c.locked_org_id = ?`
		args = append(args, org)
	}
	rows, err := s.read.QueryContext(ctx, query+` ORDER BY c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: contacts of organization %d: %w", org, err)
	}
	return scanIDs(rows)
}

// emailInText finds the email addresses in an audit text.
var emailInText = regexp.MustCompile(`[^\s;,:()<>"]+@[^\s;,:()<>"]+[^\s;,:()<>".]`)

// emailsOf lists the emails contact c had or was to have besides its own: the addresses of
// its email changes, and those its own audit events name.
func (t *Tx) emailsOf(ctx context.Context, c Contact) ([]string, error) {
	seen := map[string]bool{}
	collect := func(query string, each func(string)) error {
		rows, err := t.tx.QueryContext(ctx, query, c.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var text string
			if err := rows.Scan(&text); err != nil {
				return err
			}
			each(text)
		}
		return rows.Err()
	}
	add := func(e string) { seen[e] = true }
	if err := collect(`SELECT new_email FROM email_changes WHERE contact_id = ?`, add); err != nil {
		return nil, err
	}
	if err := collect(`SELECT detail FROM audit_events WHERE target_id = ? AND detail LIKE '%@%'`, func(detail string) {
		for _, e := range emailInText.FindAllString(detail, -1) {
			add(e)
		}
	}); err != nil {
		return nil, err
	}
	delete(seen, c.Email)
	return slices.Sorted(maps.Keys(seen)), nil
}

// RemovedLabel is how a removed contact is named wherever its name was: "Removed contact #42".
func RemovedLabel(id int64) string { return fmt.Sprintf("Removed contact #%d", id) }

// nameOf is the SQL of the name of the contact row alias: "first last", or RemovedLabel's
// words for a removed contact, whose names are erased.
func nameOf(alias string) string {
	return `CASE WHEN ` + alias + `.status = 'removed' THEN 'Removed contact #' || ` + alias + `.id
		ELSE ` + alias + `.first_name || ' ' || ` + alias + `.last_name END`
}

// RemoveContact erases the personal data of contact c (names, email, phone, job title) and
// ends everything it had: sessions, links, roles, an email change, mail still queued to it.
// The row stays, emptied, with the status StatusRemoved, so that the audit log and the
// outbox still point somewhere; where their texts named the contact, they say
// RemovedLabel instead. Its email can be anyone's user name again. Erased means gone from
// every table and from the search index: on SQLite secure_delete overwrites the freed bytes
// (see sqlite.go), on PostgreSQL the old row versions are left to vacuum.
func (t *Tx) RemoveContact(ctx context.Context, c Contact) error {
	now, label := unix(t.now), RemovedLabel(c.ID)
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"erase the contact", `UPDATE contacts SET first_name = '', last_name = '', email = '', email_key = ?, name_key = '',
			search_text = '', phone = '', job_title = '', password_hash = '', password_changed_at = NULL,
			status = 'removed', lock_reason = '', locked_by = NULL, locked_org_id = NULL, locked_at = NULL,
			access_ends_at = NULL, two_factor = ?, password_short = ?, failed_logins = 0, last_failed_at = NULL, last_login_at = 0, removed_at = ?, updated_at = ?
			WHERE id = ?`, []any{"removed:" + strconv.FormatInt(c.ID, 10), false, false, now, now, c.ID}},
		{"roles", `DELETE FROM contact_roles WHERE contact_id = ?`, []any{c.ID}},
		{"sessions", `DELETE FROM sessions WHERE contact_id = ?`, []any{c.ID}},
		{"links", `UPDATE password_tokens SET voided_at = ? WHERE contact_id = ? AND used_at IS NULL AND voided_at IS NULL`,
			[]any{now, c.ID}},
		{"email changes", `DELETE FROM email_changes WHERE contact_id = ?`, []any{c.ID}},
		{"user name conflicts", `DELETE FROM email_key_conflicts WHERE contact_id = ? OR other_id = ?`, []any{c.ID, c.ID}},
		{"mail to it", `UPDATE outbox SET to_email = '', to_name = '', last_error = '',
			status = CASE WHEN status = 'queued' THEN 'superseded' ELSE status END,
			finished_at = CASE WHEN status = 'queued' THEN ? ELSE finished_at END
			WHERE to_contact_id = ?`, []any{now, c.ID}},
		{"mail about it", `UPDATE outbox SET about_name = '', about_email = '' WHERE about_id = ?`, []any{c.ID}},
		{"its row in imports waiting for a preview", `DELETE FROM contact_import_rows WHERE email_key = ?`, []any{EmailKey(c.Email)}},
		{"imports it uploaded", `DELETE FROM contact_imports WHERE contact_id = ?`, []any{c.ID}},
		{"sign-ins under way", `DELETE FROM pending_signins WHERE contact_id = ?`, []any{c.ID}},
		{"authenticator apps", `DELETE FROM totp_factors WHERE contact_id = ?`, []any{c.ID}},
		{"passkeys", `DELETE FROM passkeys WHERE contact_id = ?`, []any{c.ID}},
		{"passkey ceremonies", `DELETE FROM passkey_ceremonies WHERE contact_id = ?`, []any{c.ID}},
		{"passkey user handle", `DELETE FROM passkey_users WHERE contact_id = ?`, []any{c.ID}},
		{"recovery codes", `DELETE FROM recovery_codes WHERE contact_id = ?`, []any{c.ID}},
	}
	// The addresses it had before and was to have, read before its email changes go.
	earlier, err := t.emailsOf(ctx, c)
	if err != nil {
		return fmt.Errorf("store: remove contact %d: its emails: %w", c.ID, err)
	}
	for _, step := range steps {
		if _, err := t.tx.ExecContext(ctx, step.sql, step.args...); err != nil {
			return fmt.Errorf("store: remove contact %d: %s: %w", c.ID, step.what, err)
		}
	}
	if err := t.eraseFromAudit(ctx, c, earlier, label); err != nil {
		return fmt.Errorf("store: remove contact %d: audit texts: %w", c.ID, err)
	}
	return nil
}

// eraseFromAudit puts label where the audit log's texts name contact c: by name where it
// acted or was acted on ("by Maria Anders (Reset password)"); by its email (as stored, and as
// typed at a sign-in, which the key folds) wherever it stands; by the addresses it had
// before or was to have (earlier) in its own events ("from … to …", "… was told"), not
// elsewhere, where such an address may be someone else's by now. Only whole names and
// addresses are replaced: removing ann@example.com leaves joann@example.com alone.
func (t *Tx) eraseFromAudit(ctx context.Context, c Contact, earlier []string, label string) error {
	type text struct {
		text, where string // where: which audit rows may name it, besides holding the text
		email       bool
	}
	own := "(actor_id = " + strconv.FormatInt(c.ID, 10) + " OR target_id = " + strconv.FormatInt(c.ID, 10) + ")"
	texts := []text{{c.Name(), own, false}, {c.Email, "true", true}, {EmailKey(c.Email), "true", true}}
	for _, e := range earlier {
		texts = append(texts, text{e, "target_id = " + strconv.FormatInt(c.ID, 10), true},
			text{EmailKey(e), "target_id = " + strconv.FormatInt(c.ID, 10), true})
	}
	// Longest first, so that replacing one never leaves part of a longer one behind.
	slices.SortStableFunc(texts, func(a, b text) int { return len(b.text) - len(a.text) })
	for _, x := range texts {
		if strings.TrimSpace(x.text) == "" {
			continue
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT id, detail FROM audit_events WHERE `+x.where+
			` AND detail LIKE '%' || ? || '%'`, x.text)
		if err != nil {
			return err
		}
		changed := map[int64]string{}
		for rows.Next() {
			var id int64
			var detail string
			if err := rows.Scan(&id, &detail); err != nil {
				rows.Close()
				return err
			}
			if after := replaceWhole(detail, x.text, label, x.email); after != detail {
				changed[id] = after
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for id, detail := range changed {
			if _, err := t.tx.ExecContext(ctx, `UPDATE audit_events SET detail = ? WHERE id = ?`, detail, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceWhole replaces the occurrences of old in s that stand as a whole name (or, with
// email, a whole address) with label: not inside a longer word or address.
func replaceWhole(s, old, label string, email bool) string {
	inWord := func(r rune) bool {
		return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) ||
			email && strings.ContainsRune("._%+-'@", r)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		rest := s[i+len(old):]
		next, size := utf8.DecodeRuneInString(rest)
		afterDot, _ := utf8.DecodeRuneInString(rest[size:])
		continues := rest != "" && (inWord(next) && next != '.' || next == '.' && rest[size:] != "" && inWord(afterDot) && afterDot != '.')
		if (i == 0 || !inWord(before)) && !continues {
			b.WriteString(s[:i] + label)
			s = rest
			continue
		}
		_, first := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[:i+first])
		s = s[i+first:]
	}
}

// SetAccessEnds sets when contact id's access ends (zero: never).
func (t *Tx) SetAccessEnds(ctx context.Context, id int64, at time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `UPDATE contacts SET access_ends_at = ?, updated_at = ? WHERE id = ?`,
		nullTime(at), unix(t.now), id); err != nil {
		return fmt.Errorf("store: access end of contact %d: %w", id, err)
	}
	return nil
}

// MatchingIDs lists, in id order, up to limit ids of the contacts of sc with status that
// match search (everyone when search has nothing to search for): what "Select all N
// matching contacts" selects, found again when the action runs.
func (s *Store) MatchingIDs(ctx context.Context, sc Scope, status, search string, limit int) ([]int64, error) {
	if status != StatusLocked {
		status = StatusActive
	}
	filter, args := ExportView{Status: status, Search: search}.filter(s.engine)
	rows, err := s.read.QueryContext(ctx, `SELECT c.id FROM contacts c WHERE c.account_id IN `+sc.inList()+filter+
		` ORDER BY c.id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: contacts matching a search: %w", err)
	}
	return scanIDs(rows)
}
