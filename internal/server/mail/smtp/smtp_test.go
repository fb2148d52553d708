package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/mail/mailtest"
)

// received is what the test SMTP server got in one transaction.
type received struct {
	From string
	To   []string
	Data []byte
	User string // authenticated user, if any
}

// backend is a go-smtp backend recording what it receives.
type backend struct {
	user, password string          // when set, AUTH PLAIN with these is required
	refuse         map[string]bool // recipients refused with 550

	mu       sync.Mutex
	mails    int // MAIL FROM commands seen, successful or not
	authSeen int // AUTH attempts
	messages []received
}

func (b *backend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &session{b: b}, nil }

func (b *backend) received() (mails, auths int, messages []received) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mails, b.authSeen, append([]received(nil), b.messages...)
}

type session struct {
	b    *backend
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		s.b.mu.Lock()
		s.b.authSeen++
		s.b.mu.Unlock()
		if username != s.b.user || password != s.b.password {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "invalid credentials"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	s.b.mu.Lock()
	s.b.mails++
	s.b.mu.Unlock()
	if s.b.user != "" && s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	s.cur = received{From: from, User: s.user}
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.b.refuse[to] {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

type tlsMode int

const (
	plain tlsMode = iota
	startTLS
	implicitTLS
)

// startServer starts a go-smtp server on 127.0.0.1 and returns its port.
func startServer(t *testing.T, be *backend, mode tlsMode, cert tls.Certificate) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := gosmtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch mode {
	case startTLS:
		s.TLSConfig = tlsConfig
	case implicitTLS:
		l = tls.NewListener(l, tlsConfig)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(l)
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().(*net.TCPAddr).Port
}

// testCertificate returns a self-signed certificate for 127.0.0.1 and localhost, and a pool
// trusting it.
func testCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "parsec mail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func newSMTP(t *testing.T, cfg Config) mail.Sender {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// testMessage is a user invitation, whose From the sender fills in.
var testMessage = mail.InvitationMessage(mail.Invitation{Organization: "Acme", GreeterName: "Zoé",
	GreeterEmail: "zoe@example.com", ClaimerEmail: "Bob <bob@example.com>",
	Link: "https://parsec.example.com/redirect/Acme?a=claim_user&p=xyz"})

// checkDelivered checks that the backend received exactly testMessage, once.
func checkDelivered(t *testing.T, be *backend, wantUser string) {
	t.Helper()
	_, _, messages := be.received()
	if len(messages) != 1 {
		t.Fatalf("server received %d messages, want 1", len(messages))
	}
	got := messages[0]
	if got.From != "no-reply@example.com" || !cmp.Equal(got.To, []string{"bob@example.com"}) || got.User != wantUser {
		t.Errorf("envelope: MAIL FROM %q, RCPT TO %q, user %q", got.From, got.To, got.User)
	}
	p := mailtest.Parse(t, got.Data)
	want := mailtest.Parsed{
		From:    "Parsec <no-reply@example.com>",
		To:      "Bob <bob@example.com>",
		ReplyTo: "Zoé <zoe@example.com>",
		Subject: testMessage.Subject,
		Text:    testMessage.Text,
		HTML:    testMessage.HTML,
	}
	if !strings.HasSuffix(p.MessageID, "@example.com>") {
		t.Errorf("Message-ID = %q", p.MessageID)
	}
	if time.Since(p.Date) > time.Minute {
		t.Errorf("Date = %v", p.Date)
	}
	p.Date, p.MessageID, p.Header = time.Time{}, "", nil
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("received message (-want +got):\n%s", diff)
	}
}

func TestSMTPPlain(t *testing.T) {
	be := &backend{}
	port := startServer(t, be, plain, tls.Certificate{})
	s := newSMTP(t, Config{Host: "127.0.0.1", Port: port, Sender: "Parsec <no-reply@example.com>", Timeout: 5 * time.Second})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, be, "")
}

func TestSMTPStartTLSAuth(t *testing.T) {
	cert, pool := testCertificate(t)
	const password = "correct horse battery staple"
	tests := []struct {
		name     string
		password string
		wantErr  error
	}{
		{"right password", password, nil},
		{"wrong password", "Tr0ub4dor&3-wrong", mail.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := &backend{user: "parsec", password: password}
			port := startServer(t, be, startTLS, cert)
			s := newSMTP(t, Config{
				Host: "127.0.0.1", Port: port, StartTLS: true,
				Username: "parsec", Password: tc.password,
				Sender: "Parsec <no-reply@example.com>", Timeout: 5 * time.Second,
				TLSConfig: &tls.Config{RootCAs: pool},
			})
			err := s.Send(t.Context(), testMessage)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Send: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				checkDelivered(t, be, "parsec")
				return
			}
			t.Logf("error: %v", err)
			if errors.Is(err, mail.ErrRecipientRefused) {
				t.Errorf("error also matches mail.ErrRecipientRefused")
			}
			if strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q contains the password", err)
			}
			if !strings.Contains(err.Error(), "authenticating") {
				t.Errorf("error %q does not say authentication failed", err)
			}
			if _, auths, messages := be.received(); auths != 1 || len(messages) != 0 {
				t.Errorf("server saw %d AUTH and %d messages, want 1 and 0", auths, len(messages))
			}
		})
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	cert, pool := testCertificate(t)
	be := &backend{user: "parsec", password: "secret"}
	port := startServer(t, be, implicitTLS, cert)
	s := newSMTP(t, Config{
		Host: "127.0.0.1", Port: port, TLS: true,
		Username: "parsec", Password: "secret",
		Sender: "Parsec <no-reply@example.com>", Timeout: 5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: pool},
	})
	if err := s.Send(t.Context(), testMessage); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkDelivered(t, be, "parsec")
}

func TestSMTPUnavailable(t *testing.T) {
	cert, pool := testCertificate(t)
	tests := []struct {
		name string
		mode tlsMode
		be   *backend
		cfg  Config // Host, Port, Sender and Timeout filled in
		want string // in the error message
	}{
		{
			name: "STARTTLS required but not offered",
			mode: plain,
			cfg:  Config{StartTLS: true, TLSConfig: &tls.Config{RootCAs: pool}},
			want: "STARTTLS required but not offered",
		},
		{
			name: "STARTTLS with an untrusted certificate",
			mode: startTLS,
			cfg:  Config{StartTLS: true},
			want: "certificate",
		},
		{
			name: "implicit TLS with an untrusted certificate",
			mode: implicitTLS,
			cfg:  Config{TLS: true},
			want: "certificate",
		},
		{
			name: "implicit TLS to a plain server",
			mode: plain,
			cfg:  Config{TLS: true, TLSConfig: &tls.Config{RootCAs: pool}},
			want: "connect",
		},
		{
			name: "AUTH not offered",
			mode: plain, // go-smtp offers AUTH only over TLS
			cfg:  Config{Username: "parsec", Password: "secret"},
			want: "AUTH not offered",
		},
		{
			name: "sender refused",
			mode: plain,
			be:   &backend{user: "someone"}, // refuses MAIL FROM without AUTH
			want: "sender \"no-reply@example.com\" refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be := tc.be
			if be == nil {
				be = &backend{}
			}
			cfg := tc.cfg
			cfg.Host, cfg.Port = "127.0.0.1", startServer(t, be, tc.mode, cert)
			cfg.Sender, cfg.Timeout = "Parsec <no-reply@example.com>", 5*time.Second
			err := newSMTP(t, cfg).Send(t.Context(), testMessage)
			if !errors.Is(err, mail.ErrUnavailable) || errors.Is(err, mail.ErrRecipientRefused) {
				t.Fatalf("Send: %v, want mail.ErrUnavailable only", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if _, _, messages := be.received(); len(messages) != 0 {
				t.Errorf("server received %d messages", len(messages))
			}
			if tc.be == nil {
				if mails, _, _ := be.received(); mails != 0 {
					t.Errorf("server saw %d MAIL FROM, want none", mails)
				}
			}
		})
	}
}

func TestSMTPRecipientRefused(t *testing.T) {
	be := &backend{refuse: map[string]bool{"bob@example.com": true}}
	port := startServer(t, be, plain, tls.Certificate{})
	s := newSMTP(t, Config{Host: "127.0.0.1", Port: port, Sender: "no-reply@example.com", Timeout: 5 * time.Second})
	err := s.Send(t.Context(), testMessage)
	if !errors.Is(err, mail.ErrRecipientRefused) || errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("Send: %v, want mail.ErrRecipientRefused only", err)
	}
	if !strings.Contains(err.Error(), `"bob@example.com"`) || !strings.Contains(err.Error(), "550") {
		t.Errorf("error %q does not name the recipient and the reply", err)
	}
	if _, _, messages := be.received(); len(messages) != 0 {
		t.Errorf("server received %d messages", len(messages))
	}
}

func TestSMTPInvalidMessage(t *testing.T) {
	// Nothing listens: an invalid message must be refused before connecting.
	s := newSMTP(t, Config{Host: "127.0.0.1", Port: closedPort(t), Sender: "no-reply@example.com"})
	m := testMessage
	m.Subject = "Hi\r\nBcc: eve@example.com"
	err := s.Send(t.Context(), m)
	if !errors.Is(err, mail.ErrUnavailable) || !strings.Contains(err.Error(), "invalid message") {
		t.Fatalf("Send: %v, want an invalid message error", err)
	}
}

// closedPort returns a port on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestSMTPNothingListening(t *testing.T) {
	const timeout = time.Minute
	s := newSMTP(t, Config{Host: "127.0.0.1", Port: closedPort(t), Sender: "no-reply@example.com", Timeout: timeout})
	start := time.Now()
	err := s.Send(t.Context(), testMessage)
	if !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("Send: %v, want mail.ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed >= timeout {
		t.Errorf("Send waited for the timeout (%v) on a refused connection", elapsed)
	}
}

// silentServer accepts TCP connections and never says a word. Each accepted connection is
// announced on the returned channel.
func silentServer(t *testing.T) (port int, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 10)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port, ch
}

func TestSMTPSilentServer(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		port, _ := silentServer(t)
		s := newSMTP(t, Config{Host: "127.0.0.1", Port: port, Sender: "no-reply@example.com", Timeout: 200 * time.Millisecond})
		err := s.Send(t.Context(), testMessage)
		if !errors.Is(err, mail.ErrUnavailable) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Send: %v, want mail.ErrUnavailable after a timeout", err)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		port, _ := silentServer(t)
		s := newSMTP(t, Config{Host: "127.0.0.1", Port: port, Sender: "no-reply@example.com", Timeout: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, testMessage)
		if !errors.Is(err, mail.ErrUnavailable) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Send: %v, want mail.ErrUnavailable after the context deadline", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		port, accepted := silentServer(t)
		s := newSMTP(t, Config{Host: "127.0.0.1", Port: port, Sender: "no-reply@example.com", Timeout: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-accepted
			cancel()
		}()
		err := s.Send(ctx, testMessage)
		if !errors.Is(err, mail.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: %v, want mail.ErrUnavailable and context.Canceled", err)
		}
	})
}

func TestNew(t *testing.T) {
	valid := Config{Host: "gosmtp.example.com", Port: 587, StartTLS: true, Username: "u", Password: "hunter2", Sender: "Parsec <no-reply@example.com>"}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"implicit TLS", func(c *Config) { c.StartTLS, c.TLS, c.Port = false, true, 465 }, ""},
		{"plain without credentials", func(c *Config) { c.StartTLS, c.Username, c.Password = false, "", "" }, ""},
		{"plain credentials to localhost", func(c *Config) { c.StartTLS, c.Host = false, "localhost" }, ""},
		{"IPv6 host", func(c *Config) { c.Host = "::1" }, ""},
		{"missing host", func(c *Config) { c.Host = "" }, "missing host"},
		{"host with a line break", func(c *Config) { c.Host = "gosmtp.example.com\r\n" }, "invalid host"},
		{"port 0", func(c *Config) { c.Port = 0 }, "port 0 out of range"},
		{"port 65536", func(c *Config) { c.Port = 65536 }, "port 65536 out of range"},
		{"TLS and STARTTLS", func(c *Config) { c.TLS = true }, "mutually exclusive"},
		{"missing sender", func(c *Config) { c.Sender = "" }, "invalid sender"},
		{"bad sender", func(c *Config) { c.Sender = "not an address" }, "invalid sender"},
		{"injected sender", func(c *Config) { c.Sender = "a@example.com\r\nBcc: eve@example.com" }, "invalid sender"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "negative timeout"},
		{"password without username", func(c *Config) { c.Username = "" }, "password without a username"},
		{"plain credentials to a remote host", func(c *Config) { c.StartTLS = false }, "unencrypted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.modify(&cfg)
			_, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("New accepted %+v", cfg)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), cfg.Password) && cfg.Password != "" {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}
