package serve

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/blockstore/pgsmall"
	"github.com/parsec-go/parsec/internal/server/blockstore/s3"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/events/pgevents"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/postgres"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
)

// OpenMetastore opens the metadata store named by a --db value: "sqlite:PATH" or a bare
// PATH (the directory holding the database is created if needed), a PostgreSQL URL
// "postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=…" (its schema is created or migrated,
// under a lock, so that several servers may start at once), or, when spec is empty,
// SQLite in dataDir/metadata.db.
func OpenMetastore(ctx context.Context, spec, dataDir string) (metastore.Store, error) {
	if spec == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "metadata.db"))
	}
	scheme, rest := splitSpec(spec)
	switch scheme {
	case "", "sqlite":
		if rest == "" {
			break
		}
		if err := os.MkdirAll(filepath.Dir(rest), 0o700); err != nil {
			return nil, fmt.Errorf("--db %q: %w", spec, err)
		}
		return sqlite.Open(ctx, rest)
	case "postgres", "postgresql":
		s, err := postgres.Open(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("--db %q: %w", redactURL(spec), err)
		}
		return s, nil
	}
	return nil, parsec.Errorf(parsec.Invalid, "--db %q: want sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB", redactURL(spec))
}

// openBus returns the event bus of a server on store: with PostgreSQL, one shared through
// the database by every server process on it; otherwise an in-process one.
func openBus(ctx context.Context, store metastore.Store, clock parsec.Clock, log *slog.Logger) (events.Bus, error) {
	if pg, ok := store.(*postgres.Store); ok {
		b, err := pgevents.New(ctx, pg.Pool(), log)
		if err != nil {
			return nil, fmt.Errorf("event bus: %w", err)
		}
		return b, nil
	}
	return events.New(clock), nil
}

// OpenBlockstore opens the block store named by a --blockstore value: "disk:PATH" or a
// bare PATH, an S3-compatible bucket "s3://BUCKET?endpoint=URL&region=R&prefix=P" (created
// when missing and the credentials allow it; credentials from the standard AWS variables
// and files), or, when spec is empty, files in dataDir/blocks. With S3 and a metadata
// store meta on PostgreSQL, the small blocks (up to pgsmall.MaxSize) are kept in
// PostgreSQL, one row each, rather than an object each (see pgsmall).
func OpenBlockstore(ctx context.Context, spec, dataDir string, meta metastore.Store) (blockstore.Store, error) {
	if spec == "" {
		return disk.Open(filepath.Join(dataDir, "blocks"))
	}
	scheme, rest := splitSpec(spec)
	switch scheme {
	case "", "disk":
		if rest == "" {
			break
		}
		return disk.Open(rest)
	case "s3":
		b, err := s3.Open(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("--blockstore %q: %w", spec, err)
		}
		if pg, ok := meta.(*postgres.Store); ok {
			return blockstore.NewPacking(pgsmall.New(pg.Pool()), b, pgsmall.MaxSize, s3Readers), nil
		}
		return b, nil
	}
	return nil, parsec.Errorf(parsec.Invalid, "--blockstore %q: want disk:PATH or s3://BUCKET?endpoint=URL&region=R", spec)
}

// s3Readers is how many large blocks a server reads from S3 at once for one request.
const s3Readers = 8

// s3BlockSize is the span size a server on S3 asks clients to cut new files into: each
// block is an object, and a PutObject or GetObject costs the object store about as much
// processor time for 512 KiB as for 2 MiB (MinIO: 1 GiB uploaded through a server in 2,048
// objects cost it 6.5 s, in 512 objects 4.3 s).
const s3BlockSize = manifest.MaxNewFileBlockSize

// blockSizeFor returns the span size a server asks clients for (0: none): the configured
// one, which must be one they take, or else the block store's (see s3BlockSize).
func blockSizeFor(configured int64, spec string) (int64, error) {
	if configured != 0 {
		if manifest.NewFileBlockSize(configured) != uint64(configured) {
			return 0, parsec.Errorf(parsec.Invalid, "--block-size of %d bytes: want a power of two from %d KiB to %d MiB", configured, manifest.MinNewFileBlockSize>>10, manifest.MaxNewFileBlockSize>>20)
		}
		return configured, nil
	}
	if scheme, _ := splitSpec(spec); scheme == "s3" {
		return s3BlockSize, nil
	}
	return 0, nil
}

// splitSpec splits a storage spec into its scheme, in lower case, and the rest:
// "sqlite:PATH" gives "sqlite" and "PATH", "postgres://host/db" gives "postgres" and
// "//host/db". A spec that does not start with a scheme (a letter, then letters, digits,
// "+", "-" or ".", then ":") is a path, of scheme "". So is one whose would-be scheme is a
// single letter: a drive ("C:\data").
func splitSpec(spec string) (scheme, rest string) {
	i := strings.IndexByte(spec, ':')
	if i < 2 {
		return "", spec
	}
	for j, r := range spec[:i] {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !letter && (j == 0 || !('0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", spec
		}
	}
	return strings.ToLower(spec[:i]), spec[i+1:]
}

// redactURL hides the credentials of a URL (scheme://user:password@host…).
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}
