package contacts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"portal/db"
)

// A contact's whole life (SPEC R-LIFECYCLE): access that ends on a date, organizations
// locked and unlocked at once, and removal with erasure.

var (
	// ErrAccessEndsPast: an access end must lie ahead (or be left empty).
	ErrAccessEndsPast = errors.New("the access end is not in the future")
	// ErrNotChildOrganization: Lock organization is for the organizations below the admin's
	// own account.
	ErrNotChildOrganization = errors.New("not a child organization of the admin's account")
	// ErrRemoveSelf: nobody removes themselves.
	ErrRemoveSelf = errors.New("an admin cannot remove themselves")
)

// accessEndsJobBatch is how many contacts the access job locks in one transaction.
const accessEndsJobBatch = 200

// EndExpiredAccess locks every active contact whose access has ended, with the reason
// "Access ended on <date>", ends its sessions and links, and audits it. The server runs it
// every few seconds; on PostgreSQL several servers may run it at once, and each contact is
// locked by exactly one of them. It returns how many it locked.
func (s *Service) EndExpiredAccess(ctx context.Context) (int, error) {
	total := 0
	for {
		var ended []db.AccessEnded
		err := s.store.Write(ctx, func(tx *db.Tx) error {
			var err error
			if ended, err = tx.EndExpiredAccess(ctx, accessEndsJobBatch); err != nil {
				return err
			}
			for _, e := range ended {
				if err := tx.Audit(ctx, db.Event{Action: db.ActionAccessEnded, TargetID: e.ID, AccountID: e.AccountID,
					Detail: "Access ended on " + e.At.Format("2 Jan 2006, 15:04 UTC")}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("end expired access: %w", err)
		}
		total += len(ended)
		if len(ended) < accessEndsJobBatch {
			return total, nil
		}
	}
}

// accessEnded reports whether c's access has ended at now: it has, from the second it ends.
func accessEnded(c db.Contact, now time.Time) bool {
	return !c.AccessEndsAt.IsZero() && !now.Before(c.AccessEndsAt)
}

// Organization is a child organization of the actor's account as the Organizations page
// shows it, with how many of its contacts (its own and its children's) are in each state.
type Organization struct {
	db.Account
	db.OrganizationCounts
}

// Organizations lists the organizations below the actor's own account, in the scope's order.
func (s *Service) Organizations(ctx context.Context, actor Actor) ([]Organization, error) {
	counts, err := s.store.OrganizationCounts(ctx, actor.Scope)
	if err != nil {
		return nil, err
	}
	var out []Organization
	for _, a := range actor.Scope.Accounts()[1:] {
		out = append(out, Organization{Account: a, OrganizationCounts: counts[a.ID]})
	}
	return out, nil
}

// Organization reads one organization below the actor's own account (ErrNotFound outside
// the scope, ErrNotChildOrganization for the actor's own).
func (s *Service) Organization(ctx context.Context, actor Actor, id int64) (Organization, error) {
	if !actor.Scope.Contains(id) {
		return Organization{}, ErrNotFound
	}
	if id == actor.Scope.Root().ID {
		return Organization{}, ErrNotChildOrganization
	}
	all, err := s.Organizations(ctx, actor)
	if err != nil {
		return Organization{}, err
	}
	for _, o := range all {
		if o.ID == id {
			return o, nil
		}
	}
	return Organization{}, ErrNotFound
}

// LockOrganization locks every active contact of organization id (a child organization of
// the actor's account) and of the organizations below it, under the rules of Lock: never
// the actor, never the last active contact admin of an account (they are skipped, and
// listed). One audit row per contact, and one for the organization.
func (s *Service) LockOrganization(ctx context.Context, actor Actor, id int64) (BulkResult, error) {
	org, err := s.Organization(ctx, actor, id)
	if err != nil {
		return BulkResult{}, err
	}
	ids, err := s.store.OrganizationContacts(ctx, actor.Scope, id, db.StatusActive, false)
	if err != nil {
		return BulkResult{}, err
	}
	r, err := s.lockMany(ctx, actor, ids, db.LockedWithOrganization, id)
	if err != nil {
		return r, err
	}
	return s.auditOrganization(ctx, r, len(ids), db.Event{Action: db.ActionOrganizationLocked, ActorID: actor.ID(), AccountID: id,
		RemoteIP: actor.RemoteIP, Detail: fmt.Sprintf("%s: %d contacts locked out, %d left as they were", org.Name, r.Done, len(r.Skipped))})
}

// UnlockOrganization lifts the locks that Lock organization made on organization id: the
// contacts locked for another reason stay locked.
func (s *Service) UnlockOrganization(ctx context.Context, actor Actor, id int64) (BulkResult, error) {
	org, err := s.Organization(ctx, actor, id)
	if err != nil {
		return BulkResult{}, err
	}
	ids, err := s.store.OrganizationContacts(ctx, actor.Scope, id, db.StatusLocked, true)
	if err != nil {
		return BulkResult{}, err
	}
	r, err := s.unlockMany(ctx, actor, ids, SkipNotOrgLocked, db.LockedWithOrganization)
	if err != nil {
		return r, err
	}
	return s.auditOrganization(ctx, r, len(ids), db.Event{Action: db.ActionOrganizationUnlocked, ActorID: actor.ID(), AccountID: id,
		RemoteIP: actor.RemoteIP, Detail: fmt.Sprintf("%s: %d contacts unlocked", org.Name, r.Done)})
}

// auditOrganization records e, what Lock or Unlock organization did to its n contacts
// (each of which has its own row already). If that fails after the contacts' batches are
// done, the action stopped part way: doing it again records it.
func (s *Service) auditOrganization(ctx context.Context, r BulkResult, n int, e db.Event) (BulkResult, error) {
	err := s.store.Audit(ctx, e)
	if err != nil && n > 0 {
		r.Stopped = true
		err = fmt.Errorf("%w: %w", ErrBulkStopped, err)
	}
	return r, err
}

// RemovalPage reads the page of contact id of the actor's scope to confirm Remove this
// contact, refused as Remove would refuse it: yourself (ErrRemoveSelf), the last active
// contact admin (ErrLastAdmin).
func (s *Service) RemovalPage(ctx context.Context, actor Actor, id int64) (Page, error) {
	p, err := s.Page(ctx, actor, id)
	switch {
	case err != nil:
		return p, err
	case id == actor.ID():
		return p, ErrRemoveSelf
	case p.LastActiveAdmin:
		return p, ErrLastAdmin
	}
	return p, nil
}

// Remove removes contact id of the actor's scope: its personal data is erased and its
// sessions, links and queued mail end, in one transaction; the audit log keeps its rows,
// naming it "Removed contact #id". Nobody removes themselves, and an account keeps an active
// contact admin who can sign in. The admin must have proved who they are within ReauthWindow
// (ErrReauthRequired). It returns the contact as it was.
func (s *Service) Remove(ctx context.Context, actor Actor, id int64) (db.Contact, error) {
	var target db.Contact
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		var err error
		if target, err = tx.ContactForChange(ctx, actor.Scope, id); err != nil {
			return err
		}
		switch {
		case id == actor.ID():
			return ErrRemoveSelf
		case !actor.Reauthenticated(tx.Now()):
			return ErrReauthRequired
		case target.ActiveAdmin():
			n, err := tx.OtherActiveAdmins(ctx, target.AccountID, id)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrLastAdmin
			}
		}
		if err := tx.RemoveContact(ctx, target); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionContactRemoved, ActorID: actor.ID(), TargetID: id,
			AccountID: target.AccountID, RemoteIP: actor.RemoteIP, Detail: "personal data erased"})
	})
	return target, err
}
