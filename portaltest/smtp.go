package portaltest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server inside the test process (github.com/emersion/go-smtp on
// 127.0.0.1), so tests see exactly what go-mail sends over the wire. It keeps every message
// it accepts. Stop and Start simulate an outage of the relay: the address stays the same.
//
// Typical use:
//
//	srv := portaltest.NewSMTPServer(t)
//	// start the portal with srv.Args() among its flags, make it send something, then
//	msg := srv.WaitFor(1, 5*time.Second)[0]
//	link := msg.Link("https://portal.example.test/set-password/")
//
// portaltest.New starts one for every Env (Env.SMTP) and points the portal at it.
type SMTPServer struct {
	t    testing.TB
	addr string

	mu      sync.Mutex
	srv     *smtp.Server
	down    bool // between Stop and Start: refuse every session
	msgs    []Message
	arrived chan struct{} // closed and replaced whenever a message arrives
	held    chan struct{} // non-nil while Hold is on: DATA waits for it to close
	holding chan struct{} // receives when a message is being held
}

// Message is one mail as the server received it, with its parts decoded.
type Message struct {
	From   string   // envelope sender (MAIL FROM)
	To     []string // envelope recipients (RCPT TO): who really gets it, Bcc included
	Raw    []byte   // the data exactly as sent
	Header mail.Header
	Text   string // the text/plain part, quoted-printable or base64 decoded
	HTML   string // the text/html part, decoded
}

// NewSMTPServer starts a server on a free port of 127.0.0.1; it stops when the test ends.
func NewSMTPServer(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp server: %v", err)
	}
	s := &SMTPServer{t: t, addr: ln.Addr().String(), arrived: make(chan struct{})}
	s.serve(ln)
	t.Cleanup(s.close)
	return s
}

// Host is the server's host (127.0.0.1).
func (s *SMTPServer) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }

// Port is the server's port.
func (s *SMTPServer) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Args are the portal flags that send mail to this server (plain SMTP, no TLS).
func (s *SMTPServer) Args() []string {
	return []string{"--smtp-host", s.Host(), "--smtp-port", strconv.Itoa(s.Port()), "--smtp-tls", "none"}
}

func (s *SMTPServer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		down := s.down
		s.mu.Unlock()
		if down {
			return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available (test outage)"}
		}
		return &smtpSession{server: s}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = true
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop simulates an outage of the relay: until Start, every connection is answered "421
// service not available" and closed, so nothing is delivered. The server keeps its port
// meanwhile (closing it would let another test's listener take the port). Stopping twice
// is fine.
func (s *SMTPServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = true
}

// Start ends the outage begun by Stop.
func (s *SMTPServer) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = false
}

// close shuts the server down for good, when the test ends.
func (s *SMTPServer) close() {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.down = nil, true
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Hold makes the server keep the next messages in DATA, before it answers, until Release:
// a slow relay, for tests of what happens to the message a sender has in hand. Holding
// receives once for each message held.
func (s *SMTPServer) Hold() (holding <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = make(chan struct{})
	s.holding = make(chan struct{}, 16)
	return s.holding
}

// Release lets held messages through and stops holding.
func (s *SMTPServer) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		close(s.held)
		s.held = nil
	}
}

// Messages returns every message received so far, in order.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// MessagesTo returns the messages whose envelope recipients include addr (case-insensitive).
func (s *SMTPServer) MessagesTo(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Reset forgets the messages received so far.
func (s *SMTPServer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
}

// WaitFor waits until at least n messages have arrived and returns them all; the test fails
// if they don't arrive within timeout. For a server running its own mail worker (browser
// tests); tests that call Env.DeliverMail have the mail as soon as it returns.
func (s *SMTPServer) WaitFor(n int, timeout time.Duration) []Message {
	s.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, arrived := len(s.msgs), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-deadline.C:
			s.t.Fatalf("smtp server: got %d messages within %s, want %d", got, timeout, n)
			return nil
		}
	}
}

func (s *SMTPServer) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

type smtpSession struct {
	server *SMTPServer
	from   string
	to     []string
}

func (x *smtpSession) Reset()        { x.from, x.to = "", nil }
func (x *smtpSession) Logout() error { return nil }

func (x *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := ParseMessage(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "unparsable message: " + err.Error()}
	}
	m.From, m.To = x.from, append([]string(nil), x.to...)
	x.server.mu.Lock()
	held, holding := x.server.held, x.server.holding
	x.server.mu.Unlock()
	if held != nil {
		holding <- struct{}{}
		<-held
	}
	x.server.add(m)
	return nil
}

// ParseMessage reads a raw message and decodes its text and HTML parts (quoted-printable or
// base64, single part or multipart at any depth).
func ParseMessage(raw []byte) (Message, error) {
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: pm.Header}
	err = m.readPart(pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), pm.Body)
	return m, err
}

func (m *Message) readPart(contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.readPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("decode %s part: %w", mediaType, err)
	}
	switch mediaType {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

// newlineStripper drops CR and LF so that base64 bodies wrapped at 76 columns decode.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// Subject is the decoded Subject header.
func (m Message) Subject() string {
	s, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return m.Header.Get("Subject")
	}
	return s
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links lists the URLs in the text part, in order.
func (m Message) Links() []string { return linkPattern.FindAllString(m.Text, -1) }

// Link returns the first URL of the text part that starts with prefix, or "".
func (m Message) Link(prefix string) string {
	for _, l := range m.Links() {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
