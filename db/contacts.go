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
	ID           int64
	AccountID    int64
	AccountName  string
	FirstName    string
	LastName     string
	Email        string
	Phone        string
	JobTitle     string
	Roles        []Role
	Status       string
	LockReason   string
	LockedByID   int64
	LockedByName string
	LockedAt     time.Time
	FailedLogins int
	LastFailedAt time.Time
	LastLoginAt  time.Time
	CreatedByID  int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	HasPassword  bool
}

// Name is how the contact is addressed on screen: "First Last".
func (c Contact) Name() string { return strings.TrimSpace(c.FirstName + " " + c.LastName) }

// HasRole reports whether the contact holds r.
func (c Contact) HasRole(r Role) bool { return slices.Contains(c.Roles, r) }

// IsAdmin reports whether the contact may manage contacts.
func (c Contact) IsAdmin() bool { return c.HasRole(RoleContactAdmin) }

// Locked reports whether the contact is locked out.
func (c Contact) Locked() bool { return c.Status == StatusLocked }

// EditVersion fingerprints the fields the Edit contact form changes. The form carries it,
// and UpdateContactInScope refuses an edit whose form was filled from other values (someone
// saved in between), so that a save from an older form never silently undoes a newer one.
// A fingerprint of the values rather than a counter: whatever writes these fields changes
// it without having to remember to, and lock, unlock and logins (which the form does not
// show) do not make an open form stale.
func (c Contact) EditVersion() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %q %q %q %q %q %q", c.AccountID, c.FirstName, c.LastName, c.Email, c.Phone, c.JobTitle,
		sortedRoles(c.Roles))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// contactColumns selects every field of Contact; scanContact reads them in this order.
const contactColumns = `
	c.id, c.account_id, a.name, c.first_name, c.last_name, c.email, c.phone, c.job_title,
	coalesce((SELECT group_concat(role, ',') FROM contact_roles r WHERE r.contact_id = c.id), ''),
	c.status, c.lock_reason, coalesce(c.locked_by, 0),
	coalesce((SELECT l.first_name || ' ' || l.last_name FROM contacts l WHERE l.id = c.locked_by), ''),
	c.locked_at, c.failed_logins, c.last_failed_at, c.last_login_at, coalesce(c.created_by, 0),
	c.created_at, c.updated_at, c.password_hash <> ''`

const contactFrom = ` FROM contacts c JOIN accounts a ON a.id = c.account_id `

type rowScanner interface{ Scan(dest ...any) error }

// scanContact reads the columns of contactColumns, then any extra columns into extra.
func scanContact(row rowScanner, extra ...any) (Contact, error) {
	var c Contact
	var roles string
	var lockedAt, lastFailed, lastLogin sql.NullInt64
	var created, updated int64
	err := row.Scan(append([]any{&c.ID, &c.AccountID, &c.AccountName, &c.FirstName, &c.LastName, &c.Email,
		&c.Phone, &c.JobTitle, &roles, &c.Status, &c.LockReason, &c.LockedByID, &c.LockedByName,
		&lockedAt, &c.FailedLogins, &lastFailed, &lastLogin, &c.CreatedByID, &created, &updated,
		&c.HasPassword}, extra...)...)
	if err != nil {
		return Contact{}, err
	}
	c.Roles = parseRoles(roles)
	c.LockedAt = timeOrZero(lockedAt)
	c.LastFailedAt = timeOrZero(lastFailed)
	c.LastLoginAt = timeOrZero(lastLogin)
	c.CreatedAt = time.Unix(created, 0).UTC()
	c.UpdatedAt = time.Unix(updated, 0).UTC()
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
	AccountID    int64
	FirstName    string
	LastName     string
	Email        string
	Phone        string
	JobTitle     string
	Roles        []Role
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
	res, err := t.tx.ExecContext(ctx, `
		INSERT INTO contacts(account_id, tenant_id, first_name, last_name, email, email_key, name_key, search_text, phone,
			job_title, password_hash, password_changed_at, created_by, created_at, updated_at)
		VALUES (?1, (SELECT tenant_id FROM accounts WHERE id = ?1), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.AccountID, n.FirstName, n.LastName, strings.TrimSpace(n.Email), FoldKey(n.Email),
		NameKey(n.FirstName, n.LastName), SearchText(n.FirstName, n.LastName, n.Email), n.Phone, n.JobTitle, n.PasswordHash, changedAt,
		nullID(n.CreatedByID), now, now)
	if isUniqueViolation(err) {
		return 0, ErrEmailTaken
	}
	if err != nil {
		return 0, fmt.Errorf("store: create contact %q: %w", n.Email, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
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
			`INSERT OR IGNORE INTO contact_roles(contact_id, role) VALUES (?, ?)`, contactID, string(r)); err != nil {
			return fmt.Errorf("store: roles of contact %d: %w", contactID, err)
		}
	}
	return nil
}

// ContactByID reads one contact without a scope: for the signed-in contact itself and for
// code that already holds the id from a trusted place (a session, a token). Handlers acting
// on other contacts use ContactInScope.
func (s *Store) ContactByID(ctx context.Context, id int64) (Contact, error) {
	c, err := scanContact(s.read.QueryRowContext(ctx, `SELECT `+contactColumns+contactFrom+`WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, ErrNotFound
	}
	if err != nil {
		return Contact{}, fmt.Errorf("store: contact %d: %w", id, err)
	}
	return c, nil
}

// ContactInScope reads one contact if it belongs to an account in sc; otherwise ErrNotFound.
func (s *Store) ContactInScope(ctx context.Context, sc Scope, id int64) (Contact, error) {
	c, err := scanContact(s.read.QueryRowContext(ctx,
		`SELECT `+contactColumns+contactFrom+`WHERE c.id = ? AND c.account_id IN `+sc.inList(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, ErrNotFound
	}
	if err != nil {
		return Contact{}, fmt.Errorf("store: contact %d: %w", id, err)
	}
	return c, nil
}

// ContactByEmail finds a contact by email, case-insensitively, across the whole portal.
func (s *Store) ContactByEmail(ctx context.Context, email string) (Contact, error) {
	c, err := scanContact(s.read.QueryRowContext(ctx,
		`SELECT `+contactColumns+contactFrom+`WHERE c.email_key = ?`, FoldKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, ErrNotFound
	}
	if err != nil {
		return Contact{}, fmt.Errorf("store: contact by email: %w", err)
	}
	return c, nil
}

// PasswordHash returns the stored PHC string of a contact ("" when none is set).
func (s *Store) PasswordHash(ctx context.Context, contactID int64) (string, error) {
	var h string
	err := s.read.QueryRowContext(ctx, `SELECT password_hash FROM contacts WHERE id = ?`, contactID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return h, err
}
