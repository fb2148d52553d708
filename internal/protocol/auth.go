package protocol

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// AuthScheme prefixes the Authorization header of authenticated requests:
//
//	Authorization: PARSEC-SIGN-ED25519 <device ID hex>.<timestamp µs>.<signature base64url>
//
// The signature covers the method, the path, the timestamp and the SHA-256 of the body
// (RequestMessage), so a captured header cannot be reused for another request, and a
// request cannot be replayed once outside the ballpark window.
const AuthScheme = "PARSEC-SIGN-ED25519"

// InvitedScheme prefixes the Authorization header of the invited family:
// "Bearer <invitation token hex>".
const InvitedScheme = "Bearer"

const requestDomain = "parsec/1/request"

// RequestMessage is the byte string a device signs for one request.
func RequestMessage(method, path string, ts parsec.DateTime, body []byte) []byte {
	sum := crypto.Sum(body)
	return []byte(method + "\n" + path + "\n" + strconv.FormatInt(int64(ts), 10) + "\n" + hex.EncodeToString(sum[:]))
}

// SignRequest returns the Authorization header value for a request.
func SignRequest(key crypto.SigningKey, device parsec.DeviceID, method, path string, ts parsec.DateTime, body []byte) string {
	sig := key.Sign(requestDomain, RequestMessage(method, path, ts, body))
	return AuthScheme + " " + device.String() + "." + strconv.FormatInt(int64(ts), 10) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// DeviceAuth is a parsed Authorization header; the signature is not checked yet.
type DeviceAuth struct {
	Device    parsec.DeviceID
	Timestamp parsec.DateTime
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
	if len(parts) != 3 {
		return a, fmt.Errorf("authorization: want <device>.<timestamp>.<signature>")
	}
	dev, err := parsec.ParseDeviceID(parts[0])
	if err != nil || len(parts[0]) != 32 {
		return a, fmt.Errorf("authorization: bad device ID %q", parts[0])
	}
	ts, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || ts <= 0 {
		return a, fmt.Errorf("authorization: bad timestamp %q", parts[1])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != crypto.SignatureSize {
		return a, fmt.Errorf("authorization: bad signature encoding")
	}
	return DeviceAuth{Device: dev, Timestamp: parsec.DateTime(ts), Signature: sig}, nil
}

// Verify checks the signature against the device's verify key.
func (a DeviceAuth) Verify(vk crypto.VerifyKey, method, path string, body []byte) error {
	return vk.Verify(requestDomain, RequestMessage(method, path, a.Timestamp, body), a.Signature)
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
