package mail

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// devSender is the From of messages written by the directory sink that have none.
const devSender = "Parsec <no-reply@localhost>"

// NewDir returns the development Sender used by `parsec server run --dev` and --email-dir: it
// writes each message, exactly as the SMTP sender would send it, to
// <dir>/<timestamp>-<random>.eml with mode 0600. It creates dir (mode 0700) when missing. A
// file appears whole or not at all: it is written under a temporary name, synced, then
// renamed.
func NewDir(dir string) (Sender, error) {
	if dir == "" {
		return nil, fmt.Errorf("email directory: missing path")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("email directory: %w", err)
	}
	return &dirSender{dir: dir, now: time.Now}, nil
}

type dirSender struct {
	dir string
	now func() time.Time
}

func (d *dirSender) Send(ctx context.Context, m Message) error {
	where := "writing mail to " + d.dir
	if m.From == "" {
		m.From = devSender
	}
	if err := m.Validate(); err != nil {
		return NewSendError(ErrUnavailable, where, "invalid message", err, "")
	}
	if err := ctx.Err(); err != nil {
		return NewSendError(ErrUnavailable, where, "not writing", err, "")
	}
	now := d.now()
	data := m.Bytes(now, domainOf(m.From))
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + strings.ToLower(rand.Text()[:10]) + ".eml"
	if err := writeFileAtomic(filepath.Join(d.dir, name), data); err != nil {
		return NewSendError(ErrUnavailable, where, "write", err, "")
	}
	return nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary file in the same
// directory, so that path never holds a partial file.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
