package handlers

import (
	"log/slog"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/bytebufferpool"

	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/session"
)

// viewer is who is asking: the signed-in contact (if any) as the rules' actor, its session
// and CSRF token.
type viewer struct {
	contact *db.Contact // nil when signed out
	// actor is the signed-in contact acting, with its scope once asAdmin has let a contact
	// admin through.
	actor contacts.Actor
	sess  *session.Current
	csrf  string
	log   *slog.Logger
}

func viewerOf(c *fiber.Ctx) *viewer {
	v, _ := c.Locals(viewerKey).(*viewer)
	if v == nil {
		return &viewer{}
	}
	return v
}

// bodyValue is the form field key of the request body (url-encoded or multipart). Never the
// query string, which fasthttp's FormValue reads first: what a form posts must not be
// settable by a link (a password in a login URL, a token in a cross-site one).
func bodyValue(c *fiber.Ctx, key string) string {
	req := c.Request()
	if v := req.PostArgs().Peek(key); len(v) > 0 {
		return string(v)
	}
	if form, err := req.MultipartForm(); err == nil && len(form.Value[key]) > 0 {
		return form.Value[key][0]
	}
	return ""
}

// htmx reports whether HTMX sent the request. It is the one place that reads HX-Request.
func htmx(c *fiber.Ctx) bool { return c.Get("HX-Request") == "true" }

// isFragment decides, in one place, whether a request gets a fragment or the full page: an
// HTMX request that is neither boosted nor a history restore wants only the part it swaps.
func isFragment(c *fiber.Ctx) bool {
	return htmx(c) && c.Get("HX-Boosted") == "" && c.Get("HX-History-Restore-Request") == ""
}

// render writes either the full page or the fragment (when isFragment) with status. The
// page component contains the fragment component, so both render the same code. It renders
// into a buffer first: a failing render sends an error page, never half a page.
func render(c *fiber.Ctx, status int, page, fragment templ.Component) error {
	c.Vary("HX-Request")
	component := page
	if fragment != nil && isFragment(c) {
		component = fragment
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	ctx := components.WithCSRF(c.UserContext(), maskCSRF(viewerOf(c).csrf))
	if err := component.Render(ctx, buf); err != nil {
		return err
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// SetBody copies: the pooled buffer goes back to the pool before fasthttp writes the body
	// (c.Send would keep a reference to it).
	c.Response().SetBody(buf.Bytes())
	return nil
}

// shell is the layout's view of the request: title, signed-in contact, pending flashes.
func shell(c *fiber.Ctx, title, current string) components.Shell {
	v := viewerOf(c)
	s := components.Shell{Title: title, User: v.contact, Current: current}
	if v.sess != nil && v.contact != nil && !isFragment(c) {
		s.Flashes = v.popFlashes(c)
	}
	return s
}

// Flash kinds; the key in the session carries the kind.
const (
	flashSuccess = "success"
	flashError   = "error"
	flashInfo    = "info"
)

// flashRedirect keeps a message for the next full page of this session and sends the
// browser there (see redirect). The message comes after what it tells of is done: if it
// can't be kept, the browser goes there without it, rather than to an error page saying
// that nothing was changed.
func flashRedirect(c *fiber.Ctx, kind, text, url string) error {
	v := viewerOf(c)
	if v.sess != nil && v.contact != nil {
		v.sess.AddFlash(text, "_flash_"+kind)
		if err := v.sess.Save(c); err != nil {
			v.log.Warn("message after an action lost", "path", loggedPath(c), "err", err)
		}
	}
	return redirect(c, url)
}

func (v *viewer) popFlashes(c *fiber.Ctx) []components.Flash {
	var out []components.Flash
	for _, kind := range []string{flashSuccess, flashError, flashInfo} {
		if _, ok := v.sess.Values["_flash_"+kind]; !ok {
			continue
		}
		for _, f := range v.sess.Flashes("_flash_" + kind) {
			if text, ok := f.(string); ok {
				out = append(out, components.Flash{Kind: kind, Text: text})
			}
		}
	}
	if len(out) > 0 {
		_ = v.sess.Save(c) // the flashes are shown now; if saving fails they show once more
	}
	return out
}

// redirect answers a POST: a plain form gets 303 See Other to url (the browser then GETs it
// and shows the flash); an HTMX request gets HX-Redirect so it navigates the same way.
func redirect(c *fiber.Ctx, url string) error {
	if htmx(c) {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

// bodyValues reads every value of a form field of the request body (checkboxes of one name).
func bodyValues(c *fiber.Ctx, key string) []string {
	req := c.Request()
	var out []string
	for _, v := range req.PostArgs().PeekMulti(key) {
		out = append(out, string(v))
	}
	if len(out) == 0 {
		if form, err := req.MultipartForm(); err == nil {
			out = form.Value[key]
		}
	}
	return out
}
