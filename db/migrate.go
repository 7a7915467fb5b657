package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// A migration is one step of the schema's history: an embedded SQL file, or Go code where
// SQL can't do the work (SQLite can't fold names the way NameKey does).
type migration struct {
	version int
	name    string
	sql     string
	run     func(context.Context, *Tx) error // for a step written in Go; sql is empty
	// foreignKeysOff: a SQLite step that builds a table anew (SQLite can change a table's
	// constraints no other way) runs with foreign keys off, which SQLite can switch only
	// outside a transaction: with them on, dropping the old table would cascade to every row
	// that refers to it. The step checks the keys itself before it commits.
	foreignKeysOff bool
}

// migrationList lists an engine's steps in order: the SQL files of dir in files, whose
// names start with their version number (0001_init.sql), and the steps written in Go,
// numbered among them. Numbers never change once released.
func migrationList(files embed.FS, dir string, goSteps ...migration) ([]migration, error) {
	list := goSteps
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(prefix)
		if !ok || err != nil {
			return nil, fmt.Errorf("store: migration %q: name must start with a number", e.Name())
		}
		body, err := files.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		list = append(list, migration{version: version, name: e.Name(), sql: string(body)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].version < list[j].version })
	for i := 1; i < len(list); i++ {
		if list[i].version == list[i-1].version {
			return nil, fmt.Errorf("store: migrations %s and %s share a version", list[i-1].name, list[i].name)
		}
	}
	return list, nil
}

// Migrate brings the schema up to date. Each migration runs in its own transaction together
// with the record that it ran, so a crash leaves the database at a known state. Every
// applied version is recorded, not only the highest, so a migration numbered below one
// that is already applied (work that landed out of order) still runs.
func (s *Store) Migrate(ctx context.Context) error {
	// Reaching the database is the first thing that can fail, and the one an operator can
	// act on from its message: say so, not which statement found out.
	var one int
	if err := s.write.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("cannot reach the database: %w", err)
	}
	err := s.Write(ctx, func(tx *Tx) error {
		if err := s.engine.lockMigrations(ctx, tx.tx); err != nil {
			return err
		}
		_, err := tx.tx.ExecContext(ctx, s.engine.schemaVersionTable())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create schema_version: %w", err)
	}
	list, err := s.engine.migrations()
	if err != nil {
		return err
	}
	for _, m := range list {
		if m.foreignKeysOff {
			if _, err := s.write.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
				return fmt.Errorf("store: migrate %s: %w", m.name, err)
			}
		}
		err := s.Write(ctx, func(tx *Tx) error {
			if err := s.engine.lockMigrations(ctx, tx.tx); err != nil {
				return err
			}
			var applied int
			if err := tx.tx.QueryRowContext(ctx,
				`SELECT count(*) FROM schema_version WHERE version = ?`, m.version).Scan(&applied); err != nil {
				return err
			}
			if applied > 0 {
				return nil
			}
			if m.run != nil {
				if err := m.run(ctx, tx); err != nil {
					return err
				}
			} else if _, err := tx.tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_version(version) VALUES (?)`, m.version)
			return err
		})
		if m.foreignKeysOff {
			if _, onErr := s.write.ExecContext(ctx, `PRAGMA foreign_keys = ON`); onErr != nil && err == nil {
				err = onErr
			}
		}
		if err != nil && strings.Contains(err.Error(), "no such module: fts5") {
			return fmt.Errorf("store: migrate %s: SQLite was built without FTS5: build with -tags sqlite_fts5: %w", m.name, err)
		}
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.name, err)
		}
	}
	return nil
}
