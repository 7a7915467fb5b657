package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"portal/app"
	"portal/config"
	"portal/db/testdb"
	"portal/secrets"
)

// TestServeAndShutDown runs the real server on a loopback port, answers /healthz over HTTP,
// and drains when its context ends (what SIGTERM does in main).
func TestServeAndShutDown(t *testing.T) {
	testdb.OnEachEngine(t, func(t *testing.T, e testdb.Engine) {
		t.Parallel()
		testServeAndShutDown(t, e)
	})
}

func testServeAndShutDown(t *testing.T, e testdb.Engine) {
	args := []string{"--db", testdb.New(t, e)}
	if e == testdb.Postgres { // which needs the key file given
		key := filepath.Join(t.TempDir(), "portal.secrets-key")
		if err := os.WriteFile(key, []byte(secrets.NewKeyLine()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--secrets-key-file", key)
	}
	cfg, _, err := config.Parse("serve", args,
		func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("/healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v after shutdown, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10 s of its context ending")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
