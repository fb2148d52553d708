package mail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/server/mail/mailtest"
)

var testMessage = Message{
	To:      "Bob <bob@example.com>",
	ReplyTo: "Alice <alice@example.com>",
	Subject: "[Parsec] Zoé invited you to Acme",
	Text:    "Hello Bob,\n\nopen https://parsec.example.com/redirect/Acme?a=claim_user&p=xyz\n",
	HTML:    "<p>Hello Bob,</p>\n<p><a href=\"https://parsec.example.com/redirect/Acme?a=claim_user&amp;p=xyz\">Join</a></p>\n",
}

func TestDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mails")
	s, err := NewDir(dir)
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("directory: %v, %v; want mode 0700", info.Mode(), err)
	}

	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := s.Send(t.Context(), testMessage); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Fatalf("directory holds %d entries, want %d", len(entries), n)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %q (temporary files must not stay)", e.Name())
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		p := mailtest.Parse(t, data)
		if p.From != "Parsec <no-reply@localhost>" || p.To != "Bob <bob@example.com>" || p.Subject != testMessage.Subject ||
			p.Text != testMessage.Text || p.HTML != testMessage.HTML {
			t.Errorf("%s: read back %+v", e.Name(), p)
		}
	}
}

func TestDirRefuses(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDir(dir)
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	m := testMessage
	m.To = "bob@example.com\r\nBcc: eve@example.com"
	if err := s.Send(t.Context(), m); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Send(injected To): %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Send(ctx, testMessage); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Send(cancelled): %v, want ErrUnavailable and context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused messages left %d files", len(entries))
	}
	if _, err := NewDir(""); err == nil {
		t.Errorf("NewDir(\"\") succeeded")
	}
}

// A failed write leaves no file behind, temporary or not.
func TestWriteFileAtomicFailure(t *testing.T) {
	dir := t.TempDir()
	// The rename fails: the target is a non-empty directory.
	target := filepath.Join(dir, "x.eml")
	if err := os.MkdirAll(filepath.Join(target, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("data")); err == nil {
		t.Fatal("writeFileAtomic over a non-empty directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "x.eml" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only the pre-existing x.eml", names)
	}
}
