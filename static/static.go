// Package static embeds the portal's CSS, scripts and icons and serves them under
// content-hashed names, so that browsers may cache them for a year and still never run
// yesterday's copy after an upgrade.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

// Prefix is the URL path static files are served under.
const Prefix = "/static/"

type asset struct {
	body        []byte
	contentType string
}

// byName maps a file name to its hashed URL; byURL the other way round. Both are computed
// once from the embedded files and never change afterwards.
var byName, byURL = index()

func index() (map[string]string, map[string]asset) {
	names, urls := map[string]string{}, map[string]asset{}
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		body, _ := files.ReadFile(e.Name())
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		names[e.Name()] = Prefix + hashed
		urls[hashed] = asset{body: body, contentType: mime.TypeByExtension(ext)}
	}
	return names, urls
}

// URL is the cache-busting URL of an embedded file, such as /static/app.3f2a9c01d4.css.
func URL(name string) string {
	if u, ok := byName[name]; ok {
		return u
	}
	return Prefix + name
}

// Lookup returns the body and content type of a hashed file name (the part after Prefix).
func Lookup(hashed string) (body []byte, contentType string, ok bool) {
	a, ok := byURL[hashed]
	return a.body, a.contentType, ok
}
