package e2e

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"portal/demo"
)

// pageBudget is the most a page may weigh over the wire at a first visit, everything it
// loads included: 30 KB (issue 13).
const pageBudget = 30 * 1024

// transfer is one response of a page load as it crossed the wire.
type transfer struct {
	url    string
	kind   network.ResourceType
	coding string // Content-Encoding, "" for none
	bytes  int    // headers and body as received (encodedDataLength)
	failed string // why it did not load, if it did not
}

// pageWeight is what loading a page cost: every response, and the requests that went to
// other hosts than the portal.
type pageWeight struct {
	transfers []*transfer
	total     int
	foreign   []string
}

func (w pageWeight) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes in %d responses:", w.total, len(w.transfers))
	for _, t := range w.transfers {
		coding := t.coding
		if coding == "" {
			coding = "identity"
		}
		fmt.Fprintf(&b, "\n    %6d  %-10s %-8s %s", t.bytes, t.kind, coding, t.url)
		if t.failed != "" {
			fmt.Fprintf(&b, " (failed: %s)", t.failed)
		}
	}
	return b.String()
}

// weigh loads path as a first visit would, with an empty cache, and sums the bytes of
// every response the DevTools protocol reports, headers included, until the network has
// been quiet for half a second (so that requests a page's scripts make count too).
func (tb *tab) weigh(path string) pageWeight {
	tb.t.Helper()
	portal, err := url.Parse(tb.portal.URL)
	if err != nil {
		tb.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCache, cdp.Empty{}); err != nil {
		tb.fail("clear the browser cache: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		tb.fail("disable the cache: %v", err)
	}
	defer func() {
		_, _ = chromedp.Call(tb.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: false})
	}()

	var (
		mu      sync.Mutex
		byID    = map[network.RequestID]*transfer{}
		order   []*transfer
		open    = map[network.RequestID]bool{}
		last    = time.Now()
		foreign []string
		// The URL of the document being weighed; every request made for it says so.
		document = tb.portal.URL + path
	)
	listening, stop := context.WithCancel(tb.ctx)
	defer stop()
	// The listener runs in the tab's message loop: it only records, under the lock.
	err = chromedp.Listen(listening, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.(type) {
		case *network.EventRequestWillBeSent, *network.EventResponseReceived, *network.EventDataReceived,
			*network.EventLoadingFinished, *network.EventLoadingFailed:
			last = time.Now()
		}
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			u, err := url.Parse(ev.Request.URL)
			if err == nil && u.Scheme == "data" {
				return // inline in a file already counted, nothing crosses the wire
			}
			if err != nil || u.Host != portal.Host {
				foreign = append(foreign, ev.Request.URL) // whoever asked
			}
			// The page before may still be fetching (the browser asks for a page's icon
			// after its load event), and the navigation cancels such a request without a
			// word: only the requests made for the document asked for are weighed.
			if ev.Type == network.ResourceTypeDocument && ev.RedirectResponse != nil {
				document = ev.DocumentURL // the document's request was redirected
			}
			if ev.DocumentURL != document {
				return
			}
			if t, ok := byID[ev.RequestID]; ok && ev.RedirectResponse != nil {
				t.bytes += int(ev.RedirectResponse.EncodedDataLength) // the redirect's own response
				t.url = ev.Request.URL
				return
			}
			t := &transfer{url: ev.Request.URL, kind: ev.Type}
			byID[ev.RequestID] = t
			order = append(order, t)
			open[ev.RequestID] = true
		case *network.EventResponseReceived:
			if t, ok := byID[ev.RequestID]; ok {
				for name, value := range ev.Response.Headers {
					if strings.EqualFold(name, "Content-Encoding") {
						t.coding, _ = value.(string)
					}
				}
			}
		case *network.EventLoadingFinished:
			if t, ok := byID[ev.RequestID]; ok {
				t.bytes += int(ev.EncodedDataLength)
				delete(open, ev.RequestID)
			}
		case *network.EventLoadingFailed:
			if t, ok := byID[ev.RequestID]; ok {
				t.failed = ev.ErrorText
				delete(open, ev.RequestID)
			}
		}
	})
	if err != nil {
		tb.fail("listen to the network: %v", err)
	}

	tb.visit(path)
	deadline := time.Now().Add(actionTimeout)
	for {
		mu.Lock()
		quiet := len(open) == 0 && time.Since(last) > 500*time.Millisecond
		mu.Unlock()
		if quiet {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			var pending []string
			for id := range open {
				pending = append(pending, fmt.Sprintf("%s %s", byID[id].kind, byID[id].url))
			}
			mu.Unlock()
			tb.fail("loading %s: the network never went quiet; still loading: %s", path, strings.Join(pending, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()

	mu.Lock()
	defer mu.Unlock()
	w := pageWeight{transfers: order, foreign: foreign}
	for _, t := range order {
		w.total += t.bytes
	}
	sort.SliceStable(w.transfers, func(i, j int) bool { return w.transfers[i].bytes > w.transfers[j].bytes })
	return w
}

// checkWeight fails the test when the page is over the budget, or when it asked any other
// host for anything, and reports its weight either way.
func checkWeight(t *testing.T, page string, w pageWeight) {
	t.Helper()
	t.Logf("%s, first visit: %s", page, w)
	if len(w.transfers) == 0 {
		t.Errorf("%s: no response was measured", page)
	}
	for _, tr := range w.transfers {
		if tr.failed != "" {
			t.Errorf("%s: %s failed to load: %s", page, tr.url, tr.failed)
		}
	}
	if w.total > pageBudget {
		t.Errorf("%s weighs %d bytes over the wire, want at most %d (30 KB)", page, w.total, pageBudget)
	}
	if len(w.foreign) > 0 {
		t.Errorf("%s asked other hosts than the portal for: %s", page, strings.Join(w.foreign, ", "))
	}
}

// TestPageWeight: on the demo's data (demo.Seed, as `portal demo` makes it), All Contacts at
// a first visit, with an empty cache, weighs at most 30 KB over the wire, the page with its
// styles, scripts and icon; so do the login page, My contacts and a contact's page, and
// none of them asks another host for anything.
func TestPageWeight(t *testing.T) {
	p := startPortal(t)
	email, password, err := demo.Seed(p.Ctx, p.Store, p.Hasher, demo.Bulk{})
	if err != nil {
		t.Fatalf("seed the demo: %v", err)
	}
	admin, err := p.Store.ContactByEmail(p.Ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	tb := p.newTab(t)

	login := tb.weigh("/login")
	tb.waitFor(heading("Log in"))
	checkWeight(t, "Login", login)

	tb.login(email, password)
	all := tb.weigh("/contacts")
	if got := eval[int](tb, `document.querySelectorAll("[data-testid=contact-row]").length`); got != 25 {
		t.Errorf("All Contacts shows %d rows, want a full page of 25 (the demo has more)", got)
	}
	checkWeight(t, "All Contacts", all)
	kinds := map[network.ResourceType]bool{}
	for _, tr := range all.transfers {
		kinds[tr.kind] = true
		if tr.coding == "" && tr.bytes > 1024 {
			t.Errorf("All Contacts: %s came uncompressed (%d bytes)", tr.url, tr.bytes)
		}
	}
	for _, kind := range []network.ResourceType{network.ResourceTypeDocument, network.ResourceTypeStylesheet, network.ResourceTypeScript} {
		if !kinds[kind] {
			t.Errorf("All Contacts: no %s among the responses measured, want the page and all it loads", kind)
		}
	}

	checkWeight(t, "My contacts", tb.weigh("/my-contacts"))
	checkWeight(t, "A contact's page", tb.weigh(fmt.Sprintf("/contacts/%d", admin.ID)))
}
