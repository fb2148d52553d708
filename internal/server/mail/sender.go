package mail

import (
	"context"
	"errors"
	"strings"
)

// A Sender delivers messages. The server calls it when an invitation is created with
// send_email; the invitation exists whatever Send returns.
//
// Send returns one of three things:
//   - nil: the message was handed over (the SMTP server accepted it, or it was written);
//   - an error matching [ErrRecipientRefused]: the SMTP server permanently refused the
//     recipient (a 5xx reply to RCPT TO), so sending again will not help;
//   - an error matching [ErrUnavailable]: anything else (invalid message, cannot connect,
//     TLS failure, STARTTLS or AUTH not offered, authentication failure, timeout, cancelled
//     context, refusal of the sender or of the data, disk error).
//
// The error text says what happened; it never contains a password or the message body.
// Implementations are safe for concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

var (
	// ErrRecipientRefused means the SMTP server refused the recipient.
	ErrRecipientRefused = errors.New("recipient refused")
	// ErrUnavailable means the message could not be sent for any other reason.
	ErrUnavailable = errors.New("mail server unavailable")
)

// sendError is a classified Send error: errors.Is(err, kind) holds, and the cause stays
// reachable with errors.As.
type sendError struct {
	kind error
	msg  string
	err  error
}

func (e *sendError) Error() string { return e.msg }

func (e *sendError) Unwrap() []error {
	if e.err == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.err}
}

// NewSendError returns the error of a Sender that failed: it matches kind (ErrRecipientRefused
// or ErrUnavailable) and cause, and its message is "<where>: <what>[: <cause>]", with secret
// (a password, when not empty) replaced wherever it appears: a server may echo what it
// received.
func NewSendError(kind error, where, what string, cause error, secret string) error {
	msg := where + ": " + what
	if cause != nil {
		msg += ": " + cause.Error()
	}
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "[redacted]")
	}
	return &sendError{kind: kind, msg: msg, err: cause}
}
