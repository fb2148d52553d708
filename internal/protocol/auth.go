package protocol

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// AuthScheme prefixes the Authorization header of authenticated requests:
//
//	Authorization: PARSEC-SIGN-ED25519 <device ID hex>.<timestamp µs>.<body hash hex>.<signature base64url>
//
// The signature covers the method, the path, the timestamp and the hash of the body
// (RequestMessage, BodyHash), so a captured header cannot be reused for another request, and a
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
	return requestMessage(method, path, ts, BodyHash(body))
}

// BodyHash is the hash of a request body that the request's signature covers: the body's
// SHA-256, except for a block_create request laid out exactly as BlockBatch writes it (it
// decodes strictly as one, and re-encodes to the same bytes), which is hashed block by
// block: the SHA-256 of its realm, key index and number of blocks, then of each block's ID,
// length and BLAKE3 (blocksHash). A block's BLAKE3 is also the digest its file manifest
// carries, so a writer hashes each block once for both, and BlockBatch gives the hash
// without hashing the body again. Since only the one layout of a request is hashed block by
// block, two different bodies never have the same hash.
func BodyHash(body []byte) [32]byte { return bodyHash(body, APIMinor) }

// bodyHash is BodyHash as a client of minor version minor of APIMajor computes it: before
// 2.1, each block's SHA-256 in place of its BLAKE3.
func bodyHash(body []byte, minor int) [32]byte {
	if bytes.HasPrefix(body, batchPrefix) {
		var env struct {
			Cmd string          `cbor:"cmd"`
			Req *BlockCreateReq `cbor:"req"`
		}
		if UnmarshalRequest(body, &env) == nil && env.Cmd == CmdBlockCreate && env.Req != nil && isBatchLayout(body, env.Req) {
			blocks := env.Req.Blocks
			sum, domain := crypto.SumBLAKE3, blocksDomain
			if minor < 1 {
				sum, domain = crypto.Sum, blocksDomainSHA256
			}
			return blocksHash(domain, env.Req.RealmID, env.Req.KeyIndex, len(blocks), func(i int) (parsec.BlockID, int, crypto.Digest) {
				return blocks[i].BlockID, len(blocks[i].Data), sum(blocks[i].Data)
			})
		}
	}
	return crypto.Sum(body)
}

// The domains of blocksHash: with each block's BLAKE3 (API 2.1), with its SHA-256 (2.0).
const (
	blocksDomain       = "parsec/2.1/block_create\n"
	blocksDomainSHA256 = "parsec/1/block_create\n"
)

// blocksHash hashes n blocks of a block_create request given each one's ID, length and
// digest; every field has a fixed size, so two different requests never hash the same
// bytes.
func blocksHash(domain string, realm parsec.VlobID, keyIndex uint64, n int, block func(i int) (parsec.BlockID, int, crypto.Digest)) [32]byte {
	h := sha256.New()
	buf := make([]byte, 0, len(domain)+len(realm)+8+8)
	buf = append(buf, domain...)
	buf = append(buf, realm[:]...)
	buf = binary.BigEndian.AppendUint64(buf, keyIndex)
	buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	h.Write(buf)
	for i := range n {
		id, size, sum := block(i)
		buf = append(buf[:0], id[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(size))
		buf = append(buf, sum[:]...)
		h.Write(buf)
	}
	return [32]byte(h.Sum(nil))
}

func requestMessage(method, path string, ts parsec.DateTime, bodyHash [32]byte) []byte {
	return []byte(method + "\n" + path + "\n" + strconv.FormatInt(int64(ts), 10) + "\n" + hex.EncodeToString(bodyHash[:]))
}

// SignRequest returns the Authorization header value for a request.
func SignRequest(key crypto.SigningKey, device parsec.DeviceID, method, path string, ts parsec.DateTime, body []byte) string {
	return SignRequestHash(key, device, method, path, ts, BodyHash(body))
}

// SignRequestHash is SignRequest given the body's hash (see BlockBatch.Body).
func SignRequestHash(key crypto.SigningKey, device parsec.DeviceID, method, path string, ts parsec.DateTime, sum [32]byte) string {
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
	BodyHash  [32]byte // BodyHash of the body, as the device says
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

// CheckBody checks that body is the one whose hash was signed by a client of minor
// version minor of APIMajor (its Api-Version header: a client of 2.0 hashes the blocks of
// an upload with SHA-256).
func (a DeviceAuth) CheckBody(body []byte, minor int) error {
	sum := bodyHash(body, minor)
	if subtle.ConstantTimeCompare(sum[:], a.BodyHash[:]) != 1 {
		return errors.New("authorization: the body does not match the signed hash")
	}
	return nil
}

// Verify checks the signature and the body of a request of this version: VerifyHeader then
// CheckBody.
func (a DeviceAuth) Verify(vk crypto.VerifyKey, method, path string, body []byte) error {
	if err := a.VerifyHeader(vk, method, path); err != nil {
		return err
	}
	return a.CheckBody(body, APIMinor)
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
