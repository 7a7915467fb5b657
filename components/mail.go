package components

import (
	"fmt"
	"strings"
	"time"

	"portal/db"
)

// ProductName is how mails and pages name the product.
const ProductName = "Customer Support Portal"

// Mail is what one email says. The worker fills it when it sends, so the link carries a
// token minted at that moment and every URL comes from the configured base URL.
type Mail struct {
	Kind       string
	ToName     string
	ToEmail    string
	Link       string    // the link the mail is about: set a password, confirm or cancel an email change, or the locked colleague's page
	ExpiresAt  time.Time // when Link stops working (links that set a password or answer an email change)
	ValidFor   time.Duration
	AboutName  string // reset, email change: the admin who asked; auto_locked: the locked colleague
	AboutEmail string
	NewEmail   string    // email change: the address that becomes the user name once it confirms
	At         time.Time // when it happened (password changed, contact locked)
	LoginURL   string
	ForgotURL  string
}

// Subject is the mail's subject line. It holds no user data: names are typed by admins, and
// a subject is the first thing a recipient reads.
func (m Mail) Subject() string {
	switch m.Kind {
	case db.MailReset:
		return "Reset your password for the " + ProductName
	case db.MailInvite:
		return "Set your password for the " + ProductName
	case db.MailPasswordChanged:
		return "Your " + ProductName + " password was changed"
	case db.MailAutoLocked:
		return "A colleague was locked out of the " + ProductName
	case db.MailEmailConfirm:
		return "Confirm your new email address for the " + ProductName
	case db.MailEmailChangeNotice:
		return "The email address of your " + ProductName + " account is being changed"
	case db.MailTwoFactorReset:
		return "The two-step verification of your " + ProductName + " account was reset"
	}
	return ProductName
}

// resetTwoFactorReason says who reset the contact's two-step verification, and what that did.
func (m Mail) resetTwoFactorReason() string {
	who := "The operator of the " + ProductName
	if m.AboutName != "" {
		who = m.AboutName + ", a contact admin of your organization,"
	}
	return who + " reset the two-step verification of your account " + m.ToEmail + " on " + formatTime(m.At) +
		": your authenticator app, passkeys and recovery codes were removed, and every session of your account was ended."
}

// Validity says how long a link works: "12 hours", "7 days".
func (m Mail) Validity() string { return Duration(m.ValidFor) }

// Duration writes a link's lifetime the way people say it.
func Duration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	}
	return plural(int64(d.Round(time.Minute)/time.Minute), "minute")
}

// greeting is the first line of every mail. It names nobody: names are typed by admins,
// and the first line of a mail must not be theirs to write.
func (m Mail) greeting() string { return "Hello," }

// resetReason says who asked for a reset link, so that a recipient can judge it.
func (m Mail) resetReason() string {
	if m.AboutName != "" {
		return m.AboutName + ", a contact admin of your organization, asked for a password reset link for your account " +
			m.ToEmail + " on the " + ProductName + "."
	}
	return "Someone, hopefully you, asked to reset the password of your account " + m.ToEmail + " on the " + ProductName + "."
}

// resetIgnore says what ignoring a reset mail does: nothing changes. An admin's request is
// not the reader's, so it is not called one they may not have made.
func (m Mail) resetIgnore() string {
	if m.AboutName != "" {
		return "If you don't want a new password, ignore this email: your password stays as it is."
	}
	return "If you did not ask for it, ignore this email: your password stays as it is."
}

// changeReason says who changes which account's email to what.
func (m Mail) changeReason() string {
	who := "A contact admin of your organization"
	if m.AboutName != "" {
		who = m.AboutName + ", a contact admin of your organization,"
	}
	old := m.ToEmail
	if m.Kind == db.MailEmailConfirm {
		old = "another address"
	}
	return who + " asked to change the user name of an account on the " + ProductName + " from " + old + " to " +
		m.NewEmail + "."
}

// MailText is the plain-text part of a mail: the same words as MailHTML.
func MailText(m Mail) string {
	var b strings.Builder
	line := func(s ...string) {
		b.WriteString(strings.Join(s, ""))
		b.WriteString("\n")
	}
	line(m.greeting())
	line()
	switch m.Kind {
	case db.MailReset:
		line(m.resetReason())
		line()
		line("To choose a new password, open this link:")
		line(m.Link)
		line()
		line("The link is valid for ", m.Validity(), " (until ", formatTime(m.ExpiresAt), ") and works once.")
		line(m.resetIgnore())
	case db.MailInvite:
		line("An account on the ", ProductName, " was created for you. Your user name is ", m.ToEmail, ".")
		line()
		line("To choose your password, open this link:")
		line(m.Link)
		line()
		line("The link is valid for ", m.Validity(), " (until ", formatTime(m.ExpiresAt), ") and works once.")
	case db.MailPasswordChanged:
		line("The password of your ", ProductName, " account ", m.ToEmail, " was changed on ", formatTime(m.At), ".")
		line("Every session of your account was ended. Log in with your new password:")
		line(m.LoginURL)
		line()
		line("If you did not change it, reset your password at once and tell your contact admin:")
		line(m.ForgotURL)
	case db.MailAutoLocked:
		line("Your colleague ", m.AboutName, " (", m.AboutEmail, ") was locked out of the ", ProductName,
			" on ", formatTime(m.At), " after too many failed login attempts.")
		line()
		line("They can unlock themselves by resetting their password with Forgot password? on the login page.")
		line("You can also unlock them on their page:")
		line(m.Link)
	case db.MailEmailConfirm:
		line(m.changeReason())
		line()
		line("To confirm that ", m.ToEmail, " is to be the user name, open this link:")
		line(m.Link)
		line()
		line("The link is valid for ", m.Validity(), " (until ", formatTime(m.ExpiresAt), ") and works once.")
		line("Not expecting this? Ignore this email: without your confirmation nothing changes.")
	case db.MailEmailChangeNotice:
		line(m.changeReason())
		line()
		line("It takes effect when ", m.NewEmail, " confirms it, within ", m.Validity(), ". Until then ", m.ToEmail, " stays your user name.")
		line("If you did not expect this, cancel the change and tell your contact admin:")
		line(m.Link)
	case db.MailTwoFactorReset:
		line(m.resetTwoFactorReason())
		line()
		line("Log in with your password, then set up two-step verification again on Your profile")
		line("(where your organization requires it, the portal asks you to at once):")
		line(m.LoginURL)
		line()
		line("If you did not ask for this, tell your contact admin at once.")
	}
	line()
	line("-- ")
	line(ProductName)
	return b.String()
}
