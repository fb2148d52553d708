package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/server/blockstore/pgsmall"
	"github.com/parsec-go/parsec/internal/server/serve"
	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

// balancer is a load balancer in front of server processes: it sends each request to the
// next backend (round robin), unless a test routes requests itself.
type balancer struct {
	*httptest.Server
	backends []*url.URL
	served   [2]atomic.Int64
	signed   [2]atomic.Int64 // requests of devices (authenticated), among served
	next     atomic.Int64
	route    atomic.Pointer[func(*http.Request) int] // nil: round robin
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(b.next.Add(1)) % len(b.backends)
	if route := b.route.Load(); route != nil {
		i = (*route)(r)
	}
	b.served[i].Add(1)
	if strings.HasPrefix(r.URL.Path, "/authenticated/") {
		b.signed[i].Add(1)
	}
	httputil.NewSingleHostReverseProxy(b.backends[i]).ServeHTTP(w, r)
}

// routeBy makes the balancer send each request to the backend that route chooses.
func (b *balancer) routeBy(route func(*http.Request) int) { b.route.Store(&route) }

// scaledOut is a world of two server processes on one PostgreSQL database (whose URL it
// returns) and one S3 bucket of a MinIO, behind a balancer, both run with the extra flags
// given. The first process is the world's server; the second one, returned, must exit
// cleanly when the test ends unless the test killed it.
func scaledOut(t *testing.T, bucket string, extra ...string) (w *world, lb *balancer, second *proc, dsn string) {
	dsn = testenv.PostgresDSN(t)
	blocks := minioBucket(t, bucket)

	// The load balancer, whose backends start below.
	lb = &balancer{}
	lb.Server = httptest.NewServer(lb)
	t.Cleanup(lb.Close)

	// Each server listens on a port of its own and gives the load balancer's URL in links.
	listening := `msg="server listening" addr=(\S+) `
	flags := append([]string{"--db", dsn, "--blockstore", blocks, "--server-url", lb.URL}, extra...)
	w = newWorldFor(t, 2*time.Minute, flags...)
	first := regexp.MustCompile(listening).FindStringSubmatch(w.server.stderr.String()) // printed before the banner newWorld waited for
	if first == nil {
		t.Fatalf("no listening address:\n%s", w.server)
	}
	second = w.start("", append([]string{"server", "run", "--dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)...)
	secondAddr := second.expect(second.stderr, listening)[1]
	t.Cleanup(func() {
		select {
		case <-second.done:
			return // killed by the test
		default:
		}
		// SIGINT comes from the test's context, done by now (see newWorldFor): a second one
		// could arrive after the server stopped listening for signals, and kill it.
		if code := second.wait(); code != exitOK {
			t.Errorf("the second server exited with code %d:\n%s", code, second)
		}
	})
	for _, addr := range []string{first[1], secondAddr} {
		lb.backends = append(lb.backends, &url.URL{Scheme: "http", Host: addr})
	}
	return w, lb, second, dsn
}

// Two server processes on one PostgreSQL database and one S3 bucket (MinIO), behind a load
// balancer that sends each request to the next one: an organization is created and
// bootstrapped, a workspace made, a file larger than a block written and read back, its
// history listed, with every step served by either process. Being on S3, the servers ask
// for blocks of 2 MiB.
func TestServersShareStores(t *testing.T) {
	w, lb, _, dsn := scaledOut(t, "parsec-scaleout")
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	big := make([]byte, 4<<20+77)
	for i := range big {
		big[i] = byte(i*31 + i/4096)
	}
	local := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(local, big, 0o644)
	for range 2 {
		w.as(alice, "cp", local, "Docs:/").ok() // two versions
	}
	if got := w.as(alice, "cat", "Docs:/big.bin").ok(); got != string(big) {
		t.Errorf("big.bin read back: %d bytes, want %d, identical", len(got), len(big))
	}
	if h := w.as(alice, "history", "Docs:/big.bin").ok(); strings.Count(h, "\n") != 2 {
		t.Errorf("history:\n%s", h)
	}
	if lb.served[0].Load() < 5 || lb.served[1].Load() < 5 {
		t.Errorf("the servers served %d and %d requests: both should have served many", lb.served[0].Load(), lb.served[1].Load())
	}

	// The last block of each version (77 bytes and the encryption's) is a row of the
	// database, the two others (2 MiB each) objects of the bucket.
	objects := bucketObjects(t, "parsec-scaleout")
	for key, data := range objects {
		if len(data) <= pgsmall.MaxSize {
			t.Errorf("object %s of %d bytes: a small block should be in the database", key, len(data))
		}
	}
	var small int
	if err := pgxConn(t, dsn).QueryRow(t.Context(), `SELECT count(*) FROM small_blocks WHERE length(data) < 200`).Scan(&small); err != nil {
		t.Fatal(err)
	}
	if len(objects) != 4 || small != 2 {
		t.Errorf("%d objects in the bucket and %d small blocks in the database, want 4 and 2 (2 + 1 per version)", len(objects), small)
	}
	for key, data := range objects {
		if len(data) != 2<<20+manifest.BlockOverhead {
			t.Errorf("object %s of %d bytes, want a block of 2 MiB", key, len(data))
		}
	}
}

// pgxConn connects to dsn for the rest of the test.
func pgxConn(t *testing.T, dsn string) *pgx.Conn {
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Two server processes share events and replay protection: an invitation greeted through one
// process is claimed through the other; a device following its workspace through one process
// hears of a write made through the other, and carries on through the survivor when its
// process is killed (kill -9); the database and the bucket hold neither the name nor the
// content of the file in plaintext.
func TestServersShareEvents(t *testing.T) {
	w, lb, second, dsn := scaledOut(t, "parsec-scaleout-events")
	alice := w.bootstrap("alice@example.com", "Alice")

	// Greeter on the first process, claimer on the second: each waits for the other's steps
	// through events published by the other process.
	lb.routeBy(func(r *http.Request) int {
		if strings.HasPrefix(r.URL.Path, "/invited/") {
			return 1
		}
		return 0
	})
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	if lb.served[1].Load() == 0 {
		t.Fatal("the second process served none of the claimer's requests")
	}

	// Bob's event stream on the second process, every other request on the first.
	lb.routeBy(func(r *http.Request) int {
		if strings.HasSuffix(r.URL.Path, "/events") {
			return 1
		}
		return 0
	})
	w.as(alice, "workspace", "create", "Docs").ok()
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "reader").ok()
	watcher := w.start(bob.password+"\n", "workspace", "sync", "Docs", "--watch", "--config-dir", bob.dir, "--password-stdin")
	watcher.expect(watcher.stderr, `^Watching for changes`)
	const name, content = "quarterly-plan-7f3a9.txt", "launch the zeppelin on 7f3a9c\n"
	local := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	w.as(alice, "cp", local, "Docs:/").ok()
	watcher.expect(watcher.stderr, `^Workspace "Docs" synced\.$`)

	// The second process dies; the balancer sends everything to the first, where the
	// watcher's stream resumes.
	if err := second.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	second.wait()
	lb.routeBy(func(*http.Request) int { return 0 })
	w.as(alice, "cp", local, "Docs:/again.txt").ok()
	watcher.expect(watcher.stderr, `^Workspace "Docs" synced\.$`)
	watcher.cmd.Process.Signal(os.Interrupt)
	watcher.wantExit(exitOK)
	if got := w.as(bob, "cat", "Docs:/again.txt").ok(); got != content {
		t.Fatalf("bob reads %q", got)
	}

	secrets := [][]byte{[]byte("quarterly-plan"), []byte("zeppelin")}
	tables := databaseText(t, dsn)
	if len(tables["table small_blocks"]) == 0 {
		t.Fatal("no small block in the database") // the file's only block
	}
	for where, data := range tables {
		for _, secret := range secrets {
			if bytes.Contains(data, secret) || bytes.Contains(data, []byte(hex.EncodeToString(secret))) {
				t.Errorf("%s holds %q in plaintext", where, secret)
			}
		}
	}
	for key, data := range bucketObjects(t, "parsec-scaleout-events") {
		for _, secret := range secrets {
			if bytes.Contains(data, secret) || strings.Contains(key, string(secret)) {
				t.Errorf("object %s holds %q in plaintext", key, secret)
			}
		}
	}
}

// Two server processes on one PostgreSQL database share the rate limit of each device: the
// balancer alternates between them, and the device is refused its request beyond the limit,
// whichever process receives it, once both together served the limit, not each.
func TestServersShareRateLimits(t *testing.T) {
	const max = 24
	w, lb, _, _ := scaledOut(t, "parsec-scaleout-rates", "--max-requests-per-device-minute", strconv.Itoa(max))
	alice := w.bootstrap("alice@example.com", "Alice")
	for {
		before := lb.signed[0].Load() + lb.signed[1].Load()
		list := w.as(alice, "workspace", "list")
		if list.wait() == exitOK {
			if before >= max {
				t.Fatalf("the servers served %d and %d requests of the device, and no refusal", lb.signed[0].Load(), lb.signed[1].Load())
			}
			continue
		}
		list.wantFailure(exitUnavailable, `^error: [^\n]*too many requests per minute from this device \(at most 24\): try again later\n$`)
		break
	}
	// The refused request is the first beyond the limit, the others being served by both.
	if first, second := lb.signed[0].Load(), lb.signed[1].Load(); first+second != max+1 || first < max/3 || second < max/3 {
		t.Errorf("refused after %d and %d requests of the device: want %d together, served by both", first, second, max+1)
	}
}

// databaseText returns every row of every table of the database, as PostgreSQL writes it
// as text (bytea in hex), by table.
func databaseText(t *testing.T, dsn string) map[string][]byte {
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		out["table "+table] = []byte(strings.Join(texts, "\n"))
	}
	if len(out["table vlob_atoms"]) == 0 {
		t.Fatalf("no vlobs in the database: tables %v", tables)
	}
	return out
}

// bucketObjects returns every object of a bucket of the shared MinIO, by key.
func bucketObjects(t *testing.T, bucket string) map[string][]byte {
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(minio.Shared(t).Endpoint)
		o.UsePathStyle = true
	})
	out := map[string][]byte{}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[*o.Key] = data
		}
	}
	return out
}

// A server whose stores stop while it runs: each command fails with one line saying that
// the server's store is unavailable, /healthz names the failing store and the metrics count
// the failures; once the store is back, the same commands work, without restarting the
// server. First PostgreSQL (which also holds the small blocks), then MinIO.
func TestStoresFailAndRecover(t *testing.T) {
	db := testenv.NewOwnPostgres(t)
	blocks := minio.NewOwn(t)
	w := newWorldFor(t, 3*time.Minute, "--db", db.DSN(), "--blockstore", bucketOf(t, blocks.Endpoint, "parsec-recover"))
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	// Larger than a small block, so that it is an object of the bucket.
	content := strings.Repeat("still here\n", pgsmall.MaxSize/10)
	local := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	w.as(alice, "cp", local, "Docs:/").ok()
	wantHealth(t, w, http.StatusOK, "ok\n")

	db.Stop()
	sync := w.as(alice, "workspace", "sync", "Docs")
	sync.wantFailure(exitUnavailable, `^error: [^\n]*metadata store[^\n]*: try again later\n$`)
	wantHealth(t, w, http.StatusServiceUnavailable, "metadata store unavailable\nblock store unavailable\n")
	wantStoreErrors(t, w, "metadata")
	db.Start()
	w.as(alice, "workspace", "sync", "Docs").ok()
	wantHealth(t, w, http.StatusOK, "ok\n")

	blocks.Stop()
	cat := w.as(alice, "cat", "Docs:/notes.txt")
	cat.wantFailure(exitUnavailable, `^error: [^\n]*cannot read blocks now: try again later\n$`)
	wantHealth(t, w, http.StatusServiceUnavailable, "block store unavailable\n")
	wantStoreErrors(t, w, "blocks")
	blocks.Start()
	if got := w.as(alice, "cat", "Docs:/notes.txt").ok(); got != content {
		t.Errorf("notes.txt read back: %d bytes, want %d", len(got), len(content))
	}
	wantHealth(t, w, http.StatusOK, "ok\n")
}

// bucketOf is the --blockstore of a bucket of the MinIO at endpoint, whose credentials it
// puts in the environment.
func bucketOf(t *testing.T, endpoint, bucket string) string {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey,
		"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	return "s3://" + bucket + "?endpoint=" + url.QueryEscape(endpoint) + "&region=us-east-1"
}

// get GETs a path of the world's server, with the administration token.
func get(t *testing.T, w *world, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, w.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+serve.DevAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func wantHealth(t *testing.T, w *world, code int, body string) {
	t.Helper()
	if gotCode, got := get(t, w, "/healthz"); gotCode != code || got != body {
		t.Errorf("/healthz answered %d %q, want %d %q", gotCode, got, code, body)
	}
}

// wantStoreErrors fails unless the metrics count failures of store.
func wantStoreErrors(t *testing.T, w *world, store string) {
	t.Helper()
	_, metrics := get(t, w, "/metrics")
	m := regexp.MustCompile(`(?m)^parsec_store_errors_total\{store="` + store + `"\} (\d+)$`).FindStringSubmatch(metrics)
	if m == nil || m[1] == "0" {
		t.Errorf("the metrics count no failure of the %s store: %v", store, m)
	}
}
