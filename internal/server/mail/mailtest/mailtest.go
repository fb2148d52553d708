// Package mailtest reads back the messages that package mail renders, for the tests of mail
// and of its senders. It does not import mail, so that mail's own tests can use it.
package mailtest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Parsed is a rendered message read back the way a mail client would.
type Parsed struct {
	From, To, ReplyTo string // display name and address, RFC 2047 decoded
	Subject           string // RFC 2047 decoded
	MessageID         string
	Date              time.Time
	Text, HTML        string // decoded parts, line endings normalized to \n
	Header            mail.Header
}

// Parse reads back a rendered message the way a mail client would. It fails t when a line is
// longer than 998 bytes or holds a bare CR or LF, when a header is malformed, or when the body
// is neither a quoted-printable text/plain part nor a multipart/alternative of a text/plain
// and a text/html part.
func Parse(t *testing.T, data []byte) Parsed {
	t.Helper()
	for i, line := range strings.Split(string(data), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i, line)
		}
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading message: %v", err)
	}
	var p Parsed
	p.Header = msg.Header
	address := func(key string) string {
		if msg.Header.Get(key) == "" {
			return ""
		}
		a, err := msg.Header.AddressList(key)
		if err != nil || len(a) != 1 {
			t.Fatalf("%s %q: %v (%d addresses)", key, msg.Header.Get(key), err, len(a))
		}
		if a[0].Name == "" {
			return a[0].Address
		}
		return a[0].Name + " <" + a[0].Address + ">"
	}
	p.From, p.To, p.ReplyTo = address("From"), address("To"), address("Reply-To")
	p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decoding subject %q: %v", msg.Header.Get("Subject"), err)
	}
	p.MessageID = msg.Header.Get("Message-ID")
	if p.Date, err = msg.Header.Date(); err != nil {
		t.Fatalf("date: %v", err)
	}
	if v := msg.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if mediaType == "text/plain" {
		p.Text = readQP(t, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("content type %q", mediaType)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		ct := part.Header.Get("Content-Type")
		types = append(types, ct)
		// multipart.Reader decodes quoted-printable itself and drops the header.
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("reading part %q: %v", ct, err)
		}
		switch ct {
		case "text/plain; charset=utf-8":
			p.Text = normalize(string(body))
		case "text/html; charset=utf-8":
			p.HTML = normalize(string(body))
		}
	}
	if diff := cmp.Diff([]string{"text/plain; charset=utf-8", "text/html; charset=utf-8"}, types); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	return p
}

func readQP(t *testing.T, cte string, r io.Reader) string {
	t.Helper()
	if cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(r))
	if err != nil {
		t.Fatal(err)
	}
	return normalize(string(body))
}

func normalize(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
