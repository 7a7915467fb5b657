package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"portal/components"
	"portal/db"
	"portal/validate"
)

// errOutsideScope is SPEC 3.2's answer when the email belongs to a contact the admin may
// not see: it reveals nothing about that contact.
const errOutsideScope = "This contact cannot be created. Please contact customer support via live chat or by submitting a support case through the portal."

// contactForm is the create and edit form as posted.
type contactForm struct {
	components.ContactFields
	accountRaw  string
	unknownRole bool // a role value that is none of the roles: refused, never dropped silently
}

// bindContactForm reads the form. Only the fields of the form are read: the tenant comes
// from the session. A role value other than the two roles is remembered, so that Validate
// refuses the form as the command line does, rather than saving it with a role missing.
func bindContactForm(c *fiber.Ctx) contactForm {
	f := contactForm{accountRaw: strings.TrimSpace(c.FormValue("account_id"))}
	f.FirstName = strings.TrimSpace(c.FormValue("first_name"))
	f.LastName = strings.TrimSpace(c.FormValue("last_name"))
	f.Email = strings.TrimSpace(c.FormValue("email"))
	f.Phone = strings.TrimSpace(c.FormValue("phone"))
	f.JobTitle = strings.TrimSpace(c.FormValue("job_title"))
	f.Version = c.FormValue("version")
	f.AccountID, _ = strconv.ParseInt(f.accountRaw, 10, 64)
	seen := map[db.Role]bool{}
	for _, raw := range c.Request().PostArgs().PeekMulti("role") {
		r, ok := db.ParseRole(string(raw))
		if !ok {
			f.unknownRole = true
			continue
		}
		if !seen[r] {
			seen[r] = true
			f.Roles = append(f.Roles, r)
		}
	}
	return f
}

// Validate returns a message per field that is wrong; empty when the form can be saved.
// The account must be one of the scope's: a hand-made form can't reach another tenant.
func (f contactForm) Validate(sc db.Scope) map[string]string {
	problems := map[string]string{}
	check := func(field string, err error) {
		if err != nil {
			problems[field] = err.Error()
		}
	}
	check("first_name", validate.Name("First name", f.FirstName))
	check("last_name", validate.Name("Last name", f.LastName))
	check("email", validate.Email(f.Email))
	check("phone", validate.Phone(f.Phone))
	check("job_title", validate.JobTitle(f.JobTitle))
	if !sc.Contains(f.AccountID) {
		problems["account_id"] = "Choose an account from the list."
	}
	if f.unknownRole {
		problems["role"] = "Choose Contact admin, Incident contact, or neither."
	}
	return problems
}

// formView is the form with its values. accountName fills the read-only Account Name: the
// admin's own account on Create (SPEC 3.2), the contact's stored account on Edit, which
// may be a child organization's.
func (h *Contacts) formView(sc db.Scope, title, action, cancel, accountName string, values components.ContactFields) components.ContactFormView {
	return components.ContactFormView{
		Title: title, Action: action, CancelHref: cancel, Values: values, Errors: map[string]string{},
		AccountName: accountName, Accounts: sc.Accounts(),
	}
}

func (h *Contacts) renderForm(c *fiber.Ctx, status int, v components.ContactFormView) error {
	return render(c, status, components.ContactFormPage(shell(c, v.Title, "my-contacts"), v), nil)
}

// New is the empty Create contact form; Account defaults to the admin's own account.
func (h *Contacts) New(c *fiber.Ctx) error {
	sc, err := h.scope(c)
	if err != nil {
		return err
	}
	v := h.formView(sc, "Create contact", "/contacts", "/my-contacts", viewerOf(c).contact.AccountName,
		components.ContactFields{AccountID: sc.Root().ID})
	return h.renderForm(c, fiber.StatusOK, v)
}

// Create stores a new contact without a password: it can't log in until it sets one
// through the link the mail feature sends.
func (h *Contacts) Create(c *fiber.Ctx) error {
	sc, err := h.scope(c)
	if err != nil {
		return err
	}
	f := bindContactForm(c)
	v := h.formView(sc, "Create contact", "/contacts", "/my-contacts", viewerOf(c).contact.AccountName, f.ContactFields)
	if v.Errors = f.Validate(sc); len(v.Errors) > 0 {
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	}
	var onCreated func(*db.Tx, db.Contact) error
	if h.OnCreated != nil {
		onCreated = func(tx *db.Tx, created db.Contact) error { return h.OnCreated(c, tx, created) }
	}
	id, err := h.store.CreateContactInScope(c.UserContext(), sc, h.actor(c), db.NewContact{
		AccountID: f.AccountID, FirstName: f.FirstName, LastName: f.LastName, Email: f.Email,
		Phone: f.Phone, JobTitle: f.JobTitle, Roles: f.Roles,
	}, onCreated)
	if errors.Is(err, db.ErrEmailTaken) {
		return h.duplicate(c, sc, v)
	}
	if err != nil {
		return err
	}
	name := strings.TrimSpace(f.FirstName + " " + f.LastName)
	if err := viewerOf(c).flash(c, flashSuccess, "Contact "+name+" has been successfully created."); err != nil {
		return err
	}
	return redirect(c, contactHref(id))
}

// duplicate answers an email that is taken: in scope it names and links the contact, out
// of scope it says only what SPEC 3.2 says.
func (h *Contacts) duplicate(c *fiber.Ctx, sc db.Scope, v components.ContactFormView) error {
	owner, err := h.store.ContactByEmail(c.UserContext(), v.Values.Email)
	switch {
	case err == nil && sc.Contains(owner.AccountID):
		v.Duplicate = &owner
		v.Errors["email"] = "A contact with this email already exists."
	case err == nil || errors.Is(err, db.ErrNotFound):
		v.Problem = errOutsideScope
	default:
		return err
	}
	return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
}

// Edit is the Edit contact form, filled with the contact's fields.
func (h *Contacts) Edit(c *fiber.Ctx) error {
	sc, contact, err := h.routeContact(c)
	if err != nil {
		return err
	}
	href := contactHref(contact.ID)
	v := h.formView(sc, "Edit contact", href, href, contact.AccountName, storedFields(contact))
	return h.renderForm(c, fiber.StatusOK, v)
}

// storedFields fills the Edit contact form from the stored contact, with its version.
func storedFields(contact db.Contact) components.ContactFields {
	return components.ContactFields{
		FirstName: contact.FirstName, LastName: contact.LastName, Email: contact.Email, Phone: contact.Phone,
		JobTitle: contact.JobTitle, AccountID: contact.AccountID, Roles: contact.Roles, Version: contact.EditVersion(),
	}
}

// errEditConflict is shown above the Edit contact form, refilled with what is stored now,
// when the form being saved was filled before someone else saved the contact.
const errEditConflict = "Someone else changed this contact while you were editing. Review the current details and apply your change again."

// Update saves the Edit contact form.
func (h *Contacts) Update(c *fiber.Ctx) error {
	sc, stored, err := h.routeContact(c)
	if err != nil {
		return err
	}
	ctx, id := c.UserContext(), stored.ID
	f := bindContactForm(c)
	v := h.formView(sc, "Edit contact", contactHref(id), contactHref(id), stored.AccountName, f.ContactFields)
	if v.Errors = f.Validate(sc); len(v.Errors) > 0 {
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	}
	err = h.store.UpdateContactInScope(ctx, sc, h.actor(c), id, db.ContactChanges{
		AccountID: f.AccountID, FirstName: f.FirstName, LastName: f.LastName, Email: f.Email,
		Phone: f.Phone, JobTitle: f.JobTitle, Roles: f.Roles, Version: f.Version,
	})
	switch {
	case errors.Is(err, db.ErrEditConflict):
		current, err := h.store.ContactInScope(ctx, sc, id)
		if err != nil {
			return err
		}
		v.Values, v.AccountName, v.Problem = storedFields(current), current.AccountName, errEditConflict
		return h.renderForm(c, fiber.StatusConflict, v)
	case errors.Is(err, db.ErrEmailTaken):
		owner, lookupErr := h.store.ContactByEmail(ctx, f.Email)
		if lookupErr == nil && sc.Contains(owner.AccountID) {
			v.Duplicate = &owner
			v.Errors["email"] = "A contact with this email already exists."
		} else {
			v.Errors["email"] = "This email can't be used. Please contact customer support via live chat or by submitting a support case through the portal."
		}
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	case errors.Is(err, db.ErrDemoteSelf):
		v.Problem = "You can't remove your own Contact admin role."
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	case errors.Is(err, db.ErrLastAdmin):
		v.Problem = "This contact is the last active contact admin of its account: keep the Contact admin role and the account, or make someone else a contact admin first."
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	case errors.Is(err, db.ErrAccountOutside):
		v.Errors["account_id"] = "Choose an account from the list."
		return h.renderForm(c, fiber.StatusUnprocessableEntity, v)
	case err != nil:
		return err
	}
	name := strings.TrimSpace(f.FirstName + " " + f.LastName)
	if err := viewerOf(c).flash(c, flashSuccess, "Contact "+name+" has been successfully updated."); err != nil {
		return err
	}
	return redirect(c, contactHref(id))
}
