package contacts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portal/auth"
	"portal/db"
)

// Page is a contact's page as its viewer may act on it.
type Page struct {
	db.ContactPage
	// CanLock: Lock this contact is offered. Nobody locks themselves, and the last active
	// contact admin of an account can't be locked (the page says why: LastActiveAdmin).
	CanLock bool
	// CanRemove: Remove this contact is offered, under the same rules as CanLock.
	CanRemove bool
	// InvitationPending: a contact without a password can still set one with its newest link.
	InvitationPending bool
	// EmailChangePending: the new address of EmailChange can still confirm it.
	EmailChangePending bool
	// CanResetTwoFactor: Reset two-step verification is offered (the contact has it, and is
	// not the viewer, who manages its own on Your profile).
	CanResetTwoFactor bool
}

// Page reads the page of contact id in the actor's scope (ErrNotFound outside it).
func (s *Service) Page(ctx context.Context, actor Actor, id int64) (Page, error) {
	p, err := s.store.ContactPage(ctx, actor.Scope, id, s.settings.SessionLimits)
	if err != nil {
		return Page{}, err
	}
	if p.Contact.Status == db.StatusRemoved {
		return Page{}, ErrNotFound // a removed contact has no page: there is nothing left to show
	}
	now := s.store.Now()
	others := id != actor.ID() && !p.LastActiveAdmin
	return Page{ContactPage: p, CanLock: others, CanRemove: others,
		InvitationPending: p.Invitation.Pending(now), EmailChangePending: p.EmailChange.ID != 0 && p.EmailChange.Open(now),
		CanResetTwoFactor: p.Contact.TwoFactor && id != actor.ID()}, nil
}

// List reads one page of one section of All Contacts in the actor's scope.
func (s *Service) List(ctx context.Context, actor Actor, q db.ListQuery) (db.Page, error) {
	return s.store.ListContacts(ctx, actor.Scope, q)
}

// Create adds a contact to an account of the actor's scope, with its audit event and,
// unless a password is given, its set-your-password mail, in one transaction. Only the
// command line gives a password (read from standard input, under the password policy);
// admins on the web never see or set one.
func (s *Service) Create(ctx context.Context, actor Actor, f db.ContactFields, password string) (db.Contact, error) {
	if actor.ID() != 0 {
		if ok, err := s.createLimiter.Allow(ctx, fmt.Sprint(actor.ID())); err != nil || !ok {
			return db.Contact{}, cmp.Or(err, ErrThrottled)
		}
	}
	f = clean(f)
	if err := check(f, actor.Scope, s.store.Now(), time.Time{}); err != nil {
		return db.Contact{}, err
	}
	f.Roles = db.SortedRoles(f.Roles)
	hash := ""
	if password != "" {
		if err := s.policy.Check(password, auth.MinLength(false), auth.ContextWords(f.Email, actor.Scope.Name(f.AccountID), f.FirstName, f.LastName)...); err != nil {
			return db.Contact{}, err
		}
		var err error
		if hash, err = s.hasher.Hash(ctx, password); err != nil {
			return db.Contact{}, err
		}
	}
	created := db.Contact{AccountID: f.AccountID, AccountName: actor.Scope.Name(f.AccountID), FirstName: f.FirstName,
		LastName: f.LastName, Email: f.Email, Phone: f.Phone, JobTitle: f.JobTitle, Roles: f.Roles, HasPassword: hash != ""}
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		created.ID, err = tx.CreateContact(ctx, db.NewContact{ContactFields: f, PasswordHash: hash, CreatedByID: actor.ID()})
		if err != nil {
			return err
		}
		detail := "roles: " + db.RolesDetail(f.Roles)
		if actor.ID() == 0 {
			detail = "created from the command line; " + detail
		}
		if err := tx.Audit(ctx, db.Event{Action: db.ActionContactCreated, ActorID: actor.ID(), TargetID: created.ID,
			AccountID: f.AccountID, RemoteIP: actor.RemoteIP, Detail: detail}); err != nil {
			return err
		}
		if hash != "" {
			return nil
		}
		// The invitation: the running portal's mail worker sends it.
		_, err = tx.IssueLink(ctx, db.LinkRequest{Contact: created, Purpose: db.PurposeInvite, TTL: s.settings.InviteTTL,
			RequestedBy: actor.requestedBy(), RemoteIP: actor.RemoteIP,
			Detail: "set-your-password link"})
		return err
	})
	if errors.Is(err, db.ErrEmailTaken) {
		return db.Contact{}, s.emailTaken(ctx, actor, f.Email)
	}
	if err != nil {
		return db.Contact{}, fmt.Errorf("create contact: %w", err)
	}
	return created, nil
}

// emailTaken is the refusal of an email that is another contact's user name: it names that
// contact only when it lies in the actor's scope. An email of a contact outside the scope
// is audited: a series of them is someone probing which addresses have accounts (Create is
// throttled per admin for the same reason).
func (s *Service) emailTaken(ctx context.Context, actor Actor, email string) error {
	owner, err := s.store.ContactByEmail(ctx, email)
	switch {
	case err == nil && actor.Scope.Contains(owner.AccountID):
		return &EmailTakenError{Owner: &owner}
	case err != nil && !errors.Is(err, db.ErrNotFound):
		return err
	}
	err = s.store.Audit(ctx, db.Event{Action: db.ActionCreateRefused, ActorID: actor.ID(), AccountID: actor.Contact.AccountID,
		RemoteIP: actor.RemoteIP, Detail: "the email " + email + " belongs to a contact outside the organization"})
	return errors.Join(&EmailTakenError{}, err)
}

// Update changes contact id of the actor's scope to f. version is the EditVersion of the
// contact the form was filled from: if someone saved in between, nothing is written and
// the error is ErrEditConflict. An admin can't remove their own Contact admin role, and an
// account keeps at least one active contact admin who can sign in. A new email takes
// effect only when the new address confirms it (SPEC R-EDIT): until then the old one stays
// the user name and is told at once, with a link that cancels the change; the answer is the
// same whether or not the new address is someone's outside the actor's scope. A change of
// the email or the roles needs a fresh proof of the admin (ErrReauthRequired). The audit
// events name the fields that changed. On a refusal the contact comes back as it is
// stored; on success as it is now, with the pending change when the email is to change.
func (s *Service) Update(ctx context.Context, actor Actor, id int64, f db.ContactFields, version string) (Updated, error) {
	typed := clean(f)
	var before db.Contact
	var open, pending db.EmailChange
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		// The transaction may run again (a PostgreSQL serialization failure): every run
		// starts from the fields as typed.
		f, open, pending = typed, db.EmailChange{}, db.EmailChange{}
		var err error
		if before, err = tx.ContactForChange(ctx, actor.Scope, id); err != nil {
			return err
		}
		if err := check(f, actor.Scope, tx.Now(), before.AccessEndsAt); err != nil {
			return err
		}
		f.Roles = db.SortedRoles(f.Roles)
		if open, _, err = tx.OpenEmailChange(ctx, id); err != nil {
			return err
		}
		if version != before.EditVersion(open.NewEmail) {
			return ErrEditConflict
		}
		// A new email or role changes who can sign in as whom, or what they may do: it
		// needs the admin's password or second factor within ReauthWindow (SPEC 3.11).
		changesAccess := db.EmailKey(f.Email) != db.EmailKey(before.Email) || db.RolesDetail(before.Roles) != db.RolesDetail(f.Roles)
		if changesAccess && !actor.Reauthenticated(tx.Now()) {
			return ErrReauthRequired
		}
		losesAdmin := before.IsAdmin() && (!f.HasRole(db.RoleContactAdmin) || f.AccountID != before.AccountID)
		if losesAdmin && id == actor.ID() && !f.HasRole(db.RoleContactAdmin) {
			return ErrDemoteSelf
		}
		if losesAdmin && before.ActiveAdmin() {
			n, err := tx.OtherActiveAdmins(ctx, before.AccountID, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		newEmail := f.Email
		if db.EmailKey(newEmail) != db.EmailKey(before.Email) {
			f.Email = before.Email // the user name stays until the new address confirms
		}
		if changed := changedFields(before, f); len(changed) > 0 {
			if err := tx.UpdateContact(ctx, id, f); err != nil {
				return err
			}
			detail := "changed " + strings.Join(changed, ", ")
			if db.RolesDetail(before.Roles) != db.RolesDetail(f.Roles) {
				detail += "; roles: " + db.RolesDetail(f.Roles)
			}
			if err := tx.Audit(ctx, db.Event{Action: db.ActionContactEdited, ActorID: actor.ID(), TargetID: id,
				AccountID: f.AccountID, RemoteIP: actor.RemoteIP, Detail: detail}); err != nil {
				return err
			}
		}
		if newEmail == f.Email {
			return nil
		}
		if err := notInScope(ctx, tx, actor, id, newEmail); err != nil {
			return err
		}
		if err := withinLinkLimit(ctx, tx, id); err != nil {
			return err
		}
		if pending, err = tx.RequestEmailChange(ctx, before, newEmail, actor.requestedBy()); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionEmailChangeRequested, ActorID: actor.ID(), TargetID: id,
			AccountID: f.AccountID, RemoteIP: actor.RemoteIP, Detail: "to " + newEmail +
				"; it takes effect when the new address confirms it, and " + before.Email + " was told"})
	})
	if err != nil {
		return Updated{Contact: before, EmailChange: open}, err
	}
	after := before
	after.AccountID, after.FirstName, after.LastName, after.Email = f.AccountID, f.FirstName, f.LastName, f.Email
	after.Phone, after.JobTitle, after.Roles, after.AccountName = f.Phone, f.JobTitle, f.Roles, actor.Scope.Name(f.AccountID)
	return Updated{Contact: after, EmailChange: pending}, nil
}

// Updated is a contact as an edit left it, and the change of its email that waits for the
// new address to confirm it (zero when the email did not change).
type Updated struct {
	Contact     db.Contact
	EmailChange db.EmailChange
}

// notInScope is an EmailTakenError naming the contact of the actor's scope other than id
// whose user name email is; nil when there is none. Contacts outside the scope are not
// looked at: what happens to an email of theirs must not tell they exist.
func notInScope(ctx context.Context, tx *db.Tx, actor Actor, id int64, email string) error {
	owner, err := tx.ContactByEmail(ctx, email)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil
	case err != nil:
		return err
	case owner.ID != id && actor.Scope.Contains(owner.AccountID):
		return &EmailTakenError{Owner: &owner}
	}
	return nil
}

// Lock locks contact id of the actor's scope, ends its sessions and voids its links, with
// its audit event. Nobody locks themselves, and an account keeps one active contact admin.
// Of two admins locking at once exactly one changes anything; the other gets
// ErrAlreadyLocked. The page comes back as the attempt left it, also when it was refused.
func (s *Service) Lock(ctx context.Context, actor Actor, id int64) (Page, error) {
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		if id == actor.ID() {
			return ErrLockSelf
		}
		target, err := tx.ContactForChange(ctx, actor.Scope, id)
		if err != nil {
			return err
		}
		admins := 0
		if target.ActiveAdmin() {
			if admins, err = tx.OtherActiveAdmins(ctx, target.AccountID, id); err != nil {
				return err
			}
			admins++
		}
		if err := whyNotLock(target, admins); err != nil {
			return err
		}
		locked, err := tx.LockContact(ctx, id, actor.ID())
		if err != nil {
			return err
		}
		if !locked {
			return ErrAlreadyLocked
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionContactLocked, ActorID: actor.ID(), TargetID: id,
			AccountID: target.AccountID, RemoteIP: actor.RemoteIP})
	})
	return s.pageAfter(ctx, actor, id, err)
}

// whyNotLock is the rule of Lock for a contact other than the admin's own, one at a time or
// many (lockMany): ErrAlreadyLocked or ErrLastAdmin when c may not be locked, with admins
// the active contact admins of its account, c included; nil when it may.
func whyNotLock(c db.Contact, admins int) error {
	switch {
	case c.Locked():
		return ErrAlreadyLocked
	case c.ActiveAdmin() && admins <= 1:
		return ErrLastAdmin
	}
	return nil
}

// Unlock unlocks contact id of the actor's scope and clears its failed-login count, with
// its audit event. A second unlock reports ErrAlreadyActive.
//
// A contact locked because its access ended gets accessEnds as its new access end (zero:
// none); for other locks accessEnds is not used.
func (s *Service) Unlock(ctx context.Context, actor Actor, id int64, accessEnds time.Time) (Page, error) {
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		target, err := tx.ContactForChange(ctx, actor.Scope, id)
		if err != nil {
			return err
		}
		if target.Locked() && target.LockReason == db.LockedAccessEnded {
			if !accessEnds.IsZero() && !accessEnds.After(tx.Now()) {
				return ErrAccessEndsPast
			}
			if err := tx.SetAccessEnds(ctx, id, accessEnds); err != nil {
				return err
			}
		}
		unlocked, err := tx.UnlockContact(ctx, id)
		switch {
		case err != nil:
			return err
		case !unlocked:
			return ErrAlreadyActive
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionContactUnlocked, ActorID: actor.ID(), TargetID: id,
			AccountID: target.AccountID, RemoteIP: actor.RemoteIP})
	})
	return s.pageAfter(ctx, actor, id, err)
}

// pageAfter reads the page of contact id after an action that ended with err, and returns
// it with err: a refusal still shows the contact, as it is now.
func (s *Service) pageAfter(ctx context.Context, actor Actor, id int64, err error) (Page, error) {
	if err != nil && !refusal(err) {
		return Page{}, err
	}
	p, perr := s.Page(ctx, actor, id)
	if perr != nil {
		return Page{}, perr
	}
	return p, err
}

// refusal reports whether err is a rule's answer rather than a failure.
func refusal(err error) bool {
	for _, r := range []error{ErrLockSelf, ErrLastAdmin, ErrAlreadyLocked, ErrAlreadyActive, ErrAccessEndsPast} {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// viewDetail says in the audit log which contacts an export took, when not all.
func viewDetail(v db.ExportView) string {
	var parts []string
	switch {
	case v.IDs != nil:
		parts = append(parts, "selected")
	case v.Status == db.StatusLocked:
		parts = append(parts, "Locked out contacts")
	case v.Status == db.StatusActive:
		parts = append(parts, "Active contacts")
	}
	if v.Search != "" {
		parts = append(parts, fmt.Sprintf("matching %q", v.Search))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// BeginExport opens a snapshot of the contacts of view in the actor's scope (the zero view:
// every contact) for an export in format (a name for the audit log), which holds at most
// maxRows contacts (0: any number), and records the export before the first row leaves: an
// export is on record even if the server stops halfway. The caller closes the snapshot.
func (s *Service) BeginExport(ctx context.Context, actor Actor, format string, maxRows int, view db.ExportView) (*db.Export, error) {
	if len(view.IDs) > MaxBulk {
		return nil, &TooManySelectedError{Max: MaxBulk}
	}
	exp, err := s.store.BeginExport(ctx, actor.Scope, view)
	if err != nil {
		return nil, err
	}
	if maxRows > 0 && exp.Total > maxRows {
		return nil, errors.Join(&TooManyRowsError{Max: maxRows, Total: exp.Total}, exp.Close())
	}
	err = s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		return tx.Audit(ctx, db.Event{Action: db.ActionContactsExported, ActorID: actor.ID(),
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: fmt.Sprintf("%s, %d contacts%s", format, exp.Total, viewDetail(view))})
	})
	if err != nil {
		return nil, errors.Join(err, exp.Close())
	}
	return exp, nil
}
