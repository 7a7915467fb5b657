package reliability_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"portal/db/dbtest"
)

// pgLink stands between the portal and PostgreSQL, so that a test can cut the database off
// without stopping the server the other tests share. Cut, it drops every connection and
// keeps new ones open without a word, as a network partition does: the portal neither
// gets an answer nor a refusal.
type pgLink struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// newPGLink listens on a free loopback port and forwards to the server of dsn; it returns
// dsn with the link's address in it.
func newPGLink(t *testing.T, dsn string) (*pgLink, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &pgLink{ln: ln, target: u.Host, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		l.drop()
	})
	go l.serve()
	u.Host = ln.Addr().String()
	return l, u.String()
}

func (l *pgLink) serve() {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.conns[conn] = true
		cut := l.cut
		l.mu.Unlock()
		if cut {
			continue // held open, never answered
		}
		go l.forward(conn)
	}
}

func (l *pgLink) forward(conn net.Conn) {
	server, err := net.Dial("tcp", l.target)
	if err != nil {
		conn.Close()
		return
	}
	l.mu.Lock()
	l.conns[server] = true
	l.mu.Unlock()
	go func() { io.Copy(server, conn); server.Close() }()
	io.Copy(conn, server)
	conn.Close()
}

// drop closes every connection through the link.
func (l *pgLink) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
	l.conns = map[net.Conn]bool{}
}

// setCut cuts the link or restores it; either way the connections of before end.
func (l *pgLink) setCut(cut bool) {
	l.mu.Lock()
	l.cut = cut
	l.mu.Unlock()
	l.drop()
}

// healthz asks p's /healthz and returns the status, or 0 when no answer came in time.
func healthz(p *process) (status int, took time.Duration) {
	start := time.Now()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.base + "/healthz")
	if err != nil {
		return 0, time.Since(start)
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// TestHealthzFollowsPostgres: /healthz answers 503, promptly, while PostgreSQL can't be
// reached, so that a load balancer sends requests elsewhere; and 200 again once it can.
// The server keeps running meanwhile.
func TestHealthzFollowsPostgres(t *testing.T) {
	link, dsn := newPGLink(t, dbtest.PostgresURL(t))
	p := startPortal(t, "serve", "--db", dsn)

	if status, _ := healthz(p); status != http.StatusOK {
		t.Fatalf("/healthz with PostgreSQL there: %d, want 200", status)
	}
	link.setCut(true)
	if status, took := healthz(p); status != http.StatusServiceUnavailable || took > 5*time.Second {
		t.Fatalf("/healthz with PostgreSQL cut off: %d after %v, want 503 within 5 s", status, took.Round(time.Millisecond))
	}

	link.setCut(false)
	back := time.Now()
	deadline := back.Add(10 * time.Second)
	for {
		status, took := healthz(p)
		if status == http.StatusOK {
			t.Logf("/healthz answered 200 again %v after PostgreSQL came back", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with PostgreSQL back: %d after %v, want 200 within 10 s\n%s", status, took, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-p.done:
		t.Fatalf("the portal exited during the outage: %v\n%s", err, p.logs)
	default:
	}
}
