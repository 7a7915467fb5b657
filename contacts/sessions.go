package contacts

import (
	"context"
	"fmt"

	"portal/db"
)

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
