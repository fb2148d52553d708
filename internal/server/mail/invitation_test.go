package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/server/mail/mailtest"
)

func TestInvitationMessage(t *testing.T) {
	const link = "https://parsec.example.com/redirect/Acme?a=claim_user&p=gqFhAQ"
	tests := []struct {
		name        string
		inv         Invitation
		wantSubject string
		wantTo      string
		wantReplyTo string
		wantText    []string // substrings of the text part
		wantHTML    []string // substrings of the HTML part
		notHTML     []string
	}{
		{
			name: "user",
			inv: Invitation{
				Organization: "Acme", GreeterName: "Zoé Martin", GreeterEmail: "zoe@example.com",
				ClaimerEmail: "bob@example.com", Link: link,
			},
			wantSubject: "[Parsec] Zoé Martin invited you to Acme",
			wantTo:      "bob@example.com",
			wantReplyTo: "Zoé Martin <zoe@example.com>",
			wantText: []string{
				"Zoé Martin (zoe@example.com) invites you (bob@example.com)", `organization "Acme"`,
				"\n    " + link + "\n", "parsec invite claim '" + link + "'",
				"short codes", "at the same time", "in person", "channel you trust",
			},
			wantHTML: []string{
				`href="https://parsec.example.com/redirect/Acme?a=claim_user&amp;p=gqFhAQ"`,
				"<code>https://parsec.example.com/redirect/Acme?a=claim_user&amp;p=gqFhAQ</code>",
				"parsec invite claim &#39;https://parsec.example.com/redirect/Acme?a=claim_user&amp;p=gqFhAQ&#39;",
				"<strong>Zoé Martin</strong>", "short codes",
			},
		},
		{
			name: "user, greeter name with HTML",
			inv: Invitation{
				Organization: "Acme", GreeterName: "<script>alert(1)</script>", GreeterEmail: "eve@example.com",
				ClaimerEmail: "bob@example.com", Link: link,
			},
			wantSubject: "[Parsec] <script>alert(1)</script> invited you to Acme",
			wantTo:      "bob@example.com",
			wantReplyTo: "<script>alert(1)</script> <eve@example.com>",
			wantText:    []string{"<script>alert(1)</script> (eve@example.com) invites you"},
			wantHTML:    []string{"&lt;script&gt;alert(1)&lt;/script&gt;"},
			notHTML:     []string{"<script>"},
		},
		{
			name: "user, unsafe link",
			inv: Invitation{
				Organization: "Acme", GreeterName: "Eve", GreeterEmail: "eve@example.com",
				ClaimerEmail: "bob@example.com", Link: "javascript:alert(1)//'; rm -rf ~",
			},
			wantSubject: "[Parsec] Eve invited you to Acme",
			wantTo:      "bob@example.com",
			wantReplyTo: "Eve <eve@example.com>",
			wantText:    []string{`parsec invite claim 'javascript:alert(1)//'\''; rm -rf ~'`},
			wantHTML:    []string{`href="#ZgotmplZ"`},
			notHTML:     []string{`href="javascript`},
		},
		{
			name: "device",
			inv: Invitation{
				Organization: "Acme", GreeterName: "Zoé Martin", GreeterEmail: "zoe@example.com",
				Link: "https://parsec.example.com/redirect/Acme?a=claim_device&p=gqFhAQ", Device: true,
			},
			wantSubject: "[Parsec] New device invitation to Acme",
			wantTo:      "Zoé Martin <zoe@example.com>",
			wantText: []string{
				"new device", `organization "Acme"`,
				"parsec invite claim 'https://parsec.example.com/redirect/Acme?a=claim_device&p=gqFhAQ'",
			},
			wantHTML: []string{`href="https://parsec.example.com/redirect/Acme?a=claim_device&amp;p=gqFhAQ"`, "new device"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := InvitationMessage(tc.inv)
			if m.From != "" {
				t.Errorf("From = %q, want empty (filled by the sender)", m.From)
			}
			m.From = "Parsec <no-reply@example.com>"
			if err := m.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Read it back as a mail client would.
			p := mailtest.Parse(t, m.Bytes(time.Now(), "example.com"))
			if p.Subject != tc.wantSubject {
				t.Errorf("Subject = %q, want %q", p.Subject, tc.wantSubject)
			}
			if p.To != tc.wantTo {
				t.Errorf("To = %q, want %q", p.To, tc.wantTo)
			}
			if p.ReplyTo != tc.wantReplyTo {
				t.Errorf("Reply-To = %q, want %q", p.ReplyTo, tc.wantReplyTo)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(p.Text, s) {
					t.Errorf("text part lacks %q:\n%s", s, p.Text)
				}
			}
			for _, s := range tc.wantHTML {
				if !strings.Contains(p.HTML, s) {
					t.Errorf("HTML part lacks %q:\n%s", s, p.HTML)
				}
			}
			for _, s := range tc.notHTML {
				if strings.Contains(p.HTML, s) {
					t.Errorf("HTML part contains %q:\n%s", s, p.HTML)
				}
			}
		})
	}
}

// A name with a line break cannot inject a header: the message is refused.
func TestInvitationMessageInjection(t *testing.T) {
	m := InvitationMessage(Invitation{
		Organization: "Acme", GreeterName: "Eve\r\nBcc: victim@example.com", GreeterEmail: "eve@example.com",
		ClaimerEmail: "bob@example.com", Link: "https://parsec.example.com/redirect/Acme?a=claim_user&p=x",
	})
	if err := m.Validate(); err == nil {
		t.Errorf("Validate accepted a greeter name with a line break: %+v", m)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "''",
		"https://h/redirect/O?a=b&p=c": "'https://h/redirect/O?a=b&p=c'",
		"it's":                         `'it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatAddressOf(t *testing.T) {
	for _, tc := range []struct{ name, email, want string }{
		{"", "", ""},
		{"", "a@example.com", "a@example.com"},
		{"Zoé", "zoe@example.com", "Zoé <zoe@example.com>"},
		{`Joe "the \ boss", Jr.`, "joe@example.com", `Joe "the \ boss", Jr. <joe@example.com>`},
	} {
		m := Message{To: formatAddressOf(tc.name, tc.email), Text: "t"}
		if tc.want == "" {
			if m.To != "" {
				t.Errorf("formatAddressOf(%q, %q) = %q, want empty", tc.name, tc.email, m.To)
			}
			continue
		}
		if got := mailtest.Parse(t, m.Bytes(time.Now(), "")).To; got != tc.want {
			t.Errorf("formatAddressOf(%q, %q) read back as %q, want %q", tc.name, tc.email, got, tc.want)
		}
	}
}
