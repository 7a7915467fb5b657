package reliability_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"portal/app"
	"portal/config"
	"portal/db"
	"portal/portaltest"
)

// TestBackupUnderWriteLoad copies a database while another writer keeps adding contacts, as
// `portal backup` does against a running server: the copy passes integrity_check, holds a
// consistent prefix of the writes, and a portal starts on it and serves.
func TestBackupUnderWriteLoad(t *testing.T) {
	env := portaltest.New(t)
	acc := env.Account("Northwind Traders", nil)
	admin := env.Contact(acc, "Maria", "Anders", "maria@northwind.example", db.RoleContactAdmin)

	ctx, stop := context.WithCancel(context.Background())
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the server's writes
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			err := env.Store.Write(ctx, func(tx *db.Tx) error {
				for j := 0; j < 20; j++ {
					if _, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: acc.ID, FirstName: "Anna", LastName: "Kowalski", Email: fmt.Sprintf("anna.%d.%d@northwind.example", i, j)}}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				t.Errorf("writer: %v", err)
				return
			}
			if err == nil {
				written.Add(20)
			}
		}
	}()

	// `portal backup` opens the database on its own, beside the running server.
	for written.Load() < 200 {
		runtime.Gosched()
	}
	backupStore, err := db.Open(env.Config.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "backup.db")
	err = backupStore.Backup(ctx, copyPath)
	backupStore.Close()
	if err != nil {
		t.Fatalf("backup under load: %v", err)
	}
	atBackup := written.Load()
	stop()
	wg.Wait()

	raw, err := sql.Open("sqlite3", copyPath)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	var contacts int64
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check of the copy = %q, %v", check, err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM contacts`).Scan(&contacts); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	// The copy is one snapshot: whole transactions of 20, the admin included.
	if (contacts-1)%20 != 0 || contacts < 201 || contacts-1 > atBackup+20 {
		t.Errorf("copy holds %d contacts, want 1 + a multiple of 20 between 200 and %d", contacts, atBackup+20)
	}

	// A portal serves from the copy, and the admin can log in there.
	cfg, _, err := config.Parse("serve", []string{"--db", copyPath}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	restored, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.WithHasher(env.Hasher))
	if err != nil {
		t.Fatalf("start on the copy: %v", err)
	}
	defer restored.Close()
	req, _ := http.NewRequest(http.MethodGet, "/healthz", nil)
	resp, err := restored.Handler().Test(req, -1)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz on the copy: %v %v", resp, err)
	}
	if _, err := restored.Store().ContactByEmail(context.Background(), admin.Email); err != nil {
		t.Errorf("admin missing from the copy: %v", err)
	}
}
