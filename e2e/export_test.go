package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portal/db"
)

// allowDownloads saves this tab's downloads in dir under the names the server gives.
func (tb *tab) allowDownloads(dir string) {
	tb.t.Helper()
	tb.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		c := chromedp.FromContext(ctx)
		_, err := cdp.Call(ctx, c.Browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: c.BrowserContextID, DownloadPath: dir,
		})
		return err
	}))
}

// waitDownload waits until dir holds a finished file of this name.
func (tb *tab) waitDownload(dir, name string) []byte {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && len(b) > 0 {
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	tb.fail("no download %s after %s (the folder holds %q)", name, actionTimeout, names)
	return nil
}

// TestExportMenu: the three-dots menu of All Contacts opens by keyboard; each of its three
// items downloads its file while the status line says what is going on.
func TestExportMenu(t *testing.T) {
	p := startAdminPortal(t)
	p.Contact(p.child, "Zoë", "Ærø", "zoe@acme.example")
	tb := p.openMyContacts(t)
	dir := t.TempDir()
	tb.allowDownloads(dir)
	tb.clickAndLoad(link("Manage your contacts"))
	tb.waitFor(heading("All Contacts"))

	menu := button("Export contacts")
	tb.tabTo(menu)
	tb.press("\r")
	tb.waitFor(link("Export CSV"))
	tb.checkA11y("All Contacts, export menu open")
	tb.checkLayout("export-menu")
	tb.press(kb.Escape)
	if !tb.focused(menu) {
		t.Errorf("Escape did not give the focus back to the menu button")
	}

	date := p.Store.Now().UTC().Format("2006-01-02")
	for _, item := range []struct {
		link   element
		file   string
		starts string
	}{
		{link("Export CSV"), "contacts-" + date + ".csv", "\uFEFFFirst name,Last name,Email"},
		{link("Export Excel"), "contacts-" + date + ".xlsx", "PK"},
		{testID("export-pdf"), "contacts-" + date + ".pdf", "%PDF-"},
	} {
		tb.click(menu)
		tb.click(item.link)
		tb.waitText("Your download has started.")
		body := tb.waitDownload(dir, item.file)
		if !strings.HasPrefix(string(body), item.starts) {
			t.Errorf("%s starts with %.20q, want %q", item.file, body, item.starts)
		}
		if strings.HasSuffix(item.file, ".csv") && !strings.Contains(string(body), "Zoë,Ærø") {
			t.Errorf("%s lacks Zoë Ærø:\n%s", item.file, body)
		}
	}
	if n, err := p.Store.CountAudit(context.Background(), db.ActionContactsExported, 0); err != nil || n != 3 {
		t.Errorf("audited exports: got %d (%v), want 3", n, err)
	}
}
