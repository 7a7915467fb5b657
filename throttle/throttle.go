// Package throttle slows password guessing: a token bucket per client address for the login
// and reset endpoints, and a growing delay per user name after failed sign-ins; both in
// memory, bounded in size.
package throttle

import (
	"net/netip"
	"sync"
	"time"
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

// Limiter allows each key `burst` requests at once, refilled at `per` intervals.
type Limiter struct {
	mu      sync.Mutex
	burst   float64
	every   time.Duration
	max     int
	now     func() time.Time
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	seen   time.Time
}

// New returns a Limiter with burst requests per key, one more every `every`, remembering at
// most maxKeys keys (the oldest are forgotten first when full, so memory stays bounded).
func New(burst int, every time.Duration, maxKeys int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{burst: float64(burst), every: every, max: maxKeys, now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token for key and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, seen: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.seen))/float64(l.every))
	b.seen = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict drops full buckets (they hold no information), or else the least recently seen.
func (l *Limiter) evict(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.seen))/float64(l.every) >= l.burst {
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
// or Forget without a failure, starts over. It remembers at most maxKeys keys (the least
// recently failed are forgotten first), so memory stays bounded however many names are tried.
type Backoff struct {
	mu      sync.Mutex
	first   time.Duration
	most    time.Duration
	forget  time.Duration
	max     int
	now     func() time.Time
	streaks map[string]*streak
}

type streak struct {
	failures int
	last     time.Time
}

// NewBackoff returns a Backoff; first = 0 never delays.
func NewBackoff(first, most, forget time.Duration, maxKeys int, now func() time.Time) *Backoff {
	if now == nil {
		now = time.Now
	}
	return &Backoff{first: first, most: most, forget: forget, max: maxKeys, now: now, streaks: map[string]*streak{}}
}

// Delay is how long the next attempt on key waits: min(First × 2^(n-1), Max) after n
// failures in a row, 0 after none.
func (b *Backoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.streaks[key]
	if !ok || b.first <= 0 || b.now().Sub(s.last) >= b.forget {
		return 0
	}
	d := b.first
	for i := 1; i < s.failures && d < b.most; i++ {
		d *= 2
	}
	return min(d, b.most)
}

// Failed counts a failed attempt on key.
func (b *Backoff) Failed(key string) {
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
}

// Succeeded ends the streak of key.
func (b *Backoff) Succeeded(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.streaks, key)
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
