package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// The Nu Html Checker (npm vnu-jar, 30 MB, so not vendored: `npm ci --prefix
// e2e/testdata/vnu` installs it) validates every page the flows visit when E2E_VNU names
// its vnu.jar. Each page is saved twice and checked in one run after the tests, which then
// fail on any error: as the browser holds it (after scripts and HTMX swaps), and as the
// server sends its address to a GET, because the browser's parser silently repairs
// markup (a stray </p>, a <div> inside a <p>) that the checker only sees in the source.
var (
	vnuJar     = os.Getenv("E2E_VNU")
	vnuMu      sync.Mutex
	vnuDir     string
	vnuPages   = map[string]bool{}
	vnuSources = map[string]bool{}
)

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// keepHTML saves the page for the checker, once per page name.
func (tb *tab) keepHTML(page string) {
	tb.t.Helper()
	if vnuJar == "" || tb.noJS {
		return
	}
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(page), "-"), "-") + ".html"
	vnuMu.Lock()
	defer vnuMu.Unlock()
	if vnuPages[name] {
		return
	}
	if vnuDir == "" {
		dir, err := os.MkdirTemp("", "e2e-vnu-")
		if err != nil {
			tb.t.Fatal(err)
		}
		vnuDir = dir
	}
	html := eval[string](tb, `"<!DOCTYPE html>\n" + document.documentElement.outerHTML`)
	if err := os.WriteFile(filepath.Join(vnuDir, name), []byte(html), 0o644); err != nil {
		tb.t.Fatal(err)
	}
	vnuPages[name] = true

	// The source of the page's address, once per address: a page shown after a POST (a
	// form with its errors) is checked above; here its address gets what a GET sends.
	address := eval[string](tb, `location.pathname + location.search`)
	name = "source-of" + strings.TrimRight(unsafeName.ReplaceAllString(strings.ToLower(address), "-"), "-") + ".html"
	if vnuSources[name] {
		return
	}
	source := eval[string](tb, `fetch(location.href, {credentials: "same-origin"}).then((r) => r.text())`)
	if err := os.WriteFile(filepath.Join(vnuDir, name), []byte(source), 0o644); err != nil {
		tb.t.Fatal(err)
	}
	vnuSources[name] = true
}

// validateHTML runs the checker over the saved pages; it returns false on any error.
func validateHTML() bool {
	if vnuDir == "" {
		return true
	}
	defer os.RemoveAll(vnuDir)
	// HTMX attributes are written data-hx-*, which HTML allows: nothing is filtered out.
	out, err := exec.Command("java", "-jar", vnuJar, "--errors-only", "--skip-non-html", vnuDir).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Nu Html Checker found errors in the pages the flows visited:\n%s\n", strings.ReplaceAll(string(out), "file:"+vnuDir+"/", ""))
		return false
	}
	fmt.Fprintf(os.Stderr, "Nu Html Checker: %d pages as shown and %d addresses as served, all valid\n", len(vnuPages), len(vnuSources))
	return true
}
