package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
)

const (
	// maxAttempts bounds the attempts of one request (the first one and its retries).
	maxAttempts = 5
	// maxBackoff bounds the wait between two attempts. The SDK waits a random time up to
	// 50 ms × 2^retry (1 s × 2^retry when throttled), capped here: a client is waiting.
	maxBackoff = 5 * time.Second
	// bufferLimit is the largest block PutStream reads into memory to send it like Put
	// (signed, retried); larger ones are streamed. It is protocol.MaxBlockSize, the
	// largest block a client may send (a test checks that they agree).
	bufferLimit = 4 << 20
	// batchPuts is how many PutObject requests a PutBatch has in flight at once.
	batchPuts = 16
	// defaultRegion is used when neither the URL nor the SDK's configuration names one.
	defaultRegion = "us-east-1"
	// dialTimeout and responseTimeout bound the wait of one attempt for a connection, and
	// for the head of S3's response once the request is sent: an attempt that S3 does not
	// answer (a server hung, a network dropping packets) is given up, and retried on a new
	// connection. An operation that keeps getting no answer fails after maxAttempts of
	// them, in less than a minute with the back-off between them, so that the server says
	// that its block store is unavailable before its client gives up waiting (after a
	// minute of silence, see internal/client).
	dialTimeout     = 5 * time.Second
	responseTimeout = 8 * time.Second
)

// testOnlyResponseTimeout is responseTimeout, lowered by tests.
var testOnlyResponseTimeout = responseTimeout

// Store is a blockstore.Store in an S3 bucket. It is safe for concurrent use, also by
// several processes sharing the bucket.
type Store struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending with "/"
	closed atomic.Bool

	// bufferLimit is bufferLimit, lowered by tests to exercise streaming.
	bufferLimit int64
}

var _ blockstore.Store = (*Store)(nil)

// location is what a store URL names.
type location struct {
	bucket, endpoint, region, prefix string
}

// parseURL parses s3://BUCKET?endpoint=URL&region=R&prefix=P.
func parseURL(rawURL string) (location, error) {
	bad := func(format string, args ...any) (location, error) {
		return location{}, parsec.Errorf(parsec.Invalid, "block store URL %q: %s", rawURL, fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return bad("%v", err)
	}
	if u.Scheme != "s3" {
		return bad("want s3://BUCKET?endpoint=URL&region=R")
	}
	if u.User != nil || u.Port() != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.Opaque != "" {
		return bad("want s3://BUCKET?endpoint=URL&region=R, the bucket alone after s3://")
	}
	loc := location{bucket: u.Host}
	if !validBucket(loc.bucket) {
		return bad("bucket name %q: want 3 to 63 lowercase letters, digits, '.' and '-'", loc.bucket)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("%v", err)
	}
	for key, values := range q {
		if len(values) != 1 {
			return bad("parameter %q given %d times", key, len(values))
		}
		v := values[0]
		switch key {
		case "endpoint":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return bad("endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", v)
			}
			loc.endpoint = v
		case "region":
			if v == "" {
				return bad("empty region")
			}
			loc.region = v
		case "prefix":
			p := strings.Trim(v, "/")
			if p != "" {
				if !utf8.ValidString(p) || len(p) > 512 {
					return bad("prefix %q: want at most 512 bytes of UTF-8", v)
				}
				for _, elem := range strings.Split(p, "/") {
					if elem == "" || elem == "." || elem == ".." || strings.ContainsFunc(elem, unicode.IsControl) {
						return bad("prefix %q: empty, '.' or '..' element, or control character", v)
					}
				}
				p += "/"
			}
			loc.prefix = p
		default:
			return bad("unknown parameter %q (want endpoint, region, prefix)", key)
		}
	}
	return loc, nil
}

// validBucket reports whether name is a valid S3 bucket name (the rules of AWS, which
// S3-compatible servers follow).
func validBucket(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return !strings.Contains(name, "..")
}

// Open opens the store that rawURL names (see the package documentation), creating its
// bucket if it is missing and the credentials allow it. It checks that the bucket can be
// reached with the credentials, so a wrong endpoint or secret fails here rather than at
// the first block.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	loc, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	// The SDK's client, with more idle connections per host than Go's default 2 (a batch
	// has batchPuts requests in flight to the same host), and bounded waits.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 4 * batchPuts
		tr.ResponseHeaderTimeout = testOnlyResponseTimeout
	}).WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout })
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				// No client-side retry quota: its default (500 tokens, 5 to 14 a
				// retry, 1 back per success) runs dry when S3 sheds load on a few
				// dozen puts at once (a PutBatch, many clients), and then fails
				// every put at its first error, although retrying is what gets the
				// blocks through. maxAttempts and the back-off bound the extra load.
				o.RateLimiter = ratelimit.None
			})
		}),
		// The SDK's default since 2025 adds CRC32 checksums (aws-chunked trailers
		// over TLS) that several S3-compatible servers refuse; a signed SHA-256 of the
		// body (over plain HTTP) or TLS protects blocks in transit, and blocks are
		// authenticated ciphertext anyway.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if loc.region != "" {
		opts = append(opts, config.WithRegion(loc.region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("open block store %q: load the AWS configuration: %w", rawURL, err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if loc.endpoint != "" {
			o.BaseEndpoint = aws.String(loc.endpoint)
			o.UsePathStyle = true
		}
	})
	s := &Store{client: client, bucket: loc.bucket, prefix: loc.prefix, bufferLimit: bufferLimit}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		s.Close()
		return nil, fmt.Errorf("open block store %q: %w", rawURL, err)
	}
	return s, nil
}

// ensureBucket checks that the bucket exists and can be reached, and creates it if it is
// missing.
func (s *Store) ensureBucket(ctx context.Context, region string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	switch httpStatus(err) {
	case http.StatusNotFound:
	case http.StatusForbidden:
		// S3 answers a HEAD without a body: say what may be wrong.
		return fmt.Errorf("bucket %q: access denied (check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; they must allow s3:ListBucket): %w", s.bucket, err)
	default:
		return fmt.Errorf("bucket %q: %w", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if region != defaultRegion {
		// AWS wants the region named, except us-east-1 that it refuses to see named.
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	_, err = s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) { // created meanwhile by another process: fine
		return fmt.Errorf("bucket %q is missing and cannot be created: %w", s.bucket, err)
	}
	return nil
}

// httpStatus returns the HTTP status of the S3 response that err reports, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// key returns the object key of a block, after checking that the store is open, ctx is
// not done and org is acceptable. op and the IDs give errors their context.
func (s *Store) key(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) (string, error) {
	if s.closed.Load() {
		return "", parsec.Errorf(parsec.Unavailable, "%s block %s of organization %q: block store closed", op, id, org)
	}
	if err := ctx.Err(); err != nil {
		return "", parsec.Errorf(parsec.Cancelled, "%s block %s of organization %q: %w", op, id, org, err)
	}
	if err := blockstore.CheckOrganization(org); err != nil {
		return "", fmt.Errorf("%s block %s: %w", op, id, err)
	}
	return s.prefix + string(org) + "/" + id.String(), nil
}

// wrap gives an S3 error its context and kind.
func wrap(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID, err error) error {
	var pe *parsec.Error
	var ae smithy.APIError
	switch {
	case ctx.Err() != nil:
		return parsec.Errorf(parsec.Cancelled, "%s block %s of organization %q: %w", op, id, org, ctx.Err())
	case errors.As(err, &pe):
		return parsec.Errorf(pe.Kind, "%s block %s of organization %q: %w", op, id, org, err)
	case httpStatus(err) == http.StatusNotFound && !(errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket"):
		return parsec.Errorf(parsec.NotFound, "%s block %s of organization %q: no such block", op, id, org)
	}
	return fmt.Errorf("%s block %s of organization %q: %w", op, id, org, err)
}

// put stores data under key, signed and retried.
func (s *Store) put(ctx context.Context, key string, data []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	return err
}

// Put implements blockstore.Store.
func (s *Store) Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error {
	key, err := s.key(ctx, "put", org, id)
	if err != nil {
		return err
	}
	if err := s.put(ctx, key, data); err != nil {
		return wrap(ctx, "put", org, id, err)
	}
	return nil
}

// PutBatch implements blockstore.Store. It has up to batchPuts PutObject requests in
// flight at once; after the first failure, it starts no more.
func (s *Store) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	if len(blocks) == 0 {
		// Nothing to write, but the same answer as a batch would get if the store is
		// closed, ctx done or org refused.
		_, err := s.key(ctx, "put", org, parsec.BlockID{})
		return err
	}
	keys := make([]string, len(blocks))
	seen := make(map[parsec.BlockID]bool, len(blocks))
	for i, b := range blocks {
		key, err := s.key(ctx, "put", org, b.ID)
		if err != nil {
			return err
		}
		if seen[b.ID] {
			return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: twice in one batch", b.ID, org)
		}
		seen[b.ID] = true
		keys[i] = key
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(batchPuts)
	for i, b := range blocks {
		g.Go(func() error {
			if gctx.Err() != nil {
				return nil // an earlier put failed (its error is the batch's) or ctx is done
			}
			if err := s.put(gctx, keys[i], b.Data); err != nil {
				return wrap(ctx, "put", org, b.ID, err)
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil && ctx.Err() != nil {
		err = parsec.Errorf(parsec.Cancelled, "put %d blocks of organization %q: %w", len(blocks), org, ctx.Err())
	}
	return err
}

// PutStream implements blockstore.Store. A block of up to s.bufferLimit bytes is read
// into memory first, then put like Put; a larger one is streamed, unsigned and without
// retries, and the stream fails before its last byte if the reader has too few or too
// many, so that S3 never completes the object.
func (s *Store) PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error {
	key, err := s.key(ctx, "put", org, id)
	if err != nil {
		return err
	}
	if size < 0 {
		return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: negative size %d", id, org, size)
	}
	if size <= s.bufferLimit {
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = errShort(size)
			}
			return wrap(ctx, "put", org, id, err)
		}
		if err := blockstore.CheckEnd(r, size); err != nil {
			return wrap(ctx, "put", org, id, err)
		}
		err = s.put(ctx, key, data)
	} else {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           &key,
			Body:          &exactReader{r: r, size: size, left: size},
			ContentLength: aws.Int64(size),
		}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware), func(o *s3.Options) {
			o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) // the reader cannot be rewound
		})
	}
	if err != nil {
		return wrap(ctx, "put", org, id, err)
	}
	return nil
}

func errShort(size int64) error {
	return parsec.Errorf(parsec.Invalid, "block shorter than its announced size %d", size)
}

// exactReader yields the size bytes of r, failing if r has fewer or more. It checks that
// r is at its end before it yields its last bytes, so that a request carrying it never
// sends a complete body for a reader that turns out too long.
type exactReader struct {
	r          io.Reader
	size, left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	if int64(n) == e.left {
		if err := blockstore.CheckEnd(e.r, e.size); err != nil {
			return 0, err
		}
		e.left = 0
		return n, io.EOF
	}
	e.left -= int64(n)
	if err == io.EOF {
		return 0, errShort(e.size)
	}
	return n, err
}

// Get implements blockstore.Store.
func (s *Store) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	rc, size, err := s.open(ctx, "get", org, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(rc, data); err != nil {
		return nil, wrap(ctx, "get", org, id, err)
	}
	return data, nil
}

// Open implements blockstore.Store. The reader is the body of S3's response: it reads
// the object as it was when Open was called, and fails if ctx is done before it is read.
func (s *Store) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	return s.open(ctx, "open", org, id)
}

func (s *Store) open(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	key, err := s.key(ctx, op, org, id)
	if err != nil {
		return nil, 0, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return nil, 0, wrap(ctx, op, org, id, err)
	}
	if out.ContentLength == nil || *out.ContentLength < 0 {
		out.Body.Close()
		return nil, 0, fmt.Errorf("%s block %s of organization %q: S3 announced no size", op, id, org)
	}
	return out.Body, *out.ContentLength, nil
}

// Delete implements blockstore.Store. S3 deletes missing objects without complaint, so
// Delete asks first whether the block exists: of two concurrent Deletes of one block,
// both may succeed.
func (s *Store) Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error {
	key, err := s.key(ctx, "delete", org, id)
	if err != nil {
		return err
	}
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return wrap(ctx, "delete", org, id, err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return wrap(ctx, "delete", org, id, err)
	}
	return nil
}

// Close implements blockstore.Store. It only makes later calls fail (idle connections
// close on their own after 90 s; readers returned by Open keep theirs); it returns nil.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
