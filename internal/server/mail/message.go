package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// A Message is one email to one recipient.
//
// From, To and ReplyTo hold a single address each, with or without a display name
// ("Zoé <zoe@example.com>" or "zoe@example.com"); the address itself must be ASCII (Parsec
// email addresses are). An empty From is replaced by the sender's configured address. Text is
// required; HTML is optional (without it the message has only a text part).
type Message struct {
	From, To, ReplyTo, Subject, Text, HTML string
}

// Validate reports whether m can be sent as it is: To is a valid address, From and ReplyTo are
// empty or valid addresses, no header value holds a line break or another control character,
// and every field is valid UTF-8. It never quotes Text or HTML in its errors.
func (m Message) Validate() error {
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"from", m.From, false},
		{"to", m.To, true},
		{"reply-to", m.ReplyTo, false},
	} {
		if f.value == "" {
			if f.required {
				return fmt.Errorf("invalid %s: missing address", f.name)
			}
			continue
		}
		if _, err := ParseAddress(f.value); err != nil {
			return fmt.Errorf("invalid %s %q: %w", f.name, f.value, err)
		}
	}
	if err := checkHeaderValue(m.Subject); err != nil {
		return fmt.Errorf("invalid subject %q: %w", m.Subject, err)
	}
	if m.Text == "" {
		return errors.New("invalid message: missing text body")
	}
	if !utf8.ValidString(m.Text) {
		return errors.New("invalid message: text body is not valid UTF-8")
	}
	if !utf8.ValidString(m.HTML) {
		return errors.New("invalid message: HTML body is not valid UTF-8")
	}
	return nil
}

// parseAddress parses a single address, refusing what Validate refuses.
func ParseAddress(s string) (*mail.Address, error) {
	if err := checkHeaderValue(s); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, err
	}
	// The display name may come from an RFC 2047 encoded word: check it decoded too.
	if err := checkHeaderValue(a.Name); err != nil {
		return nil, fmt.Errorf("display name: %w", err)
	}
	for i := 0; i < len(a.Address); i++ {
		if c := a.Address[i]; c <= ' ' || c >= 0x7f {
			return nil, errors.New("address must be printable ASCII")
		}
	}
	return a, nil
}

func checkHeaderValue(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n':
			return errors.New("contains a line break")
		case isControl(r):
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

func isControl(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u2028' || r == '\u2029'
}

// Bytes renders m as an RFC 5322 message with CRLF line endings: Date (now), From, To,
// Reply-To when set, Subject (RFC 2047 encoded when not plain ASCII), Message-ID (random, in
// messageIDDomain, "localhost" when empty or invalid), MIME-Version, and a
// multipart/alternative body with a text/plain and a text/html part, both UTF-8 and
// quoted-printable.
//
// Bytes does not validate m (call Validate first), but whatever m holds it never emits a line
// break inside a header value: control characters are replaced with spaces.
func (m Message) Bytes(now time.Time, messageIDDomain string) []byte {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(fold(name, value))
		b.WriteString("\r\n")
	}
	header("Date", now.Format(time.RFC1123Z))
	if m.From != "" {
		header("From", formatAddress(m.From))
	}
	header("To", formatAddress(m.To))
	if m.ReplyTo != "" {
		header("Reply-To", formatAddress(m.ReplyTo))
	}
	header("Subject", encodeText(m.Subject))
	header("Message-ID", "<"+rand.Text()+"@"+messageIDHost(messageIDDomain)+">")
	// Invitation emails are automatic: ask auto-responders not to answer them (RFC 3834).
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")

	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		writeQuotedPrintable(&b, m.Text)
		return b.Bytes()
	}

	mw := multipart.NewWriter(&b)
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ contentType, body string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		// Writing to a bytes.Buffer cannot fail.
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		writeQuotedPrintable(w, part.body)
	}
	mw.Close()
	return b.Bytes()
}

func writeQuotedPrintable(w interface{ Write([]byte) (int, error) }, s string) {
	qw := quotedprintable.NewWriter(w)
	qw.Write([]byte(s))
	qw.Close()
}

// sanitize replaces every control character (line breaks included) with a space.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || isControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

// formatAddress renders an address header value: parsed and re-encoded when valid, else the
// sanitized value as it is (Validate refuses it anyway).
func formatAddress(s string) string {
	a, err := ParseAddress(s)
	if err != nil {
		return encodeText(s)
	}
	return a.String()
}

// encodeText renders an unstructured header value (RFC 5322 §3.2.5), as RFC 2047 encoded
// words when it is not plain ASCII or could be mistaken for an encoded word.
func encodeText(s string) string {
	s = sanitize(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return encodeWords(s)
		}
	}
	if strings.Contains(s, "=?") {
		return encodeWords(s)
	}
	return s
}

// encodeWords encodes s as space-separated RFC 2047 "Q" encoded words of at most 75
// characters, never splitting a character. (mime.QEncoding leaves ASCII alone, even text that
// a decoder would take for an encoded word.)
func encodeWords(s string) string {
	const prefix, suffix = "=?utf-8?q?", "?="
	const maxEncoded = 75 - len(prefix) - len(suffix)
	var words []string
	var word strings.Builder
	var buf [utf8.UTFMax]byte
	for _, r := range s {
		var enc strings.Builder
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			switch {
			case c == ' ':
				enc.WriteByte('_')
			case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!*+-/", c) >= 0:
				enc.WriteByte(c)
			default:
				fmt.Fprintf(&enc, "=%02X", c)
			}
		}
		if word.Len()+enc.Len() > maxEncoded {
			words = append(words, prefix+word.String()+suffix)
			word.Reset()
		}
		word.WriteString(enc.String())
	}
	words = append(words, prefix+word.String()+suffix)
	return strings.Join(words, " ")
}

// fold renders "name: value", folding the line before single spaces so that lines stay
// within 78 characters where the value allows it (RFC 5322 §2.2.3). Unfolding gives back the
// value exactly.
func fold(name, value string) string {
	const maxLine = 78
	var b strings.Builder
	b.WriteString(name)
	b.WriteString(":")
	lineLen := len(name) + 1
	words := strings.Split(value, " ")
	for i, w := range words {
		if i > 0 && lineLen+1+len(w) > maxLine && w != "" && words[i-1] != "" {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteString(" ")
		b.WriteString(w)
		lineLen += 1 + len(w)
	}
	return b.String()
}

// messageIDHost returns domain when it is a plain host name, else "localhost".
func messageIDHost(domain string) string {
	if domain == "" || len(domain) > 253 {
		return "localhost"
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return "localhost"
		}
	}
	return domain
}

// domainOf returns the domain of the address s, or "" when s is not a valid address.
func domainOf(s string) string {
	a, err := ParseAddress(s)
	if err != nil {
		return ""
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return domain
}
