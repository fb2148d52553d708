package protocol

import (
	"fmt"

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
	Status  string           `cbor:"status"`
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
	raw, err := codec.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode %s request: %w", cmd, err)
	}
	return codec.Marshal(Request{Cmd: cmd, Req: raw})
}

// DecodeRequest reads the envelope of an RPC body; the arguments stay encoded until the
// command is known.
func DecodeRequest(body []byte) (Request, error) {
	var r Request
	if err := codec.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("malformed request: %w", err)
	}
	if r.Cmd == "" {
		return r, fmt.Errorf("malformed request: no command")
	}
	return r, nil
}

// OK builds a successful reply.
func OK(rep any) ([]byte, error) {
	raw, err := codec.Marshal(rep)
	if err != nil {
		return nil, err
	}
	return codec.Marshal(Reply{Status: StatusOK, Rep: raw})
}

// StatusError is a non-ok reply seen as an error by the client library.
type StatusError struct {
	Status  string
	Message string
	Detail  ErrorDetail
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return "server refused: " + e.Status
}

// Kind classifies the status for the CLI and the other interfaces.
func (e *StatusError) Kind() parsec.Kind { return StatusKind(e.Status) }

// Unwrap lets parsec.KindOf see the kind.
func (e *StatusError) Unwrap() error { return &parsec.Error{Kind: e.Kind(), Msg: e.Error()} }

// Errorf builds a StatusError with a message.
func Errorf(status, format string, args ...any) *StatusError {
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
	var r Reply
	if err := codec.UnmarshalLenient(body, &r); err != nil {
		return parsec.Errorf(parsec.Tampered, "malformed reply from the server: %v", err)
	}
	if r.Status != StatusOK {
		e := &StatusError{Status: r.Status, Message: r.Message}
		if r.Detail != nil {
			e.Detail = *r.Detail
		}
		return e
	}
	if rep == nil {
		return nil
	}
	if err := codec.UnmarshalLenient(r.Rep, rep); err != nil {
		return parsec.Errorf(parsec.Tampered, "malformed reply from the server: %v", err)
	}
	return nil
}
