package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netsmtp "net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/server/mail"
)

// Config says how to reach the SMTP server.
type Config struct {
	Host string
	Port int
	// Username, when set, makes the sender authenticate with AUTH PLAIN. Credentials are
	// never sent over an unencrypted connection, except to localhost.
	Username, Password string
	// TLS is implicit TLS (usually port 465).
	TLS bool
	// StartTLS requires STARTTLS (usually port 587): sending fails when the server does not
	// offer it. Without TLS or StartTLS the connection stays unencrypted.
	StartTLS bool
	// Sender is the envelope sender (MAIL FROM) and the From of messages that have none,
	// with or without a display name: "Parsec <no-reply@example.com>".
	Sender string
	// Timeout bounds a whole Send, from dialling to QUIT; zero means 30 seconds. The
	// context's deadline applies too.
	Timeout time.Duration
	// TLSConfig is used for TLS and STARTTLS when set (tests use it to trust their own CA);
	// its ServerName defaults to Host.
	TLSConfig *tls.Config
}

const defaultTimeout = 30 * time.Second

// New returns a mail.Sender that opens one SMTP connection per message. It validates cfg: a
// host, a port in 1..65535, not both TLS and StartTLS, a valid Sender address, no password
// without a username, and no credentials over an unencrypted connection to another host than
// localhost.
func New(cfg Config) (mail.Sender, error) {
	switch {
	case cfg.Host == "":
		return nil, errors.New("smtp config: missing host")
	case strings.ContainsFunc(cfg.Host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }):
		return nil, fmt.Errorf("smtp config: invalid host %q", cfg.Host)
	case cfg.Port < 1 || cfg.Port > 65535:
		return nil, fmt.Errorf("smtp config: port %d out of range 1..65535", cfg.Port)
	case cfg.TLS && cfg.StartTLS:
		return nil, errors.New("smtp config: TLS (implicit) and STARTTLS are mutually exclusive")
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("smtp config: negative timeout %v", cfg.Timeout)
	case cfg.Password != "" && cfg.Username == "":
		return nil, errors.New("smtp config: password without a username")
	case cfg.Username != "" && !cfg.TLS && !cfg.StartTLS && !isLocalhost(cfg.Host):
		return nil, fmt.Errorf("smtp config: refusing to send credentials to %q unencrypted: enable TLS or STARTTLS", cfg.Host)
	}
	from, err := mail.ParseAddress(cfg.Sender)
	if err != nil {
		return nil, fmt.Errorf("smtp config: invalid sender %q: %w", cfg.Sender, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	s := &sender{
		cfg:          cfg,
		addr:         net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		envelopeFrom: from.Address,
		now:          time.Now,
	}
	if cfg.TLS || cfg.StartTLS {
		if cfg.TLSConfig != nil {
			s.tlsConfig = cfg.TLSConfig.Clone()
		} else {
			s.tlsConfig = &tls.Config{}
		}
		if s.tlsConfig.ServerName == "" {
			s.tlsConfig.ServerName = cfg.Host
		}
		if s.tlsConfig.MinVersion == 0 {
			s.tlsConfig.MinVersion = tls.VersionTLS12
		}
	}
	return s, nil
}

// isLocalhost mirrors the exception of net/smtp.PlainAuth.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

type sender struct {
	cfg          Config
	addr         string // host:port
	envelopeFrom string
	tlsConfig    *tls.Config // nil without TLS or STARTTLS
	now          func() time.Time
}

func (s *sender) Send(ctx context.Context, m mail.Message) error {
	where := "sending mail via " + s.addr
	fail := func(kind error, what string, cause error) error {
		if err := ctx.Err(); err != nil && cause != nil && !errors.Is(cause, err) {
			cause = fmt.Errorf("%w: %w", err, cause)
		}
		return mail.NewSendError(kind, where, what, cause, s.cfg.Password)
	}

	if m.From == "" {
		m.From = s.cfg.Sender
	}
	if err := m.Validate(); err != nil {
		return fail(mail.ErrUnavailable, "invalid message", err)
	}
	// Both valid: checked by Validate (From is the configured sender, or checked too).
	rcpt, _ := mail.ParseAddress(m.To)
	from, _ := mail.ParseAddress(m.From)
	_, domain, _ := strings.Cut(from.Address, "@")
	data := m.Bytes(s.now(), domain)

	if err := ctx.Err(); err != nil {
		return fail(mail.ErrUnavailable, "not connecting", err)
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if s.cfg.TLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fail(mail.ErrUnavailable, "connect", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fail(mail.ErrUnavailable, "connect", err)
	}
	// Cancelling the context interrupts whatever read or write is under way.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := netsmtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fail(mail.ErrUnavailable, "reading greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fail(mail.ErrUnavailable, "EHLO", err)
	}

	if s.cfg.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail(mail.ErrUnavailable, "STARTTLS required but not offered by the server", nil)
		}
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return fail(mail.ErrUnavailable, "STARTTLS", err)
		}
	}

	if s.cfg.Username != "" {
		ok, mechanisms := c.Extension("AUTH")
		if !ok {
			return fail(mail.ErrUnavailable, "authentication required by the configuration but AUTH not offered by the server", nil)
		}
		if !hasWordFold(mechanisms, "PLAIN") {
			return fail(mail.ErrUnavailable, fmt.Sprintf("AUTH PLAIN not offered by the server (offers %q)", mechanisms), nil)
		}
		// PlainAuth refuses to send credentials over an unencrypted connection to another
		// host than localhost.
		if err := c.Auth(netsmtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return fail(mail.ErrUnavailable, fmt.Sprintf("authenticating as %q", s.cfg.Username), err)
		}
	}

	if err := c.Mail(s.envelopeFrom); err != nil {
		return fail(mail.ErrUnavailable, fmt.Sprintf("sender %q refused", s.envelopeFrom), err)
	}
	if err := c.Rcpt(rcpt.Address); err != nil {
		var perr *textproto.Error
		if errors.As(err, &perr) && perr.Code >= 500 && perr.Code < 600 {
			return fail(mail.ErrRecipientRefused, fmt.Sprintf("recipient %q refused", rcpt.Address), err)
		}
		return fail(mail.ErrUnavailable, fmt.Sprintf("recipient %q not accepted", rcpt.Address), err)
	}
	w, err := c.Data()
	if err != nil {
		return fail(mail.ErrUnavailable, "DATA", err)
	}
	if _, err := w.Write(data); err != nil {
		return fail(mail.ErrUnavailable, "writing message", err)
	}
	if err := w.Close(); err != nil {
		return fail(mail.ErrUnavailable, "message refused", err)
	}
	// The server accepted the message: a failing QUIT changes nothing.
	c.Quit()
	return nil
}

func hasWordFold(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}
