package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
	"portal/export"
)

// Bulk is the bulk actions of All Contacts (SPEC 3.8): the selected contacts are named by
// a count on a confirmation page, then acted on through the rules of one contact each.
type Bulk struct {
	log      *slog.Logger
	contacts *contacts.Service
}

// bulkActions are the actions the bar of All Contacts offers, by the form's action value.
var bulkActions = map[string]components.BulkAction{
	"lock":   {Name: "lock", Verb: "Lock", Done: "locked out", Button: "danger"},
	"unlock": {Name: "unlock", Verb: "Unlock", Done: "unlocked", Button: "primary"},
	"reset":  {Name: "reset", Verb: "Send reset links to", Done: "sent a reset link", Button: "primary"},
}

// selection reads the form of All Contacts: the ticked ids of one page, or "all" for every
// contact of the section under the search it carries, and the view to go back to.
func selection(c *fiber.Ctx) (contacts.Selection, components.ListView) {
	v, _ := viewOf(func(key string) string { return bodyValue(c, key) })
	sel := contacts.Selection{All: bodyValue(c, "all") == "1", Section: v.Section, Search: v.Search}
	for _, raw := range bodyValues(c, "id") {
		if id, err := strconv.ParseInt(raw, 10, 64); err == nil && id > 0 {
			sel.IDs = append(sel.IDs, id)
		}
	}
	return sel, v
}

// Choose answers the bar's buttons: Export selected offers the three formats of the
// selection; the other actions ask before they act, naming how many contacts they take.
func (h *Bulk) Choose(c *fiber.Ctx, actor contacts.Actor) error {
	sel, v := selection(c)
	ids, err := h.contacts.Selected(c.UserContext(), actor, sel)
	if err != nil {
		return h.refuse(c, v, err)
	}
	name := bodyValue(c, "action")
	if name == "export" {
		return render(c, fiber.StatusOK, components.BulkExportPage(shell(c, "Export selected", "my-contacts"),
			components.BulkView{List: v, Selection: sel, Count: len(ids)}), nil)
	}
	action, ok := bulkActions[name]
	if !ok {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Choose Lock selected, Unlock selected, Send reset links or Export selected.")
	}
	return render(c, fiber.StatusOK, components.BulkConfirmPage(shell(c, action.Question(len(ids)), "my-contacts"),
		components.BulkView{List: v, Selection: sel, Count: len(ids), Action: action, Confirmed: idList(ids)}), nil)
}

// Act carries out a confirmed bulk action on the contacts its confirmation counted (a
// contact that came to match the search since is not taken) and shows one message and who
// was left alone.
func (h *Bulk) Act(c *fiber.Ctx, actor contacts.Actor) error {
	action, ok := bulkActions[c.Params("action")]
	if !ok {
		return fiber.ErrNotFound
	}
	_, v := selection(c) // the list to go back to
	confirmed, ok := parseIDList(bodyValue(c, "selected"))
	if !ok {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "Choose the contacts in All Contacts, then confirm the action.")
	}
	ids, err := h.contacts.Selected(c.UserContext(), actor, contacts.Selection{IDs: confirmed})
	if err != nil {
		return h.refuse(c, v, err)
	}
	var r contacts.BulkResult
	switch action.Name {
	case "lock":
		r, err = h.contacts.LockContacts(c.UserContext(), actor, ids)
	case "unlock":
		r, err = h.contacts.UnlockContacts(c.UserContext(), actor, ids)
	case "reset":
		r, err = h.contacts.SendResetLinks(c.UserContext(), actor, ids)
	}
	if err := stoppedPartWay(h.log, err); err != nil {
		return err
	}
	return render(c, fiber.StatusOK, components.BulkResultPage(shell(c, action.Verb+" selected", "my-contacts"),
		action.Verb+" selected", BulkMessage(r.Done, action.Done), r, v.URL(v.Section, 0, 0)), nil)
}

// refuse sends the admin back to the list they came from with why nothing happened.
func (h *Bulk) refuse(c *fiber.Ctx, v components.ListView, err error) error {
	var tooMany *contacts.TooManySelectedError
	switch {
	case errors.Is(err, contacts.ErrNothingSelected):
		return flashRedirect(c, flashError, "Select one or more contacts first.", v.URL(v.Section, 0, 0))
	case errors.As(err, &tooMany):
		return flashRedirect(c, flashError, fmt.Sprintf("A bulk action takes at most %s contacts at once. Search to narrow them down.",
			export.Thousands(tooMany.Max)), v.URL(v.Section, 0, 0))
	}
	return err
}

// stoppedPartWay lets the result page of an action that stopped part way say how far it got
// (contacts.ErrBulkStopped): what was done stays done, so an error page saying that nothing
// was changed would be wrong. The cause goes to the log.
func stoppedPartWay(log *slog.Logger, err error) error {
	if errors.Is(err, contacts.ErrBulkStopped) {
		log.Error("bulk action stopped part way", "err", err)
		return nil
	}
	return err
}

// idList writes the ids a confirmation counted for its form: in id order, each as its
// distance from the one before, in base 36, joined by dots. 10,000 contacts take 20–50 KB,
// within the form's BodyLimit, where their plain numbers would not fit.
func idList(ids []int64) string {
	var b strings.Builder
	prev := int64(0)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(id-prev, 36))
		prev = id
	}
	return b.String()
}

// parseIDList reads an idList; ok is false for anything else, or for none.
func parseIDList(s string) (ids []int64, ok bool) {
	if s == "" {
		return nil, false
	}
	prev := int64(0)
	for part := range strings.SplitSeq(s, ".") {
		d, err := strconv.ParseInt(part, 36, 64)
		if err != nil || d <= 0 || prev+d < prev || len(ids) >= contacts.MaxBulk {
			return nil, false
		}
		prev += d
		ids = append(ids, prev)
	}
	return ids, true
}
