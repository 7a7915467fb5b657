package throttle

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Turns lets at most a fixed number of requests do their work at once: the pages of
// signed-in contacts (handlers) and the password checks of sign-ins (contacts.SignIn). The
// others wait their turn, in order of arrival within their kind. A waiting sign-in gets the
// next turn, except that while both kinds wait pages get pagesPerSignIn turns for each one
// a sign-in gets. A nil *Turns lets everything run at once (the command line, which serves
// no pages).
//
// Without turns every request shares the cores with every other, and a sign-in's password
// hash (22 ms of one core) is slowed by all the pages being made meanwhile: in the load
// test's mix of 32 connections on two cores a login took 150–340 ms at p50, most of it
// queueing for a hashing slot while hashes crawled. With turns a sign-in waits behind the
// sign-ins before it, not behind the queue of pages, and hashes beside few others; because
// pages keep a share of the turns, a storm of sign-ins slows pages without stopping them. Only the work
// takes a turn: a sign-in's back-off sleeps before it takes one (docs/PERFORMANCE.md,
// "Issue 13").
//
// A page that has waited pageWait for its turn gets ErrNoTurn instead: a queue that long
// means more work arrives than the machine does (or long requests hold the turns), and its
// user is better told "busy, try again" than kept waiting until a proxy gives up. Sign-ins
// wait as long as it takes: a burst of logins (everyone at 9 o'clock, or after a restart) is
// a queue of hashes that ends, and is better served whole than in part, however slowly.
type Turns struct {
	pageWait       time.Duration
	mu             sync.Mutex
	free           int
	waitingSignIns []chan struct{} // oldest first
	waitingPages   []chan struct{}
	pagesInARow    int // turns handed to pages since one was handed to a sign-in
}

// pagesPerSignIn is how many turns pages get for each one a sign-in gets while both wait. A
// sign-in holds its turn for a hash, 20–40 ms, a page for a few milliseconds: with turns
// taken one for one, the pages asked for during a burst of 200 sign-ins waited 120–130 ms at
// p99; four for one brings that down while the burst's sign-ins go almost as fast
// (docs/PERFORMANCE.md, "Issue 13").
const pagesPerSignIn = 4

// ErrNoTurn: no turn came within the wait Turns allow. It is a context.DeadlineExceeded, which
// the web layer answers as busy.
var ErrNoTurn = fmt.Errorf("throttle: no turn came in time: %w", context.DeadlineExceeded)

// NewTurns returns Turns of which n run at once, and which a page waits for at most
// pageWait.
func NewTurns(n int, pageWait time.Duration) *Turns {
	return &Turns{pageWait: pageWait, free: n, pagesInARow: pagesPerSignIn}
}

// TakePage waits for a turn for a page, at most pageWait (ErrNoTurn). Done gives it back;
// after ErrNoTurn there is none to give back.
func (t *Turns) TakePage() error { return t.take(false) }

// TakeSignIn waits for a turn for a sign-in's check of its password. Done gives it back.
func (t *Turns) TakeSignIn() { t.take(true) }

func (t *Turns) take(signIn bool) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	if t.free > 0 { // nobody waits while a turn is free
		t.free--
		t.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	if signIn {
		t.waitingSignIns = append(t.waitingSignIns, ready)
		t.mu.Unlock()
		<-ready
		return nil
	}
	queue := &t.waitingPages
	*queue = append(*queue, ready)
	t.mu.Unlock()
	timer := time.NewTimer(t.pageWait)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := slices.Index(*queue, ready); i >= 0 {
		*queue = slices.Delete(*queue, i, i+1)
		return ErrNoTurn
	}
	return nil // Done handed it the turn as the wait ended
}

// Done hands the turn to the next waiting request, or frees it.
func (t *Turns) Done() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(t.waitingSignIns) > 0 && (len(t.waitingPages) == 0 || t.pagesInARow >= pagesPerSignIn):
		close(t.waitingSignIns[0])
		t.waitingSignIns = t.waitingSignIns[1:]
		t.pagesInARow = 0
	case len(t.waitingPages) > 0:
		close(t.waitingPages[0])
		t.waitingPages = t.waitingPages[1:]
		t.pagesInARow++
	default:
		t.free++
	}
}
