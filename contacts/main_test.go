package contacts_test

import (
	"os"
	"testing"

	"portal/db/dbtest"
)

// TestMain stops the throwaway PostgreSQL server the tests of both engines start.
func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
