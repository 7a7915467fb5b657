package throttle

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// queued waits until signIns sign-ins and pages pages wait for a turn of tr.
func queued(t *testing.T, tr *Turns, signIns, pages int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tr.mu.Lock()
		s, p := len(tr.waitingSignIns), len(tr.waitingPages)
		tr.mu.Unlock()
		if s == signIns && p == pages {
			return
		}
	}
	t.Fatalf("want %d sign-ins and %d pages waiting", signIns, pages)
}

// order lets the requests named in arrivals ask for a turn of a one-turn Turns, one after
// the other, while the turn is taken by holder ("s…": a sign-in, else a page), then ends
// the holder's turn, and returns the order in which the requests got theirs.
func order(t *testing.T, holder string, arrivals ...string) []string {
	tr := NewTurns(1, time.Minute)
	take := func(name string) {
		if name[0] == 's' {
			tr.TakeSignIn()
		} else if err := tr.TakePage(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	take(holder)
	got := make(chan string)
	var signIns, pages int
	for _, name := range arrivals {
		go func() {
			take(name)
			got <- name
			tr.Done()
		}()
		if name[0] == 's' {
			signIns++
		} else {
			pages++
		}
		queued(t, tr, signIns, pages)
	}
	tr.Done()
	var out []string
	for range arrivals {
		out = append(out, <-got)
	}
	return out
}

func TestASignInDoesNotQueueBehindPages(t *testing.T) {
	got := order(t, "p0", "p1", "p2", "p3", "s1")
	if want := []string{"s1", "p1", "p2", "p3"}; !slices.Equal(got, want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestPagesGetTheirShareWhileSignInsWait(t *testing.T) {
	// A storm of sign-ins slows pages but does not stop them: while both wait, pages get
	// pagesPerSignIn turns for each one a sign-in gets.
	got := order(t, "p0", "p1", "p2", "p3", "p4", "p5", "p6", "s1", "s2", "s3")
	if want := []string{"s1", "p1", "p2", "p3", "p4", "s2", "p5", "p6", "s3"}; !slices.Equal(got, want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestAfterASignInThePageWaitingGoesFirst(t *testing.T) {
	// The holder got its turn free, so nothing was handed over yet; the first hand-over goes
	// to the sign-in, the second to the page although another sign-in waits.
	got := order(t, "s0", "p1", "s1", "s2")
	if want := []string{"s1", "p1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestTurnsFreeWithoutWaiting(t *testing.T) {
	tr := NewTurns(2, time.Minute)
	took := make(chan struct{})
	go func() {
		tr.TakePage()
		tr.TakeSignIn()
		tr.Done()
		tr.Done()
		tr.TakePage()
		tr.TakePage()
		close(took)
	}()
	select {
	case <-took:
	case <-time.After(5 * time.Second):
		t.Fatal("two turns of two free turns were not given at once")
	}
	if tr.free != 0 || len(tr.waitingPages) != 0 || len(tr.waitingSignIns) != 0 {
		t.Errorf("free %d, waiting %d pages and %d sign-ins; want none free, none waiting",
			tr.free, len(tr.waitingPages), len(tr.waitingSignIns))
	}
}

func TestNilTurnsLetEverythingRun(t *testing.T) {
	var tr *Turns
	for range 3 {
		if err := tr.TakePage(); err != nil {
			t.Error(err)
		}
		tr.TakeSignIn()
	}
	tr.Done()
}

func TestAWaitTooLongGetsNoTurn(t *testing.T) {
	tr := NewTurns(1, 50*time.Millisecond)
	if err := tr.TakePage(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if err := tr.TakePage(); !errors.Is(err, ErrNoTurn) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a page waiting behind a turn held longer than its wait: %v, want ErrNoTurn, a deadline exceeded", err)
	}
	if waited := time.Since(started); waited < 50*time.Millisecond {
		t.Errorf("a page gave up after %v, before its wait of 50ms", waited)
	}
	// A sign-in waits as long as it takes.
	signedIn := make(chan struct{})
	go func() {
		tr.TakeSignIn()
		close(signedIn)
	}()
	queued(t, tr, 1, 0)
	select {
	case <-signedIn:
		t.Fatal("a sign-in got a turn that was held")
	case <-time.After(200 * time.Millisecond):
	}
	tr.Done()
	<-signedIn
	if len(tr.waitingPages) != 0 || len(tr.waitingSignIns) != 0 {
		t.Errorf("%d pages and %d sign-ins still wait after giving up; want none", len(tr.waitingPages), len(tr.waitingSignIns))
	}
	// The turn given back goes to nobody who gave up: it is free for the next one at once.
	tr.Done()
	if tr.free != 1 {
		t.Errorf("%d turns free after the only one was given back, want 1", tr.free)
	}
}

func TestATurnHandedOverAsTheWaitEndsIsKept(t *testing.T) {
	// Done may hand the turn to a request in the instant its wait ends: that request goes on
	// with it, or the turn would be lost for good. Rounds of a wait as long as the holder's
	// work make both orders happen.
	tr := NewTurns(1, time.Millisecond)
	for range 200 {
		if err := tr.TakePage(); err != nil {
			t.Fatal(err)
		}
		got := make(chan error)
		go func() { got <- tr.TakePage() }()
		time.Sleep(time.Millisecond)
		tr.Done()
		if err := <-got; err == nil {
			tr.Done()
		}
	}
	if tr.free != 1 || len(tr.waitingPages) != 0 {
		t.Errorf("after the rounds %d turns free and %d pages waiting, want 1 and none", tr.free, len(tr.waitingPages))
	}
}
