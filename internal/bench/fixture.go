package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/writeback"
)

// fixture is one run's organization, workspace and data.
type fixture struct {
	dir      string
	opts     Options
	org      parsec.OrganizationID
	dev      *device.Local
	unsynced []string // files written by the bench, to sync before the next step
	// localFilesPerSec is how fast the small source files were created on local disk.
	localFilesPerSec float64
	// writeSystemPerGiB is the system CPU time, in seconds per GiB, that writing the large
	// source file took (Linux; zero elsewhere).
	writeSystemPerGiB float64
	// serverPID is the server process started by the bench, whose CPU time is measured
	// (0 with --addr).
	serverPID int
	c         *client.Client // the writer
	ws        *client.Workspace
}

const (
	bigPath     = "/big.bin"
	filesPerDir = 100 // the small files are spread in folders of this many
)

func (fx *fixture) path(parts ...string) string {
	return filepath.Join(append([]string{fx.dir}, parts...)...)
}

// smallPath is the path of small file i, in the workspace and under the local folders.
func (fx *fixture) smallPath(i int) string {
	return fmt.Sprintf("/small/%04d/%06d.bin", i/filesPerDir, i)
}

// bootstrap creates and bootstraps an organization, opens its first device's client and
// creates the workspace.
func (fx *fixture) bootstrap(ctx context.Context, addr, token string) error {
	adm, err := client.NewAdmin(addr, token, nil)
	if err != nil {
		return err
	}
	org := parsec.OrganizationID("bench-" + randomHex(6))
	fx.org = org
	urls, err := adm.CreateOrganization(ctx, org, client.OrgOptions{})
	if err != nil {
		return fmt.Errorf("create organization %s: %w", org, err)
	}
	link, err := protocol.ParseLink(urls.BootstrapURL)
	if err != nil {
		return err
	}
	fx.dev, err = client.Bootstrap(ctx, fx.path("config"), client.BootstrapRequest{
		Link: link, Email: "bench@example.com", Name: "Parsec Bench", DeviceLabel: "bench",
		Password: []byte(randomHex(16)),
	})
	if err != nil {
		return fmt.Errorf("bootstrap organization %s: %w", org, err)
	}
	if fx.c, err = fx.open(ctx, "config"); err != nil {
		return err
	}
	id, err := fx.c.CreateWorkspace(ctx, "bench")
	if err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	fx.ws, err = fx.c.Workspace(ctx, id)
	return err
}

// open opens a client of the bench's device with the local cache in configDir,
// certificates polled.
func (fx *fixture) open(ctx context.Context, configDir string) (*client.Client, error) {
	return openPolled(ctx, fx.path(configDir), fx.dev)
}

// openPolled opens a client of dev with its local cache in dir, certificates polled.
func openPolled(ctx context.Context, dir string, dev *device.Local) (*client.Client, error) {
	c, err := client.Open(ctx, dir, dev, client.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := c.PollCertificates(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// generate writes the source files: pseudo-random, so that nothing compresses.
func (fx *fixture) generate() error {
	var seed [32]byte
	rand.Read(seed[:])
	rng := mrand.NewChaCha8(seed)
	for _, d := range []string{fx.path("src"), fx.path("dst")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// The kernel's time to take the large file into the page cache tells how costly fresh
	// memory is on this machine now: downloads and the server's writes pay it too.
	_, sys0 := procTimes("self")
	if err := writeRandom(fx.path("src", "big.bin"), rng, int64(fx.opts.Size)); err != nil {
		return err
	}
	if _, sys1 := procTimes("self"); fx.opts.Size > 0 {
		fx.writeSystemPerGiB = (sys1 - sys0).Seconds() / (float64(fx.opts.Size) / (1 << 30))
	}
	fx.unsynced = append(fx.unsynced, fx.path("src", "big.bin"))
	start := time.Now()
	defer func() { fx.localFilesPerSec = float64(fx.opts.Files) / time.Since(start).Seconds() }()
	for i := range fx.opts.Files {
		p := fx.path("src", fx.smallPath(i))
		if i%filesPerDir == 0 {
			for _, d := range []string{filepath.Dir(p), filepath.Dir(fx.path("dst", fx.smallPath(i)))} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					return err
				}
			}
		}
		if err := writeRandom(p, rng, int64(fx.opts.FileSize)); err != nil {
			return err
		}
		fx.unsynced = append(fx.unsynced, p)
	}
	return nil
}

func writeRandom(path string, rng io.Reader, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, min(n, 1<<20))
	for left := n; left > 0; {
		chunk := buf[:min(left, int64(len(buf)))]
		rng.Read(chunk)
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(chunk))
	}
	return f.Close()
}

// settle makes durable the files the bench wrote and has not synced yet.
func (fx *fixture) settle() error {
	paths := fx.unsynced
	fx.unsynced = nil
	var g errgroup.Group
	g.SetLimit(16) // parallel fsyncs share journal commits
	for _, p := range paths {
		g.Go(func() error { return syncFile(p) })
	}
	return g.Wait()
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func localSource(wsPath, local string) client.FileSource {
	return client.FileSource{Path: wsPath, Open: func() (io.ReadCloser, error) { return os.Open(local) }}
}

func localTarget(wsPath, local string) client.FileTarget {
	return client.FileTarget{Path: wsPath, Apart: true, Create: func() (io.WriteCloser, error) { return writeback.Create(local) }}
}

func (fx *fixture) uploadBig(ctx context.Context) error {
	if err := fx.ws.WriteFiles(ctx, []client.FileSource{localSource(bigPath, fx.path("src", "big.bin"))}, nil); err != nil {
		return err
	}
	return fx.ws.Push(ctx)
}

func (fx *fixture) uploadSmall(ctx context.Context) error {
	files := make([]client.FileSource, fx.opts.Files)
	for i := range files {
		p := fx.smallPath(i)
		files[i] = localSource(p, fx.path("src", p))
	}
	return fx.ws.SendFiles(ctx, files, nil) // as parsec cp and the GUI write them
}

// reader opens the workspace with a new, empty local cache, so that the download fetches
// and validates the manifests too.
func (fx *fixture) reader(ctx context.Context, configDir string) (*client.Client, *client.Workspace, error) {
	c, err := fx.open(ctx, configDir)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.Workspace(ctx, fx.ws.ID())
	if err == nil {
		err = w.Pull(ctx)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, w, nil
}

func (fx *fixture) downloadBig(ctx context.Context) error {
	c, w, err := fx.reader(ctx, "config-read-big")
	if err != nil {
		return err
	}
	defer c.Close()
	fx.unsynced = append(fx.unsynced, fx.path("dst", "big.bin"))
	return w.ReadFiles(ctx, []client.FileTarget{localTarget(bigPath, fx.path("dst", "big.bin"))}, nil)
}

func (fx *fixture) downloadSmall(ctx context.Context) error {
	c, w, err := fx.reader(ctx, "config-read-small")
	if err != nil {
		return err
	}
	defer c.Close()
	targets := make([]client.FileTarget, fx.opts.Files)
	for i := range targets {
		p := fx.smallPath(i)
		targets[i] = localTarget(p, fx.path("dst", p))
	}
	return w.ReadFiles(ctx, targets, nil)
}

// verify compares every downloaded file with its source.
func (fx *fixture) verify() error {
	bufs := [2][]byte{make([]byte, 1<<20), make([]byte, 1<<20)}
	if err := sameFile(fx.path("src", "big.bin"), fx.path("dst", "big.bin"), bufs); err != nil {
		return err
	}
	for i := range fx.opts.Files {
		p := fx.smallPath(i)
		if err := sameFile(fx.path("src", p), fx.path("dst", p), bufs); err != nil {
			return err
		}
	}
	return nil
}

func sameFile(src, dst string, bufs [2][]byte) error {
	fs, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fs.Close()
	fd, err := os.Open(dst)
	if err != nil {
		return parsec.Errorf(parsec.Tampered, "the download of %s is missing: %v", filepath.Base(src), err)
	}
	defer fd.Close()
	bs, bd := bufs[0], bufs[1]
	for off := int64(0); ; {
		ns, errS := io.ReadFull(fs, bs)
		nd, errD := io.ReadFull(fd, bd)
		if !bytes.Equal(bs[:ns], bd[:nd]) {
			i := 0
			for i < min(ns, nd) && bs[i] == bd[i] {
				i++
			}
			return parsec.Errorf(parsec.Tampered, "downloaded %s differs from what was uploaded, from byte %d", dst, off+int64(i))
		}
		off += int64(ns)
		eofS := errors.Is(errS, io.EOF) || errors.Is(errS, io.ErrUnexpectedEOF)
		eofD := errors.Is(errD, io.EOF) || errors.Is(errD, io.ErrUnexpectedEOF)
		switch {
		case errS != nil && !eofS:
			return errS
		case errD != nil && !eofD:
			return errD
		case eofS || eofD:
			return nil
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
