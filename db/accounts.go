package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Account is a customer organization; accounts form a tree through ParentID.
type Account struct {
	ID       int64
	Name     string
	ParentID int64 // 0 for a top-level account
	Depth    int   // distance from the root of the scope it was listed in
}

// ErrAccountExists is returned when an account of the same name (case-insensitively) exists.
var ErrAccountExists = errors.New("an account with this name already exists")

// CreateAccount adds an account under parentID (0 for a top-level account).
func (s *Store) CreateAccount(ctx context.Context, name string, parentID int64) (Account, error) {
	a := Account{Name: strings.TrimSpace(name), ParentID: parentID}
	err := s.Write(ctx, func(tx *Tx) error {
		var parent sql.NullInt64
		if parentID != 0 {
			parent = sql.NullInt64{Int64: parentID, Valid: true}
		}
		err := tx.tx.QueryRowContext(ctx,
			`INSERT INTO accounts(name, name_key, parent_id, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			a.Name, FoldKey(a.Name), parent, unix(tx.now)).Scan(&a.ID)
		if isUniqueViolation(err) {
			return ErrAccountExists
		}
		return err
	})
	if err != nil {
		return Account{}, fmt.Errorf("store: create account %q: %w", name, err)
	}
	s.scopes.reset() // the scopes of its ancestors gain it
	return a, nil
}

// AccountByName finds an account by name, case-insensitively.
func (s *Store) AccountByName(ctx context.Context, name string) (Account, error) {
	var a Account
	var parent sql.NullInt64
	err := s.read.QueryRowContext(ctx,
		`SELECT id, name, parent_id FROM accounts WHERE name_key = ?`, FoldKey(name)).
		Scan(&a.ID, &a.Name, &parent)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %q: %w", name, err)
	}
	a.ParentID = parent.Int64
	return a, nil
}

// AccountCount counts the accounts of the portal (the demo refuses to mix with real ones).
func (s *Store) AccountCount(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count accounts: %w", err)
	}
	return n, nil
}
