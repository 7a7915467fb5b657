package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/db"
)

// Lock is Lock this contact (SPEC 3.4).
func (h *Contacts) Lock(c *fiber.Ctx) error {
	return h.lockOrUnlock(c, true)
}

// Unlock is Unlock this contact (SPEC 3.4).
func (h *Contacts) Unlock(c *fiber.Ctx) error {
	return h.lockOrUnlock(c, false)
}

// lockOrUnlock changes the status and answers the way the request came: HTMX gets the
// contact's details with the confirmation swapped in; a plain form gets a redirect and the
// confirmation as a flash. A lock or unlock that changed nothing (another admin was
// faster, or it is not allowed) says so and changes nothing.
func (h *Contacts) lockOrUnlock(c *fiber.Ctx, lock bool) error {
	// Read first (in scope) so that the messages can name the contact; an id outside the
	// scope stops here with 404, before anything is written.
	sc, target, err := h.routeContact(c)
	if err != nil {
		return err
	}
	ctx, id := c.UserContext(), target.ID
	if lock {
		err = h.store.LockContact(ctx, sc, h.actor(c), id)
	} else {
		err = h.store.UnlockContact(ctx, sc, h.actor(c), id)
	}
	flash := components.Flash{Kind: flashSuccess}
	status := fiber.StatusOK
	switch {
	case err == nil && lock:
		flash.Text = target.Name() + " has been successfully locked out."
	case err == nil:
		flash.Text = target.Name() + " has been successfully unlocked."
	case errors.Is(err, db.ErrAlreadyLocked):
		flash = components.Flash{Kind: flashInfo, Text: target.Name() + " is already locked out."}
	case errors.Is(err, db.ErrAlreadyActive):
		flash = components.Flash{Kind: flashInfo, Text: target.Name() + " is not locked out."}
	case errors.Is(err, db.ErrLockSelf):
		flash, status = components.Flash{Kind: flashError, Text: "You can't lock yourself out."}, fiber.StatusConflict
	case errors.Is(err, db.ErrLastAdmin):
		flash, status = components.Flash{Kind: flashError, Text: target.Name() +
			" is the last active contact admin of " + target.AccountName + " and can't be locked out."}, fiber.StatusConflict
	default:
		return err
	}
	if !isFragment(c) {
		if err := viewerOf(c).flash(c, flash.Kind, flash.Text); err != nil {
			return err
		}
		return redirect(c, contactHref(id))
	}
	now, err := h.store.ContactInScope(ctx, sc, id) // as the change left it
	if err != nil {
		return err
	}
	v, err := h.details(c, sc, now)
	if err != nil {
		return err
	}
	return render(c, status, components.ContactDetailsFragment(v, &flash), nil)
}
