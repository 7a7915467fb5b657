package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver the portal uses for PostgreSQL
)

// PostgreSQL for tests. PORTAL_TEST_POSTGRES names a server to use (a URL whose user may
// create databases; CI starts one); without it, the first test that asks starts a throwaway
// PostgreSQL 15 cluster of Debian's package in a temporary folder, listening on 127.0.0.1,
// which Main stops when the tests are done. Every test gets a database of its own.

// pgBin is where Debian installs PostgreSQL 15's programs.
const pgBin = "/usr/lib/postgresql/15/bin"

var cluster struct {
	once sync.Once
	url  string // the server, with the database part left out
	dir  string // the throwaway cluster's folder ("" when PORTAL_TEST_POSTGRES is used)
	as   string // the user the cluster runs as, when the tests run as root
	err  error
}

// Main runs the tests of a package that uses PostgreSQL and stops the throwaway cluster
// afterwards: call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	stopCluster()
	return code
}

// PostgresURL returns the URL of a fresh, empty database for t, dropped when t ends. Without
// a server it skips t, or fails it when CI is set: CI must run the PostgreSQL tests.
func PostgresURL(t testing.TB) string {
	t.Helper()
	cluster.once.Do(startCluster)
	if cluster.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is needed in CI: %v", cluster.err)
		}
		t.Skipf("PostgreSQL is not available (%v); install Debian's postgresql or set PORTAL_TEST_POSTGRES", cluster.err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", cluster.url+"/postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", cluster.url+"/postgres")
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return cluster.url + "/" + name + "?sslmode=disable"
}

func startCluster() {
	if url := os.Getenv("PORTAL_TEST_POSTGRES"); url != "" {
		cluster.url = url
		return
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		cluster.err = fmt.Errorf("no %s/initdb", pgBin)
		return
	}
	dir, err := os.MkdirTemp("", "portal-postgres-")
	if err != nil {
		cluster.err = err
		return
	}
	cluster.dir = dir
	// initdb refuses to run as root: as root (CI), the cluster belongs to Debian's postgres user.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			cluster.err = fmt.Errorf("running as root and no postgres user to run the cluster as: %w", err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			cluster.err = err
			return
		}
		cluster.as = "postgres"
	}
	port, err := freePort()
	if err != nil {
		cluster.err = err
		return
	}
	data := filepath.Join(dir, "data")
	if out, err := pgCommand("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync").CombinedOutput(); err != nil {
		cluster.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	// Durability is no concern of a test cluster: without fsync it runs at the speed of memory.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=300", port, dir)
	if out, err := pgCommand("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		cluster.err = fmt.Errorf("pg_ctl start: %v\n%s", err, out)
		return
	}
	cluster.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", cluster.url+"/postgres")
	if err == nil {
		err = db.PingContext(ctx)
		db.Close()
	}
	cluster.err = err
}

func stopCluster() {
	if cluster.dir == "" {
		return
	}
	_ = pgCommand("pg_ctl", "-D", filepath.Join(cluster.dir, "data"), "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(cluster.dir)
}

// pgCommand runs one of PostgreSQL's programs, as the cluster's user when tests run as root.
func pgCommand(name string, args ...string) *exec.Cmd {
	path := filepath.Join(pgBin, name)
	if cluster.as != "" {
		return exec.Command("runuser", append([]string{"-u", cluster.as, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
