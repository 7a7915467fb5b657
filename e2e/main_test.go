// Package e2e drives the real portal in a real headless Chromium, the way a person clicks
// through it: the server runs in the test on a loopback port over a real SQLite file (one
// flow also over PostgreSQL), and every flow is checked for accessibility with axe-core in
// the browser.
//
// One browser starts per package (TestMain); every test opens its own tab in its own
// browser context, so cookies never leak from one test to the next. Without Chromium the
// tests skip, unless CI is set: then a missing browser is a failure.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"

	"portal/db/dbtest"
)

// browserCtx is the long-lived context of the one browser every test opens tabs in.
var browserCtx context.Context

// browserProblem says why there is no browser ("" when there is one).
var browserProblem string

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run starts the browser and runs the tests (dbtest.Main: it stops the throwaway PostgreSQL
// server afterwards).
func run(m *testing.M) int {
	path := chromiumPath()
	if path == "" {
		browserProblem = "Chromium not found: install Debian's chromium (apt-get install chromium) or set E2E_CHROMIUM"
		return dbtest.Main(m)
	}
	profile, err := os.MkdirTemp("", "e2e-chromium-")
	if err != nil {
		browserProblem = fmt.Sprintf("temporary profile: %v", err)
		return dbtest.Main(m)
	}
	defer os.RemoveAll(profile)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // CI and this machine run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		// Nothing but the portal on loopback: no updates, no QUIC probes, no sync.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("lang", "en-US"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		browserProblem = fmt.Sprintf("start %s: %v", path, err)
		return dbtest.Main(m)
	}
	browserCtx = ctx
	code := dbtest.Main(m)
	if !validateHTML() && code == 0 {
		code = 1
	}
	return code
}

// chromiumPath finds the browser: E2E_CHROMIUM, then Debian's /usr/bin/chromium, then PATH.
func chromiumPath() string {
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// needBrowser skips the test without a browser, or fails it in CI, where the browser is
// part of the contract (.ci/run installs it).
func needBrowser(t *testing.T) {
	t.Helper()
	if browserProblem == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("end-to-end tests need a browser in CI: %s", browserProblem)
	}
	t.Skipf("skipping end-to-end test: %s", browserProblem)
}
