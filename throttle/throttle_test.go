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
	l := New(2, time.Hour, 100, (&fakeClock{now: time.Unix(0, 0)}).Now)
	for i := 0; i < 2; i++ {
		if !l.Allow(Key(fmt.Sprintf("2001:db8:1:2::%x", i))) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if l.Allow(Key("2001:db8:1:2:ffff::9")) {
		t.Error("a third address of the same /64 was allowed past a burst of 2")
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	b := NewBackoff(50*time.Millisecond, 300*time.Millisecond, 12*time.Hour, 100, clock.Now)
	want := []time.Duration{0, 50, 100, 200, 300, 300}
	for i, w := range want {
		if got := b.Delay("maria@example.test"); got != w*time.Millisecond {
			t.Errorf("after %d failures: delay %v, want %v", i, got, w*time.Millisecond)
		}
		b.Failed("maria@example.test")
	}
	if got := b.Delay("anna@example.test"); got != 0 {
		t.Errorf("another name waits %v, want 0", got)
	}
	b.Succeeded("maria@example.test")
	if got := b.Delay("maria@example.test"); got != 0 {
		t.Errorf("after a success: delay %v, want 0", got)
	}
	b.Failed("maria@example.test")
	b.Failed("maria@example.test")
	clock.now = clock.now.Add(12 * time.Hour)
	if got := b.Delay("maria@example.test"); got != 0 {
		t.Errorf("after 12 quiet hours: delay %v, want 0", got)
	}
	b.Failed("maria@example.test")
	if got := b.Delay("maria@example.test"); got != 50*time.Millisecond {
		t.Errorf("first failure after 12 quiet hours: delay %v, want 50ms (a new streak)", got)
	}
	for i := 0; i < 200; i++ {
		b.Failed("maria@example.test") // no overflow however long the streak
	}
	if got := b.Delay("maria@example.test"); got != 300*time.Millisecond {
		t.Errorf("after 200 failures: delay %v, want the cap 300ms", got)
	}
}

func TestBackoffOffAndBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	off := NewBackoff(0, 0, time.Hour, 10, clock.Now)
	off.Failed("x")
	if got := off.Delay("x"); got != 0 {
		t.Errorf("back-off off: delay %v, want 0", got)
	}
	b := NewBackoff(time.Millisecond, time.Second, time.Hour, 50, clock.Now)
	for i := 0; i < 10_000; i++ {
		clock.now = clock.now.Add(time.Millisecond)
		b.Failed(fmt.Sprintf("user%d@example.test", i))
	}
	if n := len(b.streaks); n > 50 {
		t.Fatalf("back-off remembers %d names, want at most 50", n)
	}
	if got := b.Delay("user9999@example.test"); got != time.Millisecond {
		t.Errorf("most recent name: delay %v, want 1ms (eviction took the oldest)", got)
	}
}
