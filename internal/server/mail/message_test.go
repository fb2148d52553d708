package mail

import (
	"bytes"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/server/mail/mailtest"
)

func TestMessageRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("CET", 3600))
	long := strings.Repeat("Parsec invitation with a rather long subject ", 8)
	tests := []struct {
		name string
		msg  Message
		want mailtest.Parsed
	}{
		{
			name: "ascii",
			msg: Message{
				From: "Parsec <no-reply@example.com>", To: "bob@example.com", ReplyTo: "Alice <alice@example.com>",
				Subject: "Hello", Text: "Hi Bob,\nsee you.\n", HTML: "<p>Hi Bob,</p>\n",
			},
			want: mailtest.Parsed{
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
			want: mailtest.Parsed{
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
			want: mailtest.Parsed{
				From: "a@example.com", To: "b@example.com", Subject: long + "é",
				Text: strings.Repeat("x", 500) + "\n" + long, HTML: strings.Repeat("<b>é</b>", 200),
			},
		},
		{
			name: "ascii subject looking like an encoded word",
			msg:  Message{From: "a@example.com", To: "b@example.com", Subject: "=?utf-8?q?not_encoded?=", Text: "t", HTML: "h"},
			want: mailtest.Parsed{From: "a@example.com", To: "b@example.com", Subject: "=?utf-8?q?not_encoded?=", Text: "t", HTML: "h"},
		},
		{
			name: "text only",
			msg:  Message{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "only text\n= and trailing space \n"},
			want: mailtest.Parsed{From: "a@example.com", To: "b@example.com", Subject: "s", Text: "only text\n= and trailing space \n"},
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
			got := mailtest.Parse(t, data)
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
	a := mailtest.Parse(t, m.Bytes(time.Now(), "bad domain\r\n"))
	b := mailtest.Parse(t, m.Bytes(time.Now(), ""))
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
