package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   string
	}{
		{"", ""},                          // no preference stated: identity, which every client reads
		{"gzip, deflate, br, zstd", "br"}, // Chromium
		{"gzip, deflate, br", "br"},
		{"gzip,br", "br"},
		{"gzip", "gzip"},
		{"x-gzip", "gzip"},
		{"GZIP", "gzip"},
		{"br", "br"},
		{"deflate", ""},
		{"identity", ""},
		{"br;q=0, gzip", "gzip"},
		{"br; q=0 , gzip;q=0.5", "gzip"},
		{"gzip;q=0, br;q=0", ""},
		{"gzip;q=1.0, br;q=0.5", "gzip"}, // the client prefers gzip
		{"gzip;q=0.5, br;q=0.5", "br"},   // a tie goes to the smaller
		{"gzip;q=0.001", "gzip"},
		{"*", "br"},
		{"*;q=0", ""},
		{"*;q=0, gzip", "gzip"},
		{"br;q=0, *", "gzip"},
		{"br;q=2, gzip", "gzip"},   // out of range: not clearly accepted
		{"br;q=abc, gzip", "gzip"}, // malformed: not clearly accepted
		{"br;q=0.0001, gzip", "gzip"},
		{"brotli, gzipped", ""}, // names match whole, not by prefix
	} {
		if got := negotiate(tc.header, true, true); got != tc.want {
			t.Errorf("negotiate(%q): got %q, want %q", tc.header, got, tc.want)
		}
	}
	// A coding the server does not have for a file is never chosen.
	if got := negotiate("br", false, true); got != "" {
		t.Errorf(`negotiate("br") without a brotli copy: got %q, want identity`, got)
	}
	if got := negotiate("br, gzip", false, true); got != "gzip" {
		t.Errorf(`negotiate("br, gzip") without a brotli copy: got %q, want gzip`, got)
	}
}

// TestEncodedCopiesMatchTheFiles: every copy a browser may get decodes to the embedded file,
// and each coding makes the scripts and styles much smaller (they are most of a first load).
func TestEncodedCopiesMatchTheFiles(t *testing.T) {
	for name, hashedURL := range byName {
		a, ok := Lookup(strings.TrimPrefix(hashedURL, Prefix))
		if !ok {
			t.Fatalf("Lookup(%s): not found", hashedURL)
		}
		original, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			accept, coding string
			decode         func(io.Reader) (io.Reader, error)
		}{
			{"", "", func(r io.Reader) (io.Reader, error) { return r, nil }},
			{"gzip", "gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
			{"br", "br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		} {
			body, coding := a.Encoded(tc.accept)
			if coding != tc.coding {
				if tc.coding != "" && coding == "" && name == "favicon.svg" {
					continue // a file this small may gain nothing from a coding
				}
				t.Errorf("%s with Accept-Encoding %q: coding %q, want %q", name, tc.accept, coding, tc.coding)
				continue
			}
			r, err := tc.decode(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s in %q: %v", name, coding, err)
			}
			decoded, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%s in %q: %v", name, coding, err)
			}
			if !bytes.Equal(decoded, original) {
				t.Errorf("%s in %q decodes to %d bytes that differ from the %d embedded", name, coding, len(decoded), len(original))
			}
			ratio := float64(len(body)) / float64(len(original))
			if coding != "" && name != "favicon.svg" && ratio > 0.4 {
				t.Errorf("%s in %s: %d of %d bytes (%.0f%%), want at most 40%%", name, coding, len(body), len(original), 100*ratio)
			}
		}
	}
}

// BenchmarkCompress is what the first request for each file waits for, all files together.
func BenchmarkCompress(b *testing.B) {
	for b.Loop() {
		for _, a := range byURL {
			compressBrotli(a.identity)
			compressGzip(a.identity)
		}
	}
}
