// Package testdb gives tests a fresh database of either engine the portal runs on: a SQLite
// file in the test's temporary folder, or a database of its own in a PostgreSQL server
// (postgres.go). It imports nothing of the portal, so that the db package's own tests can
// use it too.
package testdb

import (
	"path/filepath"
	"testing"
)

// Engine is a database engine the portal runs on.
type Engine string

// The engines, as subtests name them.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Engines are both engines, for tests that run once on each as subtests.
var Engines = []Engine{SQLite, Postgres}

// OnEachEngine runs test as one subtest per engine.
func OnEachEngine(t *testing.T, test func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) { test(t, e) })
	}
}

// New returns what the portal's --db takes for a fresh, empty database of engine e, removed
// when t ends: a SQLite file in t.TempDir(), or a PostgreSQL URL (see PostgresURL).
func New(t testing.TB, e Engine) string {
	t.Helper()
	if e == Postgres {
		return PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), "portal.db")
}
