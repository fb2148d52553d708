package client_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/testenv"
)

// Files of every size around the block size, spread over several request bodies, go up
// and come back byte for byte; a file that cannot be read to its end fails the whole
// write, at once, and nothing of it lands.
func TestWriteFilesAcrossBatches(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	const block = 512 << 10
	rng := rand.NewChaCha8([32]byte{3})
	var files []client.FileSource
	want := map[string][]byte{}
	for i, n := range []int{0, 1, block - 1, block, block + 1, 3*block + 7, 9 << 20, 100, 5 << 20, 65535} {
		data := make([]byte, n)
		rng.Read(data)
		name := fmt.Sprintf("/f%d", i)
		want[name] = data
		files = append(files, client.FileSource{Path: name, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}})
	}
	if err := aw.WriteFiles(ctx, files, nil); err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		var got bytes.Buffer
		if err := aw.ReadFile(ctx, name, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("%s: read %d bytes, other than the %d written", name, got.Len(), len(data))
		}
	}

	broken := client.FileSource{Path: "/broken", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 10<<20)), iotest.ErrReader(errors.New("disk on fire")))), nil
	}}
	err := aw.WriteFiles(ctx, []client.FileSource{files[6], broken, files[1]}, nil)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("writing a file that fails to read: %v", err)
	}
	wantKind(t, "reading the file that failed", aw.ReadFile(ctx, "/broken", io.Discard), parsec.NotFound)
}

// A server may ask for another block size (as one on S3 does): new files are cut into
// spans of that size and read back as written. A size out of bounds is only a server's
// word: the client says so and keeps its own; one file of 5 MiB + 1 byte then has 11
// blocks, not 5 million (8 bytes) or 2 of 4 MiB (too large to upload).
func TestServerAsksForABlockSize(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		asked  int64
		spans  uint64
		blocks int
		warned bool
	}{
		{asked: 0, spans: 512 << 10, blocks: 11},
		{asked: 2 * mib, spans: 2 * mib, blocks: 3},
		{asked: 64 << 10, spans: 64 << 10, blocks: 81},
		{asked: 8, spans: 512 << 10, blocks: 11, warned: true},
		{asked: 4 * mib, spans: 512 << 10, blocks: 11, warned: true},
		{asked: 3 * mib, spans: 512 << 10, blocks: 11, warned: true},
		{asked: 96 << 10, spans: 512 << 10, blocks: 11, warned: true},
		{asked: -mib, spans: 512 << 10, blocks: 11, warned: true},
	} {
		t.Run(fmt.Sprint(tc.asked), func(t *testing.T) {
			ctx := t.Context()
			srv := testenv.NewServer(t, func(c *server.Config) { c.BlockSize = tc.asked })
			alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
			c, warned := openAgain(t, alice)
			w := createWorkspace(t, c, "Docs")
			data := make([]byte, 5*mib+1)
			rand.NewChaCha8([32]byte{5}).Read(data)
			write(t, w, map[string][]byte{"/big": data, "/small": data[:100]})
			for name, want := range map[string][]byte{"/big": data, "/small": data[:100]} {
				var got bytes.Buffer
				if err := w.ReadFile(ctx, name, &got); err != nil || !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("%s reads %d bytes (%v), other than the %d written", name, got.Len(), err, len(want))
				}
			}
			spans, blocks, err := w.SpansOf("/big")
			if err != nil {
				t.Fatal(err)
			}
			if spans != tc.spans || len(blocks) != tc.blocks || blocks[0] != min(spans, uint64(len(data))) {
				t.Errorf("a file of %d bytes has spans of %d bytes and %d blocks (the first of %d), want %d and %d", len(data), spans, len(blocks), blocks[0], tc.spans, tc.blocks)
			}
			said := warned.all()
			if tc.warned != (len(said) == 1) || tc.warned && !strings.Contains(said[0], fmt.Sprintf("the server asks for blocks of %d bytes", tc.asked)) {
				t.Errorf("warnings: %q", said)
			}
		})
	}
}

// A client watching the event stream follows the block size its first event (the
// organization's configuration) gives, as a long-running mount must after its server
// moved to other stores: here the server's organization_config replies lie (256 KiB)
// where its events say 128 KiB, and a file written once the stream is up has spans of 128
// KiB; written without the stream, of 256.
func TestBlockSizeFollowsTheEventStream(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(fmt.Sprint("watch=", watch), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			srv := testenv.NewServer(t, func(c *server.Config) { c.BlockSize = 128 << 10 })
			srv.Lie = func(cmd string, reply []byte) []byte {
				if cmd != protocol.CmdOrganizationConfig {
					return reply
				}
				return rewriteReply(reply, func(rep *protocol.OrganizationConfig) { rep.BlockSize = 256 << 10 })
			}
			alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
			c, _ := openAgain(t, alice)
			if watch {
				changes := make(chan client.Change, 16)
				go c.Watch(ctx, func(ch client.Change) { changes <- ch })
				select {
				case <-changes: // connected: the first event is in
				case <-time.After(10 * time.Second):
					t.Fatal("no change from the event stream after 10 s")
				}
			}
			w := createWorkspace(t, c, "Docs")
			write(t, w, map[string][]byte{"/f": make([]byte, 300<<10)})
			want := uint64(256 << 10)
			if watch {
				want = 128 << 10
			}
			if spans, blocks, err := w.SpansOf("/f"); err != nil || spans != want {
				t.Errorf("spans of %d bytes (%d blocks, %v), want %d", spans, len(blocks), err, want)
			}
		})
	}
}

// hangingRT forwards requests until offline is set; then each request waits 2 s (a
// black-holed server: dial timeout) and fails.
type hangingRT struct {
	offline atomic.Bool
	calls   atomic.Int64
}

func (h *hangingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.offline.Load() {
		h.calls.Add(1)
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		return nil, errors.New("dial tcp: i/o timeout")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// An empty file is written offline at once, as before servers asked for a block size:
// the size is asked only once a file has a byte to upload, not of a server that does not
// answer (here each request waits 2 s, as a dial to a black-holed address waits 10).
func TestEmptyFileWrittenWithoutAskingTheServer(t *testing.T) {
	ctx := t.Context()
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	rt := &hangingRT{}
	c, err := client.Open(ctx, alice.ConfigDir, alice.Device, client.Options{HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := createWorkspace(t, c, "Docs")
	rt.offline.Store(true)
	start := time.Now()
	for _, p := range []string{"/a", "/b", "/c"} {
		if err := w.WriteFiles(ctx, []client.FileSource{source(p, nil)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("3 empty files written offline in %v, %d requests tried", time.Since(start), rt.calls.Load())
	if rt.calls.Load() != 0 {
		t.Errorf("writing empty files offline asked the server %d times", rt.calls.Load())
	}
}

// An upload cancelled midway ends at once with an error of kind Cancelled.
func TestWriteFilesCancelled(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := client.FileSource{Path: "/big", Open: func() (io.ReadCloser, error) {
		// 40 MiB of zeros, the context cancelled after the first 20.
		return io.NopCloser(io.MultiReader(io.LimitReader(zeros{}, 20<<20), cancelling{cancel}, io.LimitReader(zeros{}, 20<<20))), nil
	}}
	err := aw.WriteFiles(ctx, []client.FileSource{src}, nil)
	if err == nil {
		t.Fatal("a cancelled upload succeeded")
	}
	if k := parsec.KindOf(err); k != parsec.Cancelled && !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled upload failed with %v (kind %v)", err, k)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// cancelling calls cancel when read, and reads as empty.
type cancelling struct{ cancel context.CancelFunc }

func (c cancelling) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}

// A download of a tree reads the entries its walk found, by ID, in one batch: a target
// with an entry's ID gets that entry, whatever is at its path now (it may have moved
// since the walk); one whose ID cannot be read here is read by its path.
func TestReadFilesByID(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a": []byte("alpha"), "/b": []byte("bravo"), "/d/c": []byte("charlie")})
	if err := aw.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bw.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Bob's device opened again has the entries in its local cache only (a walk, unlike a
	// lookup by path, does not keep them in memory).
	w, err := p.bob.Open(t).Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	walked, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]parsec.VlobID{}
	for _, e := range walked {
		ids[e.Path] = e.ID
	}
	idOf := func(name string) parsec.VlobID {
		if ids[name] == (parsec.VlobID{}) {
			t.Fatalf("the walk did not find %s: %v", name, walked)
		}
		return ids[name]
	}
	var moved, unknown, c bytes.Buffer
	into := func(b *bytes.Buffer) func() (io.WriteCloser, error) {
		return func() (io.WriteCloser, error) { return nopWriteCloser{b}, nil }
	}
	targets := []client.FileTarget{
		{Path: "/b", ID: idOf("/a"), Create: into(&moved)},
		{Path: "/b", ID: parsec.NewVlobID(), Create: into(&unknown)},
		{Path: "/d/c", ID: idOf("/d/c"), Create: into(&c)},
	}
	if err := w.ReadFiles(ctx, targets, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		what string
		got  *bytes.Buffer
		want string
	}{{"the entry found at /a, now at /b", &moved, "alpha"}, {"an unknown entry at /b", &unknown, "bravo"}, {"/d/c", &c, "charlie"}} {
		if r.got.String() != r.want {
			t.Errorf("%s: read %q, want %q", r.what, r.got, r.want)
		}
	}
}

// Files made by copying within the workspace share their blocks: a download of the
// folder holding them asks for each block once per batch and writes it to every copy (it
// failed, as if the server had sent a block twice). A block that two manifests describe
// differently is checked against each description.
func TestDownloadOfCopies(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	rng := rand.NewChaCha8([32]byte{5})
	big := make([]byte, 1<<20+5) // three blocks
	rng.Read(big)
	content := map[string][]byte{"/f/big": big, "/f/small": []byte("small")}
	write(t, aw, content)
	for _, c := range []struct{ from, to string }{{"/f/big", "/f/big copy"}, {"/f/small", "/f/sub/small"}, {"/f/big", "/f/sub/big"}} {
		if _, err := aw.Copy(ctx, c.from, aw, c.to, client.CopyOptions{}); err != nil {
			t.Fatal(err)
		}
		content[c.to] = content[c.from]
	}
	local := t.TempDir()
	res, err := aw.Download(ctx, "/f", local, client.CopyOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != len(content) {
		t.Errorf("downloaded %d files, want %d", res.Files, len(content))
	}
	for name, data := range content {
		got, err := os.ReadFile(filepath.Join(local, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes (%v), want the %d written", name, len(got), err, len(data))
		}
	}

	wantKind(t, "a block read for a manifest that misdescribes it", aw.ReadMisdescribed(ctx, "/f/small"), parsec.Tampered)
	for _, spoilFirst := range []bool{true, false} {
		wantKind(t, fmt.Sprintf("a file read (as the mount does) whose manifest describes a block twice, differently (the first spoilt: %v)", spoilFirst),
			aw.ReadBlockTwiceDescribed(ctx, "/f/big", spoilFirst), parsec.Tampered)
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// A server of protocol 2.0 checks an upload's blocks as hashed with SHA-256, and refuses
// those of this version's client (BLAKE3) as badly signed: the client says that the server
// is older and must be upgraded, and everything else works as before.
func TestUploadToAnOlderServer(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	write := func(name, content string) error {
		return aw.WriteFiles(ctx, []client.FileSource{{Path: name, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(content)), nil
		}}}, nil)
	}
	if err := write("/before", "written before"); err != nil {
		t.Fatal(err)
	}
	p.srv.Front = func(w http.ResponseWriter, r *http.Request, server http.Handler) {
		r.Header.Set(protocol.HeaderAPIVersion, "2.0")
		server.ServeHTTP(olderVersion{w}, r)
	}
	err := write("/after", "written after")
	if parsec.KindOf(err) != parsec.Invalid || !strings.Contains(err.Error(), "speaks protocol version 2.0, older than this client's "+protocol.APIVersion) ||
		!strings.Contains(err.Error(), "upgrade the server") {
		t.Fatalf("upload to a 2.0 server: %v", err)
	}
	var got bytes.Buffer
	if err := aw.ReadFile(ctx, "/before", &got); err != nil || got.String() != "written before" {
		t.Fatalf("read from a 2.0 server: %q, %v", got.String(), err)
	}
	if err := aw.Mkdir(ctx, "/folder", false); err != nil {
		t.Fatalf("mkdir on a 2.0 server: %v", err)
	}
}

// olderVersion answers as a server of protocol 2.0.
type olderVersion struct{ http.ResponseWriter }

func (w olderVersion) WriteHeader(code int) {
	w.Header().Set(protocol.HeaderAPIVersion, "2.0")
	w.ResponseWriter.WriteHeader(code)
}

func (w olderVersion) Write(b []byte) (int, error) {
	w.Header().Set(protocol.HeaderAPIVersion, "2.0")
	return w.ResponseWriter.Write(b)
}

// A server of protocol 2.0 refuses with 403 requests that have nothing to do with how an
// upload is hashed (an unknown invitation, an unknown device): the client says what it
// said before, not that the server must be upgraded.
func TestOtherRefusalsOfAnOlderServer(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	inv, err := p.ac.InviteUser(ctx, "carol@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Front = func(w http.ResponseWriter, r *http.Request, server http.Handler) {
		r.Header.Set(protocol.HeaderAPIVersion, "2.0")
		server.ServeHTTP(olderVersion{w}, r)
	}
	link := inv.Link
	link.Token = parsec.NewAccessToken()
	_, err = client.NewClaim(ctx, link, client.ClaimOptions{})
	if parsec.KindOf(err) != parsec.BadAuth || strings.Contains(err.Error(), "upgrade the server") {
		t.Fatalf("claim of an unknown invitation on a 2.0 server: %v, want kind BadAuth, not an upgrade", err)
	}
}

// commandLog records the commands the server answers, in order.
type commandLog struct {
	mu   sync.Mutex
	cmds []string
}

func (l *commandLog) lie(cmd string, reply []byte) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cmds = append(l.cmds, cmd)
	return reply
}

// count returns how many times cmd was answered, and the position of its first and last
// answers (-1 when none).
func (l *commandLog) count(cmd string) (n, first, last int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, last = -1, -1
	for i, c := range l.cmds {
		if c == cmd {
			if n++; first < 0 {
				first = i
			}
			last = i
		}
	}
	return n, first, last
}

// sendingUpload sets up an upload of n files sent as it goes, part files at a time: a
// workspace of alice's shared with bob (both views returned) and a local tree of the
// files ("reports/fNN"), whose contents it returns.
func sendingUpload(t *testing.T, n, part int) (p *people, aw, bw *client.Workspace, local string, files map[string]string) {
	t.Helper()
	p = newPeople(t)
	_, aw, bw, _ = shared(t, p)
	client.SetSendChunk(t, part)
	files = map[string]string{}
	for i := range n {
		files[fmt.Sprintf("f%02d", i)] = fmt.Sprintf("content %d", i)
	}
	return p, aw, bw, localTree(t, files), files
}

// An upload sends its new files as it goes: the manifests of each part go to the server
// once its contents are there (a vlob_write per part of 4 files, not one for the whole
// change), and the change ends with nothing pending. Another member reads every file; a
// new file has one version, the file it replaced two.
func TestUploadSendsFilesAsItGoes(t *testing.T) {
	ctx := t.Context()
	p, aw, bw, local, files := sendingUpload(t, 11, 4)
	write(t, aw, map[string][]byte{"/reports/f03": []byte("before")})
	syncWS(t, aw)
	var log commandLog
	p.srv.Lie = log.lie
	if _, err := aw.Upload(ctx, local, "/", client.CopyOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	p.srv.Lie = nil
	blocks, firstBlocks, _ := log.count(protocol.CmdBlockCreate)
	writes, firstWrite, _ := log.count(protocol.CmdVlobWrite)
	if blocks < 3 || writes < 3 || firstWrite < firstBlocks {
		t.Errorf("%d block_create, %d vlob_write, the first vlob_write at %d and the first block_create at %d: want three parts, each sent once uploaded",
			blocks, writes, firstWrite, firstBlocks)
	}
	if aw.NeedSync() {
		t.Error("changes pending after the upload")
	}
	syncWS(t, bw)
	for name, content := range files {
		if got := string(read(t, bw, "/reports/"+name)); got != content {
			t.Errorf("%s read by bob: %q, want %q", name, got, content)
		}
	}
	for name, want := range map[string]int{"/reports/f00": 1, "/reports/f10": 1, "/reports/f03": 2} {
		if v, err := bw.History(ctx, name); err != nil || len(v) != want {
			t.Errorf("history of %s: %d versions (%v), want %d", name, len(v), err, want)
		}
	}
}

// An upload does not wait for a part's push to read and upload the next part: the server
// holds its reply to the first part's vlob_write until the second part's contents reach
// it, which an upload that took turns (upload a part, push it, then the next) never sends.
func TestUploadDoesNotWaitForThePushes(t *testing.T) {
	p, aw, _, local, _ := sendingUpload(t, 12, 4)
	secondPart := make(chan struct{})
	var blocks, writes atomic.Int32
	var waitedOut atomic.Bool
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		switch cmd {
		case protocol.CmdBlockCreate:
			if blocks.Add(1) == 2 {
				close(secondPart)
			}
		case protocol.CmdVlobWrite:
			if writes.Add(1) == 1 {
				select {
				case <-secondPart:
				case <-time.After(10 * time.Second):
					waitedOut.Store(true)
				}
			}
		}
		return reply
	}
	if _, err := aw.Upload(t.Context(), local, "/", client.CopyOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	p.srv.Lie = nil
	if waitedOut.Load() {
		t.Error("the second part's contents were not sent while the first part's push waited for them")
	}
	if w := writes.Load(); w < 3 {
		t.Errorf("%d vlob_write, want one per part at least", w)
	}
}

// When the server stops taking manifests midway, an upload keeps what it could not send:
// the parts sent before stay sent, the others are saved on the device, and the upload
// says so; the next sync sends them, each file in one version.
func TestUploadKeepsWhatItCannotSend(t *testing.T) {
	ctx := t.Context()
	p, aw, bw, local, files := sendingUpload(t, 10, 3)
	var writes atomic.Int64
	p.srv.Front = func(w http.ResponseWriter, r *http.Request, server http.Handler) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if req, err := protocol.DecodeRequest(body); err == nil && req.Cmd == protocol.CmdVlobWrite && writes.Add(1) > 1 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		server.ServeHTTP(w, r)
	}
	_, err := aw.Upload(ctx, local, "/", client.CopyOptions{Recursive: true})
	if err == nil || !strings.Contains(err.Error(), "saved on this device but not sent") {
		t.Fatalf("upload while the server takes no manifest: %v", err)
	}
	entries, err := aw.Walk("/reports")
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, e := range entries {
		if !e.IsFolder && e.NeedSync {
			pending++
		}
	}
	if want := len(files) - 3; pending != want {
		t.Errorf("%d files pending after the upload, want %d (the first part was sent)", pending, want)
	}
	p.srv.Front = nil
	syncWS(t, aw)
	syncWS(t, bw)
	for name, content := range files {
		if got := string(read(t, bw, "/reports/"+name)); got != content {
			t.Errorf("%s read by bob: %q, want %q", name, got, content)
		}
		if v, err := bw.History(ctx, "/reports/"+name); err != nil || len(v) != 1 {
			t.Errorf("history of %s: %d versions (%v), want 1", name, len(v), err)
		}
	}
}

// When the device's cache fails to save a part the server took (here a trigger refuses
// the rows of pushed files), the upload stops there with the cache's error: the part's
// folders went from memory with the failure, so the next parts would land in a folder
// that does not name the files before them.
func TestUploadStopsWhenTheCacheFails(t *testing.T) {
	ctx := t.Context()
	p, aw, _, local, _ := sendingUpload(t, 12, 3)
	db, err := sql.Open("sqlite", cachePath(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER disk_on_fire BEFORE INSERT ON vlobs WHEN NEW.need_sync = 0 AND NEW.folder = 0
		BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`); err != nil {
		t.Fatal(err)
	}
	var log commandLog
	p.srv.Lie = log.lie
	// p.srv.Lie stays: a block_create of the part read ahead may still be served.
	_, err = aw.Upload(ctx, local, "/", client.CopyOptions{Recursive: true})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("upload while the cache refuses the files sent: %v", err)
	}
	// The first part pushed while the second uploaded (the third may have been read
	// ahead, its blocks sent); nothing after.
	if n, _, _ := log.count(protocol.CmdBlockCreate); n < 2 || n > 3 {
		t.Errorf("%d block_create, want 2 or 3: the upload went on after the cache failed", n)
	}
	if n, _, _ := log.count(protocol.CmdVlobWrite); n != 1 {
		t.Errorf("%d vlob_write, want 1: the upload went on after the cache failed", n)
	}
}

// Files read apart (to a disk) are written two at a time, each whole, around a file whose
// blocks span two batches; files not read apart are created one after another, in order.
// A file that cannot be created fails the read with its own error, and every file opened
// is closed or dropped.
func TestReadFilesApart(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	rng := rand.NewChaCha8([32]byte{7})
	content := map[string][]byte{}
	var paths []string
	for i := range 61 {
		name := fmt.Sprintf("/t/f%02d", i)
		size := 1 + i*37
		if i == 30 {
			size = protocol.MaxBatchBytes + 300<<10 // its blocks go in two batches
		}
		content[name] = make([]byte, size)
		rng.Read(content[name])
		paths = append(paths, name)
	}
	write(t, aw, content)
	errFull := errors.New("disk full")
	for _, tc := range []struct {
		name        string
		apart       bool
		failAt      string
		wantOpenMax int // at most 1, or at least 2
	}{
		{"apart", true, "", 2},
		{"in order", false, "", 1},
		{"apart, one that cannot be created", true, "/t/f45", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{got: map[string]*bytes.Buffer{}}
			var targets []client.FileTarget
			for _, name := range paths {
				targets = append(targets, client.FileTarget{Path: name, Apart: tc.apart, Create: func() (io.WriteCloser, error) {
					if name == tc.failAt {
						return nil, errFull
					}
					return r.create(name), nil
				}})
			}
			err := aw.ReadFiles(t.Context(), targets, nil)
			if tc.failAt != "" {
				if !errors.Is(err, errFull) {
					t.Errorf("ReadFiles with a file that cannot be created: %v, want %v", err, errFull)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range paths {
					if got := r.got[name]; got == nil || !bytes.Equal(got.Bytes(), content[name]) {
						t.Errorf("%s read wrong (%d bytes written, want %d)", name, len(r.got[name].Bytes()), len(content[name]))
					}
				}
			}
			if r.open != 0 {
				t.Errorf("%d file(s) left open", r.open)
			}
			switch {
			case tc.wantOpenMax == 1 && r.openMax != 1:
				t.Errorf("files not apart: %d written at once, want one at a time", r.openMax)
			case tc.wantOpenMax > 1 && r.openMax < tc.wantOpenMax:
				t.Errorf("files apart: %d written at once at most, want %d", r.openMax, tc.wantOpenMax)
			}
			if !tc.apart && !slices.Equal(r.order, paths) {
				t.Errorf("files not apart created in the order %q, want the targets'", r.order)
			}
		})
	}
}

// A recorder keeps the files a read writes, and how many were open at once. A file's
// Close waits (once, for a second at most) for another to be open: files written one at a
// time then show it.
type recorder struct {
	mu            sync.Mutex
	got           map[string]*bytes.Buffer
	order         []string
	open, openMax int
	deadline      time.Time
}

func (r *recorder) create(name string) io.WriteCloser {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.deadline.IsZero() {
		r.deadline = time.Now().Add(time.Second)
	}
	r.open++
	r.openMax = max(r.openMax, r.open)
	r.order = append(r.order, name)
	r.got[name] = new(bytes.Buffer)
	return &recorded{r: r, Buffer: r.got[name]}
}

type recorded struct {
	r *recorder
	*bytes.Buffer
}

func (w *recorded) Close() error {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.openMax < 2 && time.Now().Before(r.deadline) {
		r.mu.Unlock()
		time.Sleep(time.Millisecond)
		r.mu.Lock()
	}
	r.open--
	return nil
}

// A write of several parts places each once its contents are on the server, while the
// next ones are read and uploaded: one that fails (a file that cannot be read, a block
// upload that fails) ends the write with its error, and the parts before it stay, in full,
// while nothing of the failed part or of those after it lands.
func TestWriteKeepsThePartsBeforeAFailure(t *testing.T) {
	for _, failing := range []string{"read", "upload"} {
		t.Run(failing, func(t *testing.T) {
			p := newPeople(t)
			ctx := t.Context()
			_, aw, _, _ := shared(t, p)
			client.SetWriteChunk(t, 2)
			// The second block_create is the second part's: its files are read only once
			// the first part's contents are on the server, the third part's once the
			// second's are.
			uploaded := []chan struct{}{make(chan struct{}), make(chan struct{})}
			var creates atomic.Int32
			p.srv.Lie = func(cmd string, reply []byte) []byte {
				if cmd != protocol.CmdBlockCreate {
					return reply
				}
				n := creates.Add(1)
				if n <= 2 {
					defer close(uploaded[n-1])
				}
				if failing == "upload" && n == 2 {
					return []byte("not a reply")
				}
				return reply
			}
			// p.srv.Lie stays: a block_create of the part read ahead may still be served.
			unplugged := errors.New("disk unplugged")
			var files []client.FileSource
			for i := range 6 {
				files = append(files, client.FileSource{Path: fmt.Sprintf("/d/f%d", i), Open: func() (io.ReadCloser, error) {
					switch {
					case i == 2:
						<-uploaded[0]
					case i == 3 && failing == "read":
						return nil, unplugged
					case i == 4:
						<-uploaded[1]
					}
					return io.NopCloser(strings.NewReader(fmt.Sprintf("content %d", i))), nil
				}})
			}
			if failing == "read" {
				close(uploaded[1]) // no second block_create
			}
			err := aw.WriteFiles(ctx, files, nil)
			switch {
			case failing == "read" && !errors.Is(err, unplugged):
				t.Fatalf("a write whose fourth file cannot be read: %v, want its error", err)
			case failing == "upload" && parsec.KindOf(err) != parsec.Tampered:
				t.Fatalf("a write whose second upload gets no valid reply: %v, want kind Tampered", err)
			}
			for i := range 2 {
				if got, want := string(read(t, aw, fmt.Sprintf("/d/f%d", i))), fmt.Sprintf("content %d", i); got != want {
					t.Errorf("/d/f%d of the first part reads %q, want %q", i, got, want)
				}
			}
			for i := 2; i < 6; i++ {
				_, err := aw.Stat(fmt.Sprintf("/d/f%d", i))
				wantKind(t, fmt.Sprintf("/d/f%d, of a part at or after the failure", i), err, parsec.NotFound)
			}
		})
	}
}

// A part that gets bad_key_index while the request of another part's body is on its way
// (and is cut short by that failure) starts over with the workspace's key, rather than
// failing with the cancellation of the other request.
func TestBadKeyIndexWhileAnotherBodyIsSent(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	client.SetWriteChunk(t, 1)
	var n atomic.Int32
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdBlockCreate {
			return reply
		}
		switch n.Add(1) {
		case 1:
			time.Sleep(300 * time.Millisecond)
		case 2:
			return protocol.EncodeError(&protocol.StatusError{Status: protocol.StatusBadKeyIndex})
		}
		return reply
	}
	var files []client.FileSource
	for i := range 2 {
		files = append(files, client.FileSource{Path: fmt.Sprintf("/d/f%d", i), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(fmt.Sprintf("content %d", i))), nil
		}})
	}
	if err := aw.WriteFiles(t.Context(), files, nil); err != nil {
		t.Fatalf("a write told bad_key_index once: %v (bad_key_index: %v, canceled: %v)", err,
			protocol.IsStatus(err, protocol.StatusBadKeyIndex), errors.Is(err, context.Canceled))
	}
	for i := range 2 {
		if got, want := string(read(t, aw, fmt.Sprintf("/d/f%d", i))), fmt.Sprintf("content %d", i); got != want {
			t.Errorf("/d/f%d reads %q, want %q", i, got, want)
		}
	}
}

// A write whose context ends while a part is placed and the next one is read stops with
// the context's error, never nil with files left out.
func TestUploadPartsCancelled(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opened := make(chan struct{})
	empty := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }
	files := []client.FileSource{
		{Path: "/a", Open: empty},
		{Path: "/b", Open: func() (io.ReadCloser, error) {
			cancel()
			close(opened)
			return empty()
		}},
		{Path: "/c", Open: empty},
	}
	calls := 0
	placed, err := aw.UploadParts(ctx, files, 1, func(int) error {
		if calls++; calls == 1 {
			<-opened
			time.Sleep(100 * time.Millisecond) // the reader sees the context ended
		}
		return nil
	})
	if placed == len(files) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a write cancelled midway placed %d of %d files, error %v; want fewer, and the cancellation", placed, len(files), err)
	}
}
