package handlers_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"portal/demo"
	"portal/portaltest"
	"portal/static"
)

// chromiumAcceptEncoding is what Chromium sends.
const chromiumAcceptEncoding = "gzip, deflate, br, zstd"

// getEncoded fetches path with this Accept-Encoding ("" sends none), as a navigation or,
// with htmx, as HTMX does. The body is as it came over the wire.
func getEncoded(b *portaltest.Browser, path, acceptEncoding string, htmx bool) portaltest.Response {
	req, _ := http.NewRequest(http.MethodGet, "http://portal.example.test"+path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	if htmx {
		req.Header.Set("HX-Request", "true")
	}
	return b.Do(req)
}

// decoded is the body of resp with its Content-Encoding undone.
func decoded(t *testing.T, resp portaltest.Response) string {
	t.Helper()
	var r io.Reader = strings.NewReader(resp.Body)
	switch coding := resp.Header.Get("Content-Encoding"); coding {
	case "":
		return resp.Body
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	default:
		t.Fatalf("Content-Encoding %q, want br, gzip or none", coding)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s body: %v", resp.Header.Get("Content-Encoding"), err)
	}
	return string(b)
}

func varies(resp portaltest.Response, header string) bool {
	for _, v := range strings.Split(resp.Header.Get("Vary"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), header) {
			return true
		}
	}
	return false
}

// checkLength: a body whose length is announced must be exactly that long.
func checkLength(t *testing.T, what string, resp portaltest.Response) {
	t.Helper()
	if got, want := resp.Header.Get("Content-Length"), strconv.Itoa(len(resp.Body)); got != want {
		t.Errorf("%s: Content-Length %q, want %s (the bytes sent)", what, got, want)
	}
}

var acceptEncodings = []struct {
	accept, want string
}{
	{chromiumAcceptEncoding, "br"},
	{"gzip", "gzip"},
	{"br;q=0, gzip", "gzip"},
	{"gzip;q=0, br;q=0", ""},
	{"identity", ""},
	{"", ""},
}

// TestStaticFilesAreCompressed: every embedded file comes in the coding the browser prefers
// among those it accepts, says so, and decodes to the same bytes as the plain file.
func TestStaticFilesAreCompressed(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Browser()
		for _, name := range []string{"app.css", "app.js", "htmx.min.js", "favicon.svg"} {
			url := static.URL(name)
			plain := getEncoded(b, url, "", false)
			if plain.StatusCode != http.StatusOK {
				t.Fatalf("%s: status %d, want 200", url, plain.StatusCode)
			}
			for _, tc := range acceptEncodings {
				what := fmt.Sprintf("%s with Accept-Encoding %q", name, tc.accept)
				resp := getEncoded(b, url, tc.accept, false)
				if got := resp.Header.Get("Content-Encoding"); got != tc.want {
					t.Errorf("%s: Content-Encoding %q, want %q", what, got, tc.want)
				}
				if !varies(resp, "Accept-Encoding") {
					t.Errorf("%s: Vary %q, want Accept-Encoding in it", what, resp.Header.Get("Vary"))
				}
				if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
					t.Errorf("%s: Cache-Control %q, want immutable", what, got)
				}
				checkLength(t, what, resp)
				if decoded(t, resp) != plain.Body {
					t.Errorf("%s: decodes to %d bytes that differ from the %d of the plain file", what, len(decoded(t, resp)), len(plain.Body))
				}
				if tc.want != "" && name != "favicon.svg" && 2*len(resp.Body) > len(plain.Body) {
					t.Errorf("%s: %d bytes of %d, want less than half", what, len(resp.Body), len(plain.Body))
				}
			}
		}
	})
}

// TestPagesAreCompressed: full pages and HTMX fragments come compressed, with their length
// and the headers caches need, and read the same as uncompressed once decoded (the CSRF
// token aside, which differs in every response).
func TestPagesAreCompressed(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		e := newLoginEnv(t, engine)
		b := e.Login(e.admin.Email)
		for _, tc := range []struct {
			path   string
			htmx   bool
			testID string
		}{
			{"/contacts", false, "contact-table"},
			{"/contacts?q=Anders", true, "contact-table"},
			{"/my-contacts", false, "my-contacts-tiles"},
			{fmt.Sprintf("/contacts/%d", e.member.ID), false, "contact-details"},
		} {
			plain := getEncoded(b, tc.path, "", tc.htmx)
			if plain.StatusCode != http.StatusOK || !strings.Contains(plain.Body, `data-testid="`+tc.testID+`"`) {
				t.Fatalf("%s: status %d, want 200 with %s; body %.300s", tc.path, plain.StatusCode, tc.testID, plain.Body)
			}
			if fragment := !strings.Contains(plain.Body, "<html"); fragment != tc.htmx {
				t.Fatalf("%s (HTMX %v): got a fragment %v", tc.path, tc.htmx, fragment)
			}
			for _, ae := range acceptEncodings {
				what := fmt.Sprintf("%s (HTMX %v) with Accept-Encoding %q", tc.path, tc.htmx, ae.accept)
				resp := getEncoded(b, tc.path, ae.accept, tc.htmx)
				if got := resp.Header.Get("Content-Encoding"); got != ae.want {
					t.Errorf("%s: Content-Encoding %q, want %q", what, got, ae.want)
				}
				if !varies(resp, "Accept-Encoding") || !varies(resp, "HX-Request") {
					t.Errorf("%s: Vary %q, want Accept-Encoding and HX-Request in it", what, resp.Header.Get("Vary"))
				}
				checkLength(t, what, resp)
				body := decoded(t, resp)
				if got, want := csrfValue.ReplaceAllString(body, "TOKEN"), csrfValue.ReplaceAllString(plain.Body, "TOKEN"); got != want {
					t.Errorf("%s: decodes to a page that differs from the uncompressed one", what)
				}
				if ae.want != "" && 2*len(resp.Body) > len(body) {
					t.Errorf("%s: %d bytes for %d, want less than half", what, len(resp.Body), len(body))
				}
			}
		}
	})
}

// TestExportsUnderCompression: the CSV export (text, streamed) is compressed in gzip as it
// streams (brotli at a low level suffers from fasthttp's flush every 4 kB) and decodes to
// the very bytes of the plain download; Excel and PDF files, compressed by their own
// formats, are sent as they are.
func TestExportsUnderCompression(t *testing.T) {
	portaltest.OnEachEngine(t, func(t *testing.T, engine portaltest.Engine) {
		t.Parallel()
		fx := newExportFixture(t, engine)
		b := fx.env.Login(fx.admin.Email)
		plainCSV := getEncoded(b, "/contacts/export.csv", "", false)
		if plainCSV.StatusCode != http.StatusOK || !strings.Contains(plainCSV.Body, "Maria") {
			t.Fatalf("plain CSV: status %d, body %.200q", plainCSV.StatusCode, plainCSV.Body)
		}
		for _, tc := range []struct{ accept, want string }{
			{chromiumAcceptEncoding, "gzip"}, {"gzip", "gzip"}, {"br", ""}, {"gzip;q=0, br", ""},
		} {
			resp := getEncoded(b, "/contacts/export.csv", tc.accept, false)
			if got := resp.Header.Get("Content-Encoding"); got != tc.want {
				t.Errorf("CSV with Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.want)
			}
			if !varies(resp, "Accept-Encoding") {
				t.Errorf("CSV with Accept-Encoding %q: Vary %q, want Accept-Encoding in it", tc.accept, resp.Header.Get("Vary"))
			}
			if got := decoded(t, resp); got != plainCSV.Body {
				t.Errorf("CSV with Accept-Encoding %q decodes to %d bytes that differ from the %d of the plain file", tc.accept, len(got), len(plainCSV.Body))
			}
		}
		for _, tc := range []struct{ path, magic string }{{"/contacts/export.xlsx", "PK\x03\x04"}, {"/contacts/export.pdf", "%PDF-"}} {
			resp := getEncoded(b, tc.path, chromiumAcceptEncoding, false)
			if got := resp.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("%s: Content-Encoding %q, want none (the format is compressed already)", tc.path, got)
			}
			if !bytes.HasPrefix([]byte(resp.Body), []byte(tc.magic)) {
				t.Errorf("%s: starts %.8q, want %q", tc.path, resp.Body, tc.magic)
			}
		}
	})
}

// BenchmarkPageCompression is what compressing costs a page: the demo's All Contacts
// (demo.Seed, a full page of 25 rows) fetched in turn plain, in gzip and in brotli through
// the Fiber app, with the medians of each and their ratios to the plain page.
//
//	go test -tags sqlite_fts5 ./handlers -run '^$' -bench PageCompression -benchtime 2000x
func BenchmarkPageCompression(b *testing.B) {
	env := portaltest.New(b)
	email, password, err := demo.Seed(env.Ctx, env.Store, env.Hasher, demo.Bulk{})
	if err != nil {
		b.Fatal(err)
	}
	browser := env.Browser()
	if resp := browser.Login(email, password); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login as the demo admin: status %d", resp.StatusCode)
	}
	codings := []struct{ name, accept string }{{"plain", ""}, {"gzip", "gzip"}, {"br", chromiumAcceptEncoding}}
	took := make([][]time.Duration, len(codings))
	size := make([]int, len(codings))
	b.ResetTimer()
	for b.Loop() {
		for i, c := range codings {
			start := time.Now()
			resp := getEncoded(browser, "/contacts", c.accept, false)
			took[i] = append(took[i], time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s: status %d", c.name, resp.StatusCode)
			}
			size[i] = len(resp.Body)
		}
	}
	b.StopTimer()
	plain := percentile(took[0], 50)
	for i, c := range codings {
		p50 := percentile(took[i], 50)
		b.ReportMetric(p50, c.name+"-p50-µs")
		b.ReportMetric(float64(size[i]), c.name+"-bytes")
		if i > 0 {
			b.ReportMetric(p50/plain, c.name+"/plain")
		}
	}
}
