package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// APIVersion is the protocol version this build speaks. A server accepts any client whose
// major version it supports and answers 422 otherwise. Version 2 hashes a block_create
// body block by block for its signature (BodyHash), and file manifests give the digests of
// encrypted blocks: a client and a server of version 1 would refuse each other's uploads as
// badly signed. Version 2.1 hashes blocks with BLAKE3 (the manifests' digests and the
// block_create signature): a server of 2.1 checks a 2.0 client's uploads as 2.0 signed them,
// a server of 2.0 refuses a 2.1 client's as badly signed. (Its clients also encrypt blocks
// with AES-256-GCM where the processor has instructions for it, which only other clients
// see: manifest.BlockAccess.Cipher.)
const (
	APIMajor   = 2
	APIMinor   = 1
	APIVersion = "2.1"
)

// HTTP headers and content types.
const (
	HeaderAPIVersion          = "Api-Version"
	HeaderSupportedAPIVersion = "Supported-Api-Versions"
	HeaderAuthorization       = "Authorization"
	HeaderLastEventID         = "Last-Event-ID"
	ContentType               = "application/cbor"
	EventStreamType           = "text/event-stream"
)

// MaxBodySize is the largest RPC body the server reads from an authenticated device (413
// beyond).
const MaxBodySize = 16 << 20

// MaxUnauthenticatedBodySize is the largest RPC body of the anonymous and invited families
// (organization bootstrap, invitation claims: certificates and small encrypted payloads),
// so that whoever knows an organization's name cannot make the server hold megabytes.
const MaxUnauthenticatedBodySize = 256 << 10

// Routes, with {org} the organization ID (path-escaped).
const (
	RouteAnonymous     = "/anonymous/"
	RouteInvited       = "/invited/"
	RouteAuthenticated = "/authenticated/"
	RouteEventsSuffix  = "/events"
	RouteAdmin         = "/administration/"
	RouteRedirect      = "/redirect/"
	RouteHealth        = "/healthz"
)

// Handshake statuses: the server answers these with an HTTP code and no RPC body.
const (
	HTTPUnauthorized       = 401 // missing or malformed Authorization
	HTTPForbidden          = 403 // unknown device or token, bad signature
	HTTPNotFound           = 404 // organization not found
	HTTPNotAcceptable      = 406 // events without Accept: text/event-stream
	HTTPReplayed           = 409 // signed request already received (replay), or too old to tell
	HTTPGone               = 410 // invitation already used or cancelled
	HTTPTooLarge           = 413 // body larger than MaxBodySize
	HTTPUnsupportedType    = 415 // wrong Content-Type, undecodable body, unknown command
	HTTPUnsupportedVersion = 422 // missing or unsupported Api-Version
	HTTPTooManyRequests    = 429 // too many requests or event streams at once from a device or address
	HTTPExpired            = 460 // organization expired
	HTTPRevoked            = 461 // user revoked
	HTTPFrozen             = 462 // user frozen
	HTTPClockSkew          = 498 // request timestamp outside the ballpark
	HTTPUnavailable        = 503
)

// ParseAPIVersion reads "major.minor".
func ParseAPIVersion(s string) (major, minor int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return 0, 0, fmt.Errorf("invalid API version %q", s)
	}
	if major, err = strconv.Atoi(a); err != nil || major < 0 {
		return 0, 0, fmt.Errorf("invalid API version %q", s)
	}
	if minor, err = strconv.Atoi(b); err != nil || minor < 0 {
		return 0, 0, fmt.Errorf("invalid API version %q", s)
	}
	return major, minor, nil
}

// Ballpark: a request or certificate timestamp is accepted if the client's clock is at most
// BallparkEarly ahead of the server's or BallparkLate behind it.
const (
	BallparkEarlySeconds = 300
	BallparkLateSeconds  = 320
)
