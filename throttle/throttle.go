// Package throttle slows password spraying: a token bucket per client address for the login
// and reset endpoints, in memory, bounded in size.
package throttle

import (
	"sync"
	"time"
)

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
