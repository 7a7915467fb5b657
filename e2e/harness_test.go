package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portal/portaltest"
)

// portal is the real server under test, listening on a loopback port.
type portal struct {
	*portaltest.Env
	URL string
}

// startPortal serves a fresh portal (real SQLite file in a temporary directory) until the
// test ends; args are extra server flags. Each test has its own portal and its own browser
// context, so tests run in parallel (as many as -parallel, GOMAXPROCS by default).
func startPortal(t *testing.T, args ...string) *portal {
	t.Helper()
	return startPortalOn(t, portaltest.SQLite, args...)
}

// startPortalOn is startPortal on engine: a flow that runs on both engines runs it once per
// engine (portaltest.OnEachEngine).
func startPortalOn(t *testing.T, engine portaltest.Engine, args ...string) *portal {
	t.Helper()
	needBrowser(t)
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	url := "http://" + ln.Addr().String()
	// The base URL is the loopback address, so links in mail point at this server and
	// cookies are not marked Secure (the browser would drop them over plain http).
	env := portaltest.New(t, portaltest.Options{Engine: engine, Args: append([]string{"--base-url", url}, args...)})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- env.App.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &portal{Env: env, URL: url}
}

// tab is one browser tab in its own browser context: its own cookies, like a separate
// person's browser.
type tab struct {
	t      *testing.T
	ctx    context.Context
	portal *portal
	noJS   bool
}

// actionTimeout bounds one step of a flow: a step that waits longer has failed.
const actionTimeout = 20 * time.Second

type tabOption func(*tab)

// withoutJavaScript opens a tab whose pages run no script: every flow must then work with
// plain forms and redirects.
func withoutJavaScript(tb *tab) { tb.noJS = true }

// newTab opens a tab on the portal's start page.
func (p *portal) newTab(t *testing.T, opts ...tabOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, portal: p}
	for _, o := range opts {
		o(tb)
	}
	// The first Do opens the tab, and binds the tab's life to ctx, which has no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	if tb.noJS {
		tb.do("disable JavaScript", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	return tb
}

// do runs steps with the step timeout and fails the test with what was being done.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.fail("%s: %v", what, err)
	}
}

// fail stops the test and says where the browser was.
func (tb *tab) fail(format string, args ...any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	tb.t.Fatalf(format+"\n  at %s\n  page text:\n%s", append(args, where, indent(text))...)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

// eval runs a script in the page and decodes its result.
func eval[T any](tb *tab, script string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail("evaluate %.80q: %v", script, err)
	}
	return v
}

// visit loads path as if typed into the address bar and waits for the page to load.
func (tb *tab) visit(path string) {
	tb.t.Helper()
	tb.do("visit "+path, chromedp.Navigate(tb.portal.URL+path))
}

// path is the current location without the server's origin.
func (tb *tab) path() string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		tb.fail("location: %v", err)
	}
	return strings.TrimPrefix(loc, tb.portal.URL)
}

// element names something on the page the way a person would point at it: by its words,
// its label, or a data-testid. js is an expression that yields the first visible match or
// null, so that every query waits until the element shows.
type element struct {
	desc string
	js   string
}

// findJS defines the helpers the element expressions use: the text a person reads (runs
// of white space collapsed, the "*" of required fields dropped) and visibility.
const findJS = `const norm = (s) => (s || "").replace(/\*/g, "").replace(/\s+/g, " ").trim();
const shown = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && getComputedStyle(el).visibility !== "hidden";`

func find(desc, css, match string) element {
	js := fmt.Sprintf(`(() => { %s
return [...document.querySelectorAll(%s)].find((el) => shown(el) && (%s)) || null; })()`, findJS, jsString(css), match)
	return element{desc: desc, js: js}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// link is a link with exactly these words, or a tile link whose title (its <strong>) has
// them.
func link(words string) element {
	w := jsString(words)
	return find("link "+w, "a", "norm(el.textContent) === "+w+
		` || [...el.querySelectorAll("strong")].some((s) => norm(s.textContent) === `+w+")")
}

// sectionTab is a link to a section of a list, with its count after the words
// ("Locked out contacts 2").
func sectionTab(words string) element {
	return find("section link "+jsString(words), "a", `norm(el.textContent).replace(/\s*\d+$/, "") === `+jsString(words))
}

// button is a button (or a menu's summary) with exactly these words, or with this
// accessible name when it shows only an icon.
func button(words string) element {
	return find("button "+jsString(words), `button, input[type=submit], summary, [role=button], [role=menuitem]`,
		"norm(el.textContent || el.value) === "+jsString(words)+" || el.getAttribute('aria-label') === "+jsString(words))
}

// field is the form control whose label reads label: finding it proves it is labelled.
func field(label string) element {
	return find("field labelled "+jsString(label), "input, select, textarea",
		"[...(el.labels || [])].some((l) => norm(l.textContent) === "+jsString(label)+") || el.getAttribute('aria-label') === "+jsString(label))
}

// testID is the visible element with this data-testid.
func testID(id string) element {
	return find("data-testid "+jsString(id), fmt.Sprintf("[data-testid=%s]", jsString(id)), "true")
}

// navigation is the navigation landmark with this label (the banner's is "Main").
func navigation(label string) element {
	return find("navigation "+jsString(label), "nav, [role=navigation]", "el.getAttribute('aria-label') === "+jsString(label))
}

// heading is a heading (any level) with exactly these words.
func heading(words string) element {
	return find("heading "+jsString(words), "h1, h2, h3, [role=heading]", "norm(el.textContent) === "+jsString(words))
}

// within narrows an element to those inside the visible element of container.
func (e element) within(container element) element {
	return element{
		desc: e.desc + " in " + container.desc,
		js: fmt.Sprintf(`(() => { const box = %s; if (!box) return null;
const el = %s; return el && box.contains(el) ? el : null; })()`, container.js, strings.Replace(e.js, "document.querySelectorAll", "box.querySelectorAll", 1)),
	}
}

func (e element) sel() chromedp.JSPath { return chromedp.JSPath(e.js) }

// click clicks the element with the mouse, once it shows.
func (tb *tab) click(e element) {
	tb.t.Helper()
	tb.do("click "+e.desc, chromedp.Click(e.sel(), chromedp.NodeVisible))
}

// clickAndLoad clicks e and waits until the page it leads to has loaded.
func (tb *tab) clickAndLoad(e element) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(e.sel(), chromedp.NodeVisible)))
	if err != nil {
		tb.fail("click %s and wait for the next page: %v", e.desc, err)
	}
}

// typeInto replaces what a field holds with text, typed key by key: what was there is
// selected first, so the first key overwrites it, as when a person selects and types.
func (tb *tab) typeInto(e element, text string) {
	tb.t.Helper()
	tb.do("select the text of "+e.desc, chromedp.Focus(e.sel(), chromedp.NodeVisible),
		chromedp.Evaluate[chromedp.Void](`(() => { const el = document.activeElement; if (el && el.select) el.select(); })()`))
	if text == "" {
		tb.do("clear "+e.desc, chromedp.KeyEvent(kb.Backspace))
		return
	}
	tb.do("type into "+e.desc, chromedp.SendKeys(e.sel(), text))
}

// press sends one key, such as "\t" (Tab), "\r" (Enter) or kb.Escape, to the focused element.
func (tb *tab) press(key string) {
	tb.t.Helper()
	tb.do("press "+jsString(key), chromedp.KeyEvent(key))
}

// focused reports whether e has the keyboard focus.
func (tb *tab) focused(e element) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => { const el = %s; return !!el && document.activeElement === el; })()`, e.js))
}

// tabTo presses Tab until e has the focus, as a keyboard user moves through a page; it
// fails when e can't be reached that way.
func (tb *tab) tabTo(e element) {
	tb.t.Helper()
	for range 100 {
		if tb.focused(e) {
			return
		}
		tb.press("\t")
	}
	tb.fail("%s can't be reached with the Tab key (focus is on %s)", e.desc,
		eval[string](tb, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "nothing"`))
}

// choose picks the option of a dropdown whose words are these (indentation that shows the
// account tree aside), as a person picks from the list.
func (tb *tab) choose(e element, option string) {
	tb.t.Helper()
	ok := eval[bool](tb, fmt.Sprintf(`(() => { %s
const sel = %s; if (!sel) return false;
const opt = [...sel.options].find((o) => norm(o.textContent).replace(/^[\s\u00a0\u2014\u2013\u2500-\u257f·.>-]+/, "") === %s);
if (!opt) return false;
sel.focus(); sel.value = opt.value;
sel.dispatchEvent(new Event("input", {bubbles: true}));
sel.dispatchEvent(new Event("change", {bubbles: true}));
return true; })()`, findJS, e.js, jsString(option)))
	if !ok {
		tb.fail("%s has no option %q", e.desc, option)
	}
}

// waitFor waits until the element shows.
func (tb *tab) waitFor(e element) {
	tb.t.Helper()
	tb.do("wait for "+e.desc, chromedp.WaitVisible(e.sel()))
}

// text reads what a person sees of the element.
func (tb *tab) text(e element) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(e.sel(), chromedp.NodeVisible))
	if err != nil {
		tb.fail("read %s: %v", e.desc, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// until polls a script until it yields true.
func (tb *tab) until(what, script string) {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.fail("waited %s for %s (last error: %v)", actionTimeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitText waits until the page shows these words somewhere.
func (tb *tab) waitText(words string) {
	tb.t.Helper()
	tb.until("the page to show "+jsString(words),
		fmt.Sprintf(`(document.body.innerText || "").replace(/\s+/g, " ").includes(%s)`, jsString(words)))
}

// waitPath waits until the browser is at path (query included).
func (tb *tab) waitPath(path string) {
	tb.t.Helper()
	tb.until("the location to be "+path,
		fmt.Sprintf(`location.pathname + location.search === %s`, jsString(path)))
}

// login signs in through the login page.
func (tb *tab) login(email, password string) {
	tb.t.Helper()
	tb.visit("/login")
	tb.typeInto(field("User name"), email)
	tb.typeInto(field("Password"), password)
	tb.clickAndLoad(button("Log in"))
}

// watchIndicator starts noting whether the loading indicator css is shown (HTMX marks it
// htmx-request while a request is in flight, which app.css makes visible).
func (tb *tab) watchIndicator(css string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%[1]s); if (!el) return false;
window.e2eIndicators = window.e2eIndicators || {};
new MutationObserver(() => { if (el.classList.contains("htmx-request") || el.closest(".htmx-request")) window.e2eIndicators[%[1]s] = true; })
	.observe(document.body, {attributes: true, attributeFilter: ["class"], subtree: true});
return true; })()`, jsString(css)))
}

// sawIndicator reports whether the indicator showed since watchIndicator.
func (tb *tab) sawIndicator(css string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`!!(window.e2eIndicators && window.e2eIndicators[%s])`, jsString(css)))
}

// watchText starts recording every text the element shows, for messages that come and go.
func (tb *tab) watchText(e element) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const el = %s; if (!el) return false; window.e2eTexts = [];
new MutationObserver(() => window.e2eTexts.push(el.textContent.replace(/\s+/g, " ").trim()))
	.observe(el, {childList: true, characterData: true, subtree: true});
return true; })()`, e.js))
}

// watchedText is every text recorded since watchText, joined by " | ".
func (tb *tab) watchedText() string {
	tb.t.Helper()
	return eval[string](tb, `(window.e2eTexts || []).join(" | ")`)
}

// --- accessibility ---

var axeSource = func() string {
	b, err := os.ReadFile(filepath.Join("testdata", "axe.min.js"))
	if err != nil {
		return ""
	}
	return string(b)
}()

type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// checkA11y runs axe-core on the page as it is now and fails on serious or critical
// violations, with a report a person can act on.
func (tb *tab) checkA11y(page string) {
	tb.t.Helper()
	tb.keepHTML(page)
	if tb.noJS {
		return // axe is a script; the same pages are checked in the tabs that run scripts
	}
	if axeSource == "" {
		tb.t.Fatal("e2e/testdata/axe.min.js is missing")
	}
	if !eval[bool](tb, `typeof axe !== "undefined"`) {
		eval[chromedp.Void](tb, axeSource+"\n;undefined")
	}
	var violations []axeViolation
	raw := eval[string](tb, `axe.run(document, {resultTypes: ["violations"]}).then((r) => JSON.stringify(r.violations))`)
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		tb.t.Fatalf("axe result: %v", err)
	}
	var report strings.Builder
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			if testing.Verbose() {
				tb.t.Logf("axe on %s: %s (%s): %s", page, v.ID, v.Impact, v.Help)
			}
			continue
		}
		fmt.Fprintf(&report, "\n- %s [%s] %s\n  %s", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&report, "\n  at %v: %s\n    %s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n    "))
		}
	}
	if report.Len() > 0 {
		tb.t.Errorf("axe-core found serious or critical accessibility problems on %s (%s):%s", page, tb.path(), report.String())
	}
}

// --- looks ---

// screenshotsDir is where E2E_SCREENSHOTS=1 writes the pictures README.md shows.
var screenshotsDir = filepath.Join("..", "docs", "screenshots")

// widths are the screens the portal must read well on: a laptop and a phone.
var widths = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 860}, {"phone", 375, 812}}

// checkLayout looks at the page at each width: nothing may stick out sideways (a phone
// user would have to scroll left and right), and with E2E_SCREENSHOTS set it saves a
// full-page picture as docs/screenshots/<name>-<width>.png.
func (tb *tab) checkLayout(name string) {
	tb.t.Helper()
	save := os.Getenv("E2E_SCREENSHOTS") != ""
	for _, w := range widths {
		tb.do("resize to "+w.name, chromedp.EmulateViewport(w.width, w.height))
		overflow := eval[string](tb, fmt.Sprintf(`(() => { %s
const w = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth <= w) return "";
const wide = [...document.querySelectorAll("body *")].filter((el) => shown(el) && el.getBoundingClientRect().right > w + 1 && !el.closest(".table-wrap"));
return wide.slice(0, 3).map((el) => el.outerHTML.slice(0, 120)).join("\n"); })()`, findJS))
		if overflow != "" {
			tb.t.Errorf("%s at %d px: the page is wider than the screen; widest elements:\n%s", name, w.width, indent(overflow))
		}
		if w.name == "phone" {
			tb.checkA11y(name + " on a phone") // some problems (target sizes, reflow) show only there
		}
		if save {
			// A blinking caret would make every run's picture differ from the last.
			eval[chromedp.Void](tb, `document.documentElement.style.caretColor = "transparent"`)
			png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				tb.fail("screenshot %s: %v", name, err)
			}
			if err := os.MkdirAll(screenshotsDir, 0o755); err != nil {
				tb.t.Fatal(err)
			}
			file := filepath.Join(screenshotsDir, fmt.Sprintf("%s-%s.png", name, w.name))
			if err := os.WriteFile(file, png, 0o644); err != nil {
				tb.t.Fatal(err)
			}
		}
	}
	tb.do("reset the viewport", chromedp.EmulateViewport(1280, 860))
}
