package reliability_test

import (
	"os"
	"testing"

	"portal/db/dbtest"
)

// binDir is where portalBinary built the portal, if a test asked for it.
var binDir string

// TestMain stops the throwaway PostgreSQL server the multi-server tests start and removes
// the portal binary the tests built.
func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
