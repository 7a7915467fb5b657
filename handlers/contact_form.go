package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/auth"
	"portal/components"
	"portal/contacts"
	"portal/db"
	"portal/validate"
)

// contactFormInput is the create and edit form as posted: the fields, and Access ends as
// typed, which may not read as a date.
type contactFormInput struct {
	fields     db.ContactFields
	accessEnds string
	badAccess  error // Access ends does not read as a date and time
}

// bindContactForm reads the create and edit form. Only the fields of the form are read:
// the tenant comes from the session. A role value other than the two roles is kept as
// sent, so that the rules refuse the form rather than save it with a role missing.
func bindContactForm(c *fiber.Ctx) contactFormInput {
	in := contactFormInput{fields: db.ContactFields{
		FirstName: bodyValue(c, "first_name"), LastName: bodyValue(c, "last_name"), Email: bodyValue(c, "email"),
		Phone: bodyValue(c, "phone"), JobTitle: bodyValue(c, "job_title"),
	}, accessEnds: bodyValue(c, "access_ends")}
	in.fields.AccountID, _ = strconv.ParseInt(strings.TrimSpace(bodyValue(c, "account_id")), 10, 64)
	for _, raw := range c.Request().PostArgs().PeekMulti("role") {
		r, _ := db.ParseRole(string(raw))
		in.fields.Roles = append(in.fields.Roles, r)
	}
	in.fields.AccessEnds, in.badAccess = validate.DateTime("Access ends", in.accessEnds)
	return in
}

// form is the form showing what was typed.
func (in contactFormInput) form(v components.ContactFormView) components.ContactFormView {
	v.AccessEnds = in.accessEnds
	if in.badAccess != nil {
		v.Errors["access_ends"] = in.badAccess.Error()
	}
	return v
}

// contactForm is the Create contact or Edit contact form with the values typed. accountName
// fills the read-only Account Name: the admin's own account on Create (SPEC 3.2), the
// contact's stored account on Edit, which may be a child organization's.
func contactForm(actor contacts.Actor, title, action, cancel, accountName string, values db.ContactFields) components.ContactFormView {
	return components.ContactFormView{
		Title: title, Action: action, CancelHref: cancel, Values: values, Errors: map[string]string{},
		AccountName: accountName, Accounts: actor.Scope.Accounts(),
	}
}

func renderForm(c *fiber.Ctx, status int, v components.ContactFormView) error {
	return render(c, status, components.ContactFormPage(shell(c, v.Title, "my-contacts"), v), nil)
}

// New is the empty Create contact form; Account defaults to the admin's own account.
func (h *Contacts) New(c *fiber.Ctx, actor contacts.Actor) error {
	v := contactForm(actor, "Create contact", "/contacts", "/my-contacts", actor.Contact.AccountName,
		db.ContactFields{AccountID: actor.Scope.Root().ID})
	return renderForm(c, fiber.StatusOK, v)
}

// Create stores a new contact without a password: it can't log in until it sets one through
// the set-your-password link mailed to it.
func (h *Contacts) Create(c *fiber.Ctx, actor contacts.Actor) error {
	in := bindContactForm(c)
	v := in.form(contactForm(actor, "Create contact", "/contacts", "/my-contacts", actor.Contact.AccountName, in.fields))
	if in.badAccess != nil {
		return renderForm(c, fiber.StatusUnprocessableEntity, v)
	}
	created, err := h.contacts.Create(c.UserContext(), actor, in.fields, "")
	if err != nil {
		return refuseForm(c, v, err)
	}
	return flashRedirect(c, flashSuccess, "Contact "+created.Name()+" has been successfully created.", contactHref(created.ID))
}

// Edit is the Edit contact form, filled with the contact's fields.
func (h *Contacts) Edit(c *fiber.Ctx, actor contacts.Actor) error {
	p, err := h.page(c, actor)
	if err != nil {
		return err
	}
	href := contactHref(p.Contact.ID)
	v := contactForm(actor, "Edit contact", href, href, p.Contact.AccountName, p.Contact.Fields())
	v.Version, v.PendingEmail = p.Contact.EditVersion(p.EmailChange.NewEmail), p.EmailChange.NewEmail
	v.Reauth = reauthView(h.contacts, actor, "")
	return renderForm(c, fiber.StatusOK, v)
}

// Update saves the Edit contact form. A form filled before someone else saved the contact
// comes back refilled with what is stored now, and says so. A new email waits for the new
// address to confirm it, and the confirmation says so.
func (h *Contacts) Update(c *fiber.Ctx, actor contacts.Actor) error {
	id, err := contactID(c)
	if err != nil {
		return err
	}
	in, version := bindContactForm(c), bodyValue(c, "version")
	href := contactHref(id)
	if in.badAccess != nil {
		p, err := h.contacts.Page(c.UserContext(), actor, id)
		if err != nil {
			return err
		}
		v := in.form(contactForm(actor, "Edit contact", href, href, p.Contact.AccountName, in.fields))
		v.Version = version
		v.Reauth = reauthView(h.contacts, actor, "")
		return renderForm(c, fiber.StatusUnprocessableEntity, v)
	}
	problem, err := reauthenticate(c, h.contacts, &actor)
	if err != nil {
		return err
	}
	var updated contacts.Updated
	if problem == "" {
		updated, err = h.contacts.Update(c.UserContext(), actor, id, in.fields, version)
	} else if p, perr := h.contacts.Page(c.UserContext(), actor, id); perr != nil {
		return perr
	} else {
		updated.Contact, err = p.Contact, contacts.ErrReauthRequired
	}
	if err != nil {
		v := in.form(contactForm(actor, "Edit contact", href, href, updated.Contact.AccountName, in.fields))
		v.Version = version
		v.Reauth = reauthView(h.contacts, actor, problem)
		if errors.Is(err, contacts.ErrEditConflict) {
			v.Values, v.Version, v.AccessEnds = updated.Contact.Fields(), updated.Contact.EditVersion(updated.EmailChange.NewEmail), ""
			v.PendingEmail = updated.EmailChange.NewEmail
		}
		var tooMany *contacts.TooManyLinksError
		if errors.As(err, &tooMany) { // the new email's confirmation would be one link too many
			v.Problem = tooManyLinks(tooMany, updated.Contact.Email) + " Nothing was saved: save without the new email, or change it later."
			return renderForm(c, fiber.StatusTooManyRequests, v)
		}
		return refuseForm(c, v, err)
	}
	text := "Contact " + updated.Contact.Name() + " has been successfully updated."
	if ch := updated.EmailChange; ch.ID != 0 {
		text += " A confirmation link has been sent to " + ch.NewEmail + ": the email changes when it is confirmed. " +
			updated.Contact.Email + " has been told."
	}
	return flashRedirect(c, flashSuccess, text, contactHref(id))
}

// refuseForm shows the form again with what the rules refused, and what was typed.
func refuseForm(c *fiber.Ctx, v components.ContactFormView, err error) error {
	var fields contacts.FieldErrors
	var taken *contacts.EmailTakenError
	status := fiber.StatusUnprocessableEntity
	switch {
	case errors.As(err, &fields):
		v.Errors = fields
	case errors.As(err, &taken) && taken.Owner != nil:
		v.Duplicate = taken.Owner
		v.Errors["email"] = "A contact with this email already exists."
	case errors.As(err, &taken) && v.Version != "": // Edit contact
		v.Errors["email"] = "This email can't be used. Please contact customer support via live chat or by submitting a support case through the portal."
	case errors.As(err, &taken):
		// SPEC 3.2: reveal nothing about a contact outside the admin's scope.
		v.Problem = "This contact cannot be created. Please contact customer support via live chat or by submitting a support case through the portal."
	case errors.Is(err, contacts.ErrEditConflict):
		v.Problem, status = "Someone else changed this contact while you were editing. Review the current details and apply your change again.", fiber.StatusConflict
	case errors.Is(err, contacts.ErrReauthRequired):
		v.Problem, v.Reauth.Needed = "To change an email address or a role, confirm it's you: enter your password below.", true
		if v.Reauth.Error == "" {
			v.Reauth.Error = "Enter your password to confirm it's you."
		}
	case errors.Is(err, contacts.ErrDemoteSelf):
		v.Problem = "You can't remove your own Contact admin role."
	case errors.Is(err, contacts.ErrLastAdmin):
		v.Problem = "This contact is the last active contact admin of its account: keep the Contact admin role and the account, or make someone else a contact admin first."
	case errors.Is(err, contacts.ErrThrottled):
		v.Problem, status = "You have created many contacts in a short time. Wait a minute and try again.", fiber.StatusTooManyRequests
	default:
		var policy *auth.PolicyError
		if errors.As(err, &policy) {
			v.Problem = policy.Reason
			break
		}
		return err
	}
	return renderForm(c, status, v)
}
