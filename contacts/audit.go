package contacts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"portal/db"
)

// MaxContactChoices is how many contacts the audit log's contact filter offers in a list:
// a scope with more is filtered from a contact's own page ("See all in the audit log").
const MaxContactChoices = 500

// AuditLog reads one page of the audit log of the actor's scope that f lets through, newest
// first, after the event before (0: the newest). A filter by contact names a contact of the
// scope (ErrNotFound otherwise, the same for one that does not exist), which comes back for
// the page to name.
func (s *Service) AuditLog(ctx context.Context, actor Actor, f db.AuditFilter, before int64, limit int) ([]db.Event, db.Contact, error) {
	contact, err := s.filterContact(ctx, actor, f)
	if err != nil {
		return nil, db.Contact{}, err
	}
	events, err := s.store.AuditLog(ctx, actor.Scope, f, before, limit)
	return events, contact, err
}

// filterContact reads the contact f filters by, in the actor's scope; zero without one.
func (s *Service) filterContact(ctx context.Context, actor Actor, f db.AuditFilter) (db.Contact, error) {
	if f.ContactID == 0 {
		return db.Contact{}, nil
	}
	return s.store.AuditedContact(ctx, actor.Scope, f.ContactID)
}

// AuditContacts are the contacts the audit log's filter offers to choose from: the scope's,
// by name, unless it has more than MaxContactChoices (then none, and false).
func (s *Service) AuditContacts(ctx context.Context, actor Actor) ([]db.ContactName, bool, error) {
	return s.store.ContactNames(ctx, actor.Scope, MaxContactChoices)
}

// BeginAuditExport opens a snapshot of the audit log of the actor's scope that f lets
// through, for an export in format (a name for the audit log), and records the export, with
// its filters, before the first row leaves. The caller closes the snapshot.
func (s *Service) BeginAuditExport(ctx context.Context, actor Actor, f db.AuditFilter, format string) (*db.AuditExport, error) {
	if _, err := s.filterContact(ctx, actor, f); err != nil {
		return nil, err
	}
	exp, err := s.store.BeginAuditExport(ctx, actor.Scope, f)
	if err != nil {
		return nil, err
	}
	err = s.writeAsAdmin(ctx, actor, func(tx *db.Tx) error {
		return tx.Audit(ctx, db.Event{Action: db.ActionAuditExported, ActorID: actor.ID(), TargetID: f.ContactID,
			AccountID: actor.Contact.AccountID, RemoteIP: actor.RemoteIP, Detail: format + ", " + filterDetail(f)})
	})
	if err != nil {
		return nil, fmt.Errorf("export audit log: %w", errors.Join(err, exp.Close()))
	}
	return exp, nil
}

// filterDetail words a filter for the audit log.
func filterDetail(f db.AuditFilter) string {
	var parts []string
	if f.ContactID != 0 {
		parts = append(parts, fmt.Sprintf("contact #%d", f.ContactID))
	}
	if f.Action != "" {
		parts = append(parts, "action "+f.Action)
	}
	if !f.From.IsZero() {
		parts = append(parts, "from "+f.From.UTC().Format("2006-01-02 15:04")+" UTC")
	}
	if !f.Until.IsZero() {
		parts = append(parts, "before "+f.Until.UTC().Format("2006-01-02 15:04")+" UTC")
	}
	if len(parts) == 0 {
		return "every event"
	}
	return strings.Join(parts, ", ")
}
