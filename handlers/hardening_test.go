package handlers_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"portal/db"
	"portal/db/dbtest"
	"portal/portaltest"
)

// execDirectly changes the database behind the app's back, as an operator with sqlite3 or
// psql would.
func execDirectly(t *testing.T, e *portaltest.Env, query string) {
	t.Helper()
	dbtest.Exec(t, e.Config.DBPath, query)
}

// A password link's token is a live credential for 12 hours: no log line and no audit row
// may hold it, whether the request failed in its handler or was refused before it.
func TestLinkTokensStayOutOfLogsAndTheAuditLog(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		var logs portaltest.LogBuffer
		e := newLoginEnv(t, engine, portaltest.Options{Log: &logs})
		issueReset(t, e.Env, e.member)
		path := mailedLink(t, e.Env, e.member.Email)
		token := strings.TrimPrefix(path, "/set-password/")

		// A real failure while the password is being set: the link can't be used up.
		failure := `CREATE TRIGGER fail_link_use BEFORE UPDATE ON password_tokens
			BEGIN SELECT RAISE(ABORT, 'injected failure'); END`
		if engine == portaltest.Postgres {
			failure = `CREATE FUNCTION fail_link_use() RETURNS trigger LANGUAGE plpgsql AS
				'BEGIN RAISE EXCEPTION ''injected failure''; END';
			CREATE TRIGGER fail_link_use BEFORE UPDATE ON password_tokens FOR EACH ROW EXECUTE FUNCTION fail_link_use()`
		}
		execDirectly(t, e.Env, failure)
		if resp := setPassword(e.Browser(), path, "a brand new passphrase 7"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("set password while the link can't be used up: status %d, want 500", resp.StatusCode)
		}
		// Refused by the CSRF check before reaching its route: logged and audited.
		admin := e.Login(e.admin.Email)
		if resp := admin.PostForm(path, url.Values{"_csrf": {"forged"}, "password": {"x"}, "confirm": {"x"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("set-password post with a forged CSRF token: status %d, want 403", resp.StatusCode)
		}
		// Ids are no secret: a denied contact id stays in the record.
		if resp := admin.Get("/contacts/987654"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown contact: status %d, want 404", resp.StatusCode)
		}

		out := logs.String()
		for _, want := range []string{`msg="request failed" method=POST path=/set-password/:token status=500`,
			`msg="request refused" method=POST path=/set-password/:token status=403`} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, token) {
			t.Errorf("log holds the link's token %s:\n%s", token, out)
		}
		sc, err := e.Store.ScopeOf(e.Ctx, e.account.ID)
		if err != nil {
			t.Fatal(err)
		}
		events, err := e.Store.AuditLog(e.Ctx, sc, db.AuditFilter{}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var denied []string
		for _, ev := range events {
			if strings.Contains(ev.Detail, token) {
				t.Errorf("audit event %s holds the link's token: %q", ev.Action, ev.Detail)
			}
			if ev.Action == db.ActionAccessDenied {
				denied = append(denied, ev.Detail)
			}
		}
		// Newest first. The CSRF refusal is audited too (issue 14, item 3), its route redacted.
		want := []string{"GET /contacts/987654 answered 404", "POST /set-password/:token answered 403: no valid CSRF token"}
		if strings.Join(denied, "|") != strings.Join(want, "|") {
			t.Errorf("access_denied details %q, want %q", denied, want)
		}
	})
}

// rawExchange sends raw bytes to the server over a new connection and reads one response.
// closed reports whether the server then closed the connection (rather than keeping it
// for another request).
func rawExchange(t *testing.T, base, request string) (resp *http.Response, body string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to %.40q: %v", request, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	_, err = br.ReadByte()
	// A reset is a close too: the server closed with bytes of the request still unread.
	closed = errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
	if !closed && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the answer: %v, want the connection closed or idle", err)
	}
	return resp, string(b), closed
}

// Requests the HTTP parser refuses never reach the middleware; their error pages still
// carry every security header, and say nothing of the parser's.
func TestEarlyErrorPagesCarrySecurityHeaders(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		base := e.Serve()
		for _, tc := range []struct {
			name    string
			request string
			status  int
		}{
			{"body over the limit", "POST /set-password/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG HTTP/1.1\r\nHost: portal\r\n" +
				"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n", http.StatusRequestEntityTooLarge},
			{"headers too large", "GET /login HTTP/1.1\r\nHost: portal\r\nX-Padding: " + strings.Repeat("a", 20_000) + "\r\n\r\n",
				http.StatusRequestHeaderFieldsTooLarge},
			{"malformed header line", "GET /login HTTP/1.1\r\nHost: portal\r\nX-Bad Header: <script>\r\n\r\n", http.StatusBadRequest},
			{"malformed Content-Length", "POST /login HTTP/1.1\r\nHost: portal\r\nContent-Length: 12abc\r\n\r\n", http.StatusBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body, closed := rawExchange(t, base, tc.request)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d; body: %s", resp.StatusCode, tc.status, body)
				}
				for header, want := range map[string]string{
					"Content-Security-Policy":   "frame-ancestors 'none'",
					"X-Content-Type-Options":    "nosniff",
					"X-Frame-Options":           "DENY",
					"Cache-Control":             "no-store",
					"Strict-Transport-Security": "max-age=",
					"Referrer-Policy":           "no-referrer",
				} {
					if got := resp.Header.Get(header); !strings.Contains(got, want) {
						t.Errorf("%s = %q, want it to contain %q", header, got, want)
					}
				}
				for _, leak := range []string{"error when", "contents", "<script>", "fasthttp", "abcdefghijklmnop"} {
					if strings.Contains(body, leak) {
						t.Errorf("error page shows %q: %s", leak, body)
					}
				}
				if !closed {
					t.Error("connection kept open after a refused request, want it closed")
				}
			})
		}
	})
}

// RFC 9112 6.3: a request with both Content-Length and Transfer-Encoding is read by the
// latter, and the connection is closed after the answer, so that a proxy in front that
// read it by Content-Length can't have a second request smuggled in behind it.
func TestContentLengthWithTransferEncodingClosesTheConnection(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		base := e.Serve()
		const chunked = "5\r\nemail\r\n0\r\n\r\n"
		for _, tc := range []struct {
			name, headers string
			wantClosed    bool
		}{
			{"both", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", true},
			{"both, the other way round", "Transfer-Encoding: chunked\r\ncontent-length: 3\r\n", true},
			{"chunked only", "Transfer-Encoding: chunked\r\n", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				request := "POST /forgot-password HTTP/1.1\r\nHost: portal\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
					tc.headers + "\r\n" + chunked
				resp, body, closed := rawExchange(t, base, request)
				if resp.StatusCode != http.StatusForbidden { // no CSRF token: refused, but read whole
					t.Fatalf("status %d, want 403; body: %s", resp.StatusCode, body)
				}
				if closed != tc.wantClosed {
					t.Errorf("connection closed %v, want %v", closed, tc.wantClosed)
				}
				if resp.Close != tc.wantClosed {
					t.Errorf("answer says Connection: close %v, want %v", resp.Close, tc.wantClosed)
				}
			})
		}
	})
}
