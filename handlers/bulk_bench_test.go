package handlers_test

// Benchmarks of Lock selected on 10,000 contacts (SPEC 3.8; issue 16, Performance), each
// against a baseline measured in the same run, on both engines:
//
//	go test -tags sqlite_fts5 ./handlers -run '^$' -bench BulkLock -benchtime 5x
//
// vs-bare: the bulk lock through the domain (contacts.Service.LockContacts: batches, the rules,
// sessions ended and links voided, an audit row per contact) against the least the same
// change can cost: one transaction with one UPDATE of the 10,000 rows and 10,000 audit
// INSERTs, on the same database, through a connection with the store's writer settings
// (BEGIN IMMEDIATE, synchronous NORMAL and secure_delete on SQLite; SERIALIZABLE on
// PostgreSQL). Target: x-bare ≤ 2.
//
// list-p99: the All Contacts page over real TCP, listReaders clients at once, alone and
// while the same bulk lock runs. Target: x-p99 < 3.
//
// Each iteration runs both contenders, in alternating order so that neither always meets a
// cache the other warmed or a load spike of the shared machine; the contacts are unlocked
// again between runs, with the timer stopped.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"portal/contacts"
	"portal/db"
	"portal/portaltest"
)

// bulkTargets is how many contacts the bulk lock takes: the most one action may (MaxBulk).
const bulkTargets = contacts.MaxBulk

// listReaders is how many clients load All Contacts at once in list-p99.
const listReaders = 4

// bulkFixture is a portal with an admin over 20,000 contacts in two accounts, half of them
// the bulk lock's targets, their names interleaved so that the list's first page holds both.
type bulkFixture struct {
	env     *portaltest.Env
	engine  portaltest.Engine
	admin   db.Contact
	actor   contacts.Actor
	field   db.Account // the targets' account
	targets []int64
	inList  string  // the targets' ids as an SQL list
	bare    *sql.DB // the baseline's own connection
}

func newBulkFixture(b *testing.B, engine portaltest.Engine) *bulkFixture {
	b.Helper()
	env := portaltest.New(b, portaltest.Options{Engine: engine})
	root := env.Account("Fabrikam", nil)
	f := &bulkFixture{env: env, engine: engine, field: env.Account("Fabrikam Field Staff", &root)}
	office := env.Account("Fabrikam Office", &root)
	f.admin = env.Contact(root, "Maria", "Anders", "maria@fabrikam.example", db.RoleContactAdmin)
	env.Contact(root, "Hugo", "Second", "hugo@fabrikam.example", db.RoleContactAdmin)
	err := env.Store.Write(env.Ctx, func(tx *db.Tx) error {
		for i := range 2 * bulkTargets {
			account := office
			if i%2 == 0 {
				account = f.field
			}
			id, err := tx.CreateContact(env.Ctx, db.NewContact{ContactFields: db.ContactFields{AccountID: account.ID,
				FirstName: "Member", LastName: fmt.Sprintf("M%05d", i), Email: fmt.Sprintf("member%05d@fabrikam.example", i)},
				PasswordHash: "x"})
			if err != nil {
				return err
			}
			if account == f.field {
				f.targets = append(f.targets, id)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := env.Store.Analyze(env.Ctx); err != nil {
		b.Fatal(err)
	}
	if f.actor, err = env.App.Contacts().Admin(env.Ctx, f.admin, "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(f.targets))
	for i, id := range f.targets {
		ids[i] = fmt.Sprint(id)
	}
	f.inList = "(" + strings.Join(ids, ",") + ")"
	// The store's writer settings (db/sqlite.go), so that the baseline pays what the store's
	// writes pay for durability and erasure.
	driver, dsn := "sqlite3", "file:"+env.Config.DBPath+
		"?_txlock=immediate&_busy_timeout=5000&_foreign_keys=on&_synchronous=NORMAL&_secure_delete=on&_cache_size=-16000"
	if engine == portaltest.Postgres {
		driver, dsn = "pgx", env.Config.DBPath
	}
	if f.bare, err = sql.Open(driver, dsn); err != nil {
		b.Fatal(err)
	}
	f.bare.SetMaxOpenConns(1)
	b.Cleanup(func() { f.bare.Close() })
	return f
}

// domainLock is Lock selected on the targets, through the domain as the handler calls it.
func (f *bulkFixture) domainLock() error {
	r, err := f.env.App.Contacts().LockContacts(f.env.Ctx, f.actor, f.targets)
	if err != nil {
		return err
	}
	if r.Done != bulkTargets || len(r.Skipped) != 0 {
		return fmt.Errorf("domain locked %d and skipped %d, want %d and 0", r.Done, len(r.Skipped), bulkTargets)
	}
	return nil
}

// bareLock is the baseline: one transaction, one UPDATE of the targets, an audit INSERT each.
func (f *bulkFixture) bareLock(b *testing.B) {
	ctx := context.Background()
	var opts *sql.TxOptions // SQLite: BEGIN IMMEDIATE, from the DSN
	if f.engine == portaltest.Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	tx, err := f.bare.BeginTx(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := f.env.Clock.Now().Unix()
	res, err := tx.ExecContext(ctx, `UPDATE contacts SET status = 'locked', lock_reason = 'admin', locked_by = $1,
		locked_at = $2, updated_at = $2 WHERE id IN `+f.inList+` AND status = 'active'`, f.admin.ID, now)
	if err != nil {
		b.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != bulkTargets {
		b.Fatalf("bare UPDATE locked %d, want %d", n, bulkTargets)
	}
	insert, err := tx.PrepareContext(ctx, `INSERT INTO audit_events(at, action, actor_id, target_id, account_id, detail, remote_ip)
		VALUES ($1, 'contact_locked', $2, $3, $4, '', '192.0.2.1')`)
	if err != nil {
		b.Fatal(err)
	}
	defer insert.Close()
	for _, id := range f.targets {
		if _, err := insert.ExecContext(ctx, now, f.admin.ID, id, f.field.ID); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// unlockAll puts the targets back as they were and drops the lock's audit rows, then lets
// the engine tidy up (a checkpoint that empties SQLite's WAL; VACUUM on PostgreSQL), so that
// every run starts from the same database.
func (f *bulkFixture) unlockAll(b *testing.B) {
	steps := []string{
		`UPDATE contacts SET status = 'active', lock_reason = '', locked_by = NULL, locked_org_id = NULL, locked_at = NULL
			WHERE id IN ` + f.inList,
		`DELETE FROM audit_events WHERE action = 'contact_locked'`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	}
	if f.engine == portaltest.Postgres {
		steps[2] = `VACUUM ANALYZE contacts, audit_events, sessions, password_tokens`
	}
	for _, step := range steps {
		if _, err := f.bare.Exec(step); err != nil {
			b.Fatalf("%s: %v", strings.Fields(step)[0], err)
		}
	}
}

// BenchmarkBulkLock: see the top of the file.
func BenchmarkBulkLock(b *testing.B) {
	for _, engine := range portaltest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			f := newBulkFixture(b, engine)
			b.Run("vs-bare", func(b *testing.B) { benchLockVsBare(b, f) })
			b.Run("list-p99", func(b *testing.B) { benchListDuringLock(b, f) })
		})
	}
}

// benchLockVsBare reports the medians of both contenders' times and their ratio: on a
// machine shared with other work, one run caught in a spike of load would move a mean by
// more than the difference being measured.
func benchLockVsBare(b *testing.B, f *bulkFixture) {
	var domainTimes, bareTimes []time.Duration
	domain := func() {
		b.StartTimer()
		start := time.Now()
		err := f.domainLock()
		domainTimes = append(domainTimes, time.Since(start))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
	baseline := func() {
		start := time.Now()
		f.bareLock(b)
		bareTimes = append(bareTimes, time.Since(start))
	}
	b.StopTimer()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second := domain, baseline
		if i%2 == 1 {
			first, second = baseline, domain
		}
		f.unlockAll(b)
		first()
		f.unlockAll(b)
		second()
	}
	f.unlockAll(b)
	domainMedian, bareMedian := percentile(domainTimes, 50), percentile(bareTimes, 50)
	b.ReportMetric(domainMedian/1e3, "domain-ms")
	b.ReportMetric(bareMedian/1e3, "bare-ms")
	b.ReportMetric(domainMedian/bareMedian, "x-bare")
}

func benchListDuringLock(b *testing.B, f *bulkFixture) {
	base := f.env.Serve()
	browser := f.env.Login(f.admin.Email)
	session := browser.Cookie(f.env.Cookies().Session)
	if session == nil {
		b.Fatal("no session cookie after login")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: listReaders}}
	defer client.CloseIdleConnections()
	get := func() (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodGet, base+"/contacts", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "contact-row") {
			return 0, fmt.Errorf("All Contacts: status %d, %v; %.300s", resp.StatusCode, err, body)
		}
		return took, nil
	}
	// read loads the page with listReaders clients until done is closed, and returns every
	// request's time.
	read := func(done <-chan struct{}) []time.Duration {
		var mu sync.Mutex
		var all []time.Duration
		var failed error
		var wg sync.WaitGroup
		for range listReaders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				var err error
				for err == nil {
					select {
					case <-done:
						mu.Lock()
						all = append(all, mine...)
						mu.Unlock()
						return
					default:
						var took time.Duration
						took, err = get()
						mine = append(mine, took)
					}
				}
				mu.Lock()
				failed = err
				mu.Unlock()
			}()
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
		return all
	}
	var alone, during []time.Duration
	var locking time.Duration
	window := time.Second // how long the list is read alone: as long as the last lock took
	readAlone := func() {
		done := make(chan struct{})
		time.AfterFunc(window, func() { close(done) })
		alone = append(alone, read(done)...)
	}
	readDuringLock := func() {
		done := make(chan struct{})
		var err error
		go func() {
			defer close(done)
			start := time.Now()
			err = f.domainLock()
			window = time.Since(start)
			locking += window
		}()
		during = append(during, read(done)...)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.unlockAll(b)
		b.StartTimer()
	}
	if _, err := get(); err != nil { // the first request pays for connections and caches
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			readAlone()
			readDuringLock()
		} else {
			readDuringLock()
			readAlone()
		}
	}
	b.StopTimer()
	p99Alone, p99During := percentile(alone, 99), percentile(during, 99)
	b.ReportMetric(percentile(alone, 50)/1e3, "alone-p50-ms")
	b.ReportMetric(p99Alone/1e3, "alone-p99-ms")
	b.ReportMetric(percentile(during, 50)/1e3, "during-p50-ms")
	b.ReportMetric(p99During/1e3, "during-p99-ms")
	b.ReportMetric(p99During/p99Alone, "x-p99")
	b.ReportMetric(float64(locking.Milliseconds())/float64(b.N), "lock-ms")
	b.ReportMetric(float64(len(alone)+len(during))/float64(b.N), "requests/op")
}
