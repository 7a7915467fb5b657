package db

import (
	"context"
	"fmt"
)

// Backup writes a consistent copy of the live database to path with VACUUM INTO: it reads
// one snapshot (WAL lets writers go on meanwhile) and writes a compact, self-contained file.
func (s *Store) Backup(ctx context.Context, path string) error {
	conn, err := s.read.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.Close()
	// The read pool is query-only; VACUUM INTO writes only the new file, so lift that here.
	if _, err := conn.ExecContext(ctx, `PRAGMA query_only = false`); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.ExecContext(context.Background(), `PRAGMA query_only = true`)
	if _, err := conn.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, classify(err))
	}
	return nil
}
