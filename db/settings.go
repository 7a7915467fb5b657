package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SettingOrCreate returns the stored value of key, first storing create() if there is none.
// Two servers starting at once agree on one value: the insert is conditional.
func (s *Store) SettingOrCreate(ctx context.Context, key string, create func() (string, error)) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	fresh, err := create()
	if err != nil {
		return "", err
	}
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.tx.ExecContext(ctx,
			`INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`, key, fresh); err != nil {
			return err
		}
		return tx.tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	})
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}
