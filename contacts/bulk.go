package contacts

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"portal/db"
)

// Actions on many contacts at once (SPEC 3.8, 3.10): the same rules as on one, applied to
// each, in batches that keep the writer responsive. Each batch is its own transaction, and
// every action leaves alone what is already as it would make it, so running it again after
// a failure finishes it.

// BulkBatch is how many contacts one transaction of a bulk action changes.
const BulkBatch = 500

// SkipReason says why a bulk action left a contact alone, in words for the list after it.
type SkipReason string

// The reasons of SPEC 3.8.
const (
	SkipYourself      SkipReason = "You can't lock yourself out."
	SkipLastAdmin     SkipReason = "The last active contact admin of its account."
	SkipAlreadyLocked SkipReason = "Already locked out."
	SkipNotLocked     SkipReason = "Not locked out."
	SkipLocked        SkipReason = "Locked out, so no reset link was sent."
	SkipNoPassword    SkipReason = "No password set yet: resend the invitation instead."
	SkipMailLimit     SkipReason = "The hourly limit of emails with links was reached."
	SkipOutsideScope  SkipReason = "Not a contact of your organization."
	SkipNotOrgLocked  SkipReason = "Locked out for another reason than Lock organization."
	SkipAccessEnded   SkipReason = "Its access has ended: unlock it on its own page to give it a new date."
)

// Skip is a contact a bulk action left alone, and why.
type Skip struct {
	ID     int64
	Name   string // "" when the contact is outside the actor's scope (nothing is told of it)
	Reason SkipReason
}

// BulkResult is what a bulk action did: how many contacts it changed, and who it left alone.
type BulkResult struct {
	Done    int
	Skipped []Skip
	// Stopped: the action failed part way (ErrBulkStopped). NotReached is how many contacts
	// it never came to: they are as they were.
	Stopped    bool
	NotReached int
}

// ErrBulkStopped: a bulk action failed after some of its batches were done. Those stay done;
// the BulkResult that comes with it says how far the action got. Doing it again finishes
// it: what is done already is skipped.
var ErrBulkStopped = errors.New("the action stopped part way")

func (r *BulkResult) add(other BulkResult) {
	r.Done += other.Done
	r.Skipped = append(r.Skipped, other.Skipped...)
}

// LockContacts is Lock out on the selected contacts ids (SPEC 3.8).
func (s *Service) LockContacts(ctx context.Context, actor Actor, ids []int64) (BulkResult, error) {
	return s.lockMany(ctx, actor, ids, db.LockedByAdmin, 0)
}

// UnlockContacts is Unlock on the selected contacts ids: every lock is lifted but one that
// ended the contact's access, which asks for a new date on the contact's own page.
func (s *Service) UnlockContacts(ctx context.Context, actor Actor, ids []int64) (BulkResult, error) {
	return s.unlockMany(ctx, actor, ids, SkipAccessEnded, db.LockedByAdmin, db.LockedByFailedLogins, db.LockedWithOrganization)
}

// SendResetLinks is Send reset links on the selected contacts ids: a reset link to each
// active contact that has a password, under the hourly limit of links per contact.
func (s *Service) SendResetLinks(ctx context.Context, actor Actor, ids []int64) (BulkResult, error) {
	return s.inBatches(ctx, actor, ids, "send reset links", func(tx *db.Tx, found []db.Contact, r *BulkResult) error {
		for _, c := range found {
			if c.Locked() {
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipLocked})
				continue
			}
			if !c.HasPassword {
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipNoPassword})
				continue
			}
			var tooMany *TooManyLinksError
			if err := withinLinkLimit(ctx, tx, c.ID); errors.As(err, &tooMany) {
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipMailLimit})
				continue
			} else if err != nil {
				return err
			}
			if _, err := tx.IssueLink(ctx, db.LinkRequest{Contact: c, Purpose: db.PurposeReset, TTL: db.ResetLinkTTL,
				RequestedBy: actor.requestedBy(), RemoteIP: actor.RemoteIP,
				Detail: "by " + actor.Contact.Name() + " (Send reset links)"}); err != nil {
				return err
			}
			r.Done++
		}
		return nil
	})
}

// lockSkips are the reasons of a skip for the refusals of whyNotLock.
var lockSkips = map[error]SkipReason{ErrAlreadyLocked: SkipAlreadyLocked, ErrLastAdmin: SkipLastAdmin}

// lockMany locks the contacts ids of the actor's scope with reason (db.LockedByAdmin, or
// db.LockedWithOrganization with org), batch by batch, under the rules of Lock: never the
// actor, never the last active contact admin of an account, one audit row per contact.
func (s *Service) lockMany(ctx context.Context, actor Actor, ids []int64, reason string, org int64) (BulkResult, error) {
	return s.inBatches(ctx, actor, ids, "lock contacts", func(tx *db.Tx, found []db.Contact, r *BulkResult) error {
		var accounts []int64
		for _, c := range found {
			accounts = append(accounts, c.AccountID)
		}
		admins, err := tx.ActiveAdmins(ctx, accounts)
		if err != nil {
			return err
		}
		var lock []int64
		for _, c := range found {
			if c.ID == actor.ID() {
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipYourself})
				continue
			}
			if err := whyNotLock(c, admins[c.AccountID]); err != nil {
				reason, ok := lockSkips[err]
				if !ok {
					return err
				}
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), reason})
				continue
			}
			if c.ActiveAdmin() {
				admins[c.AccountID]--
			}
			lock = append(lock, c.ID)
		}
		locked, err := tx.LockContacts(ctx, lock, actor.ID(), reason, org)
		if err != nil {
			return err
		}
		r.Done = len(locked)
		detail := ""
		if reason == db.LockedWithOrganization {
			detail = "with its organization " + actor.Scope.Name(org)
		}
		return auditEach(ctx, tx, actor, found, locked, db.ActionContactLocked, detail)
	})
}

// unlockMany unlocks the contacts ids of the actor's scope that are locked for one of
// reasons, batch by batch, with one audit row per contact.
func (s *Service) unlockMany(ctx context.Context, actor Actor, ids []int64, skipOthers SkipReason, reasons ...string) (BulkResult, error) {
	return s.inBatches(ctx, actor, ids, "unlock contacts", func(tx *db.Tx, found []db.Contact, r *BulkResult) error {
		var unlock []int64
		for _, c := range found {
			switch {
			case !c.Locked():
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipNotLocked})
			case c.LockReason == db.LockedAccessEnded && !slices.Contains(reasons, db.LockedAccessEnded):
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), SkipAccessEnded})
			case !slices.Contains(reasons, c.LockReason):
				r.Skipped = append(r.Skipped, Skip{c.ID, c.Name(), skipOthers})
			default:
				unlock = append(unlock, c.ID)
			}
		}
		unlocked, err := tx.UnlockContacts(ctx, unlock, reasons...)
		if err != nil {
			return err
		}
		r.Done = len(unlocked)
		return auditEach(ctx, tx, actor, found, unlocked, db.ActionContactUnlocked, "")
	})
}

// inBatches runs step on the contacts ids of the actor's scope, a batch at a time, each batch
// in a write transaction of its own that keeps the writer free for others in between. step
// sees the batch's contacts as they are now (a contact changed meanwhile is taken as it is),
// with r holding the ids not found in the scope already. A batch that fails ends the action;
// those before it stay done (ErrBulkStopped, with how far it got), and the actions are
// idempotent, so running it again finishes it.
func (s *Service) inBatches(ctx context.Context, actor Actor, ids []int64, what string,
	step func(tx *db.Tx, found []db.Contact, r *BulkResult) error) (BulkResult, error) {
	var result BulkResult
	reached := 0
	for batch := range slices.Chunk(ids, BulkBatch) {
		var r BulkResult
		err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
			found, err := tx.ContactsForChange(ctx, actor.Scope, batch)
			if err != nil {
				return err
			}
			r = BulkResult{Skipped: outsideScope(batch, found)}
			return step(tx, found, &r)
		})
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
			if reached > 0 {
				result.Stopped, result.NotReached = true, len(ids)-reached
				err = fmt.Errorf("%w: %w", ErrBulkStopped, err)
			}
			return result, err
		}
		result.add(r)
		reached += len(batch)
	}
	return result, nil
}

// outsideScope are the ids that were asked for but not found in the actor's scope.
func outsideScope(asked []int64, found []db.Contact) []Skip {
	in := make(map[int64]bool, len(found))
	for _, c := range found {
		in[c.ID] = true
	}
	var skips []Skip
	for _, id := range asked {
		if !in[id] {
			skips = append(skips, Skip{ID: id, Reason: SkipOutsideScope})
		}
	}
	return skips
}

// auditEach writes action's audit row for every contact of found whose id is in changed,
// all in one statement.
func auditEach(ctx context.Context, tx *db.Tx, actor Actor, found []db.Contact, changed []int64, action, detail string) error {
	done := make(map[int64]bool, len(changed))
	for _, id := range changed {
		done[id] = true
	}
	events := make([]db.Event, 0, len(changed))
	for _, c := range found {
		if done[c.ID] {
			events = append(events, db.Event{Action: action, ActorID: actor.ID(), TargetID: c.ID, AccountID: c.AccountID,
				RemoteIP: actor.RemoteIP, Detail: detail})
		}
	}
	return tx.AuditAll(ctx, events)
}

// MaxBulk is how many contacts one bulk action takes at most (SPEC 3.8).
const MaxBulk = 10_000

// Selection is what a bulk action is asked for: the contacts ticked on one page of All
// Contacts, or, with All ("Select all N matching contacts"), every contact of a section
// under a search. Its confirmation counts them; the action takes those it counted.
type Selection struct {
	IDs     []int64
	All     bool
	Section string // db.StatusActive or db.StatusLocked
	Search  string
}

// Selected resolves sel to the ids of the contacts it names in the actor's scope, in id
// order: ErrNothingSelected when none, a TooManySelectedError beyond MaxBulk.
func (s *Service) Selected(ctx context.Context, actor Actor, sel Selection) ([]int64, error) {
	var ids []int64
	if sel.All {
		var err error
		if ids, err = s.store.MatchingIDs(ctx, actor.Scope, sel.Section, sel.Search, MaxBulk+1); err != nil {
			return nil, err
		}
	} else {
		ids = slices.Clone(sel.IDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	switch {
	case len(ids) == 0:
		return nil, ErrNothingSelected
	case len(ids) > MaxBulk:
		return nil, &TooManySelectedError{Max: MaxBulk}
	}
	return ids, nil
}
