// Package throttle slows password guessing: a token bucket per client address for the login
// and reset endpoints, and a growing delay per user name after failed sign-ins. Where the
// counters live follows the database: on SQLite one server answers, and it counts in memory,
// bounded in size; on PostgreSQL several servers answer for one portal, and they count in
// the database (db/throttles.go), so that a limit holds however a client's requests are
// spread over them. Turns (turns.go) bound how many requests work at once on one server.
package throttle

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"portal/db"
)

// Rate is a token bucket's shape: Burst requests at once, then one more every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// Key is the bucket a client address is counted in. An IPv4 address counts on its own; an
// IPv6 address by its /64, the smallest network a provider hands a subscriber or a host, so
// that one attacker can't take a fresh bucket for each of its 2^64 addresses. Anything that
// is not an address is its own key.
func Key(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// shared is the database the counters of a store's servers are kept in: the store itself on
// PostgreSQL, which several servers share; nil on SQLite, whose one server counts in memory
// and saves a write per request.
func shared(store *db.Store) *db.Store {
	if store.Postgres() {
		return store
	}
	return nil
}

// Limiter allows each key Rate.Burst requests at once, then one more every Rate.Every.
type Limiter struct {
	name   string // the limiter's counters in the database
	rate   Rate
	shared *db.Store // see shared; nil: the buckets below

	mu      sync.Mutex
	max     int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	seen   time.Time
}

// New returns the limiter called name (its counters' name in the database) for the servers
// on store. In memory it remembers at most maxKeys keys; the full buckets, then the least
// recently seen, are forgotten first, so memory stays bounded.
func New(store *db.Store, name string, rate Rate, maxKeys int) *Limiter {
	return &Limiter{name: name, rate: rate, shared: shared(store), max: maxKeys, now: store.Now,
		buckets: map[string]*bucket{}}
}

// Allow takes one token for key and reports whether there was one.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, error) {
	if l.shared != nil {
		return l.shared.TakeToken(ctx, l.name, key, l.rate.Burst, l.rate.Every)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), seen: now}
		l.buckets[key] = b
	}
	b.tokens = l.refilled(b, now)
	b.seen = now
	if b.tokens < 1 {
		return false, nil
	}
	b.tokens--
	return true, nil
}

// refilled is how many tokens b holds at now.
func (l *Limiter) refilled(b *bucket, now time.Time) float64 {
	return min(float64(l.rate.Burst), b.tokens+float64(now.Sub(b.seen))/float64(l.rate.Every))
}

// evict drops full buckets (they hold no information), or else the least recently seen.
func (l *Limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.buckets {
		if l.refilled(b, now) >= float64(l.rate.Burst) {
			delete(l.buckets, k)
			continue
		}
		if oldestKey == "" || b.seen.Before(oldest) {
			oldestKey, oldest = k, b.seen
		}
	}
	if len(l.buckets) >= l.max && oldestKey != "" {
		delete(l.buckets, oldestKey)
	}
}

// Backoff delays attempts on a key (a user name) after failures in a row: the first failure
// makes the next attempt wait First, each further one doubles the wait, up to Max. A success,
// or a quiet while (forget) after the last failure, starts over. In memory it remembers at
// most maxKeys keys (the least recently failed are forgotten first), so memory stays bounded
// however many names are tried.
type Backoff struct {
	name                string // the back-off's counters in the database
	first, most, forget time.Duration
	shared              *db.Store // see shared; nil: the streaks below

	mu      sync.Mutex
	max     int
	now     func() time.Time
	streaks map[string]*streak
}

type streak struct {
	failures int
	last     time.Time
}

// NewBackoff returns the back-off called name for the servers on store; first = 0 never
// delays.
func NewBackoff(store *db.Store, name string, first, most, forget time.Duration, maxKeys int) *Backoff {
	return &Backoff{name: name, first: first, most: most, forget: forget, shared: shared(store), max: maxKeys,
		now: store.Now, streaks: map[string]*streak{}}
}

// Delay is how long the next attempt on key waits: min(First × 2^(n-1), Max) after n
// failures in a row, 0 after none.
func (b *Backoff) Delay(ctx context.Context, key string) (time.Duration, error) {
	if b.first <= 0 {
		return 0, nil
	}
	failures, err := b.failures(ctx, key)
	if err != nil || failures == 0 {
		return 0, err
	}
	d := b.first
	for i := 1; i < failures && d < b.most; i++ {
		d *= 2
	}
	return min(d, b.most), nil
}

// failures is the length of key's streak.
func (b *Backoff) failures(ctx context.Context, key string) (int, error) {
	if b.shared != nil {
		return b.shared.FailureStreak(ctx, b.name, key)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.streaks[key]
	if !ok || b.now().Sub(s.last) >= b.forget {
		return 0, nil
	}
	return s.failures, nil
}

// Failed counts a failed attempt on key.
func (b *Backoff) Failed(ctx context.Context, key string) error {
	if b.first <= 0 {
		return nil // nothing ever waits: nothing to count
	}
	if b.shared != nil {
		return b.shared.CountFailure(ctx, b.name, key, b.forget)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	s, ok := b.streaks[key]
	if !ok {
		if len(b.streaks) >= b.max {
			b.evict(now)
		}
		s = &streak{}
		b.streaks[key] = s
	}
	if now.Sub(s.last) >= b.forget {
		s.failures = 0
	}
	s.failures++
	s.last = now
	return nil
}

// Succeeded ends the streak of key.
func (b *Backoff) Succeeded(ctx context.Context, key string) error {
	if b.first <= 0 {
		return nil
	}
	if b.shared != nil {
		return b.shared.EndStreak(ctx, b.name, key)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.streaks, key)
	return nil
}

// evict drops forgotten streaks, or else the least recently failed.
func (b *Backoff) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, s := range b.streaks {
		if now.Sub(s.last) >= b.forget {
			delete(b.streaks, k)
			continue
		}
		if oldestKey == "" || s.last.Before(oldest) {
			oldestKey, oldest = k, s.last
		}
	}
	if len(b.streaks) >= b.max && oldestKey != "" {
		delete(b.streaks, oldestKey)
	}
}
