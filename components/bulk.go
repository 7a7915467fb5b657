package components

import (
	"fmt"
	"net/url"
	"strconv"

	"portal/contacts"
	"portal/db"
	"portal/export"
)

// BulkAction is one action of the bar of All Contacts, in the words of its pages.
type BulkAction struct {
	Name   string // in the form and the URL: lock, unlock, reset
	Verb   string // "Lock", "Send reset links to"
	Done   string // the message after: "N contacts have been <Done>."
	Button string // the confirm button's class
}

// Question is the confirmation's title: "Lock 37 contacts?"
func (a BulkAction) Question(n int) string { return a.Verb + " " + Count(n, "contact") + "?" }

// Count is a number of things in words: "1 contact", "1,234 contacts".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return export.Thousands(n) + " " + noun + "s"
}

// notReached says how many contacts an action that stopped part way never came to.
func notReached(n int) string {
	if n == 1 {
		return "1 contact was not reached and is as before."
	}
	return export.Thousands(n) + " contacts were not reached and are as before."
}

// BulkView is a bulk action about to happen: the selection it was started with, how many
// contacts that is now, and the list to go back to.
type BulkView struct {
	List      ListView
	Selection contacts.Selection
	Count     int
	Action    BulkAction
	// Confirmed names the contacts a confirmation counted, for its form to carry (see
	// handlers' idList): the action takes those, not whoever matches the search later.
	Confirmed string
}

// exportURL is the export of the selection in one format: the ticked ids, or the section
// and search of "Select all N matching contacts".
func (v BulkView) exportURL(format string) string {
	q := url.Values{}
	if v.Selection.All {
		q.Set("section", "active")
		if v.Selection.Section == db.StatusLocked {
			q.Set("section", "locked")
		}
		if v.Selection.Search != "" {
			q.Set("q", v.Selection.Search)
		}
	} else {
		for _, id := range v.Selection.IDs {
			q.Add("id", strconv.FormatInt(id, 10))
		}
	}
	return fmt.Sprintf("/contacts/export.%s?%s", format, q.Encode())
}

// back is the list the selection was made on.
func (v BulkView) back() string { return v.List.URL(v.List.Section, 0, 0) }
