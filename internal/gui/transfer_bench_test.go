package gui

import (
	"crypto/rand"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
)

// The GUI's upload and download endpoints beside the client library's own Upload and
// Download (what `parsec cp` does), on the same server, file and machine. The size is
// PARSEC_BENCH_SIZE bytes (default 256 MiB):
//
//	PARSEC_BENCH_SIZE=1073741824 go test -run '^$' -bench Transfer -benchtime 3x ./internal/gui
func BenchmarkTransfer(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("PARSEC_BENCH_SIZE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	_, ws, base := serveWorkspace(b, "Bench")
	dir := b.TempDir()
	src := filepath.Join(dir, "big.bin")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()

	b.Run("gui-upload", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			uploadThroughGUI(b, base+"/upload", src)
		}
	})
	b.Run("client-upload", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := ws.Upload(b.Context(), src, "/", client.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gui-download", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			resp, err := http.Get(base + "/download?path=/big.bin")
			if err != nil {
				b.Fatal(err)
			}
			out, _ := os.Create(filepath.Join(dir, "down-gui.bin"))
			n, err := io.Copy(out, resp.Body)
			resp.Body.Close()
			out.Close()
			if err != nil || n != size {
				b.Fatalf("downloaded %d bytes of %d: %v", n, size, err)
			}
		}
	})
	b.Run("client-download", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := ws.Download(b.Context(), "/big.bin", filepath.Join(dir, "down-client.bin"), client.CopyOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// uploadThroughGUI posts a file to the upload endpoint as a browser would, streamed.
func uploadThroughGUI(b *testing.B, url, file string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("path", "/"); err != nil {
				return err
			}
			if err := mw.WriteField("count", "1"); err != nil { // as the page says
				return err
			}
			part, err := mw.CreateFormFile("files", filepath.Base(file))
			if err != nil {
				return err
			}
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(part, f); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req) // then the folder's page, which says how it went
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "1 file(s) uploaded") {
		b.Fatalf("upload: %s\n%s", resp.Status, page)
	}
}

// A folder of 10,000 files, drawn by the explorer (after the first draw, the workspace's
// manifests are all on the device).
func BenchmarkFolder10000(b *testing.B) {
	_, ws, base := serveWorkspace(b, "Big folder")
	var files []client.FileSource
	for i := range 10000 {
		files = append(files, client.FileSource{Path: fmt.Sprintf("/many/file-%05d.txt", i), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("x")), nil
		}})
	}
	if err := ws.Change(b.Context(), false, func() error { return ws.WriteFiles(b.Context(), files, nil) }); err != nil {
		b.Fatal(err)
	}
	url := base + "/files?path=/many"
	for b.Loop() {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(page), "file-09999.txt") {
			b.Fatal("the page does not list the last file")
		}
	}
}
