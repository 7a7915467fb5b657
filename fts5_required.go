//go:build !sqlite_fts5

package main

import (
	"fmt"
	"os"
)

// The contact search needs SQLite's FTS5, which mattn/go-sqlite3 compiles only with the
// sqlite_fts5 build tag. Without it the binary would fail at its first migration; this
// says why at once instead.
func init() {
	fmt.Fprintln(os.Stderr, "portal: build with -tags sqlite_fts5 (see README.md): the contact search needs SQLite's FTS5")
	os.Exit(2)
}
