package handlers

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"portal/db"
)

// queued waits until signIns sign-ins and pages pages wait for a turn of t.
func queued(t *testing.T, tr *turns, signIns, pages int) {
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

// order lets the requests named in arrivals ask for a turn of a one-turn tr, one after
// the other, while a page holds the turn, then ends that page's turn, and returns the
// order in which the requests got theirs. A name starting with "s" is a sign-in.
func order(t *testing.T, arrivals ...string) []string {
	tr := newTurns(1)
	tr.take(false)
	got := make(chan string)
	var signIns, pages int
	for _, name := range arrivals {
		signIn := name[0] == 's'
		go func() {
			tr.take(signIn)
			got <- name
			tr.done()
		}()
		if signIn {
			signIns++
		} else {
			pages++
		}
		queued(t, tr, signIns, pages)
	}
	tr.done()
	var out []string
	for range arrivals {
		out = append(out, <-got)
	}
	return out
}

func TestTurnsSignInDoesNotQueueBehindPages(t *testing.T) {
	got := order(t, "p1", "p2", "p3", "s1")
	if want := []string{"s1", "p1", "p2", "p3"}; !slices.Equal(got, want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestTurnsAlternateWhileBothWait(t *testing.T) {
	// A storm of sign-ins slows pages but does not stop them.
	got := order(t, "p1", "p2", "p3", "s1", "s2", "s3", "s4")
	if want := []string{"s1", "p1", "s2", "p2", "s3", "p3", "s4"}; !slices.Equal(got, want) {
		t.Errorf("turns went to %v, want %v", got, want)
	}
}

func TestTurnsFreeWithoutWaiting(t *testing.T) {
	tr := newTurns(2)
	tr.take(false)
	tr.take(true)
	tr.done()
	tr.done()
	tr.take(false)
	tr.take(false)
	if tr.free != 0 || len(tr.waitingPages) != 0 || len(tr.waitingSignIns) != 0 {
		t.Errorf("free %d, waiting %d pages and %d sign-ins; want none free, none waiting", tr.free, len(tr.waitingPages), len(tr.waitingSignIns))
	}
}

// TestTurnsMiddleware: with the only turn taken, a signed-out visitor still gets the login
// form, while a signed-in contact's page and a sign-in wait for the turn.
func TestTurnsMiddleware(t *testing.T) {
	tr := newTurns(1)
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error {
		v := &viewer{}
		if c.Get("X-Signed-In") != "" {
			v.contact = &db.Contact{ID: 1}
		}
		c.Locals(viewerKey, v)
		return c.Next()
	})
	app.Use(tr.pages)
	ok := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app.Get("/login", ok)
	app.Post("/login", tr.signIn, ok)
	app.Get("/my-contacts", ok)

	tr.take(false)
	if resp, err := app.Test(httptest.NewRequest("GET", "/login", nil), 5000); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login form while the turn is taken: %v, %v", resp, err)
	}
	answered := make(chan int, 2)
	send := func(method, path string, signedIn bool) {
		req := httptest.NewRequest(method, path, nil)
		if signedIn {
			req.Header.Set("X-Signed-In", "1")
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Error(err)
			answered <- 0
			return
		}
		answered <- resp.StatusCode
	}
	go send("GET", "/my-contacts", true)
	queued(t, tr, 0, 1)
	go send("POST", "/login", false)
	queued(t, tr, 1, 1)
	select {
	case code := <-answered:
		t.Fatalf("a request answered (%d) while the only turn was taken", code)
	case <-time.After(50 * time.Millisecond):
	}
	tr.done()
	for range 2 {
		if code := <-answered; code != 200 {
			t.Errorf("status %d after the turn was freed, want 200", code)
		}
	}
	if tr.free != 1 {
		t.Errorf("%d turns free after both answered, want 1", tr.free)
	}
	// A contact signed in already who posts the login form holds one turn, not two: with one
	// turn in all, a second would never come.
	req := httptest.NewRequest("POST", "/login", nil)
	req.Header.Set("X-Signed-In", "1")
	if resp, err := app.Test(req, 5000); err != nil || resp.StatusCode != 200 {
		t.Errorf("signed-in POST /login with one turn: %v, %v", resp, err)
	}
}
