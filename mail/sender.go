// Package mail delivers the portal's email: an SMTP sender built on go-mail, a sender that
// writes mail to the log when no SMTP host is configured, and the outbox worker that sends
// queued mail with retries.
package mail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"

	"portal/config"
)

// Message is one mail ready to send.
type Message struct {
	ID      string // outbox id; the Message-ID is <ID@host of the base URL>
	ToName  string
	ToEmail string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers a message. The worker needs nothing more, so SMTP and the log are
// interchangeable.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// NewSender returns the SMTP sender, or the log sender when no SMTP host is configured.
func NewSender(cfg config.Config, log *slog.Logger) Sender {
	domain := messageIDDomain(cfg.BaseURL)
	if cfg.SMTP.Host == "" {
		return &LogSender{log: log, from: cfg.SMTP.From, domain: domain}
	}
	return &SMTPSender{cfg: cfg.SMTP, domain: domain}
}

// messageIDDomain is the right-hand side of Message-IDs: the portal's public host name.
func messageIDDomain(baseURL string) string {
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "portal.invalid"
}

// SendTimeout bounds one delivery, dial to QUIT.
const SendTimeout = 60 * time.Second

// SMTPSender sends over SMTP with the configured TLS mode.
type SMTPSender struct {
	cfg    config.SMTP
	domain string
}

// ErrBadAddress is returned for a recipient address that can't be put on an envelope.
var ErrBadAddress = errors.New("mail: recipient address is not valid")

// Send delivers m in one SMTP session.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg, err := build(m, s.cfg.From, s.domain, time.Now())
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(SendTimeout)}
	switch s.cfg.TLS {
	case "none":
		// go-mail's default is mandatory STARTTLS; a relay on localhost or a test server has none.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.User), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client for %s: %w", s.cfg.Host, err)
	}
	ctx, cancel := context.WithTimeout(ctx, SendTimeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send %s via %s:%d: %w", m.ID, s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}

// build makes the go-mail message. Every header value goes through go-mail's address and
// RFC 2047 encoders, and display names lose their control characters first, so that user
// data can't start a header of its own ("\r\nBcc: ...").
func build(m Message, from, domain string, now time.Time) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(m.ToEmail)
	if err != nil || to.Address != strings.TrimSpace(m.ToEmail) || strings.ContainsFunc(m.ToEmail, unicode.IsControl) {
		return nil, fmt.Errorf("%w: %q", ErrBadAddress, m.ToEmail)
	}
	sender, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: sender address %q: %w", from, err)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// The operator's display name, when --smtp-from gives one ("Northwind IT <it@…>").
	msg.FromMailAddress(&netmail.Address{Name: cmp.Or(headerText(sender.Name), "Customer Support Portal"), Address: sender.Address})
	msg.ToMailAddress(&netmail.Address{Name: headerText(m.ToName), Address: to.Address})
	msg.Subject(headerText(m.Subject))
	msg.SetMessageIDWithValue(m.ID + "@" + domain)
	msg.SetDateWithValue(now)
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// headerText puts s on one line: control characters (CR and LF among them) and runs of
// spaces become one space.
func headerText(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }), " ")
}

// LogSender writes each mail to the log, for installations without an SMTP relay (and the
// demo). This is the one place where a link is written to a log, and only because the
// operator configured no other way to deliver it.
type LogSender struct {
	log    *slog.Logger
	from   string
	domain string
}

// Send logs the whole message: headers and the text part, and each link on its own so
// that the person trying the demo finds it at a glance.
func (s *LogSender) Send(_ context.Context, m Message) error {
	args := []any{"message_id", "<" + m.ID + "@" + s.domain + ">", "from", s.from,
		"to", headerText(m.ToName) + " <" + m.ToEmail + ">", "subject", headerText(m.Subject)}
	for _, line := range strings.Split(m.Text, "\n") {
		if strings.HasPrefix(line, "http://") || strings.HasPrefix(line, "https://") {
			args = append(args, "link", line)
		}
	}
	args = append(args, "body", "\n"+m.Text)
	s.log.Info("mail (no SMTP host configured, so it is written here instead of sent)", args...)
	return nil
}
