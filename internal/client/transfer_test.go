package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
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
