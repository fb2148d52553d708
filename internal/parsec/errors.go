package parsec

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that each interface decides its reaction in one place: the
// server its HTTP status or reply status, the CLI its exit code, the mount its errno.
type Kind uint8

const (
	Other        Kind = iota // unclassified
	Invalid                  // malformed or unacceptable input
	NotFound                 // no such organization, user, device, invitation, file...
	Exists                   // already exists / already done
	Permission               // the caller's profile or role does not allow it
	Unauthorized             // missing or malformed credentials
	BadAuth                  // wrong credentials: bad signature, unknown device, wrong password
	Skew                     // timestamp outside the accepted ballpark
	Expired                  // organization expired
	Revoked                  // user revoked
	Frozen                   // user frozen by the server administrator
	Gone                     // invitation already used or cancelled
	TooLarge                 // request body too large
	Unavailable              // server unreachable or shutting down
	Tampered                 // data from the server failed validation: a lying server
	Conflict                 // concurrent change; retry with fresher state
	Cancelled                // operation cancelled by a person or a peer
)

var kindNames = [...]string{
	Other: "error", Invalid: "invalid", NotFound: "not found", Exists: "already exists",
	Permission: "not allowed", Unauthorized: "unauthorized", BadAuth: "bad credentials",
	Skew: "clock skew", Expired: "organization expired", Revoked: "user revoked",
	Frozen: "user frozen", Gone: "gone", TooLarge: "too large", Unavailable: "unavailable",
	Tampered: "tampered", Conflict: "conflict", Cancelled: "cancelled",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an error with a Kind. Its message is complete on its own (context first,
// offending value quoted); the kind is not repeated in it. Err, when set, is the cause,
// already included in Msg.
type Error struct {
	Kind Kind
	Msg  string
	Err  error // optional cause, for errors.Is/As
}

func (e *Error) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind. A %w verb keeps the cause.
func Errorf(kind Kind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// KindOf returns the kind of the first *Error in err's chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Other
}

// IsKind reports whether err's kind is k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Wrap puts context in front of err ("context: err") and keeps err's kind and err itself
// in the chain, so that nobody carries kinds by hand. A nil err stays nil.
func Wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindOf(err), Msg: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

// StopsBatch reports whether err makes going on with a batch (revoking several users,
// syncing several workspaces) pointless: the server lied, this user is revoked or frozen,
// the organization expired, or the server cannot be reached.
func StopsBatch(err error) bool {
	switch KindOf(err) {
	case Tampered, Revoked, Frozen, Expired, Unavailable:
		return true
	}
	return false
}
