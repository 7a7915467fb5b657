package handlers_test

import (
	"os"
	"testing"

	"portal/db/dbtest"
)

// TestMain stops the throwaway PostgreSQL server the tests on both engines start, if one did.
func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
