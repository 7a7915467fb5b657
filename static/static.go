// Package static embeds the portal's CSS, scripts and icons and serves them under
// content-hashed names, so that browsers may cache them for a year and still never run
// yesterday's copy after an upgrade.
//
// Each file is also compressed once, with brotli and gzip at their best settings, when it is
// first asked for: the files never change while the process runs, so the slow best settings
// cost only that first request (one or two tenths of a second for htmx) and every response
// is as small as it can be. Commands and tests that never serve a file never pay for it.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

//go:embed *.css *.js *.svg
var files embed.FS

// Prefix is the URL path static files are served under.
const Prefix = "/static/"

// Asset is one embedded file, ready to send in each content coding a browser may accept.
type Asset struct {
	ContentType string
	identity    []byte
	codings     func() codings // computed at the first request for the file, then kept
}

type codings struct {
	brotli, gzip []byte // nil where the coding would not make the file smaller
}

// byName maps a file name to its hashed URL; byURL the other way round. Both are computed
// once from the embedded files and never change afterwards.
var byName, byURL = index()

func index() (map[string]string, map[string]*Asset) {
	names, urls := map[string]string{}, map[string]*Asset{}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic(fmt.Sprintf("static: list embedded files: %v", err)) // the embed pattern guarantees them
	}
	for _, e := range entries {
		body, err := files.ReadFile(e.Name())
		if err != nil {
			panic(fmt.Sprintf("static: read embedded %s: %v", e.Name(), err))
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		names[e.Name()] = Prefix + hashed
		urls[hashed] = &Asset{ContentType: mime.TypeByExtension(ext), identity: body,
			codings: sync.OnceValue(func() codings {
				return codings{brotli: smaller(body, compressBrotli(body)), gzip: smaller(body, compressGzip(body))}
			})}
	}
	return names, urls
}

func compressBrotli(body []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	// Writing to a bytes.Buffer cannot fail.
	_, _ = w.Write(body)
	_ = w.Close()
	return buf.Bytes()
}

func compressGzip(body []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = w.Write(body)
	_ = w.Close()
	return buf.Bytes()
}

// smaller keeps an encoded copy only where it saves bytes: a tiny file can come out of a
// compressor larger than it went in.
func smaller(identity, encoded []byte) []byte {
	if len(encoded) >= len(identity) {
		return nil
	}
	return encoded
}

// URL is the cache-busting URL of an embedded file, such as /static/app.3f2a9c01d4.css.
func URL(name string) string {
	if u, ok := byName[name]; ok {
		return u
	}
	return Prefix + name
}

// Lookup returns the file of a hashed name (the part of the URL after Prefix).
func Lookup(hashed string) (*Asset, bool) {
	a, ok := byURL[hashed]
	return a, ok
}

// Encoded returns the body to send to a client that sent this Accept-Encoding header, and
// the content coding of that body ("" for none).
func (a *Asset) Encoded(acceptEncoding string) (body []byte, coding string) {
	c := a.codings()
	switch negotiate(acceptEncoding, c.brotli != nil, c.gzip != nil) {
	case "br":
		return c.brotli, "br"
	case "gzip":
		return c.gzip, "gzip"
	}
	return a.identity, ""
}

// negotiate picks the content coding for a response from an Accept-Encoding header (RFC 9110
// §12.5.3): "br" or "gzip" where the server has that coding and the client accepts it, else
// "" (identity). The client's highest quality wins; between equals brotli does, as it is
// the smaller. A quality of 0 refuses a coding, and "*" stands for every coding not named.
// No header at all gets identity: clients that never asked may not decode anything else.
func negotiate(acceptEncoding string, haveBrotli, haveGzip bool) string {
	br, gz := quality(acceptEncoding, "br"), quality(acceptEncoding, "gzip")
	switch {
	case haveBrotli && br > 0 && (!haveGzip || br >= gz):
		return "br"
	case haveGzip && gz > 0:
		return "gzip"
	}
	return ""
}

// quality is the weight the header gives to coding, in thousandths: an explicit entry for
// it (x-gzip counts as gzip), else the entry for "*", else 0.
func quality(header, coding string) int {
	wildcard := 0
	for entry := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(entry, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1000
		for param := range strings.SplitSeq(params, ";") {
			key, value, ok := strings.Cut(param, "=")
			if ok && strings.EqualFold(strings.TrimSpace(key), "q") {
				q = parseQuality(strings.TrimSpace(value))
			}
		}
		switch {
		case name == coding || (coding == "gzip" && name == "x-gzip"):
			return q
		case name == "*":
			wildcard = q
		}
	}
	return wildcard
}

// parseQuality reads a qvalue ("0", "0.5", "1.000") as thousandths; anything malformed
// counts as 0, so a coding the client did not clearly accept is not used.
func parseQuality(s string) int {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 3 || (whole != "0" && whole != "1") {
		return 0
	}
	q := 0
	if whole == "1" {
		q = 1000
	}
	scale := 100
	for _, d := range frac {
		if d < '0' || d > '9' {
			return 0
		}
		q += int(d-'0') * scale
		scale /= 10
	}
	return min(q, 1000)
}
