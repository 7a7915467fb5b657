package components

import (
	"fmt"
	"strings"

	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"

	"portal/db"
	"portal/export"
)

// browserWords says which browser on what a session was signed in from, in words ("Chrome
// on Windows", "Safari on iPhone"), from its User-Agent. The parser is built once, on first
// use, and shared (it is read-only afterwards).
func browserWords(userAgent string) string {
	if strings.TrimSpace(userAgent) == "" {
		return "Unknown browser"
	}
	ua := useragent.NewParser().Parse(userAgent)
	browser, platform := string(ua.Browser()), platformWords(ua)
	switch {
	case browser != "" && platform != "":
		return browser + " on " + platform
	case browser != "":
		return browser
	case platform != "":
		return "Unknown browser on " + platform
	}
	return "Unknown browser"
}

// platformWords names the system a browser runs on as people say it: an iPhone or an iPad
// rather than iOS, macOS as Apple writes it.
func platformWords(ua useragent.UserAgent) string {
	switch ua.OS() {
	case agents.OSIOS:
		if ua.IsTablet() {
			return "iPad"
		}
		return "iPhone"
	case agents.OSMacOS:
		return "macOS"
	}
	return string(ua.OS())
}

// loginResult words a sign-in of a contact's login history.
func loginResult(e db.Event) string {
	if e.Action == db.ActionLoginSucceeded {
		return "Signed in"
	}
	return "Failed"
}

// auditOfContact is the audit log filtered to one contact.
func auditOfContact(id int64) string { return fmt.Sprintf("/audit?contact=%d", id) }

// loginsShown says what a contact's login history lists.
func loginsShown(n int) string {
	if n == 1 {
		return "The only sign-in or failed sign-in recorded."
	}
	return "The last " + export.Thousands(n) + " sign-ins and failed sign-ins, newest first."
}
