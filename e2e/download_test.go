package e2e

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// download runs trigger (a click, a key), lets the browser save the file it leads to, and
// returns the name the server suggested and the bytes saved.
func (tb *tab) download(what string, trigger func()) (string, []byte) {
	tb.t.Helper()
	dir := tb.t.TempDir()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllowAndName,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
		DownloadPath:     dir,
		EventsEnabled:    new(true),
	})
	if err != nil {
		tb.fail("allow downloads: %v", err)
	}
	begun := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	trigger()
	var guid, name string
	for ev, err := range begun {
		if err != nil {
			tb.fail("%s: no download began: %v", what, err)
		}
		guid, name = ev.GUID, ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			tb.fail("download %s: %v", name, err)
		}
		if ev.GUID != guid {
			continue
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			tb.fail("download %s was cancelled", name)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	// allowAndName saves the file under its GUID. Chromium may report the download complete
	// a moment before the file has its final name (seen under load with -race): look again
	// for a few seconds.
	path := filepath.Join(dir, guid)
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		data, err := os.ReadFile(path)
		if err == nil {
			return name, data
		}
		if !os.IsNotExist(err) || time.Now().After(wait) {
			entries, _ := os.ReadDir(dir)
			tb.fail("read the downloaded %s: %v (the folder holds %v)", name, err, entries)
		}
	}
}
