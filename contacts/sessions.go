package contacts

import (
	"context"
	"fmt"

	"portal/db"
)

// LoginHistoryLength is how many sign-ins and failed sign-ins a contact's page lists.
const LoginHistoryLength = 20

// Access is where a contact is signed in and how its sign-ins went (SPEC R-LIFECYCLE): its
// live sessions, most recently active first, and its last LoginHistoryLength sign-ins and
// failures from the audit log, newest first.
type Access struct {
	Sessions []db.ContactSession
	Logins   []db.Event
}

// access reads the Access of contact id, which the caller found in the actor's scope.
func (s *Service) access(ctx context.Context, actor Actor, id int64) (Access, error) {
	sessions, err := s.store.ContactSessions(ctx, id, s.settings.SessionLimits)
	if err != nil {
		return Access{}, err
	}
	logins, err := s.store.LoginHistory(ctx, actor.Scope, id, LoginHistoryLength)
	if err != nil {
		return Access{}, err
	}
	return Access{Sessions: sessions, Logins: logins}, nil
}

// SignOutEverywhere ends every session of contact id of the actor's scope, with its audit
// event, and reports how many it ended (none: nothing is recorded). On their own page an
// admin keeps the session they act from (current, its id hash): everywhere else ends, and
// they stay to read the confirmation. The page comes back as it is afterwards.
func (s *Service) SignOutEverywhere(ctx context.Context, actor Actor, id int64, current []byte) (Page, int64, error) {
	var ended int64
	err := s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		target, err := tx.ContactForChange(ctx, actor.Scope, id)
		if err != nil {
			return err
		}
		var keep []byte
		if id == actor.ID() {
			keep = current
		}
		if ended, err = tx.EndSessionsBut(ctx, id, keep); err != nil || ended == 0 {
			return err
		}
		detail := fmt.Sprintf("%d sessions ended", ended)
		if ended == 1 {
			detail = "1 session ended"
		}
		if keep != nil {
			detail += "; the admin's own stayed"
		}
		return tx.Audit(ctx, db.Event{Action: db.ActionSignedOutEverywhere, ActorID: actor.ID(), TargetID: id,
			AccountID: target.AccountID, RemoteIP: actor.RemoteIP, Detail: detail})
	})
	if err != nil {
		return Page{}, 0, fmt.Errorf("sign out contact %d everywhere: %w", id, err)
	}
	p, err := s.Page(ctx, actor, id)
	return p, ended, err
}
