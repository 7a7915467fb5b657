package db

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is a right or flag a contact holds; a contact has a set of them, empty by default.
type Role string

const (
	RoleContactAdmin    Role = "contact_admin"
	RoleIncidentContact Role = "incident_contact"
)

// AllRoles lists every role in the order the UI shows them.
var AllRoles = []Role{RoleContactAdmin, RoleIncidentContact}

// Label is the role's name on screen.
func (r Role) Label() string {
	switch r {
	case RoleContactAdmin:
		return "Contact admin"
	case RoleIncidentContact:
		return "Incident contact"
	}
	return string(r)
}

// Known reports whether r is one of AllRoles (a form can send anything).
func (r Role) Known() bool { return slices.Contains(AllRoles, r) }

// ParseRole accepts a role's stored name or its command-line spelling (contact-admin).
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	return r, slices.Contains(AllRoles, r)
}

// Contact statuses and lock reasons, as stored.
const (
	StatusActive = "active"
	StatusLocked = "locked"

	LockedByAdmin        = "admin"
	LockedByFailedLogins = "failed_logins"
)

// Contact is a person of a customer organization who logs in to the portal.
type Contact struct {
	ID          int64
	AccountID   int64
	AccountName string
	FirstName   string
	LastName    string
	Email       string
	Phone       string
	JobTitle    string
	Roles       []Role
	Status      string
	LockedByID  int64
	Lock
	LastLoginAt time.Time
	CreatedByID int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	HasPassword bool
	// TwoFactor: the contact has an authenticator app or a passkey (SPEC 3.11).
	TwoFactor bool
	// PasswordShort: the password is shorter than the minimum for a password alone, which
	// only a contact with a second factor may keep.
	PasswordShort bool
	// AccessEndsAt is when the contact's access ends; zero: never.
	AccessEndsAt time.Time
}

// Lock is why a contact is locked and since when, and its count of failed logins.
type Lock struct {
	LockReason   string // "", LockedByAdmin, LockedByFailedLogins, LockedAccessEnded or LockedWithOrganization
	LockedByName string // "First Last" of the admin who locked it ("" when locked automatically, or the admin is gone)
	LockedWith   string // LockedWithOrganization: the organization's name
	LockedAt     time.Time
	FailedLogins int
	LastFailedAt time.Time
}

// Name is how the contact is addressed on screen: "First Last".
// A removed contact's names are erased: it is named RemovedLabel's words.
func (c Contact) Name() string {
	if c.Status == StatusRemoved {
		return RemovedLabel(c.ID)
	}
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// HasRole reports whether the contact holds r.
func (c Contact) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// IsAdmin reports whether the contact may manage contacts.
func (c Contact) IsAdmin() bool { return c.HasRole(RoleContactAdmin) }

// ActiveAdmin reports whether the contact is one of the active contact admins an account
// keeps at least one of (otherActiveAdmins counts the others): an admin, not locked, who
// can sign in. One invited but without a password yet can't manage anything.
func (c Contact) ActiveAdmin() bool { return c.IsAdmin() && !c.Locked() && c.HasPassword }

// Locked reports whether the contact is locked out.
func (c Contact) Locked() bool { return c.Status == StatusLocked }

// Fields are the contact's details as the Edit contact form shows them.
func (c Contact) Fields() ContactFields {
	return ContactFields{AccountID: c.AccountID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email,
		Phone: c.Phone, JobTitle: c.JobTitle, Roles: c.Roles, AccessEnds: c.AccessEndsAt}
}

// EditVersion fingerprints the fields the Edit contact form changes. The form carries it,
// and an edit whose form was filled from other values is refused (someone
// saved in between), so that a save from an older form never silently undoes a newer one.
// A fingerprint of the values rather than a counter: whatever writes these fields changes
// it without having to remember to, and lock, unlock and logins (which the form does not
// show) do not make an open form stale. pendingEmail is the address of the contact's open
// email change, if any: the form says it waits for confirmation, and another admin asking
// for a different one meanwhile makes the form stale too.
func (c Contact) EditVersion(pendingEmail string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %q %q %q %q %q %q %d %q", c.AccountID, c.FirstName, c.LastName, c.Email, c.Phone, c.JobTitle,
		SortedRoles(c.Roles), nullTime(c.AccessEndsAt).Int64, pendingEmail)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// contactColumns selects every field of Contact; scanContact reads them in this order.
var contactColumns = `
	c.id, c.account_id, a.name, c.first_name, c.last_name, c.email, c.phone, c.job_title,
	coalesce((SELECT string_agg(role, ',') FROM contact_roles r WHERE r.contact_id = c.id), ''),
	c.status, c.lock_reason, coalesce(c.locked_by, 0),
	coalesce((SELECT ` + nameOf("l") + ` FROM contacts l WHERE l.id = c.locked_by), ''),
	c.locked_at, c.failed_logins, c.last_failed_at, c.last_login_at, coalesce(c.created_by, 0),
	c.created_at, c.updated_at, c.password_hash <> '', c.two_factor, c.password_short, c.access_ends_at,
	coalesce((SELECT o.name FROM accounts o WHERE o.id = c.locked_org_id), '')`

const contactFrom = ` FROM contacts c JOIN accounts a ON a.id = c.account_id `

type rowScanner interface{ Scan(dest ...any) error }

// scanContact reads the columns of contactColumns, then any extra columns into extra.
func scanContact(row rowScanner, extra ...any) (Contact, error) {
	var c Contact
	var roles string
	var lockedAt, lastFailed, lastLogin, accessEnds sql.NullInt64
	var created, updated int64
	err := row.Scan(append([]any{&c.ID, &c.AccountID, &c.AccountName, &c.FirstName, &c.LastName, &c.Email,
		&c.Phone, &c.JobTitle, &roles, &c.Status, &c.LockReason, &c.LockedByID, &c.LockedByName,
		&lockedAt, &c.FailedLogins, &lastFailed, &lastLogin, &c.CreatedByID, &created, &updated,
		&c.HasPassword, &c.TwoFactor, &c.PasswordShort, &accessEnds, &c.LockedWith}, extra...)...)
	if err != nil {
		return Contact{}, err
	}
	c.Roles = parseRoles(roles)
	c.LockedAt = timeOrZero(lockedAt)
	c.LastFailedAt = timeOrZero(lastFailed)
	c.LastLoginAt = timeOrZero(lastLogin)
	c.AccessEndsAt = timeOrZero(accessEnds)
	c.CreatedAt = time.Unix(created, 0).UTC()
	c.UpdatedAt = time.Unix(updated, 0).UTC()
	return c, nil
}

// readContact reads the one contact that where (a WHERE clause over contacts c) selects:
// ErrNotFound when there is none.
func readContact(ctx context.Context, q queryer, what, where string, args ...any) (Contact, error) {
	c, err := scanContact(q.QueryRowContext(ctx, `SELECT `+contactColumns+contactFrom+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, ErrNotFound
	}
	if err != nil {
		return Contact{}, fmt.Errorf("store: %s: %w", what, err)
	}
	return c, nil
}

func parseRoles(s string) []Role {
	if s == "" {
		return nil // most contacts have no role: no allocation for them
	}
	have := strings.Split(s, ",")
	var roles []Role
	for _, r := range AllRoles { // keep the UI's order whatever order SQLite concatenated them in
		if slices.Contains(have, string(r)) {
			roles = append(roles, r)
		}
	}
	return roles
}

// NewContact is what creating a contact needs.
type NewContact struct {
	ContactFields
	PasswordHash string // empty: the contact can't log in until it sets a password
	CreatedByID  int64  // 0 when created from the command line
}

// ErrEmailTaken is returned when the email already belongs to a contact.
var ErrEmailTaken = errors.New("email already belongs to a contact")

// CreateContact inserts a contact with its roles inside tx.
func (t *Tx) CreateContact(ctx context.Context, n NewContact) (int64, error) {
	now := unix(t.now)
	var changedAt sql.NullInt64
	if n.PasswordHash != "" {
		changedAt = sql.NullInt64{Int64: now, Valid: true}
	}
	var id int64
	err := t.tx.QueryRowContext(ctx, `
		INSERT INTO contacts(account_id, tenant_id, first_name, last_name, email, email_key, name_key, search_text, phone,
			job_title, password_hash, password_changed_at, created_by, created_at, updated_at, access_ends_at)
		VALUES (?1, (SELECT tenant_id FROM accounts WHERE id = ?1), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		n.AccountID, n.FirstName, n.LastName, strings.TrimSpace(n.Email), EmailKey(n.Email),
		NameKey(n.FirstName, n.LastName), SearchText(n.FirstName, n.LastName, n.Email), n.Phone, n.JobTitle, n.PasswordHash, changedAt,
		nullID(n.CreatedByID), now, now, nullTime(n.AccessEnds)).Scan(&id)
	if isUniqueViolation(err) {
		return 0, ErrEmailTaken
	}
	if err != nil {
		return 0, fmt.Errorf("store: create contact %q: %w", n.Email, err)
	}
	if err := t.setRoles(ctx, id, n.Roles); err != nil {
		return 0, err
	}
	return id, nil
}

func (t *Tx) setRoles(ctx context.Context, contactID int64, roles []Role) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM contact_roles WHERE contact_id = ?`, contactID); err != nil {
		return fmt.Errorf("store: roles of contact %d: %w", contactID, err)
	}
	for _, r := range roles {
		if _, err := t.tx.ExecContext(ctx,
			`INSERT INTO contact_roles(contact_id, role) VALUES (?, ?) ON CONFLICT DO NOTHING`, contactID, string(r)); err != nil {
			return fmt.Errorf("store: roles of contact %d: %w", contactID, err)
		}
	}
	return nil
}

// ContactByID reads one contact without a scope: for the signed-in contact itself and for
// code that already holds the id from a trusted place (a session, a token). Handlers acting
// on other contacts use ContactInScope.
func (s *Store) ContactByID(ctx context.Context, id int64) (Contact, error) {
	return readContact(ctx, s.read, fmt.Sprint("contact ", id), `WHERE c.id = ?`, id)
}

// ContactInScope reads one contact if it belongs to an account in sc; otherwise ErrNotFound.
func (s *Store) ContactInScope(ctx context.Context, sc Scope, id int64) (Contact, error) {
	return readContact(ctx, s.read, fmt.Sprint("contact ", id), `WHERE c.id = ? AND c.account_id IN `+sc.inList()+
		` AND c.status <> 'removed'`, id)
}

// AuditedContact reads a contact of sc whose events the audit log shows: also a removed one,
// whose rows the audit log keeps.
func (s *Store) AuditedContact(ctx context.Context, sc Scope, id int64) (Contact, error) {
	return readContact(ctx, s.read, fmt.Sprint("contact ", id), `WHERE c.id = ? AND c.account_id IN `+sc.inList(), id)
}

// ContactByEmail finds a contact by email, case-insensitively, across the whole portal.
func (s *Store) ContactByEmail(ctx context.Context, email string) (Contact, error) {
	return readContact(ctx, s.read, "contact by email", `WHERE c.email_key = ?`, EmailKey(email))
}

// Credentials reads the contact whose user name is email, for signing in, with its stored
// password hash as a PHC string ("" when it has none yet).
func (s *Store) Credentials(ctx context.Context, email string) (Contact, string, error) {
	return credentials(ctx, s.read, email)
}

// Credentials reads them again inside tx, where the sign-in decides on them.
func (t *Tx) Credentials(ctx context.Context, email string) (Contact, string, error) {
	return credentials(ctx, t.tx, email)
}

func credentials(ctx context.Context, q queryer, email string) (Contact, string, error) {
	var hash string
	c, err := scanContact(q.QueryRowContext(ctx,
		`SELECT `+contactColumns+`, c.password_hash`+contactFrom+`WHERE c.email_key = ?`, EmailKey(email)), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, "", ErrNotFound
	}
	if err != nil {
		return Contact{}, "", fmt.Errorf("store: credentials: %w", err)
	}
	return c, hash, nil
}

// The writes of a contact admin's actions. Each is a *Tx method: the contacts package opens
// the transaction, reads what its rules need here, decides, and writes, so that no other
// write comes between a check and the change it allows.

// ContactForChange reads a contact of sc inside tx, for the rules of an action on it.
func (t *Tx) ContactForChange(ctx context.Context, sc Scope, id int64) (Contact, error) {
	return readContact(ctx, t.tx, fmt.Sprint("contact ", id), `WHERE c.id = ? AND c.account_id IN `+sc.inList()+
		` AND c.status <> 'removed'`, id)
}

// ContactByID reads a contact inside tx by an id that came from a trusted place (a link).
func (t *Tx) ContactByID(ctx context.Context, id int64) (Contact, error) {
	return readContact(ctx, t.tx, fmt.Sprint("contact ", id), `WHERE c.id = ?`, id)
}

// ContactByEmail finds a contact inside tx by email, case-insensitively, across the whole
// portal.
func (t *Tx) ContactByEmail(ctx context.Context, email string) (Contact, error) {
	return readContact(ctx, t.tx, "contact by email", `WHERE c.email_key = ?`, EmailKey(email))
}

// otherActiveAdmins counts the active contact admins of an account other than one contact.
// Only admins who can sign in count: one invited but without a password yet can't manage
// anything, and an account must not end up with no admin able to.
const otherActiveAdmins = `
	SELECT count(*) FROM contact_roles r JOIN contacts c ON c.id = r.contact_id
	WHERE r.role = 'contact_admin' AND c.account_id = ? AND c.status = 'active' AND c.password_hash <> '' AND c.id <> ?`

// OtherActiveAdmins counts the active contact admins of accountID other than exceptID.
func (t *Tx) OtherActiveAdmins(ctx context.Context, accountID, exceptID int64) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, otherActiveAdmins, accountID, exceptID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: admins of account %d: %w", accountID, err)
	}
	return n, nil
}

// IsActiveAdmin reports whether contact id is, as tx reads it, an active contact admin of
// accountID who can sign in. An admin's request is let through before its transaction
// starts; a lock, a demotion or a move committed in between must win over it.
func (t *Tx) IsActiveAdmin(ctx context.Context, id, accountID int64) (bool, error) {
	var ok bool
	err := t.tx.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM contacts c JOIN contact_roles r ON r.contact_id = c.id
			WHERE c.id = ? AND c.account_id = ? AND c.status = 'active' AND c.password_hash <> ''
				AND r.role = 'contact_admin')`, id, accountID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: is contact %d an admin: %w", id, err)
	}
	return ok, nil
}

// ContactFields are the details of a contact that people type: on Create contact, Edit
// contact and the command line.
type ContactFields struct {
	AccountID int64
	FirstName string
	LastName  string
	Email     string
	Phone     string
	JobTitle  string
	Roles     []Role
	// AccessEnds is when the contact's access ends (it is locked out from then on); zero:
	// never.
	AccessEnds time.Time
}

// HasRole reports whether r is among the fields' roles.
func (f ContactFields) HasRole(r Role) bool {
	for _, x := range f.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// UpdateContact stores new fields of contact id with its roles.
func (t *Tx) UpdateContact(ctx context.Context, id int64, f ContactFields) error {
	_, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET account_id = ?, first_name = ?, last_name = ?, email = ?, email_key = ?,
			name_key = ?, search_text = ?, phone = ?, job_title = ?, access_ends_at = ?, updated_at = ?
		WHERE id = ?`,
		f.AccountID, f.FirstName, f.LastName, strings.TrimSpace(f.Email), EmailKey(f.Email),
		NameKey(f.FirstName, f.LastName), SearchText(f.FirstName, f.LastName, f.Email), f.Phone, f.JobTitle,
		nullTime(f.AccessEnds), unix(t.now), id)
	if isUniqueViolation(err) {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("store: edit contact %d: %w", id, err)
	}
	return t.setRoles(ctx, id, f.Roles)
}

// LockContact locks an active contact, ends its sessions and voids its open links (a link
// sent before the lock must not come back to life when it is lifted). by is the admin who
// locked it. It reports whether it changed anything: the UPDATE is conditional, so of two
// transactions locking the same contact only the first does.
func (t *Tx) LockContact(ctx context.Context, id, by int64) (bool, error) {
	now := unix(t.now)
	res, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET status = 'locked', lock_reason = 'admin', locked_by = ?, locked_at = ?, updated_at = ?
		WHERE id = ? AND status = 'active'`, nullID(by), now, now, id)
	if err != nil {
		return false, fmt.Errorf("store: lock contact %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, t.endSessionsAndLinks(ctx, []int64{id})
}

// UnlockContact unlocks a locked contact and clears its failed-login count and lock fields.
// Like LockContact it is conditional and reports whether it changed anything.
func (t *Tx) UnlockContact(ctx context.Context, id int64) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `
		UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_org_id = NULL, locked_at = NULL,
			failed_logins = 0, last_failed_at = NULL, updated_at = ?
		WHERE id = ? AND status = 'locked'`, unix(t.now), id)
	if err != nil {
		return false, fmt.Errorf("store: unlock contact %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SortedRoles lists roles in the UI's order, each once.
func SortedRoles(roles []Role) []Role {
	var out []Role
	for _, r := range AllRoles {
		for _, x := range roles {
			if x == r {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// RolesDetail names roles for the audit log: "Contact admin, Incident contact" or "none".
func RolesDetail(roles []Role) string {
	if len(roles) == 0 {
		return "none"
	}
	var labels []string
	for _, r := range SortedRoles(roles) {
		labels = append(labels, r.Label())
	}
	return strings.Join(labels, ", ")
}

// ContactPage is everything a contact's page shows, read from one snapshot so that its
// parts agree with each other.
type ContactPage struct {
	Contact Contact
	History []Event // newest first, at most PageHistoryLength
	// Sessions: where the contact is signed in, most recently active first.
	Sessions []ContactSession
	// Logins: its last PageLoginsLength sign-ins and failed sign-ins, newest first.
	Logins []Event
	// LastActiveAdmin: the contact is the only active contact admin of its account.
	LastActiveAdmin bool
	// Invitation is where a contact without a password stands with its set-your-password
	// link; zero for contacts that have a password.
	Invitation Invitation
	// EmailChange is the newest change of its email that was neither confirmed nor
	// cancelled (zero when none); it may have expired.
	EmailChange EmailChange
}

// Invitation is the newest set-your-password link of a contact and the mail carrying it.
type Invitation struct {
	Token      PasswordToken // zero when the contact never had one
	MailStatus string        // queued, sent, given_up or superseded ("" when none)
	MailError  string        // why the last attempt to send it failed
}

// Pending reports whether the contact can still set its password with the newest link.
func (i Invitation) Pending(now time.Time) bool { return i.Token.ID != 0 && i.Token.Usable(now) }

// What a contact's page lists at most.
const (
	PageHistoryLength = 50 // events of its history
	PageLoginsLength  = 20 // sign-ins and failed sign-ins (SPEC R-LIFECYCLE)
)

// ContactPage reads the page of contact id of sc (ErrNotFound outside it) in one snapshot:
// the contact, its history, its sessions within lim and its login history.
func (s *Store) ContactPage(ctx context.Context, sc Scope, id int64, lim SessionLimits) (ContactPage, error) {
	tx, err := s.read.BeginTx(ctx, s.engine.snapshotOptions())
	if err != nil {
		return ContactPage{}, fmt.Errorf("store: page of contact %d: %w", id, classify(err))
	}
	defer tx.Rollback()
	p, err := contactPage(ctx, tx, sc, id, s.now(), lim)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ContactPage{}, fmt.Errorf("store: page of contact %d: %w", id, classify(err))
	}
	return p, err
}

func contactPage(ctx context.Context, tx txn, sc Scope, id int64, now time.Time, lim SessionLimits) (ContactPage, error) {
	var p ContactPage
	var err error
	inScope := sc.inList()
	p.Contact, err = scanContact(tx.QueryRowContext(ctx,
		`SELECT `+contactColumns+contactFrom+`WHERE c.id = ? AND c.account_id IN `+inScope, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	// What was recorded while the contact belonged to an account outside sc stays hidden, as
	// in the audit log: a contact moved down into a child organization brings its history
	// above (who acted, from where) no further. audit_by_target walks the contact's events
	// from its newest end.
	if p.History, err = events(ctx, tx, `SELECT `+auditColumns+` FROM audit_events e
		WHERE e.target_id = ? AND +e.account_id IN `+inScope+`
		ORDER BY e.id DESC LIMIT ?`, id, PageHistoryLength); err != nil {
		return p, err
	}
	if p.Logins, err = events(ctx, tx, `SELECT `+auditColumns+` FROM audit_events e
		WHERE e.target_id = ? AND e.action IN (?, ?) AND +e.account_id IN `+inScope+`
		ORDER BY e.id DESC LIMIT ?`, id, ActionLoginSucceeded, ActionLoginFailed, PageLoginsLength); err != nil {
		return p, err
	}
	if p.Sessions, err = contactSessions(ctx, tx, id, now, lim); err != nil {
		return p, err
	}
	if p.Contact.ActiveAdmin() {
		var others int
		if err := tx.QueryRowContext(ctx, otherActiveAdmins, p.Contact.AccountID, p.Contact.ID).Scan(&others); err != nil {
			return p, err
		}
		p.LastActiveAdmin = others == 0
	}
	if p.EmailChange, _, err = openEmailChange(ctx, tx, id); err != nil {
		return p, err
	}
	if p.Contact.HasPassword {
		return p, nil
	}
	p.Invitation.Token, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM password_tokens
		WHERE contact_id = ? AND purpose = 'invite' ORDER BY created_at DESC, id DESC LIMIT 1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	err = tx.QueryRowContext(ctx, `SELECT status, last_error FROM outbox WHERE token_id = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`, p.Invitation.Token.ID).Scan(&p.Invitation.MailStatus, &p.Invitation.MailError)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	return p, err
}
