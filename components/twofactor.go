package components

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"strings"

	"github.com/a-h/templ"
	"github.com/pquerna/otp"

	"portal/contacts"
	"portal/db"
	"portal/export"
)

// ReauthView is the confirmation of who one is that a form asks for before a change that
// needs it (contacts.ReauthWindow): the admin's password, or a code from its app.
type ReauthView struct {
	Needed bool // the last proof is older than the window: the field shows
	App    bool // the admin has an authenticator app: a code works too
	Error  string
}

// ChangePasswordForm is Change password on Your profile.
type ChangePasswordForm struct {
	Email     string // the user name, for password managers
	MinLength int
	Errors    map[string]string // field name → message
}

// AppSetupView is the page that adds an authenticator app: the QR code, the key in text and
// the field for the first code.
type AppSetupView struct {
	Setup    contacts.AppSetup
	QR       templ.SafeURL // a data: URL of the QR code's PNG, drawn on the server
	Action   string        // where the first code goes
	AtSignIn bool          // set up right after the password, before anything else
	Error    string
}

// SecretGroups is the key in groups of four, as people read it aloud and type it.
func (v AppSetupView) SecretGroups() string {
	var groups []string
	for s := v.Setup.Secret; len(s) > 0; {
		n := min(4, len(s))
		groups, s = append(groups, s[:n]), s[n:]
	}
	return strings.Join(groups, " ")
}

// QRCode draws the otpauth:// URL of an authenticator app as a QR code, as a data: URL of a
// PNG: the page carries it, so no other site sees the secret (the CSP allows data: images).
func QRCode(otpURL string) (templ.SafeURL, error) {
	key, err := otp.NewKeyFromURL(otpURL)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	img, err := key.Image(232, 232)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	return templ.SafeURL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

// CodesView shows recovery codes, once.
type CodesView struct {
	Codes        []string
	First        bool   // made with the contact's first factor
	ContinueHref string // where the contact goes once it has saved them
}

// SecondStepView is the second step of a sign-in, and its recovery code page.
type SecondStepView struct {
	Pending contacts.Pending
	Error   string
}

// NewPasswordForm is the page of a contact who must choose a longer password at sign-in.
type NewPasswordForm struct {
	Email string
	Error string
}

// ResetTwoFactorView confirms Reset two-step verification on a contact's page.
type ResetTwoFactorView struct {
	Contact db.Contact
	Reauth  ReauthView
}

// PolicyView is the admin's page about requiring two-step verification.
type PolicyView struct {
	contacts.TwoFactorPolicy
	Error string
}

// passwordRule says which minimum applies, and why.
func passwordRule(minLength int) string {
	if minLength < 15 {
		return fmt.Sprintf("Use at least %d characters: your account has two-step verification, so a shorter password is safe enough. "+
			"Without two-step verification the minimum is 15.", minLength)
	}
	return fmt.Sprintf("Use at least %d characters. A few unrelated words make a password that is long and easy to remember. "+
		"With two-step verification on, 8 are enough.", minLength)
}

func codesLeft(n int) string {
	switch n {
	case 0:
		return "No recovery codes left. Generate new codes now."
	case 1:
		return "1 recovery code left."
	}
	return fmt.Sprintf("%d recovery codes left.", n)
}

func passkeyPath(id int64, suffix string) string {
	return fmt.Sprintf("/profile/passkeys/%d%s", id, suffix)
}

// twoStepCounts says how many active contacts have two-step verification and how many don't.
func twoStepCounts(with, without int) string {
	verb := " have"
	if with == 1 {
		verb = " has"
	}
	return Count(with, "active contact") + verb + " two-step verification, " + export.Thousands(without) + " don't."
}
