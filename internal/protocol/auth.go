package protocol

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// AuthScheme prefixes the Authorization header of authenticated requests:
//
//	Authorization: PARSEC-SIGN-ED25519 <device ID hex>.<timestamp µs>.<body SHA-256 hex>.<signature base64url>
//
// The signature covers the method, the path, the timestamp and the SHA-256 of the body
// (RequestMessage), so a captured header cannot be reused for another request, and a
// request cannot be replayed once outside the ballpark window (the server also refuses
// a second use of a signature within it). The body's hash travels in the header so that
// the server checks the signature before it reads a byte of the body, then checks the
// body against the hash.
const AuthScheme = "PARSEC-SIGN-ED25519"

// InvitedScheme prefixes the Authorization header of the invited family:
// "Bearer <invitation token hex>".
const InvitedScheme = "Bearer"

const requestDomain = "parsec/1/request"

// RequestMessage is the byte string a device signs for one request.
func RequestMessage(method, path string, ts parsec.DateTime, body []byte) []byte {
	return requestMessage(method, path, ts, crypto.Sum(body))
}

func requestMessage(method, path string, ts parsec.DateTime, bodyHash [32]byte) []byte {
	return []byte(method + "\n" + path + "\n" + strconv.FormatInt(int64(ts), 10) + "\n" + hex.EncodeToString(bodyHash[:]))
}

// SignRequest returns the Authorization header value for a request.
func SignRequest(key crypto.SigningKey, device parsec.DeviceID, method, path string, ts parsec.DateTime, body []byte) string {
	sum := crypto.Sum(body)
	sig := key.Sign(requestDomain, requestMessage(method, path, ts, sum))
	return DeviceAuth{Device: device, Timestamp: ts, BodyHash: sum, Signature: sig}.Header()
}

// Header formats a as an Authorization header value (ParseDeviceAuth reads it back).
func (a DeviceAuth) Header() string {
	return AuthScheme + " " + a.Device.String() + "." + strconv.FormatInt(int64(a.Timestamp), 10) + "." + hex.EncodeToString(a.BodyHash[:]) +
		"." + base64.RawURLEncoding.EncodeToString(a.Signature)
}

// DeviceAuth is a parsed Authorization header; the signature is not checked yet.
type DeviceAuth struct {
	Device    parsec.DeviceID
	Timestamp parsec.DateTime
	BodyHash  [32]byte // SHA-256 of the body, as the device says
	Signature []byte
}

// ParseDeviceAuth parses an authenticated Authorization header. Any malformation is an
// error (the server answers 401).
func ParseDeviceAuth(h string) (DeviceAuth, error) {
	var a DeviceAuth
	rest, ok := strings.CutPrefix(h, AuthScheme+" ")
	if !ok {
		return a, fmt.Errorf("authorization: want scheme %s", AuthScheme)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return a, fmt.Errorf("authorization: want <device>.<timestamp>.<body hash>.<signature>")
	}
	dev, err := parsec.ParseDeviceID(parts[0])
	if err != nil || len(parts[0]) != 32 {
		return a, fmt.Errorf("authorization: bad device ID %q", parts[0])
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ts <= 0 {
		return a, fmt.Errorf("authorization: bad timestamp %q", parts[1])
	}
	var sum [32]byte
	if len(parts[2]) != hex.EncodedLen(len(sum)) {
		return a, fmt.Errorf("authorization: bad body hash")
	}
	if _, err := hex.Decode(sum[:], []byte(parts[2])); err != nil {
		return a, fmt.Errorf("authorization: bad body hash")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[3])
	if err != nil || len(sig) != crypto.SignatureSize {
		return a, fmt.Errorf("authorization: bad signature encoding")
	}
	return DeviceAuth{Device: dev, Timestamp: parsec.DateTime(ts), BodyHash: sum, Signature: sig}, nil
}

// VerifyHeader checks the signature against the device's verify key, for the body hash
// the header carries: the body itself is not needed (see CheckBody).
func (a DeviceAuth) VerifyHeader(vk crypto.VerifyKey, method, path string) error {
	return vk.Verify(requestDomain, requestMessage(method, path, a.Timestamp, a.BodyHash), a.Signature)
}

// CheckBody checks that body is the one whose hash was signed.
func (a DeviceAuth) CheckBody(body []byte) error {
	return a.CheckBodyHash(crypto.Sum(body))
}

// NewBodyHash returns the hash of bodies that signatures cover (SHA-256), for a reader
// that hashes a body as it streams (see CheckBodyHash).
func NewBodyHash() hash.Hash { return sha256.New() }

// CheckBodyHash is CheckBody given the body's hash, computed as the body arrived.
func (a DeviceAuth) CheckBodyHash(sum [32]byte) error {
	if subtle.ConstantTimeCompare(sum[:], a.BodyHash[:]) != 1 {
		return errors.New("authorization: the body does not match the signed hash")
	}
	return nil
}

// Verify checks the signature and the body: VerifyHeader then CheckBody.
func (a DeviceAuth) Verify(vk crypto.VerifyKey, method, path string, body []byte) error {
	if err := a.VerifyHeader(vk, method, path); err != nil {
		return err
	}
	return a.CheckBody(body)
}

// InBallpark reports whether a client timestamp is acceptable at server time now.
func InBallpark(client, now parsec.DateTime) bool {
	d := now.Sub(client).Seconds()
	return d > -BallparkEarlySeconds && d < BallparkLateSeconds
}

// ParseInvitedAuth parses "Bearer <token hex>".
func ParseInvitedAuth(h string) (parsec.AccessToken, error) {
	rest, ok := strings.CutPrefix(h, InvitedScheme+" ")
	if !ok {
		return parsec.AccessToken{}, fmt.Errorf("authorization: want scheme %s", InvitedScheme)
	}
	if len(rest) != 32 {
		return parsec.AccessToken{}, fmt.Errorf("authorization: bad token")
	}
	return parsec.ParseAccessToken(rest)
}
