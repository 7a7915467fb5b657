package handlers

import (
	"runtime"
	"sync"

	"github.com/gofiber/fiber/v2"

	"portal/config"
	"portal/db"
)

// turns lets at most a fixed number of requests run at once: the pages of signed-in
// contacts, and sign-ins. The others wait their turn, in order of arrival within their
// kind. While both kinds wait, a freed turn goes to the kind that did not get the last one.
//
// Without turns every request shares the cores with every other, and a sign-in's password
// hash (22 ms of one core, bounded by its own slots in auth.Hasher) is slowed by all the
// pages being made meanwhile: in the load test's mix of 32 connections on two cores a login
// took 340 ms at p50. With turns a sign-in waits for the next turn to come free, not for
// the queue of pages before it, and hashes beside few others; and because the kinds alternate, a storm
// of sign-ins slows the pages of signed-in contacts without stopping them
// (docs/PERFORMANCE.md, "Issue 13").
type turns struct {
	mu             sync.Mutex
	free           int
	waitingSignIns []chan struct{} // oldest first
	waitingPages   []chan struct{}
	lastToSignIn   bool // the last turn handed over went to a sign-in
}

func newTurns(n int) *turns { return &turns{free: n} }

// pageTurns is how many requests run at once: one per core the process may use on SQLite,
// where making a page is work on this machine's cores from start to end; four per core on
// PostgreSQL, where a page spends most of its time waiting for the database's answers,
// which may come from another machine. Never fewer than two: a long request (a PDF of
// 10,000 contacts, a bulk action on as many) holds its turn while it runs, and must not
// hold up everyone else's on a one-core machine.
func pageTurns(cfg config.Config) int {
	n := runtime.GOMAXPROCS(0)
	if db.IsPostgres(cfg.DBPath) {
		n *= 4
	}
	return max(2, n)
}

// pages runs the requests of signed-in contacts in turns; everything else (the login
// form, links opened from mail) goes straight through.
func (t *turns) pages(c *fiber.Ctx) error {
	if viewerOf(c).contact == nil {
		return c.Next()
	}
	t.take(false)
	defer t.done()
	return c.Next()
}

// signIn runs a sign-in in a turn, ahead of the pages waiting. A contact signed in already
// holds a turn for its request (pages).
func (t *turns) signIn(c *fiber.Ctx) error {
	if viewerOf(c).contact != nil {
		return c.Next()
	}
	t.take(true)
	defer t.done()
	return c.Next()
}

// take waits for a turn.
func (t *turns) take(signIn bool) {
	t.mu.Lock()
	if t.free > 0 { // nobody waits while a turn is free
		t.free--
		t.mu.Unlock()
		return
	}
	ready := make(chan struct{})
	if signIn {
		t.waitingSignIns = append(t.waitingSignIns, ready)
	} else {
		t.waitingPages = append(t.waitingPages, ready)
	}
	t.mu.Unlock()
	<-ready
}

// done hands the turn to the next waiting request, or frees it.
func (t *turns) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	toSignIn := len(t.waitingSignIns) > 0 && (len(t.waitingPages) == 0 || !t.lastToSignIn)
	switch {
	case toSignIn:
		close(t.waitingSignIns[0])
		t.waitingSignIns = t.waitingSignIns[1:]
	case len(t.waitingPages) > 0:
		close(t.waitingPages[0])
		t.waitingPages = t.waitingPages[1:]
	default:
		t.free++
		return
	}
	t.lastToSignIn = toSignIn
}
