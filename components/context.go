// Package components owns the portal's markup: the layout, the pages, the fragments the
// pages contain (HTMX swaps those), and the emails.
package components

import (
	"context"
	"encoding/json"
	"time"

	"portal/db"
)

type ctxKey int

const csrfKey ctxKey = iota

// WithCSRF puts the response's CSRF token where every form in the tree can read it, so that
// fragments rendered on their own carry it as well as full pages. The token is masked afresh
// for each response (handlers' maskCSRF): never the same string twice.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey, token)
}

func csrfToken(ctx context.Context) string {
	t, _ := ctx.Value(csrfKey).(string)
	return t
}

// csrfHeaders is the hx-headers value that makes every HTMX request carry the token.
func csrfHeaders(ctx context.Context) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": csrfToken(ctx)})
	return string(b)
}

// Shell is what the layout needs around every page.
type Shell struct {
	Title   string
	User    *db.Contact // nil when signed out
	Current string      // the banner link of the current page, for aria-current
	Flashes []Flash
}

// Flash is a one-time message shown at the top of the next page (after a redirect).
type Flash struct {
	Kind string // success, error, info
	Text string
}

// htmxConfig turns off what the CSP would block (inline indicator styles, eval) and lets
// HTMX swap error responses, which carry a readable message.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}`

// formatTime shows a time the way the rest of the page reads: in UTC with the zone named,
// since the portal's users sit in many zones and the server knows none of them.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "Never"
	}
	return t.UTC().Format("2 Jan 2006, 15:04 UTC")
}
