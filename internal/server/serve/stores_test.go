package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

func TestSplitSpec(t *testing.T) {
	for _, tc := range []struct{ spec, scheme, rest string }{
		{"sqlite:/var/lib/parsec/metadata.db", "sqlite", "/var/lib/parsec/metadata.db"},
		{"SQLite:db", "sqlite", "db"},
		{"sqlite:", "sqlite", ""},
		{"disk:relative/blocks", "disk", "relative/blocks"},
		{"postgres://u:p@db/parsec", "postgres", "//u:p@db/parsec"},
		{"s3+https://bucket/prefix", "s3+https", "//bucket/prefix"},
		{"/var/lib/parsec/metadata.db", "", "/var/lib/parsec/metadata.db"},
		{"relative/blocks", "", "relative/blocks"},
		{"./a:b", "", "./a:b"},
		{"C:\\data", "", "C:\\data"},
		{"1x:y", "", "1x:y"},
		{":x", "", ":x"},
	} {
		if scheme, rest := splitSpec(tc.spec); scheme != tc.scheme || rest != tc.rest {
			t.Errorf("splitSpec(%q) = %q, %q; want %q, %q", tc.spec, scheme, rest, tc.scheme, tc.rest)
		}
	}
}

func TestOpenStores(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		db      string // --db
		blocks  string // --blockstore
		created []string
	}{
		{"defaults", "", "", []string{"data/metadata.db", "data/blocks"}},
		{"schemes", "sqlite:" + filepath.Join(dir, "a", "meta.db"), "disk:" + filepath.Join(dir, "a", "blocks"), []string{"a/meta.db", "a/blocks"}},
		{"paths", filepath.Join(dir, "b", "meta.db"), filepath.Join(dir, "b", "blocks"), []string{"b/meta.db", "b/blocks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := OpenMetastore(t.Context(), tc.db, filepath.Join(dir, "data"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			blocks, err := OpenBlockstore(t.Context(), tc.blocks, filepath.Join(dir, "data"), store)
			if err != nil {
				t.Fatal(err)
			}
			blocks.Close()
			for _, name := range tc.created {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestOpenStoresRefused(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, db, blocks string
		want             string // in the error
	}{
		{name: "sqlite without a path", db: "sqlite:", want: "want sqlite:PATH or postgres://"},
		{name: "another database", db: "mysql://u:secret@db/parsec", want: "want sqlite:PATH or postgres://"},
		{name: "PostgreSQL unreachable", db: "postgresql://u:secret@127.0.0.1:1/parsec?connect_timeout=5", want: "127.0.0.1"},
		{name: "PostgreSQL malformed", db: "postgres://u:secret@db/parsec?sslmode=sometimes", want: "--db"},
		{name: "disk without a path", blocks: "disk:", want: "want disk:PATH or s3://"},
		{name: "another block store", blocks: "gcs://bucket", want: "want disk:PATH or s3://"},
		{name: "S3 without a bucket", blocks: "s3://?region=r", want: "--blockstore"},
		{name: "S3 with an unknown parameter", blocks: "s3://bucket?colour=blue", want: "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.db != "" {
				_, err = OpenMetastore(t.Context(), tc.db, dir)
			} else {
				_, err = OpenBlockstore(t.Context(), tc.blocks, dir, nil)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// A server asks clients for 2 MiB blocks on S3 and for nothing on disk, unless told a size,
// which must be one clients take: an encrypted block of the largest must fit a request.
func TestBlockSizeFor(t *testing.T) {
	if manifest.MaxNewFileBlockSize+manifest.BlockOverhead > protocol.MaxBlockSize {
		t.Fatalf("an encrypted block of %d bytes does not fit a request's %d", manifest.MaxNewFileBlockSize, protocol.MaxBlockSize)
	}
	for _, tc := range []struct {
		configured int64
		spec       string
		want       int64
		err        string
	}{
		{0, "", 0, ""},
		{0, "disk:/var/lib/parsec/blocks", 0, ""},
		{0, "s3://parsec?endpoint=http://127.0.0.1:9000", 2 << 20, ""},
		{0, "S3://parsec", 2 << 20, ""},
		{1 << 20, "s3://parsec", 1 << 20, ""},
		{64 << 10, "disk:blocks", 64 << 10, ""},
		{4 << 20, "s3://parsec", 0, "--block-size of 4194304 bytes: want a power of two from 64 KiB to 2 MiB"},
		{32 << 10, "", 0, "--block-size of 32768 bytes"},
		{3 << 19, "", 0, "--block-size of 1572864 bytes"},
		{-1, "", 0, "--block-size of -1 bytes"},
	} {
		got, err := blockSizeFor(tc.configured, tc.spec)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && (!strings.Contains(err.Error(), tc.err) || parsec.KindOf(err) != parsec.Invalid) {
			t.Errorf("blockSizeFor(%d, %q) = %d, %v; want %d, %q", tc.configured, tc.spec, got, err, tc.want, tc.err)
		}
	}
}
