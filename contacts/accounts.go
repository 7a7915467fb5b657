package contacts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"portal/db"
	"portal/validate"
)

// UnknownAccountError: no account has the name given (the command line names accounts).
type UnknownAccountError struct{ Name string }

func (e *UnknownAccountError) Error() string { return fmt.Sprintf("account %q does not exist", e.Name) }

// CreateAccount adds an account named name under the account named parent ("" for a
// company of its own).
func (s *Service) CreateAccount(ctx context.Context, name, parent string) (db.Account, error) {
	name = strings.TrimSpace(name)
	if err := validate.Name("Account name", name); err != nil {
		return db.Account{}, err
	}
	var parentID int64
	if parent != "" {
		p, err := s.account(ctx, parent)
		if err != nil {
			return db.Account{}, err
		}
		parentID = p.ID
	}
	return s.store.CreateAccount(ctx, name, parentID)
}

// AccountScope is the scope of the account named name: what the command line acts in.
func (s *Service) AccountScope(ctx context.Context, name string) (db.Scope, error) {
	a, err := s.account(ctx, name)
	if err != nil {
		return db.Scope{}, err
	}
	return s.store.ScopeOf(ctx, a.ID)
}

func (s *Service) account(ctx context.Context, name string) (db.Account, error) {
	a, err := s.store.AccountByName(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return db.Account{}, &UnknownAccountError{Name: name}
	}
	return a, err
}
