package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Refusals of the contact admin's actions. The web layer turns each into a sentence.
var (
	ErrAlreadyLocked  = errors.New("contact is already locked")
	ErrAlreadyActive  = errors.New("contact is not locked")
	ErrLockSelf       = errors.New("an admin cannot lock themselves")
	ErrLastAdmin      = errors.New("the last active contact admin of an account must stay one")
	ErrDemoteSelf     = errors.New("an admin cannot remove their own Contact admin role")
	ErrAccountOutside = errors.New("account is not in scope")
	// ErrEditConflict: the contact changed after the edit form was filled (see
	// Contact.EditVersion); nothing was written.
	ErrEditConflict = errors.New("contact was changed since the form was filled")
)

// Actor is who performs an admin action, for the audit log.
type Actor struct {
	ID       int64
	RemoteIP string
}

// scopedTarget reads, inside tx, what the checks of an action need about a contact in sc.
type scopedTarget struct {
	accountID int64
	status    string
	isAdmin   bool
}

func (t *Tx) targetInScope(ctx context.Context, sc Scope, id int64) (scopedTarget, error) {
	var st scopedTarget
	err := t.tx.QueryRowContext(ctx, `
		SELECT account_id, status,
			EXISTS (SELECT 1 FROM contact_roles r WHERE r.contact_id = c.id AND r.role = 'contact_admin')
		FROM contacts c WHERE id = ? AND account_id IN `+sc.inList(), id).Scan(&st.accountID, &st.status, &st.isAdmin)
	if errors.Is(err, sql.ErrNoRows) {
		return st, ErrNotFound
	}
	return st, err
}

// otherActiveAdmins counts the active contact admins of an account other than id.
func (t *Tx) otherActiveAdmins(ctx context.Context, accountID, id int64) (int, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `
		SELECT count(*) FROM contact_roles r JOIN contacts c ON c.id = r.contact_id
		WHERE r.role = 'contact_admin' AND c.account_id = ? AND c.status = 'active' AND c.id <> ?`,
		accountID, id).Scan(&n)
	return n, err
}

// CreateContactInScope creates a contact in an account of sc, with its audit event, in one
// transaction. An account outside sc is refused, whatever the form said. onCreated (may be
// nil) runs in the same transaction: the mail feature queues the invitation there.
func (s *Store) CreateContactInScope(ctx context.Context, sc Scope, actor Actor, n NewContact,
	onCreated func(*Tx, Contact) error) (int64, error) {
	if !sc.Contains(n.AccountID) {
		return 0, ErrAccountOutside
	}
	n.CreatedByID = actor.ID
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		if id, err = tx.CreateContact(ctx, n); err != nil {
			return err
		}
		if err := tx.Audit(ctx, Event{Action: ActionContactCreated, ActorID: actor.ID, TargetID: id,
			AccountID: n.AccountID, RemoteIP: actor.RemoteIP, Detail: "roles: " + rolesDetail(n.Roles)}); err != nil {
			return err
		}
		if onCreated == nil {
			return nil
		}
		return onCreated(tx, Contact{ID: id, AccountID: n.AccountID, FirstName: n.FirstName, LastName: n.LastName,
			Email: strings.TrimSpace(n.Email), Roles: n.Roles, HasPassword: n.PasswordHash != ""})
	})
	if err != nil {
		return 0, fmt.Errorf("store: create contact: %w", err)
	}
	return id, nil
}

// ContactChanges are the editable fields of a contact.
type ContactChanges struct {
	AccountID int64
	FirstName string
	LastName  string
	Email     string
	Phone     string
	JobTitle  string
	Roles     []Role
	// Version is the EditVersion of the contact the form was filled from; the edit is
	// saved only if it is still the stored one.
	Version string
}

// UpdateContactInScope changes a contact of sc. It refuses an edit made from an outdated
// form (ErrEditConflict), moving a contact to an account outside sc, an admin removing
// their own Contact admin role, and leaving an account without an active contact admin.
// The version check, the checks and the write share one BEGIN IMMEDIATE transaction, so no
// other write can come between them. The audit detail names the fields that changed.
func (s *Store) UpdateContactInScope(ctx context.Context, sc Scope, actor Actor, id int64, ch ContactChanges) error {
	if !sc.Contains(ch.AccountID) {
		return ErrAccountOutside
	}
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.targetInScope(ctx, sc, id); err != nil {
			return err
		}
		before, err := scanContact(tx.tx.QueryRowContext(ctx, `SELECT `+contactColumns+contactFrom+`WHERE c.id = ?`, id))
		if err != nil {
			return err
		}
		if ch.Version != before.EditVersion() {
			return ErrEditConflict
		}
		losesAdmin := before.IsAdmin() && (!slices.Contains(ch.Roles, RoleContactAdmin) || ch.AccountID != before.AccountID)
		if losesAdmin && id == actor.ID && !slices.Contains(ch.Roles, RoleContactAdmin) {
			return ErrDemoteSelf
		}
		if losesAdmin && !before.Locked() {
			n, err := tx.otherActiveAdmins(ctx, before.AccountID, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		var changed []string
		note := func(field string, differs bool) {
			if differs {
				changed = append(changed, field)
			}
		}
		note("first name", before.FirstName != ch.FirstName)
		note("last name", before.LastName != ch.LastName)
		note("email", before.Email != strings.TrimSpace(ch.Email))
		note("phone", before.Phone != ch.Phone)
		note("job title", before.JobTitle != ch.JobTitle)
		note("account", before.AccountID != ch.AccountID)
		note("roles", !slices.Equal(before.Roles, sortedRoles(ch.Roles)))
		if len(changed) == 0 {
			return nil
		}
		_, err = tx.tx.ExecContext(ctx, `
			UPDATE contacts SET account_id = ?, first_name = ?, last_name = ?, email = ?, email_key = ?,
				name_key = ?, search_text = ?, phone = ?, job_title = ?, updated_at = ?
			WHERE id = ?`,
			ch.AccountID, ch.FirstName, ch.LastName, strings.TrimSpace(ch.Email), FoldKey(ch.Email),
			NameKey(ch.FirstName, ch.LastName), SearchText(ch.FirstName, ch.LastName, ch.Email), ch.Phone, ch.JobTitle, unix(tx.now), id)
		if isUniqueViolation(err) {
			return ErrEmailTaken
		}
		if err != nil {
			return err
		}
		if err := tx.setRoles(ctx, id, ch.Roles); err != nil {
			return err
		}
		detail := "changed " + strings.Join(changed, ", ")
		if slices.Contains(changed, "roles") {
			detail += "; roles: " + rolesDetail(ch.Roles)
		}
		if FoldKey(before.Email) != FoldKey(ch.Email) {
			// A link mailed to the old address must not set the password of the new owner.
			if err := tx.voidTokens(ctx, id, 0); err != nil {
				return err
			}
			detail += "; open password links voided"
		}
		return tx.Audit(ctx, Event{Action: ActionContactEdited, ActorID: actor.ID, TargetID: id,
			AccountID: ch.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("store: edit contact %d: %w", id, err)
	}
	return nil
}

func sortedRoles(roles []Role) []Role {
	var out []Role
	for _, r := range AllRoles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

func rolesDetail(roles []Role) string {
	if len(roles) == 0 {
		return "none"
	}
	var labels []string
	for _, r := range sortedRoles(roles) {
		labels = append(labels, r.Label())
	}
	return strings.Join(labels, ", ")
}

// LockContact locks a contact of sc, ends its sessions and writes the audit event, all in
// one transaction. The UPDATE is conditional on the contact being active, so of two admins
// locking at once exactly one changes anything; the other gets ErrAlreadyLocked.
func (s *Store) LockContact(ctx context.Context, sc Scope, actor Actor, id int64) error {
	err := s.Write(ctx, func(tx *Tx) error {
		target, err := tx.targetInScope(ctx, sc, id)
		if err != nil {
			return err
		}
		if id == actor.ID {
			return ErrLockSelf
		}
		if target.status == StatusLocked {
			return ErrAlreadyLocked
		}
		if target.isAdmin {
			n, err := tx.otherActiveAdmins(ctx, target.accountID, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		now := unix(tx.now)
		res, err := tx.tx.ExecContext(ctx, `
			UPDATE contacts SET status = 'locked', lock_reason = 'admin', locked_by = ?, locked_at = ?, updated_at = ?
			WHERE id = ? AND status = 'active'`, actor.ID, now, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAlreadyLocked
		}
		if err := tx.EndSessions(ctx, id); err != nil {
			return err
		}
		// Links sent before the lock must not come back to life when it is lifted.
		if err := tx.voidTokens(ctx, id, 0); err != nil {
			return err
		}
		return tx.Audit(ctx, Event{Action: ActionContactLocked, ActorID: actor.ID, TargetID: id,
			AccountID: target.accountID, RemoteIP: actor.RemoteIP})
	})
	if err != nil {
		return fmt.Errorf("store: lock contact %d: %w", id, err)
	}
	return nil
}

// UnlockContact unlocks a contact of sc and clears its failed-login count and lock fields.
// Like LockContact it is conditional, so a second unlock reports ErrAlreadyActive.
func (s *Store) UnlockContact(ctx context.Context, sc Scope, actor Actor, id int64) error {
	err := s.Write(ctx, func(tx *Tx) error {
		target, err := tx.targetInScope(ctx, sc, id)
		if err != nil {
			return err
		}
		res, err := tx.tx.ExecContext(ctx, `
			UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_at = NULL,
				failed_logins = 0, last_failed_at = NULL, updated_at = ?
			WHERE id = ? AND status = 'locked'`, unix(tx.now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrAlreadyActive
		}
		return tx.Audit(ctx, Event{Action: ActionContactUnlocked, ActorID: actor.ID, TargetID: id,
			AccountID: target.accountID, RemoteIP: actor.RemoteIP})
	})
	if err != nil {
		return fmt.Errorf("store: unlock contact %d: %w", id, err)
	}
	return nil
}

// History lists the audit events about a contact of sc, newest first.
func (s *Store) History(ctx context.Context, sc Scope, contactID int64, limit int) ([]Event, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT e.id, e.at, e.action, coalesce(e.actor_id, 0), coalesce(e.target_id, 0), coalesce(e.account_id, 0),
			e.detail, coalesce((SELECT a.first_name || ' ' || a.last_name FROM contacts a WHERE a.id = e.actor_id), '')
		FROM audit_events e
		WHERE e.target_id = ? AND EXISTS (SELECT 1 FROM contacts c WHERE c.id = e.target_id AND c.account_id IN `+sc.inList()+`)
		ORDER BY e.id DESC LIMIT ?`, contactID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: history of contact %d: %w", contactID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorID, &e.TargetID, &e.AccountID, &e.Detail, &e.ActorName); err != nil {
			return nil, fmt.Errorf("store: history of contact %d: %w", contactID, err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// IsLastActiveAdmin reports whether c is the only active contact admin of its account: the
// one contact that can't be locked out (the details page then offers no lock button).
func (s *Store) IsLastActiveAdmin(ctx context.Context, c Contact) (bool, error) {
	if !c.IsAdmin() || c.Locked() {
		return false, nil
	}
	var n int
	err := s.read.QueryRowContext(ctx, `
		SELECT count(*) FROM contact_roles r JOIN contacts c ON c.id = r.contact_id
		WHERE r.role = 'contact_admin' AND c.account_id = ? AND c.status = 'active' AND c.id <> ?`,
		c.AccountID, c.ID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: admins of account %d: %w", c.AccountID, err)
	}
	return n == 0, nil
}
