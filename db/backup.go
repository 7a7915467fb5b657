package db

import "context"

// Backup writes a consistent copy of the live database to path: SQLite writes one with
// VACUUM INTO; on PostgreSQL it is ErrBackupPostgres (pg_dump does it there).
func (s *Store) Backup(ctx context.Context, path string) error { return s.engine.backup(ctx, s, path) }
