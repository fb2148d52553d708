// Package s3 implements blockstore.Store on S3-compatible object storage (AWS S3, MinIO,
// Ceph RGW, …), for servers that outgrow one machine: several stateless `parsec server`
// processes share one bucket.
//
// A store is named by a URL, s3://BUCKET?endpoint=URL&region=R&prefix=P (every parameter
// optional): endpoint selects an S3-compatible server (then addressed path-style,
// http://host/bucket/key), region defaults to the SDK's (AWS_REGION, the shared config
// file) or else us-east-1. Credentials come from the SDK's default chain: the standard AWS
// environment variables, the shared files (~/.aws), SSO, an instance role. They must allow
// s3:ListBucket (HeadBucket, and the 404 that tells a missing block from a forbidden one),
// s3:GetObject, s3:PutObject and s3:DeleteObject; and s3:CreateBucket if Open is to create
// the bucket when it is missing. AWS_CA_BUNDLE, when set, must name a readable file.
//
// Layout: the block (org, id) is the object <prefix>/<organization ID>/<32 hex digits>
// (without the prefix, <organization ID>/<32 hex digits>). A PutObject is atomic: an
// object is either absent, the complete previous block or the complete new one, and a
// block is acknowledged only once PutObject returned success, that is once S3 holds it
// durably. Use a bucket without versioning (or with a lifecycle rule that expires
// noncurrent versions): blocks are overwritten and deleted in place, and old versions
// would otherwise pile up. Delete asks first whether the block exists (S3 deletes a
// missing object without complaint), so of two concurrent Deletes both may succeed.
//
// Transient failures (5xx, throttling, broken connections) are retried by the SDK's
// standard retryer, with exponential back-off and jitter (maxAttempts attempts, at most
// maxBackoff between two), without its client-side retry quota (see Open); an attempt that
// gets no connection within dialTimeout, or no answer within responseTimeout of its request,
// is given up and retried, so that an operation on a store that hangs fails within a minute.
// Put, PutBatch, and PutStream of a block up to bufferLimit bytes (4 MiB,
// protocol.MaxBlockSize, the largest block a client may send) send a signed, seekable body
// and are retried;
// PutStream of a larger block streams it with an unsigned payload (UNSIGNED-PAYLOAD)
// without holding it in memory, and cannot be retried since its reader cannot be rewound.
//
// Like every blockstore, it stores opaque encrypted bytes and never looks inside them.
// Organization IDs are validated upstream, but this package refuses on its own any ID
// that could make a key ambiguous or escape its prefix ("", ".", "..", one containing '/',
// '\\', a control character or invalid UTF-8, or longer than 255 bytes).
package s3
