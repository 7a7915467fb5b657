package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"portal/db"
	"portal/db/dbtest"
)

// Several servers on one database (PostgreSQL; on SQLite a server and the command line)
// must act as one portal: these tests open two Stores on one database, as two servers
// would.

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// twoServers opens two migrated stores on one fresh database of engine, each reading its
// own clock.
func twoServers(t *testing.T, engine string) (a, b *db.Store, clockA, clockB *testClock) {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "portal.db")
	if engine == "postgres" {
		dsn = dbtest.PostgresURL(t)
	}
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	clockA, clockB = &testClock{now: start}, &testClock{now: start}
	var stores []*db.Store
	for _, clock := range []*testClock{clockA, clockB} {
		s, err := db.Open(dsn, db.WithClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	return stores[0], stores[1], clockA, clockB
}

var engines = []string{"sqlite", "postgres"}

// TestWorkersClaimEachMailOnce: mail workers on two servers, four each, take 200 queued
// mails at once; each mail is taken by exactly one of them, and a taken mail is taken again
// only once its lease has passed (its worker died with it in hand).
func TestWorkersClaimEachMailOnce(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			a, b, clockA, clockB := twoServers(t, engine)
			account, err := a.CreateAccount(ctx, "Northwind Traders", 0)
			if err != nil {
				t.Fatal(err)
			}
			queued := map[string]bool{}
			err = a.Write(ctx, func(tx *db.Tx) error {
				id, err := tx.CreateContact(ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: account.ID,
					FirstName: "Maria", LastName: "Anders", Email: "maria@northwind.example"}})
				if err != nil {
					return err
				}
				for i := 0; i < 200; i++ {
					mailID, err := tx.QueueMail(ctx, db.OutboxMail{Kind: db.MailAutoLocked, ToContactID: id,
						ToEmail: "maria@northwind.example", ToName: "Maria Anders", AboutName: fmt.Sprint("Colleague ", i)})
					if err != nil {
						return err
					}
					queued[mailID] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			claims := map[string]int{}
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				store := []*db.Store{a, b}[w%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						m, ok, err := store.ClaimMail(ctx, 5*time.Minute)
						if err != nil {
							t.Error(err)
							return
						}
						if !ok {
							return
						}
						mu.Lock()
						claims[m.ID]++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			for id := range queued {
				if claims[id] != 1 {
					t.Errorf("mail %s taken %d times, want once", id, claims[id])
				}
			}
			if len(claims) != len(queued) {
				t.Errorf("%d mails taken, want the %d queued", len(claims), len(queued))
			}

			// Every mail is in the hands of a worker now; the leases run out at once.
			clockB.Advance(5*time.Minute - time.Second)
			if m, ok, err := b.ClaimMail(ctx, 5*time.Minute); err != nil || ok {
				t.Fatalf("before the lease ran out: took %s, %v; want nothing", m.ID, err)
			}
			clockB.Advance(time.Second)
			m, ok, err := b.ClaimMail(ctx, 5*time.Minute)
			if err != nil || !ok || !queued[m.ID] {
				t.Fatalf("after the lease ran out: got %q, %v, %v; want one of the mails again", m.ID, ok, err)
			}
			// Once a mail is sent it is nobody's to take, however late the clock.
			if err := b.MarkMailSent(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			clockA.Advance(time.Hour)
			again := map[string]bool{}
			for {
				m, ok, err := a.ClaimMail(ctx, 5*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				again[m.ID] = true
			}
			if len(again) != len(queued)-1 || again[m.ID] {
				t.Errorf("an hour later: %d mails taken again (sent one among them: %v), want the %d unsent",
					len(again), again[m.ID], len(queued)-1)
			}
		})
	}
}

// TestServersAgreeOnSettings: servers starting at once on a database without a session
// secret each make one, and all of them end up with the one stored.
func TestServersAgreeOnSettings(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			a, b, _, _ := twoServers(t, engine)
			var wg sync.WaitGroup
			got := make([]string, 20)
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v, err := []*db.Store{a, b}[i%2].SettingOrCreate(context.Background(), "session_secret",
						func() (string, error) { return fmt.Sprint("secret of starter ", i), nil })
					if err != nil {
						t.Error(err)
					}
					got[i] = v
				}()
			}
			wg.Wait()
			for i, v := range got {
				if v == "" || v != got[0] {
					t.Fatalf("starter %d got %q, starter 0 %q; want one secret for all", i, v, got[0])
				}
			}
		})
	}
}

// TestScopeSeesAccountsOfOtherServers: an account added through one server is in the scopes
// another server keeps within scopeCheckInterval (a second).
func TestScopeSeesAccountsOfOtherServers(t *testing.T) {
	ctx := context.Background()
	a, b, _, clockB := twoServers(t, "postgres")
	root, err := a.CreateAccount(ctx, "Northwind Traders", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sc, err := b.ScopeOf(ctx, root.ID); err != nil || len(sc.Accounts()) != 1 {
		t.Fatalf("scope before: %+v, %v; want the root alone", sc.Accounts(), err)
	}
	child, err := a.CreateAccount(ctx, "Northwind Retail", root.ID)
	if err != nil {
		t.Fatal(err)
	}
	clockB.Advance(time.Second)
	sc, err := b.ScopeOf(ctx, root.ID)
	if err != nil || !sc.Contains(child.ID) {
		t.Fatalf("a second after another server added %d: scope %+v, %v; want it in", child.ID, sc.Accounts(), err)
	}
}
