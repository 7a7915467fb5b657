package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/export"
)

// errorHandler is the one place errors become responses. It maps what it knows to a status
// and a message meant for people, logs once, and never shows internals: a 500's message is
// the same whatever broke. HTMX requests get an alert for #alerts instead of a page.
func errorHandler(d Deps) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, message := classifyError(err)
		if !securityHeadersSet(c) {
			// The HTTP parser refused the request (a malformed request line, headers or body
			// too large), so no middleware ran: the page still gets the headers, and a message
			// of ours instead of the parser's, which quotes the request. No Referer at all:
			// the path may be a password link's.
			setSecurityHeaders(c, d.Config.Secure())
			c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
			message = messageFor(status)
			if status == fiber.StatusRequestEntityTooLarge && isUpload(c) {
				message = string(export.ProblemTooLarge)
			}
		}
		if status >= 500 {
			d.Log.Error("request failed", "method", c.Method(), "path", loggedPath(c), "status", status, "err", err)
		} else {
			d.Log.Debug("request refused", "method", c.Method(), "path", loggedPath(c), "status", status, "err", err)
		}
		if denied(c, status) {
			auditDenied(c, d, status, err)
		}
		if status == fiber.StatusServiceUnavailable {
			c.Set(fiber.HeaderRetryAfter, "5")
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		if htmx(c) {
			c.Set("HX-Retarget", "#alerts")
			c.Set("HX-Reswap", "innerHTML")
			return render(c, status, components.ErrorFragment(message), nil)
		}
		if rerr := render(c, status, components.ErrorPage(shell(c, http.StatusText(status), ""), status, message), nil); rerr != nil {
			// The error page itself failed: fall back to plain text, still without internals.
			d.Log.Error("error page failed", "err", rerr)
			return c.Status(status).SendString(message)
		}
		return nil
	}
}

// denied reports whether a signed-in contact was refused: 403 anywhere (no right, or a
// request without its CSRF token), or 404 for a contact (an id outside the admin's scope
// answers 404 so as to reveal nothing, but it is still an attempt worth recording).
func denied(c *fiber.Ctx, status int) bool {
	if viewerOf(c).contact == nil {
		return false // anonymous refusals would let anyone fill the audit log
	}
	return status == fiber.StatusForbidden ||
		(status == fiber.StatusNotFound && strings.HasPrefix(c.Path(), "/contacts/"))
}

// auditDenied records a denied access, with why when the CSRF checks refused it. Failing
// to record it must not hide the answer the user is owed, so an error here is only logged.
func auditDenied(c *fiber.Ctx, d Deps, status int, cause error) {
	detail := fmt.Sprintf("%s %s answered %d", c.Method(), truncate(loggedPath(c), 200), status)
	var refusal csrfRefusal
	if errors.As(cause, &refusal) {
		detail += ": " + refusal.reason
	}
	err := d.Contacts.Denied(c.UserContext(), viewerOf(c).actor, detail)
	if err != nil {
		d.Log.Error("audit denied access", "err", err)
	}
}

// loggedPath is the request's path as the logs and the audit log may show it. A route's
// parameters can be secrets (the token of /set-password/:token is a live password link),
// so each is shown by its name, except ids (`<int>` parameters), which say which contact
// was concerned and are no secret. The route is found from the path rather than from
// where the request got to: a request refused by a middleware never reached its route.
// A path that matches no route is shown as sent.
func loggedPath(c *fiber.Ctx) string {
	path := c.Path()
	for _, r := range c.App().GetRoutes(true) {
		if redacted, ok := redactParams(r.Path, path); ok {
			return redacted
		}
	}
	return path
}

// redactParams matches path against the route pattern and returns the path with its
// secret parameters replaced by their names (see loggedPath).
func redactParams(pattern, path string) (string, bool) {
	want := strings.Split(strings.Trim(pattern, "/"), "/")
	got := strings.Split(strings.Trim(path, "/"), "/") // routing ignores a trailing slash
	if len(want) != len(got) || !strings.Contains(pattern, ":") {
		return "", false
	}
	out := make([]string, len(got))
	for i, seg := range want {
		name, isParam := strings.CutPrefix(seg, ":")
		switch {
		case !isParam && !strings.EqualFold(seg, got[i]): // routing ignores case
			return "", false
		case !isParam:
			out[i] = got[i]
		case strings.HasSuffix(name, "<int>"):
			if got[i] == "" || strings.Trim(got[i], "0123456789") != "" {
				return "", false
			}
			out[i] = got[i]
		default:
			if got[i] == "" {
				return "", false
			}
			out[i] = seg
		}
	}
	return "/" + strings.Join(out, "/"), true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func classifyError(err error) (int, string) {
	var fe *fiber.Error
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fiber.StatusNotFound, messageFor(fiber.StatusNotFound)
	case errors.Is(err, contacts.ErrNotAdmin):
		return fiber.StatusForbidden, "Only contact admins can manage contacts."
	case db.Busy(err), errors.Is(err, context.DeadlineExceeded):
		return fiber.StatusServiceUnavailable, messageFor(fiber.StatusServiceUnavailable)
	case db.Full(err):
		return fiber.StatusInsufficientStorage, messageFor(fiber.StatusInsufficientStorage)
	case errors.As(err, &fe):
		// Fiber's router answers unmatched routes with "Cannot GET /path": ours reads better.
		if fe.Code >= 500 || fe.Code == fiber.StatusNotFound || fe.Code == fiber.StatusMethodNotAllowed ||
			fe.Message == "" || fe.Message == http.StatusText(fe.Code) {
			return fe.Code, messageFor(fe.Code)
		}
		return fe.Code, fe.Message // our own messages, written for users
	}
	return fiber.StatusInternalServerError, messageFor(fiber.StatusInternalServerError)
}

func messageFor(status int) string {
	switch status {
	case fiber.StatusBadRequest:
		return "The request could not be understood. Go back and try again."
	case fiber.StatusForbidden:
		return "You don't have access to this page."
	case fiber.StatusNotFound:
		return "This page does not exist, or you don't have access to it."
	case fiber.StatusMethodNotAllowed:
		return "This address can't be used that way."
	case fiber.StatusRequestTimeout:
		return "The request took too long to arrive. Try again."
	case fiber.StatusRequestEntityTooLarge:
		return "What you sent is too large."
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return "The request's headers are too large. Clearing this site's cookies may help."
	case fiber.StatusTooManyRequests:
		return "Too many attempts. Wait a minute and try again."
	case fiber.StatusServiceUnavailable:
		return "The portal is busy right now and nothing was changed. Try again in a moment."
	case fiber.StatusInsufficientStorage:
		return "The portal's storage is full, so nothing was changed. Please tell your administrator."
	}
	return "Something went wrong on our side and nothing was changed. Try again; if it keeps happening, contact support."
}
