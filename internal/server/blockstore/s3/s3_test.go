package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/blockstoretest"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

func TestMain(m *testing.M) { os.Exit(minio.Main(m)) }

// awsEnv gives the SDK the test server's credentials, and nothing of this machine's AWS
// set-up (profiles, files, a CA bundle, an endpoint, instance metadata).
func awsEnv(t testing.TB, accessKey, secretKey string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           accessKey,
		"AWS_SECRET_ACCESS_KEY":       secretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_DEFAULT_PROFILE":         "",
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_CA_BUNDLE":               "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// newBucket returns the name of a bucket nobody used yet.
func newBucket() string { return "parsec-test-" + strings.ToLower(rand.Text()[:12]) }

// open opens a store on a new bucket of the shared MinIO server, or on endpoint if set
// (a proxy in front of it), with the given extra URL parameters.
func open(t *testing.T, endpoint, params string) *Store {
	t.Helper()
	srv := minio.Shared(t)
	if endpoint == "" {
		endpoint = srv.Endpoint
	}
	awsEnv(t, minio.AccessKey, minio.SecretKey)
	s, err := Open(t.Context(), "s3://"+newBucket()+"?endpoint="+url.QueryEscape(endpoint)+params)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) blockstore.Store { return open(t, "", "") })
}

// TestConformanceStreaming runs the suite with PutStream streaming every block (unsigned,
// not retried) rather than reading it into memory first.
func TestConformanceStreaming(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) blockstore.Store {
		s := open(t, "", "&prefix=streaming")
		s.bufferLimit = 0
		return s
	})
}

func TestBufferLimitHoldsEveryBlock(t *testing.T) {
	if bufferLimit < protocol.MaxBlockSize {
		t.Errorf("bufferLimit %d < protocol.MaxBlockSize %d: the server's blocks would be streamed, without retries", bufferLimit, protocol.MaxBlockSize)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want location
	}{
		{"s3://blocks", location{bucket: "blocks"}},
		{"s3://blocks/", location{bucket: "blocks"}},
		{"s3://my.blocks-1?region=eu-west-3", location{bucket: "my.blocks-1", region: "eu-west-3"}},
		{"s3://blocks?endpoint=http://127.0.0.1:9000&region=us-east-1&prefix=/parsec/prod/",
			location{bucket: "blocks", endpoint: "http://127.0.0.1:9000", region: "us-east-1", prefix: "parsec/prod/"}},
		{"s3://blocks?endpoint=https%3A%2F%2Fs3.example.com&prefix=a", location{bucket: "blocks", endpoint: "https://s3.example.com", prefix: "a/"}},
		{"s3://blocks?prefix=", location{bucket: "blocks"}},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := parseURL(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(location{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, bad := range []string{
		"", "blocks", "disk:/var/blocks", "s3://", "s3://ab", "s3://Blocks", "s3://-blocks", "s3://blocks-",
		"s3://a..b", "s3://" + strings.Repeat("a", 64), "s3://blocks/sub", "s3://user@blocks", "s3://blocks:9000",
		"s3://blocks#x", "s3://blocks?endpoint=127.0.0.1:9000", "s3://blocks?endpoint=ftp://x", "s3://blocks?region=",
		"s3://blocks?prefix=a//b", "s3://blocks?prefix=a/../b", "s3://blocks?prefix=.", "s3://blocks?prefix=a%00",
		"s3://blocks?bucket=x", "s3://blocks?region=a&region=b", "s3://blocks?%zz",
	} {
		t.Run("Bad/"+bad, func(t *testing.T) {
			if got, err := parseURL(bad); !parsec.IsKind(err, parsec.Invalid) {
				t.Errorf("got %+v, error %v; want kind %v", got, err, parsec.Invalid)
			}
		})
	}
}

// TestLayout checks the key of a block, with and without a prefix, and that Open creates
// a missing bucket, then opens it again as it is.
func TestLayout(t *testing.T) {
	for _, tc := range []struct{ name, prefix, want string }{
		{"NoPrefix", "", "Société-1/%s"},
		{"Prefix", "/tenants/a/", "tenants/a/Société-1/%s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, "", "&prefix="+url.QueryEscape(tc.prefix))
			defer s.Close()
			id := parsec.NewBlockID()
			if err := s.Put(t.Context(), "Société-1", id, []byte("ciphertext")); err != nil {
				t.Fatal(err)
			}
			list, err := s.client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &s.bucket})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range list.Contents {
				keys = append(keys, *o.Key)
			}
			if diff := cmp.Diff([]string{fmt.Sprintf(tc.want, id)}, keys); diff != "" {
				t.Errorf("keys in the bucket (-want +got)\n%s", diff)
			}

			again, err := Open(t.Context(), "s3://"+s.bucket+"?endpoint="+url.QueryEscape(minio.Shared(t).Endpoint)+"&prefix="+url.QueryEscape(tc.prefix))
			if err != nil {
				t.Fatalf("open an existing bucket: %v", err)
			}
			defer again.Close()
			if got, err := again.Get(t.Context(), "Société-1", id); err != nil || string(got) != "ciphertext" {
				t.Errorf("get through a second store: %q, %v; want %q", got, err, "ciphertext")
			}
		})
	}
}

func TestBadCredentials(t *testing.T) {
	srv := minio.Shared(t)
	awsEnv(t, minio.AccessKey, "not-the-secret")
	_, err := Open(t.Context(), "s3://"+newBucket()+"?endpoint="+url.QueryEscape(srv.Endpoint))
	if err == nil {
		t.Fatal("open with a wrong secret key succeeded")
	}
	t.Logf("the error: %v", err)
	for _, want := range []string{"403", "access denied", "AWS_SECRET_ACCESS_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// flakyProxy stands in front of MinIO. It answers the first failures requests of each
// method and object, and every request on an object once broken is set, with status
// instead of passing them on; while stall is set, it holds requests on objects until the
// client gives up, after telling stalled. Requests on the bucket itself pass.
type flakyProxy struct {
	URL      string
	status   int
	failures int
	broken   atomic.Bool
	stall    atomic.Bool
	stalled  chan struct{}

	mu       sync.Mutex
	attempts map[string]int // per "METHOD path"
}

func newFlakyProxy(t *testing.T, status, failures int) *flakyProxy {
	target, err := url.Parse(minio.Shared(t).Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{status: status, failures: failures, attempts: map[string]int{}, stalled: make(chan struct{}, 1)}
	release := make(chan struct{})
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the host the client signed
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 { // the bucket
			rp.ServeHTTP(w, r)
			return
		}
		p.mu.Lock()
		p.attempts[r.Method+" "+r.URL.Path]++
		n := p.attempts[r.Method+" "+r.URL.Path]
		p.mu.Unlock()
		if p.stall.Load() {
			// The server notices that the client went away once the body is read.
			io.Copy(io.Discard, r.Body)
			p.stalled <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		if p.broken.Load() || n <= p.failures {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(p.status)
			code := "ServiceUnavailable"
			if p.status == http.StatusForbidden {
				code = "AccessDenied"
			}
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>injected by the test (attempt %d)</Message></Error>", code, n)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
	p.URL = srv.URL
	return p
}

func (p *flakyProxy) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[method+" "+path]
}

// TestTransientErrors makes the first two attempts of every request on an object fail
// with 503: the SDK's retries make every operation succeed all the same, except the
// PutStream of a block too large to be held in memory, which cannot be retried.
func TestTransientErrors(t *testing.T) {
	p := newFlakyProxy(t, http.StatusServiceUnavailable, 2)
	s := open(t, p.URL, "")
	defer s.Close()
	const org = parsec.OrganizationID("Org-1")
	attempts := func(method string, id parsec.BlockID, want int) {
		t.Helper()
		if got := p.count(method, "/"+s.bucket+"/Org-1/"+id.String()); got != want {
			t.Errorf("the proxy saw %d attempts of %s %s, want %d", got, method, id, want)
		}
	}
	id := parsec.NewBlockID()
	data := make([]byte, 100<<10)
	rand.Read(data)
	if err := s.Put(t.Context(), org, id, data); err != nil {
		t.Fatalf("put: %v", err)
	}
	attempts(http.MethodPut, id, 3)
	if got, err := s.Get(t.Context(), org, id); err != nil || !bytes.Equal(got, data) {
		t.Errorf("get: %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	attempts(http.MethodGet, id, 3)
	if err := s.Delete(t.Context(), org, id); err != nil {
		t.Errorf("delete: %v", err)
	}
	attempts(http.MethodHead, id, 3)
	attempts(http.MethodDelete, id, 3)

	batch := make([]blockstore.Block, 20)
	for i := range batch {
		batch[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: []byte(fmt.Sprint("block ", i))}
	}
	if err := s.PutBatch(t.Context(), org, batch); err != nil {
		t.Fatalf("put batch: %v", err)
	}
	id = parsec.NewBlockID()
	if err := s.PutStream(t.Context(), org, id, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put stream: %v", err)
	}
	for _, b := range append(batch, blockstore.Block{ID: id, Data: data}) {
		if got, err := s.Get(t.Context(), org, b.ID); err != nil || !bytes.Equal(got, b.Data) {
			t.Errorf("get %s: %d bytes, %v; want %d bytes", b.ID, len(got), err, len(b.Data))
		}
	}

	s.bufferLimit = 0 // streamed
	id = parsec.NewBlockID()
	err := s.PutStream(t.Context(), org, id, bytes.NewReader(data), int64(len(data)))
	if err == nil {
		t.Fatal("a streamed put stream succeeded through a failure")
	}
	t.Logf("the error: %v", err)
	attempts(http.MethodPut, id, 1)
}

// TestCancelledDuringPut cancels a put that S3 has not answered yet: it fails with an
// error wrapping context.Canceled, and the block is not stored.
func TestCancelledDuringPut(t *testing.T) {
	p := newFlakyProxy(t, http.StatusServiceUnavailable, 0)
	s := open(t, p.URL, "")
	defer s.Close()
	p.stall.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	id := parsec.NewBlockID()
	done := make(chan error)
	go func() { done <- s.Put(ctx, "Org-1", id, []byte("data")) }()
	<-p.stalled
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !parsec.IsKind(err, parsec.Cancelled) {
		t.Errorf("put: error %v, want one of kind %v wrapping %v", err, parsec.Cancelled, context.Canceled)
	}
	p.stall.Store(false)
	if _, err := s.Get(t.Context(), "Org-1", id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("get after the cancelled put: error %v, want kind %v", err, parsec.NotFound)
	}
}

// TestStalledStore: S3 takes requests and never answers them (a server hung, a network that
// drops packets): each attempt gives up after responseTimeout, and once its attempts are
// spent the operation fails, not as cancelled, while its caller still waits (the server then
// tells its client that the store is unavailable, before the client gives up after a
// minute of silence). Once S3 answers again, the same store works.
func TestStalledStore(t *testing.T) {
	defer func(d time.Duration) { testOnlyResponseTimeout = d }(testOnlyResponseTimeout)
	testOnlyResponseTimeout = 50 * time.Millisecond
	p := newFlakyProxy(t, http.StatusServiceUnavailable, 0)
	s := open(t, p.URL, "")
	defer s.Close()
	go func() { // the proxy says when a request stalls
		for {
			select {
			case <-p.stalled:
			case <-t.Context().Done():
				return
			}
		}
	}()
	const org = parsec.OrganizationID("Org-1")
	id := parsec.NewBlockID()
	p.stall.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s.Put(ctx, org, id, []byte("data")); err == nil || parsec.IsKind(err, parsec.Cancelled) {
		t.Errorf("put to a store that does not answer: error %v, want a failure of the store", err)
	}
	if _, err := s.Get(ctx, org, id); err == nil || parsec.IsKind(err, parsec.Cancelled) || parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("get from a store that does not answer: error %v, want a failure of the store", err)
	}
	if n := p.count(http.MethodPut, "/"+s.bucket+"/Org-1/"+id.String()); n != maxAttempts {
		t.Errorf("the proxy saw %d attempts of the put, want %d", n, maxAttempts)
	}
	p.stall.Store(false)
	if err := s.Put(t.Context(), org, id, []byte("data")); err != nil {
		t.Errorf("put once the store answers again: %v", err)
	}
	if got, err := s.Get(t.Context(), org, id); err != nil || string(got) != "data" {
		t.Errorf("get once the store answers again: %q, %v", got, err)
	}
}

// TestPermanentErrors: a store that keeps failing gets maxAttempts attempts, then the
// error says what S3 answered; an error that retrying cannot fix gets one attempt.
func TestPermanentErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		attempts int
	}{
		{"Unavailable", http.StatusServiceUnavailable, maxAttempts},
		{"Forbidden", http.StatusForbidden, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFlakyProxy(t, tc.status, 0)
			s := open(t, p.URL, "")
			defer s.Close()
			p.broken.Store(true)
			id := parsec.NewBlockID()
			err := s.Put(t.Context(), "Org-1", id, []byte("data"))
			if err == nil {
				t.Fatal("put succeeded")
			}
			t.Logf("the error: %v", err)
			for _, want := range []string{id.String(), `"Org-1"`, fmt.Sprint("StatusCode: ", tc.status), "injected by the test"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if got := p.count(http.MethodPut, "/"+s.bucket+"/Org-1/"+id.String()); got != tc.attempts {
				t.Errorf("the proxy saw %d attempts, want %d", got, tc.attempts)
			}
			if k := parsec.KindOf(err); k != parsec.Other {
				t.Errorf("error of kind %v, want %v", k, parsec.Other)
			}
			p.broken.Store(false)
			if _, err := s.Get(t.Context(), "Org-1", id); !parsec.IsKind(err, parsec.NotFound) {
				t.Errorf("get after the failed put: error %v, want kind %v", err, parsec.NotFound)
			}
		})
	}
}

// TestMissingCABundle documents that the SDK refuses to start when AWS_CA_BUNDLE names a
// file that does not exist, with an error that says so: tests clear it.
func TestMissingCABundle(t *testing.T) {
	srv := minio.Shared(t)
	awsEnv(t, minio.AccessKey, minio.SecretKey)
	t.Setenv("AWS_CA_BUNDLE", filepath.Join(t.TempDir(), "missing.pem"))
	_, err := Open(t.Context(), "s3://"+newBucket()+"?endpoint="+url.QueryEscape(srv.Endpoint))
	if err == nil {
		t.Skip("this SDK ignores a missing AWS_CA_BUNDLE")
	}
	if !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("error %q does not name the missing file", err)
	}
}

// BenchmarkPutBatch measures PutBatch against the local MinIO: batches of small blocks
// (requests per second) and of 512 KiB blocks (throughput).
func BenchmarkPutBatch(b *testing.B) {
	for _, size := range []struct {
		name        string
		block, many int
	}{
		{"4KiBx100", 4 << 10, 100},
		{"512KiBx16", 512 << 10, 16},
	} {
		b.Run(size.name, func(b *testing.B) {
			srv := minio.Shared(b)
			awsEnv(b, minio.AccessKey, minio.SecretKey)
			s, err := Open(b.Context(), "s3://"+newBucket()+"?endpoint="+url.QueryEscape(srv.Endpoint))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, size.block)
			rand.Read(data)
			blocks := make([]blockstore.Block, size.many)
			b.SetBytes(int64(size.block * size.many))
			for b.Loop() {
				for i := range blocks {
					blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
				}
				if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size.many*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}
