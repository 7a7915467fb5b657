package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/contacts"
)

// auditPageSize is how many events one page of the audit log shows.
const auditPageSize = 50

// Audit shows contact admins the audit log of the accounts they manage.
type Audit struct {
	contacts *contacts.Service
}

// Show renders one page of the scope's audit log, newest first.
func (h *Audit) Show(c *fiber.Ctx, actor contacts.Actor) error {
	before, err := strconv.ParseInt(c.Query("before", "0"), 10, 64)
	if err != nil || before < 0 {
		return fiber.NewError(fiber.StatusBadRequest, "That page of the audit log does not exist.")
	}
	// One event more than a page tells whether an older page follows.
	events, err := h.contacts.AuditLog(c.UserContext(), actor, before, auditPageSize+1)
	if err != nil {
		return err
	}
	v := components.AuditView{Events: events, Before: before}
	if len(events) > auditPageSize {
		v.Events = events[:auditPageSize]
		v.OlderID = v.Events[auditPageSize-1].ID
	}
	return render(c, fiber.StatusOK, components.AuditPage(shell(c, "Audit log", "my-contacts"), v), nil)
}
