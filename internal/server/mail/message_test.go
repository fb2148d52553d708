package mail

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// parsed is a rendered message read back the way a mail client would.
type parsed struct {
	From, To, ReplyTo string // display name and address, RFC 2047 decoded
	Subject           string // RFC 2047 decoded
	MessageID         string
	Date              time.Time
	Text, HTML        string // decoded parts, line endings normalized to \n
	Header            mail.Header
}

func parseMessage(t *testing.T, data []byte) parsed {
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
	var p parsed
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

func TestMessageRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))
	long := strings.Repeat("Parsec invitation with a rather long subject ", 8)
	tests := []struct {
		name string
		msg  Message
		want parsed
	}{
		{
			name: "ascii",
			msg: Message{
				From: "Parsec <no-reply@example.com>", To: "bob@example.com", ReplyTo: "Alice <alice@example.com>",
				Subject: "Hello", Text: "Hi Bob,\nsee you.\n", HTML: "<p>Hi Bob,</p>\n",
			},
			want: parsed{
				From: "Parsec <no-reply@example.com>", To: "bob@example.com", ReplyTo: "Alice <alice@example.com>",
				Subject: "Hello", Text: "Hi Bob,\nsee you.\n", HTML: "<p>Hi Bob,</p>\n",
			},
		},
		{
			name: "non-ASCII names and subject",
			msg: Message{
				From: "Zoé Étoile <zoe@example.com>", To: `"Ünïcødé, Bob" <bob@example.com>`,
				Subject: "[Parsec] Zoé invited you to Société", Text: "Bonjour Zoé ☃", HTML: "<p>Bonjour Zoé ☃</p>",
			},
			want: parsed{
				From: "Zoé Étoile <zoe@example.com>", To: "Ünïcødé, Bob <bob@example.com>",
				Subject: "[Parsec] Zoé invited you to Société", Text: "Bonjour Zoé ☃", HTML: "<p>Bonjour Zoé ☃</p>",
			},
		},
		{
			name: "long subject and lines are folded",
			msg: Message{
				From: "a@example.com", To: "b@example.com", Subject: long + "é",
				Text: strings.Repeat("x", 500) + "\n" + long, HTML: strings.Repeat("<b>é</b>", 200),
			},
			want: parsed{
				From: "a@example.com", To: "b@example.com", Subject: long + "é",
				Text: strings.Repeat("x", 500) + "\n" + long, HTML: strings.Repeat("<b>é</b>", 200),
			},
		},
		{
			name: "ascii subject looking like an encoded word",
			msg:  Message{From: "a@example.com", To: "b@example.com", Subject: "=?utf-8?q?not_encoded?=", Text: "t", HTML: "h"},
			want: parsed{From: "a@example.com", To: "b@example.com", Subject: "=?utf-8?q?not_encoded?=", Text: "t", HTML: "h"},
		},
		{
			name: "text only",
			msg:  Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "only text\n= and trailing space \n"},
			want: parsed{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "only text\n= and trailing space \n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.msg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			data := tc.msg.Bytes(now, "example.com")
			for _, b := range data {
				if b >= 0x80 {
					t.Fatalf("message is not 7-bit:\n%s", data)
				}
			}
			got := parseMessage(t, data)
			if !got.Date.Equal(now) {
				t.Errorf("Date = %v, want %v", got.Date, now)
			}
			if !strings.HasPrefix(got.MessageID, "<") || !strings.HasSuffix(got.MessageID, "@example.com>") {
				t.Errorf("Message-ID = %q", got.MessageID)
			}
			got.Date, got.MessageID, got.Header = time.Time{}, "", nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s\nmessage:\n%s", diff, data)
			}
		})
	}
}

func TestMessageIDsDiffer(t *testing.T) {
	m := Message{From: "a@example.com", To: "b@example.com", Text: "t"}
	a := parseMessage(t, m.Bytes(time.Now(), "bad domain\r\n"))
	b := parseMessage(t, m.Bytes(time.Now(), ""))
	if a.MessageID == b.MessageID {
		t.Errorf("two messages share the Message-ID %q", a.MessageID)
	}
	for _, id := range []string{a.MessageID, b.MessageID} {
		if !strings.HasSuffix(id, "@localhost>") {
			t.Errorf("Message-ID %q: want the localhost fallback for an invalid domain", id)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	valid := Message{From: "Parsec <no-reply@example.com>", To: "Bob <bob@example.com>", ReplyTo: "alice@example.com", Subject: "Hi", Text: "t", HTML: "h"}
	tests := []struct {
		name   string
		modify func(*Message)
		want   string // substring of the error; "" for valid
	}{
		{"valid", func(*Message) {}, ""},
		{"empty from and reply-to", func(m *Message) { m.From, m.ReplyTo = "", "" }, ""},
		{"CRLF in subject", func(m *Message) { m.Subject = "Hi\r\nBcc: eve@example.com" }, "invalid subject"},
		{"LF in subject", func(m *Message) { m.Subject = "Hi\nBcc: eve@example.com" }, "line break"},
		{"CR in subject", func(m *Message) { m.Subject = "Hi\rBcc: eve@example.com" }, "line break"},
		{"NUL in subject", func(m *Message) { m.Subject = "Hi\x00" }, "control character"},
		{"CRLF in to", func(m *Message) { m.To = "bob@example.com\r\nBcc: eve@example.com" }, "invalid to"},
		{"CRLF in to name", func(m *Message) { m.To = "Bob\r\nBcc: eve@example.com <bob@example.com>" }, "line break"},
		{"CRLF in from name", func(m *Message) { m.From = "Parsec\r\nBcc: eve@example.com <a@example.com>" }, "invalid from"},
		{"CRLF in reply-to", func(m *Message) { m.ReplyTo = "alice@example.com\nBcc: eve@example.com" }, "invalid reply-to"},
		{"encoded CRLF in name", func(m *Message) { m.ReplyTo = "=?utf-8?q?A=0D=0AB?= <alice@example.com>" }, "display name"},
		{"missing to", func(m *Message) { m.To = "" }, "invalid to: missing address"},
		{"two recipients", func(m *Message) { m.To = "bob@example.com, eve@example.com" }, "invalid to"},
		{"non-ASCII address", func(m *Message) { m.To = "bob@exämple.com" }, "ASCII"},
		{"invalid UTF-8 subject", func(m *Message) { m.Subject = "\xff" }, "UTF-8"},
		{"missing text", func(m *Message) { m.Text = "" }, "missing text"},
		{"invalid UTF-8 HTML", func(m *Message) { m.HTML = "\xff" }, "HTML body is not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := valid
			tc.modify(&m)
			err := m.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate accepted %+v", m)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Bytes does not validate, but must never let a field add a header.
func TestBytesNeverInjectsHeaders(t *testing.T) {
	m := Message{
		From:    "Parsec\r\nBcc: eve1@example.com <a@example.com>",
		To:      "bob@example.com\r\nBcc: eve2@example.com",
		ReplyTo: "alice@example.com\nBcc: eve3@example.com",
		Subject: "Hi\r\nBcc: eve4@example.com\r\n\r\nbody",
		Text:    "t",
		HTML:    "h",
	}
	data := m.Bytes(time.Now(), "example.com")
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading message: %v", err)
	}
	var keys []string
	for key, values := range msg.Header {
		keys = append(keys, key)
		if len(values) != 1 {
			t.Errorf("header %s appears %d times", key, len(values))
		}
	}
	slices.Sort(keys)
	want := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Reply-To", "Subject", "To"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("headers (-want +got):\n%s\nmessage:\n%s", diff, data)
	}
}

func TestFold(t *testing.T) {
	for _, value := range []string{
		"",
		"short",
		strings.Repeat("word ", 40),
		strings.Repeat("x", 200) + " " + strings.Repeat("y", 200),
		"double  spaces  " + strings.Repeat("z ", 60) + " end",
	} {
		folded := fold("Subject", value)
		for _, line := range strings.Split(folded, "\r\n")[1:] {
			if !strings.HasPrefix(line, " ") || strings.HasPrefix(line, "  ") {
				t.Errorf("continuation line %q does not start with exactly one space", line)
			}
		}
		// Unfold as net/textproto does: trim around the break, join with one space.
		var unfolded []string
		for _, line := range strings.Split(folded, "\r\n") {
			unfolded = append(unfolded, strings.Trim(line, " "))
		}
		got := strings.TrimPrefix(strings.Join(unfolded, " "), "Subject:")
		if want := strings.Trim(value, " "); strings.TrimPrefix(got, " ") != want {
			t.Errorf("unfolded %q, want %q", got, want)
		}
	}
}
