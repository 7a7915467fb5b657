package throttle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portal/db"
	"portal/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// The throttles count in memory for a server on SQLite and in the database on PostgreSQL;
// the tests of what they let through run on both.
var engines = []string{"sqlite", "postgres"}

// servers opens n stores on one fresh database of engine, as n servers of one portal would,
// all reading clock.
func servers(t *testing.T, engine string, clock *fakeClock, n int) []*db.Store {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "portal.db")
	if engine == "postgres" {
		dsn = dbtest.PostgresURL(t)
	}
	var stores []*db.Store
	for i := 0; i < n; i++ {
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
	return stores
}

func onEachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

func allow(t *testing.T, l *Limiter, key string) bool {
	t.Helper()
	ok, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatalf("allow %q: %v", key, err)
	}
	return ok
}

func delay(t *testing.T, b *Backoff, key string) time.Duration {
	t.Helper()
	d, err := b.Delay(context.Background(), key)
	if err != nil {
		t.Fatalf("delay of %q: %v", key, err)
	}
	return d
}

func failed(t *testing.T, b *Backoff, key string) {
	t.Helper()
	if err := b.Failed(context.Background(), key); err != nil {
		t.Fatalf("count a failure of %q: %v", key, err)
	}
}

func TestCountersLiveWhereTheServersMeet(t *testing.T) {
	for _, tc := range []struct {
		engine   string
		inMemory bool
	}{{"sqlite", true}, {"postgres", false}} {
		t.Run(tc.engine, func(t *testing.T) {
			store := servers(t, tc.engine, newClock(), 1)[0]
			l := New(store, "login", Rate{Burst: 1, Every: time.Hour}, 10)
			b := NewBackoff(store, "login", time.Second, time.Minute, time.Hour, 10)
			if got := l.shared == nil && b.shared == nil; got != tc.inMemory {
				t.Errorf("counting in memory: got %v, want %v", got, tc.inMemory)
			}
		})
	}
}

func TestBurstThenRefill(t *testing.T) {
	onEachEngine(t, func(t *testing.T, engine string) {
		clock := newClock()
		l := New(servers(t, engine, clock, 1)[0], "login", Rate{Burst: 3, Every: 10 * time.Second}, 100)
		for i := 0; i < 3; i++ {
			if !allow(t, l, "10.0.0.1") {
				t.Fatalf("request %d of the burst refused", i+1)
			}
		}
		if allow(t, l, "10.0.0.1") {
			t.Fatal("4th request of a burst of 3 allowed")
		}
		if !allow(t, l, "10.0.0.2") {
			t.Fatal("another address was throttled by the first one")
		}
		clock.Advance(10 * time.Second)
		if !allow(t, l, "10.0.0.1") {
			t.Fatal("no token after one refill interval")
		}
		if allow(t, l, "10.0.0.1") {
			t.Fatal("two tokens after one refill interval")
		}
		clock.Advance(time.Hour)
		for i := 0; i < 3; i++ {
			if !allow(t, l, "10.0.0.1") {
				t.Fatalf("after an idle hour, request %d of a fresh burst refused", i+1)
			}
		}
		if allow(t, l, "10.0.0.1") {
			t.Fatal("after an idle hour, the bucket held more than its burst")
		}
	})
}

func TestMemoryStaysBounded(t *testing.T) {
	clock := newClock()
	l := New(servers(t, "sqlite", clock, 1)[0], "login", Rate{Burst: 2, Every: time.Minute}, 50)
	for i := 0; i < 10_000; i++ {
		clock.Advance(time.Millisecond)
		allow(t, l, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		allow(t, l, fmt.Sprintf("10.0.%d.%d", i/256, i%256)) // spend the bucket so it is worth keeping
	}
	if n := len(l.buckets); n > 50 {
		t.Fatalf("limiter remembers %d addresses, want at most 50", n)
	}
	// The address seen last is still throttled: eviction took the oldest.
	if allow(t, l, "10.0.39.15") {
		t.Error("most recent address forgotten")
	}
}

func TestKeyGroupsIPv6By64(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := Key(tc.addr); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	// One /64 shares one bucket: rotating addresses inside it gains nothing.
	onEachEngine(t, func(t *testing.T, engine string) {
		l := New(servers(t, engine, newClock(), 1)[0], "login", Rate{Burst: 2, Every: time.Hour}, 100)
		for i := 0; i < 2; i++ {
			if !allow(t, l, Key(fmt.Sprintf("2001:db8:1:2::%x", i))) {
				t.Fatalf("request %d of the burst refused", i+1)
			}
		}
		if allow(t, l, Key("2001:db8:1:2:ffff::9")) {
			t.Error("a third address of the same /64 was allowed past a burst of 2")
		}
	})
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	onEachEngine(t, func(t *testing.T, engine string) {
		clock := newClock()
		b := NewBackoff(servers(t, engine, clock, 1)[0], "login", 50*time.Millisecond, 300*time.Millisecond, 12*time.Hour, 100)
		want := []time.Duration{0, 50, 100, 200, 300, 300}
		for i, w := range want {
			if got := delay(t, b, "maria@example.test"); got != w*time.Millisecond {
				t.Errorf("after %d failures: delay %v, want %v", i, got, w*time.Millisecond)
			}
			failed(t, b, "maria@example.test")
		}
		if got := delay(t, b, "anna@example.test"); got != 0 {
			t.Errorf("another name waits %v, want 0", got)
		}
		if err := b.Succeeded(context.Background(), "maria@example.test"); err != nil {
			t.Fatal(err)
		}
		if got := delay(t, b, "maria@example.test"); got != 0 {
			t.Errorf("after a success: delay %v, want 0", got)
		}
		failed(t, b, "maria@example.test")
		failed(t, b, "maria@example.test")
		clock.Advance(12 * time.Hour)
		if got := delay(t, b, "maria@example.test"); got != 0 {
			t.Errorf("after 12 quiet hours: delay %v, want 0", got)
		}
		failed(t, b, "maria@example.test")
		if got := delay(t, b, "maria@example.test"); got != 50*time.Millisecond {
			t.Errorf("first failure after 12 quiet hours: delay %v, want 50ms (a new streak)", got)
		}
		for i := 0; i < 200; i++ {
			failed(t, b, "maria@example.test") // no overflow however long the streak
		}
		if got := delay(t, b, "maria@example.test"); got != 300*time.Millisecond {
			t.Errorf("after 200 failures: delay %v, want the cap 300ms", got)
		}
	})
}

func TestBackoffOff(t *testing.T) {
	onEachEngine(t, func(t *testing.T, engine string) {
		off := NewBackoff(servers(t, engine, newClock(), 1)[0], "login", 0, 0, time.Hour, 10)
		failed(t, off, "x")
		if got := delay(t, off, "x"); got != 0 {
			t.Errorf("back-off off: delay %v, want 0", got)
		}
	})
}

func TestBackoffMemoryStaysBounded(t *testing.T) {
	clock := newClock()
	b := NewBackoff(servers(t, "sqlite", clock, 1)[0], "login", time.Millisecond, time.Second, time.Hour, 50)
	for i := 0; i < 10_000; i++ {
		clock.Advance(time.Millisecond)
		failed(t, b, fmt.Sprintf("user%d@example.test", i))
	}
	if n := len(b.streaks); n > 50 {
		t.Fatalf("back-off remembers %d names, want at most 50", n)
	}
	if got := delay(t, b, "user9999@example.test"); got != time.Millisecond {
		t.Errorf("most recent name: delay %v, want 1ms (eviction took the oldest)", got)
	}
}

// TestServersShareCounters: two servers on one PostgreSQL database are one portal to a
// client: a burst spent through one is spent on the other, taken at once through both it
// lets exactly the burst through, and failures through one slow attempts on the other.
func TestServersShareCounters(t *testing.T) {
	clock := newClock()
	stores := servers(t, "postgres", clock, 2)
	rate := Rate{Burst: 20, Every: time.Hour}
	a, b := New(stores[0], "login", rate, 100), New(stores[1], "login", rate, 100)
	for i := 0; i < 20; i++ {
		if !allow(t, []*Limiter{a, b}[i%2], "192.0.2.7") {
			t.Fatalf("request %d of a burst of 20, spread over two servers, refused", i+1)
		}
	}
	if allow(t, a, "192.0.2.7") || allow(t, b, "192.0.2.7") {
		t.Error("the 21st request was let through by one of the servers")
	}
	if !allow(t, New(stores[1], "link", rate, 100), "192.0.2.7") {
		t.Error("another limiter's bucket for the same address was spent too")
	}

	var allowed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(l *Limiter) {
			defer wg.Done()
			ok, err := l.Allow(context.Background(), "198.51.100.9")
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}([]*Limiter{a, b}[i%2])
	}
	wg.Wait()
	if got := allowed.Load(); got != 20 {
		t.Errorf("50 requests at once through two servers: %d let through, want the burst of 20", got)
	}

	backA := NewBackoff(stores[0], "login", 50*time.Millisecond, time.Second, time.Hour, 100)
	backB := NewBackoff(stores[1], "login", 50*time.Millisecond, time.Second, time.Hour, 100)
	failed(t, backA, "maria")
	failed(t, backB, "maria")
	if got := delay(t, backA, "maria"); got != 100*time.Millisecond {
		t.Errorf("after a failure through each server: delay %v, want 100ms", got)
	}
	if err := backA.Succeeded(context.Background(), "maria"); err != nil {
		t.Fatal(err)
	}
	if got := delay(t, backB, "maria"); got != 0 {
		t.Errorf("after a success through the other server: delay %v, want 0", got)
	}
}

// TestPruneKeepsWhatStillCounts: pruning deletes full buckets and streaks that are over,
// and nothing that would change an answer.
func TestPruneKeepsWhatStillCounts(t *testing.T) {
	clock := newClock()
	store := servers(t, "postgres", clock, 1)[0]
	ctx := context.Background()
	l := New(store, "login", Rate{Burst: 2, Every: time.Minute}, 100)
	b := NewBackoff(store, "login", time.Second, time.Minute, time.Hour, 100)
	allow(t, l, "10.0.0.1") // one token spent: full again in a minute
	clock.Advance(30 * time.Second)
	allow(t, l, "10.0.0.2")
	allow(t, l, "10.0.0.2") // both spent: full again in two minutes
	failed(t, b, "maria")
	if n, err := store.PruneThrottles(ctx); err != nil || n != 0 {
		t.Fatalf("prune with every counter in use: %d rows, %v; want 0", n, err)
	}
	clock.Advance(time.Minute)
	if n, err := store.PruneThrottles(ctx); err != nil || n != 1 {
		t.Fatalf("prune a minute later: %d rows, %v; want 1 (10.0.0.1's full bucket)", n, err)
	}
	if allow(t, l, "10.0.0.2") {
		// 90 s after spending two tokens at one a minute, one and a half are back: this takes
		// one, and the next must find half a token.
		if allow(t, l, "10.0.0.2") {
			t.Error("the prune gave 10.0.0.2 a full bucket")
		}
	} else {
		t.Error("10.0.0.2 refused with a token and a half back")
	}
	clock.Advance(time.Hour)
	if n, err := store.PruneThrottles(ctx); err != nil || n != 2 {
		t.Fatalf("prune an hour later: %d rows, %v; want 2 (the last bucket and maria's streak)", n, err)
	}
	if got := delay(t, b, "maria"); got != 0 {
		t.Errorf("after the streak was over and pruned: delay %v, want 0", got)
	}
}

// BenchmarkAllow is what a sign-in pays for its per-address check: in memory (SQLite's one
// server) against a statement in PostgreSQL (shared by every server), over a spread of
// addresses as a busy portal sees.
func BenchmarkAllow(b *testing.B) {
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			clock := newClock()
			dsn := filepath.Join(b.TempDir(), "portal.db")
			if engine == "postgres" {
				dsn = dbtest.PostgresURL(b)
			}
			store, err := db.Open(dsn, db.WithClock(clock.Now))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			if err := store.Migrate(context.Background()); err != nil {
				b.Fatal(err)
			}
			l := New(store, "login", Rate{Burst: 20, Every: 6 * time.Second}, 100_000)
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Allow(context.Background(), keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
