package gui

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// serveWorkspace serves the GUI of Alice, signed in, who has created a workspace; base is
// the workspace's URL.
func serveWorkspace(tb testing.TB, name string) (srv *testenv.Server, ws *client.Workspace, base string) {
	srv = testenv.NewServer(tb)
	_, c, gui := aliceApp(tb, srv)
	id, err := c.CreateWorkspace(tb.Context(), name)
	if err != nil {
		tb.Fatal(err)
	}
	if ws, err = c.Workspace(tb.Context(), id); err != nil {
		tb.Fatal(err)
	}
	return srv, ws, gui.URL + "/workspaces/" + id.String()
}

// aliceApp starts the GUI of alice, the first member of a new organization on srv, and
// serves its pages (without the launch token: the handlers alone).
func aliceApp(tb testing.TB, srv *testenv.Server) (*App, *client.Client, *httptest.Server) {
	alice := srv.Bootstrap(tb, "Acme", "alice@example.com", "Alice")
	app, err := New(Config{ConfigDir: alice.ConfigDir})
	if err != nil {
		tb.Fatal(err)
	}
	if err := app.start(alice.Device); err != nil {
		tb.Fatal(err)
	}
	gui := serveHandlers(tb, app)
	return app, app.current().c, gui
}

// serveHandlers serves the pages of app (the handlers alone, without the launch token),
// and logs it out at the end of the test.
func serveHandlers(tb testing.TB, app *App) *httptest.Server {
	tb.Cleanup(app.logout)
	mux := http.NewServeMux()
	app.routes(mux)
	gui := httptest.NewServer(mux)
	tb.Cleanup(gui.Close)
	return gui
}

// zipOfTree serves the GUI of a workspace holding files small files under /tree, in
// folders of 50, each a line or, with size, that many random bytes, and returns the URL of
// the ZIP of /tree, the server (to lie) and a count of block reads.
func zipOfTree(tb testing.TB, files, size int) (url string, srv *testenv.Server, reads *atomic.Int64, want map[string]string) {
	srv, ws, base := serveWorkspace(tb, "Docs")
	want = map[string]string{}
	var sources []client.FileSource
	for i := range files {
		name := fmt.Sprintf("d%d/f%d.txt", i/50, i)
		content := fmt.Sprintf("file %d\n", i)
		if size > 0 {
			content = rand.Text()
			for len(content) < size {
				content += rand.Text()
			}
			content = content[:size]
		}
		want["tree/"+name] = content
		sources = append(sources, client.FileSource{Path: "/tree/" + name, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader([]byte(content))), nil
		}})
	}
	if err := ws.WriteFiles(tb.Context(), sources, nil); err != nil {
		tb.Fatal(err)
	}
	reads = &atomic.Int64{}
	srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			reads.Add(1)
		}
		return reply
	}
	return base + "/download?path=/tree", srv, reads, want
}

// A folder's ZIP holds its tree, and its files are read a chunk at a time, not one request
// each.
func TestZipOfManyFiles(t *testing.T) {
	setZipChunk(t, 7)
	url, _, reads, want := zipOfTree(t, 300, 0)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %s, %v", resp.Status, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("not a ZIP archive: %v", err)
	}
	got := map[string]string{}
	folders, files := 0, 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			folders++
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got[f.Name] = string(b)
		files++
	}
	if files != len(want) || folders != 6 {
		t.Errorf("the archive holds %d files and %d folders, want %d and 6", files, folders, len(want))
	}
	for name, content := range want {
		if got[name] != content {
			t.Errorf("%s holds %q, want %q", name, got[name], content)
		}
	}
	// 43 chunks of 7 files, the blocks of each read together.
	if n := reads.Load(); n < 43 || n > 86 {
		t.Errorf("the blocks of 300 files were read in %d requests, want one or two per chunk of 7 (43 chunks)", n)
	}
}

// setZipChunk makes a folder's ZIP read n files at a time for the test.
func setZipChunk(t *testing.T, n int) {
	old := zipChunk
	zipChunk = n
	t.Cleanup(func() { zipChunk = old })
}

// A download, of a file or of a folder's ZIP, that fails before anything reached the
// browser is a message on the folder's page; one that fails later is cut short, never
// ended as if whole.
func TestZipFails(t *testing.T) {
	setZipChunk(t, 7)
	url, srv, _, _ := zipOfTree(t, 100, 2048)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var mu sync.Mutex
	reads, spoil := 0, 0
	srv.Lie = func(cmd string, reply []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		if cmd != protocol.CmdBlockRead {
			return reply
		}
		if reads++; reads >= spoil {
			return []byte("not a reply")
		}
		return reply
	}

	// The first block read spoiled: the folder's page, no attachment.
	for _, tc := range []struct{ what, url, folder string }{
		{"a file", strings.Replace(url, "path=/tree", "path=/tree/d1/f60.txt", 1), "%2Ftree%2Fd1"},
		{"a ZIP", url, "%2Ftree"},
	} {
		mu.Lock()
		reads, spoil = 0, 1
		mu.Unlock()
		resp, err := noFollow.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/files?path="+tc.folder) || resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s failing at once: %s, to %q, %q; want the page of folder %s", tc.what, resp.Status, resp.Header.Get("Location"), resp.Header.Get("Content-Disposition"), tc.folder)
			continue
		}
		// The page says why.
		page, err := http.Get(resp.Request.URL.ResolveReference(&neturl.URL{Path: "/"}).String() + strings.TrimPrefix(resp.Header.Get("Location"), "/"))
		if err != nil {
			t.Fatal(err)
		}
		html, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if !strings.Contains(string(html), `class="alert" role="alert"`) {
			t.Errorf("%s failing at once: the folder's page shows no error:\n%s", tc.what, html)
		}
	}

	mu.Lock()
	reads, spoil = 0, 4 // after 3 chunks of 14 KiB of random text
	mu.Unlock()
	resp, err := noFollow.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err == nil || n < 4096 {
		t.Errorf("a ZIP failing midway: %s, %d bytes then %v; want the archive started, then cut short", resp.Status, n, err)
	}
}

// The ZIP of 5,000 small files:
//
//	go test -run '^$' -bench Zip -benchtime 3x ./internal/gui
func BenchmarkZip(b *testing.B) {
	url, _, _, _ := zipOfTree(b, 5000, 0)
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n == 0 {
			b.Fatalf("%d bytes, %v", n, err)
		}
	}
}

// A file downloaded as it was at a time that fails after its first bytes is cut short.
func TestDownloadAtCutShort(t *testing.T) {
	srv, ws, base := serveWorkspace(t, "Docs")
	// Five batches of blocks; a download fetches three ahead, so the fourth request is sent
	// once the first batch is written: spoiling it and the next fails the download midway.
	data := make([]byte, 40<<20)
	rand.Read(data)
	err := ws.WriteFiles(t.Context(), []client.FileSource{{Path: "/big", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Second).Format(time.RFC3339Nano)
	var reads atomic.Int64
	srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead && reads.Add(1) >= 4 {
			return []byte("not a reply")
		}
		return reply
	}
	resp, err := http.Get(base + "/download?path=/big&at=" + neturl.QueryEscape(at))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err == nil || n == 0 || n >= int64(len(data)) {
		t.Errorf("a past version failing midway: %s, %d bytes then %v; want it started, then cut short", resp.Status, n, err)
	}
}
