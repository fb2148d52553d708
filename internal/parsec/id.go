package parsec

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// The identifiers below are 16-byte values. They print as 32 lowercase hex digits, which is
// also how users type them (any unique prefix, for devices). Users, devices and the rest
// are random (UUID version 4 layout); vlobs and blocks are made in sequence (see
// newSequentialID).
type (
	UserID            [16]byte
	DeviceID          [16]byte
	VlobID            [16]byte // realm (workspace) IDs are VlobIDs too
	BlockID           [16]byte
	GreetingAttemptID [16]byte
)

// AccessToken is a 16-byte secret: organization bootstrap tokens, invitation tokens.
type AccessToken [16]byte

func newID() [16]byte {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("parsec: system random source failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return b
}

// sequenceStart is where this process's vlob and block IDs start (see newSequentialID).
var sequenceStart = sync.OnceValue(func() uint64 {
	b := newID()
	return binary.BigEndian.Uint64(b[:8]) >> 16
})

var sequence atomic.Uint64

// newSequentialID returns an ID whose first 48 bits follow the one the process made before
// (from a random start), and whose 74 other bits are random (UUID version 8 layout, the
// one RFC 9562 leaves to applications). The databases of the server and of the device's
// cache keep manifests and blocks in the order of their IDs: with random IDs, the 10,000
// files of a copy land on 10,000 pages of a table of many, each written again, and saving
// them took 2.7 times as long in a cache of 200,000 (BenchmarkPutVlobs); in sequence, they
// land together. Unlike a timestamp (UUID version 7), the start tells nothing of when an
// entry was made, for instance offline: only that the IDs one process made follow each
// other, and the server knows the device behind each write anyway. Uniqueness rests on
// the random bits, as with version 4 (two processes may start close together).
func newSequentialID() [16]byte {
	b := newID()
	n := (sequenceStart() + sequence.Add(1)) << 16
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], n)
	copy(b[:6], head[:6])
	b[6] = b[6]&0x0f | 0x80 // version 8
	return b
}

func NewUserID() UserID                       { return newID() }
func NewDeviceID() DeviceID                   { return newID() }
func NewVlobID() VlobID                       { return newSequentialID() }
func NewBlockID() BlockID                     { return newSequentialID() }
func NewGreetingAttemptID() GreetingAttemptID { return newID() }
func NewAccessToken() AccessToken             { return AccessToken(newID()) }

// NewRealmID returns the ID of a new workspace (realm): random (version 4), not in
// sequence like NewVlobID, since users name workspaces by a prefix of their ID, and
// messages by its first 7 digits (ShortID): the workspaces one process makes would share
// their first 12.
func NewRealmID() VlobID { return newID() }

func (id UserID) String() string            { return hex.EncodeToString(id[:]) }
func (id DeviceID) String() string          { return hex.EncodeToString(id[:]) }
func (id VlobID) String() string            { return hex.EncodeToString(id[:]) }
func (id BlockID) String() string           { return hex.EncodeToString(id[:]) }
func (id GreetingAttemptID) String() string { return hex.EncodeToString(id[:]) }
func (t AccessToken) String() string        { return hex.EncodeToString(t[:]) }

// LogValue makes identifiers log as they print, in every slog format: without it, the
// server's --log-format json wrote them as arrays of 16 numbers.
func (id UserID) LogValue() slog.Value            { return slog.StringValue(id.String()) }
func (id DeviceID) LogValue() slog.Value          { return slog.StringValue(id.String()) }
func (id VlobID) LogValue() slog.Value            { return slog.StringValue(id.String()) }
func (id BlockID) LogValue() slog.Value           { return slog.StringValue(id.String()) }
func (id GreetingAttemptID) LogValue() slog.Value { return slog.StringValue(id.String()) }

func (id UserID) IsZero() bool            { return id == UserID{} }
func (id DeviceID) IsZero() bool          { return id == DeviceID{} }
func (id VlobID) IsZero() bool            { return id == VlobID{} }
func (id GreetingAttemptID) IsZero() bool { return id == GreetingAttemptID{} }

// parseHex16 accepts 32 hex digits, with or without the dashes of the UUID form.
func parseHex16(what, s string) ([16]byte, error) {
	var b [16]byte
	clean := strings.ReplaceAll(strings.TrimSpace(s), "-", "")
	if len(clean) != 32 {
		return b, Errorf(Invalid, "invalid %s %q: want 32 hex digits", what, s)
	}
	if _, err := hex.Decode(b[:], []byte(clean)); err != nil {
		return b, Errorf(Invalid, "invalid %s %q: not hexadecimal", what, s)
	}
	return b, nil
}

func ParseUserID(s string) (UserID, error) {
	b, err := parseHex16("user ID", s)
	return UserID(b), err
}

func ParseDeviceID(s string) (DeviceID, error) {
	b, err := parseHex16("device ID", s)
	return DeviceID(b), err
}

func ParseVlobID(s string) (VlobID, error) {
	b, err := parseHex16("workspace ID", s)
	return VlobID(b), err
}

func ParseAccessToken(s string) (AccessToken, error) {
	b, err := parseHex16("token", s)
	return AccessToken(b), err
}

// ShortID is the abbreviated form of an ID shown in messages and device lists (the CLI
// accepts any unique prefix of a device's ID): its first 7 hex digits, or for an ID made in
// sequence (version 8, see newSequentialID), whose first digits it shares with the IDs made
// before and after it, 7 of its random digits.
func ShortID(id fmt.Stringer) string {
	s := id.String()
	if len(s) == 32 && s[12] == '8' {
		return s[18:25]
	}
	return s[:7]
}

// Binary forms: encoders carry identifiers as 16-byte strings, and decoders refuse any
// other length (a decoder that padded a short value would make two encodings of one ID).

func unmarshal16(what string, dst *[16]byte, b []byte) error {
	if len(b) != 16 {
		return Errorf(Invalid, "invalid %s: %d bytes, want 16", what, len(b))
	}
	copy(dst[:], b)
	return nil
}

func (id UserID) MarshalBinary() ([]byte, error)            { return id[:], nil }
func (id DeviceID) MarshalBinary() ([]byte, error)          { return id[:], nil }
func (id VlobID) MarshalBinary() ([]byte, error)            { return id[:], nil }
func (id BlockID) MarshalBinary() ([]byte, error)           { return id[:], nil }
func (id GreetingAttemptID) MarshalBinary() ([]byte, error) { return id[:], nil }
func (t AccessToken) MarshalBinary() ([]byte, error)        { return t[:], nil }

func (id *UserID) UnmarshalBinary(b []byte) error {
	return unmarshal16("user ID", (*[16]byte)(id), b)
}
func (id *DeviceID) UnmarshalBinary(b []byte) error {
	return unmarshal16("device ID", (*[16]byte)(id), b)
}
func (id *VlobID) UnmarshalBinary(b []byte) error {
	return unmarshal16("vlob ID", (*[16]byte)(id), b)
}
func (id *BlockID) UnmarshalBinary(b []byte) error {
	return unmarshal16("block ID", (*[16]byte)(id), b)
}
func (id *GreetingAttemptID) UnmarshalBinary(b []byte) error {
	return unmarshal16("greeting attempt ID", (*[16]byte)(id), b)
}
func (t *AccessToken) UnmarshalBinary(b []byte) error {
	return unmarshal16("token", (*[16]byte)(t), b)
}
