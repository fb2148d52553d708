package protocol

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Request is the body of every RPC: the command name and its arguments.
type Request struct {
	Cmd string           `cbor:"cmd"`
	Req codec.RawMessage `cbor:"req"`
}

// Reply is the body of every RPC answer. HTTP status is 200 for every business outcome;
// Status says which. Rep holds the command's reply when Status is "ok"; Message explains
// any other status in one sentence, and Detail carries the values some statuses come with.
type Reply struct {
	Status  Status           `cbor:"status"`
	Message string           `cbor:"message,omitempty"`
	Rep     codec.RawMessage `cbor:"rep,omitempty"`
	Detail  *ErrorDetail     `cbor:"detail,omitempty"`
}

// ErrorDetail carries the values attached to some statuses.
type ErrorDetail struct {
	// require_greater_timestamp: retry with a timestamp strictly greater than this.
	StrictlyGreaterThan parsec.DateTime `cbor:"strictly_greater_than,omitempty"`
	// timestamp_out_of_ballpark.
	ServerTimestamp parsec.DateTime `cbor:"server_timestamp,omitempty"`
	ClientTimestamp parsec.DateTime `cbor:"client_timestamp,omitempty"`
	// Idempotent "already done" outcomes: the last certificate timestamp of the topic, so the
	// client can fetch certificates and converge.
	LastCertificateTimestamp parsec.DateTime `cbor:"last_certificate_timestamp,omitempty"`
	// greeting_attempt_cancelled and greeting_attempt_already_cancelled.
	AttemptCancelled *AttemptCancelled `cbor:"attempt_cancelled,omitempty"`
	// Data statuses about one item of a batch.
	VlobID  *parsec.VlobID  `cbor:"vlob_id,omitempty"`
	BlockID *parsec.BlockID `cbor:"block_id,omitempty"`
}

// EncodeRequest builds an RPC body.
func EncodeRequest(cmd string, req any) ([]byte, error) {
	// One pass, the same bytes as Request{Cmd, Req: Marshal(req)}: bodies carry megabytes
	// of blocks, which are better not copied twice.
	b, err := codec.MarshalSized(struct {
		Cmd string `cbor:"cmd"`
		Req any    `cbor:"req"`
	}{cmd, req}, sizeHint(req))
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", cmd, err)
	}
	return b, nil
}

// EncodeRequestTo is EncodeRequest appending to buf (grown once to the size the
// request announces), so that a client can reuse one buffer for every request.
func EncodeRequestTo(buf *bytes.Buffer, cmd string, req any) error {
	buf.Grow(sizeHint(req))
	err := codec.MarshalTo(buf, struct {
		Cmd string `cbor:"cmd"`
		Req any    `cbor:"req"`
	}{cmd, req})
	if err != nil {
		return fmt.Errorf("encode %s request: %w", cmd, err)
	}
	return nil
}

// The limits within which a server decodes a request (UnmarshalRequest); codec.Unmarshal
// allows 2^20 elements per array and pairs per map, and a 1 MiB vlob_write announcing 2^20
// empty items cost 64 MiB decoded (structs of 56 bytes for one byte each) before its
// items were counted.
//
// The longest arrays a legitimate request carries are batches of at most MaxBatchItems
// (vlobs, versions, block IDs, blocks) and the share certificates of a shared-recovery
// setup (at most 255, certif.MaxRecoveryShares): four times a batch leaves room for a
// larger batch while bounding an array's cost to a few hundred KiB.
//
// The largest maps are keyed by 16-byte IDs: one keys-bundle access per member of a realm
// (realm_rotate_key; each sealed with an ML-KEM-768 + X25519 encapsulation of 1,120
// bytes, so a MaxBodySize body holds fewer than 15,000), and one entry per realm or
// shared-recovery topic the device knows (certificate_get, 26 bytes each). Other maps are
// structs of a few fields. 2^18 pairs is far above both; a pair of these maps takes at
// least 18 bytes encoded and about 5 times that decoded, so maps never had the 56-fold
// cost of arrays.
const (
	MaxRequestArrayElements = 4 * MaxBatchItems
	MaxRequestMapPairs      = 1 << 18
)

var requestDecoder = codec.NewDecoder(MaxRequestArrayElements, MaxRequestMapPairs)

// UnmarshalRequest decodes an RPC request body, or part of one, strictly (as
// codec.Unmarshal) within the limits of requests: an array or a map longer than a
// legitimate request carries is refused at its header, before anything is allocated for
// it. It is how a server decodes what it receives; replies, which may be longer (a poll of
// changes lists up to MaxPollChanges), keep codec's limits.
func UnmarshalRequest(body []byte, v any) error { return requestDecoder.Unmarshal(body, v) }

// RequestCommand returns the command named in an RPC body, without decoding its
// arguments (the server then decodes the whole body, envelope and arguments, in one pass).
func RequestCommand(body []byte) (string, error) {
	var r struct {
		Cmd string `cbor:"cmd"`
	}
	if err := codec.UnmarshalLenient(body, &r); err != nil {
		return "", fmt.Errorf("malformed request: %w", err)
	}
	if r.Cmd == "" {
		return "", fmt.Errorf("malformed request: no command")
	}
	return r.Cmd, nil
}

// DecodeRequest reads the envelope of an RPC body; the arguments stay encoded until the
// command is known.
func DecodeRequest(body []byte) (Request, error) {
	var r Request
	if err := UnmarshalRequest(body, &r); err != nil {
		return r, fmt.Errorf("malformed request: %w", err)
	}
	if r.Cmd == "" {
		return r, fmt.Errorf("malformed request: no command")
	}
	return r, nil
}

// OK builds a successful reply.
func OK(rep any) ([]byte, error) {
	// One pass, the same bytes as Reply{Status: ok, Rep: Marshal(rep)}.
	return codec.MarshalSized(struct {
		Status Status `cbor:"status"`
		Rep    any    `cbor:"rep"`
	}{StatusOK, rep}, sizeHint(rep))
}

// sizeHinter is a request or reply that can tell about how large its encoding is (those
// carrying blocks and blobs).
type sizeHinter interface{ sizeHint() int }

func sizeHint(v any) int {
	if h, ok := v.(sizeHinter); ok {
		return h.sizeHint() + 256
	}
	return 256
}

// StatusError is a non-ok reply seen as an error by the client library.
type StatusError struct {
	Status  Status
	Message string
	Detail  ErrorDetail
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return "server refused: " + string(e.Status)
}

// Kind classifies the status for the CLI and the other interfaces.
func (e *StatusError) Kind() parsec.Kind { return StatusKind(e.Status) }

// Unwrap lets parsec.KindOf see the kind.
func (e *StatusError) Unwrap() error { return &parsec.Error{Kind: e.Kind(), Msg: e.Error()} }

// Errorf builds a StatusError with a message.
func Errorf(status Status, format string, args ...any) *StatusError {
	return &StatusError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// EncodeError builds the reply for a StatusError.
func EncodeError(e *StatusError) []byte {
	r := Reply{Status: e.Status, Message: e.Message}
	if e.Detail != (ErrorDetail{}) {
		d := e.Detail
		r.Detail = &d
	}
	return codec.MustMarshal(r)
}

// DecodeReply reads a reply; a non-ok status becomes a *StatusError, an ok one is decoded
// into rep (which may be nil when the command returns nothing).
func DecodeReply(body []byte, rep any) error {
	if rep == nil {
		var r Reply
		if err := codec.UnmarshalLenient(body, &r); err != nil {
			return parsec.Errorf(parsec.Tampered, "malformed reply from the server: %v", err)
		}
		return replyError(r.Status, r.Message, r.Detail)
	}
	// Decode the envelope and the command's reply in one pass (no copy of the reply's
	// bytes in between), through an envelope type made for rep's type.
	target := reflect.ValueOf(rep)
	if target.Kind() != reflect.Pointer || target.IsNil() {
		return fmt.Errorf("protocol: DecodeReply needs a non-nil pointer, not %T", rep)
	}
	env := reflect.New(replyEnvelope(target.Type().Elem()))
	if err := codec.UnmarshalLenient(body, env.Interface()); err != nil {
		return parsec.Errorf(parsec.Tampered, "malformed reply from the server: %v", err)
	}
	e := env.Elem()
	if err := replyError(Status(e.Field(0).String()), e.Field(1).String(), e.Field(3).Interface().(*ErrorDetail)); err != nil {
		return err
	}
	target.Elem().Set(e.Field(2))
	return nil
}

// replyError is the error for a non-ok status (nil for ok).
func replyError(status Status, message string, detail *ErrorDetail) error {
	if status == StatusOK {
		return nil
	}
	e := &StatusError{Status: status, Message: message}
	if detail != nil {
		e.Detail = *detail
	}
	return e
}

// replyEnvelopes caches, per reply type T, the type struct{status; message; rep T; detail}.
var replyEnvelopes sync.Map

func replyEnvelope(t reflect.Type) reflect.Type {
	if env, ok := replyEnvelopes.Load(t); ok {
		return env.(reflect.Type)
	}
	env := reflect.StructOf([]reflect.StructField{
		{Name: "Status", Type: reflect.TypeFor[Status](), Tag: `cbor:"status"`},
		{Name: "Message", Type: reflect.TypeFor[string](), Tag: `cbor:"message,omitempty"`},
		{Name: "Rep", Type: t, Tag: `cbor:"rep,omitempty"`},
		{Name: "Detail", Type: reflect.TypeFor[*ErrorDetail](), Tag: `cbor:"detail,omitempty"`},
	})
	replyEnvelopes.Store(t, env)
	return env
}
