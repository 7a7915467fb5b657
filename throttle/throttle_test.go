package throttle

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func TestBurstThenRefill(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	l := New(3, 10*time.Second, 100, clock.Now)
	for i := 0; i < 3; i++ {
		if !l.Allow("10.0.0.1") {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.Allow("10.0.0.1") {
		t.Fatal("4th request of a burst of 3 allowed")
	}
	if !l.Allow("10.0.0.2") {
		t.Fatal("another address was throttled by the first one")
	}
	clock.now = clock.now.Add(10 * time.Second)
	if !l.Allow("10.0.0.1") {
		t.Fatal("no token after one refill interval")
	}
	if l.Allow("10.0.0.1") {
		t.Fatal("two tokens after one refill interval")
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	l := New(2, time.Minute, 50, clock.Now)
	for i := 0; i < 10_000; i++ {
		clock.now = clock.now.Add(time.Millisecond)
		l.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		l.Allow(fmt.Sprintf("10.0.%d.%d", i/256, i%256)) // spend the bucket so it is worth keeping
	}
	if n := len(l.buckets); n > 50 {
		t.Fatalf("limiter remembers %d addresses, want at most 50", n)
	}
	// The address seen last is still throttled: eviction took the oldest.
	if l.Allow("10.0.39.15") {
		t.Error("most recent address forgotten")
	}
}
