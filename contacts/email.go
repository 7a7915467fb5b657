package contacts

import (
	"context"
	"errors"

	"portal/db"
)

// ErrEmailInUse: the new address of an email change became another contact's user name
// before it was confirmed. Nothing changed; the change can be cancelled or asked again.
var ErrEmailInUse = errors.New("the new email address is another contact's user name")

// ErrNoEmailChange: the contact has no email change waiting.
var ErrNoEmailChange = errors.New("no email change is waiting")

// EmailChangeLink is an email change as its confirmation or cancel link shows it.
type EmailChangeLink struct {
	Change  db.EmailChange
	Contact db.Contact
}

// OpenEmailChangeLink reads the email change of the confirmation (confirm) or cancel link
// token raw without using it: mail scanners open links. ErrLinkInvalid when it can't be
// used now (unknown, expired, confirmed, cancelled or replaced).
func (s *Service) OpenEmailChangeLink(ctx context.Context, raw string, confirm bool) (EmailChangeLink, error) {
	ch, err := s.store.EmailChangeByLink(ctx, raw, confirm)
	if err != nil {
		return EmailChangeLink{}, err
	}
	c, err := s.store.ContactByID(ctx, ch.ContactID)
	if errors.Is(err, db.ErrNotFound) {
		return EmailChangeLink{}, ErrLinkInvalid
	}
	return EmailChangeLink{Change: ch, Contact: c}, err
}

// ConfirmEmailChange makes the new address of the email change of link raw the contact's
// user name. Every session of the contact ends and its open password links are voided: they
// were made for, or mailed to, the old address. ErrEmailInUse when the new address became
// someone else's meanwhile (nothing changes, and the attempt is audited).
func (s *Service) ConfirmEmailChange(ctx context.Context, raw, remoteIP string) (EmailChangeLink, error) {
	var link EmailChangeLink
	err := s.store.Write(ctx, func(tx *db.Tx) error {
		var err error
		if link.Change, err = tx.UseEmailChangeLink(ctx, raw, true); err != nil {
			return err
		}
		if link.Contact, err = tx.ContactByID(ctx, link.Change.ContactID); err != nil {
			return err
		}
		if err := tx.SetEmail(ctx, link.Contact, link.Change.NewEmail); err != nil {
			return err
		}
		if err := tx.EndSessions(ctx, link.Contact.ID); err != nil {
			return err
		}
		if err := tx.VoidLinks(ctx, link.Contact.ID); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionEmailChangeConfirmed, ActorID: link.Contact.ID,
			TargetID: link.Contact.ID, AccountID: link.Contact.AccountID, RemoteIP: remoteIP,
			Detail: "from " + link.Contact.Email + " to " + link.Change.NewEmail + "; sessions ended, password links voided"})
	})
	if errors.Is(err, db.ErrEmailTaken) {
		auditErr := s.store.Audit(ctx, db.Event{Action: db.ActionEmailChangeFailed, TargetID: link.Contact.ID,
			AccountID: link.Contact.AccountID, RemoteIP: remoteIP,
			Detail: "the new address " + link.Change.NewEmail + " is another contact's user name"})
		return link, errors.Join(ErrEmailInUse, auditErr)
	}
	return link, err
}

// CancelEmailChangeByLink cancels the email change of the cancel link raw, the one mailed
// to the old address.
func (s *Service) CancelEmailChangeByLink(ctx context.Context, raw, remoteIP string) error {
	return s.store.Write(ctx, func(tx *db.Tx) error {
		ch, err := tx.UseEmailChangeLink(ctx, raw, false)
		if err != nil {
			return err
		}
		c, err := tx.ContactByID(ctx, ch.ContactID)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionEmailChangeCancelled, ActorID: c.ID, TargetID: c.ID,
			AccountID: c.AccountID, RemoteIP: remoteIP, Detail: "the change to " + ch.NewEmail + " was cancelled from the old address"})
	})
}

// ResendEmailChange asks the new address of the waiting email change of contact id again,
// with a fresh link valid for db.EmailChangeTTL (the older links stop working), and tells
// the old address again. It counts toward the contact's hourly limit of links.
func (s *Service) ResendEmailChange(ctx context.Context, actor Actor, id int64) (db.EmailChange, error) {
	var ch db.EmailChange
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		c, open, err := waitingChange(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if err := withinLinkLimit(ctx, tx, id); err != nil {
			return err
		}
		if ch, err = tx.RequestEmailChange(ctx, c, open.NewEmail, actor.requestedBy()); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionEmailChangeRequested, ActorID: actor.ID(), TargetID: id,
			AccountID: c.AccountID, RemoteIP: actor.RemoteIP, Detail: "to " + ch.NewEmail + "; sent again"})
	})
	return ch, err
}

// CancelEmailChange cancels the waiting email change of contact id of the actor's scope.
func (s *Service) CancelEmailChange(ctx context.Context, actor Actor, id int64) error {
	return s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		c, open, err := waitingChange(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if err := tx.CancelEmailChanges(ctx, id); err != nil {
			return err
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionEmailChangeCancelled, ActorID: actor.ID(), TargetID: id,
			AccountID: c.AccountID, RemoteIP: actor.RemoteIP, Detail: "the change to " + open.NewEmail + " was cancelled"})
	})
}

// waitingChange reads contact id of the actor's scope and its email change that waits for
// the new address (ErrNoEmailChange when there is none).
func waitingChange(ctx context.Context, tx *db.Tx, actor Actor, id int64) (db.Contact, db.EmailChange, error) {
	c, err := tx.ContactForChange(ctx, actor.Scope, id)
	if err != nil {
		return db.Contact{}, db.EmailChange{}, err
	}
	open, ok, err := tx.OpenEmailChange(ctx, id)
	if err == nil && !ok {
		err = ErrNoEmailChange
	}
	return c, open, err
}
