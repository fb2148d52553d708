package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// sampleReplies is one filled value of every reply type a client decodes, and of every event
// payload it decodes: the fuzz targets below decode arbitrary bytes into each type, and
// start from the real encodings of these values.
func sampleReplies() (replies, events []any) {
	limit := int64(3)
	vlob, realm, user := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewUserID()
	handle := parsec.HumanHandle{Email: "zoe@example.com", Label: "Zoé"}
	ref := UserRef{UserID: user, HumanHandle: handle}
	replies = []any{
		PingRep{Pong: "hello"},
		OrganizationBootstrapRep{},
		CertificateGetRep{Common: [][]byte{[]byte("a"), []byte("b")}, Realms: map[parsec.VlobID][][]byte{realm: {[]byte("c")}}},
		OrganizationConfig{UserProfileOutsiderAllowed: true, ActiveUsersLimit: &limit, SSEKeepaliveSeconds: 30, MinimumArchivingPeriod: 2592000},
		VlobWriteRep{},
		VlobReadRep{Items: []VlobItem{{VlobID: vlob, KeyIndex: 1, Author: parsec.NewDeviceID(), Version: 2, Timestamp: 1_770_000_000_000_000, Blob: []byte("blob")}},
			NeededCommonCertificateTimestamp: 5, NeededRealmCertificateTimestamp: 6},
		VlobPollChangesRep{CurrentCheckpoint: 9, Changes: []VlobVersion{{VlobID: vlob, Version: 3}}},
		BlockCreateRep{},
		BlockReadRep{Blocks: []BlockItem{{BlockID: parsec.NewBlockID(), KeyIndex: 1, Data: []byte("data")}}, NeededRealmCertificateTimestamp: 7},
		InviteNewRep{Token: parsec.NewAccessToken(), EmailSent: EmailSent},
		InviteListRep{Invitations: []InvitationInfo{
			{Token: parsec.NewAccessToken(), Type: InvitationTypeUser, CreatedOn: 1, CreatedBy: user, Status: InvitationStatusPending, ClaimerEmail: "zoe@example.com"},
			{Token: parsec.NewAccessToken(), Type: InvitationTypeDevice, CreatedOn: 2, CreatedBy: user, Status: InvitationStatusFinished, ClaimerUserID: &user},
		}},
		StartAttemptRep{GreetingAttempt: parsec.NewGreetingAttemptID()},
		StepRep{Payload: []byte("payload")},
		InviteInfoRep{Type: InvitationTypeDevice, ClaimerUserID: &user, ClaimerHumanHandle: &handle, CreatedBy: ref,
			Greeters: []Greeter{{UserRef: ref, LastAttemptJoinedOn: 4}}},
		RealmGetKeysBundleRep{KeysBundleAccess: []byte("access"), KeysBundle: []byte("bundle")},
		RealmRep{},
		ListFrozenUsersRep{FrozenUsers: []parsec.UserID{user}},
	}
	events = []any{
		OrganizationConfig{ActiveUsersLimit: &limit},
		EventPingedData{Ping: "ping"},
		EventCertificateData{Timestamp: 8, RealmID: &realm},
		EventVlobData{RealmID: realm, VlobID: vlob, Author: parsec.NewDeviceID(), Timestamp: 9, Version: 1, KeyIndex: 1, Blob: []byte("b"),
			LastCommonCertificateTimestamp: 3, LastRealmCertificateTimestamp: 4},
		EventInvitationData{Token: parsec.NewAccessToken(), Status: InvitationStatusCanceled},
		EventGreetingAttemptData{Token: parsec.NewAccessToken(), GreetingAttempt: parsec.NewGreetingAttemptID()},
	}
	return replies, events
}

// FuzzDecodeEveryReply decodes arbitrary bytes, as a lying server could send them, into every
// reply type of the protocol with DecodeReply, and into every event payload type with
// DecodeEvent. Nothing may panic; a reply that decodes is either ok or a status error; a
// value that decodes encodes back to bytes that decode to the same value. An empty byte
// string or list and an absent one are the same value (fields marked omitempty leave an
// empty one out of the encoding, so it decodes back as absent).
func FuzzDecodeEveryReply(f *testing.F) {
	replies, events := sampleReplies()
	for _, rep := range replies {
		b, err := OK(rep)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, ev := range events {
		f.Add(codec.MustMarshal(ev))
	}
	e := Errorf(StatusBadVlobVersion, "bad version")
	vlob := parsec.NewVlobID()
	e.Detail = ErrorDetail{VlobID: &vlob, AttemptCancelled: &AttemptCancelled{Origin: "GREETER", Timestamp: 1, Reason: CancelInvalidSASCode}}
	f.Add(EncodeError(e))
	f.Add([]byte{0xa1, 0x66, 's', 't', 'a', 't', 'u', 's', 0x62, 'o', 'k'}) // {"status": "ok"}, no rep
	f.Add([]byte{})

	same := cmpopts.EquateEmpty()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, sample := range replies {
			typ := reflect.TypeOf(sample)
			rep := reflect.New(typ)
			err := DecodeReply(body, rep.Interface())
			var se *StatusError
			switch {
			case errors.As(err, &se):
				if se.Status == StatusOK {
					t.Fatalf("%v: an ok reply came back as a status error: %v", typ, err)
				}
				continue
			case err != nil:
				if !parsec.IsKind(err, parsec.Tampered) {
					t.Fatalf("%v: malformed reply %x without kind Tampered: %v", typ, body, err)
				}
				continue
			}
			again, err := OK(rep.Elem().Interface())
			if err != nil {
				t.Fatalf("%v: cannot encode the decoded reply %+v: %v", typ, rep.Elem(), err)
			}
			rep2 := reflect.New(typ)
			if err := DecodeReply(again, rep2.Interface()); err != nil {
				t.Fatalf("%v: the encoding %x of decoded reply %x does not decode: %v", typ, again, body, err)
			}
			if diff := cmp.Diff(rep.Elem().Interface(), rep2.Elem().Interface(), same); diff != "" {
				t.Fatalf("%v: reply %x changed through an encoding (-first +second):\n%s", typ, body, diff)
			}
		}
		for _, sample := range events {
			typ := reflect.TypeOf(sample)
			ev := reflect.New(typ)
			if err := DecodeEvent(body, ev.Interface()); err != nil {
				continue
			}
			ev2 := reflect.New(typ)
			if err := DecodeEvent(codec.MustMarshal(ev.Elem().Interface()), ev2.Interface()); err != nil {
				t.Fatalf("%v: decoded event payload %x does not decode once encoded again: %v", typ, body, err)
			}
			if diff := cmp.Diff(ev.Elem().Interface(), ev2.Elem().Interface(), same); diff != "" {
				t.Fatalf("%v: event payload %x changed through an encoding (-first +second):\n%s", typ, body, diff)
			}
		}
	})
}

// FuzzParseAuthorization parses arbitrary Authorization headers as the server does for the
// authenticated family (device ID, timestamp, body hash, signature) and for the invited family (bearer token), and Api-Version headers. A malformed header
// is an error; a parsed one has the right sizes, is formatted back into a header that parses
// the same, and its signature check fails cleanly for a foreign key.
func FuzzParseAuthorization(f *testing.F) {
	key := crypto.GenerateSigningKey()
	dev := parsec.NewDeviceID()
	signed := SignRequest(key, dev, "POST", "/authenticated/Acme", 1_770_000_000_123_456, []byte("body"))
	f.Add(signed)
	f.Add(SignRequest(key, dev, "GET", "/authenticated/Acme/events", 1, nil))
	f.Add(strings.Replace(signed, AuthScheme, InvitedScheme, 1))
	f.Add(InvitedScheme + " " + parsec.NewAccessToken().String())
	f.Add(AuthScheme + " " + strings.ToUpper(dev.String()) + ".+0017.AA")
	f.Add(APIVersion)
	f.Add(" 1.99 ")
	f.Add("")

	other := crypto.GenerateSigningKey().VerifyKey()
	f.Fuzz(func(t *testing.T, h string) {
		if a, err := ParseDeviceAuth(h); err == nil {
			if a.Timestamp <= 0 || len(a.Signature) != crypto.SignatureSize {
				t.Fatalf("ParseDeviceAuth(%q) = %+v: out of range", h, a)
			}
			again := a.Header()
			b, err := ParseDeviceAuth(again)
			if err != nil {
				t.Fatalf("ParseDeviceAuth(%q) = %+v, formatted as %q, which does not parse: %v", h, a, again, err)
			}
			if diff := cmp.Diff(a, b); diff != "" {
				t.Fatalf("ParseDeviceAuth(%q) re-parses differently (-first +second):\n%s", h, diff)
			}
			if a.Verify(other, "POST", "/authenticated/Acme", []byte("body")) == nil {
				t.Fatalf("ParseDeviceAuth(%q): a foreign key verified the signature", h)
			}
		}
		if tok, err := ParseInvitedAuth(h); err == nil {
			if again, err := ParseInvitedAuth(InvitedScheme + " " + tok.String()); err != nil || again != tok {
				t.Fatalf("ParseInvitedAuth(%q) = %v, which formats back to %v, %v", h, tok, again, err)
			}
		}
		if major, minor, err := ParseAPIVersion(h); err == nil {
			if major < 0 || minor < 0 {
				t.Fatalf("ParseAPIVersion(%q) = %d.%d", h, major, minor)
			}
			m2, n2, err := ParseAPIVersion(strconv.Itoa(major) + "." + strconv.Itoa(minor))
			if err != nil || m2 != major || n2 != minor {
				t.Fatalf("ParseAPIVersion(%q) = %d.%d, which re-parses as %d.%d, %v", h, major, minor, m2, n2, err)
			}
		}
	})
}

// FuzzParseEventID parses arbitrary Last-Event-ID values as the server does: any value either
// fails or is a number that formats back to an ID that parses to the same number.
func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{FormatEventID(1_770_000_000_000_001), "0", " 42 ", "18446744073709551615", "18446744073709551616", "-1", "+1", "0x10", "1_000", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEventID(s)
		if err != nil {
			return
		}
		if again, err := ParseEventID(FormatEventID(id)); err != nil || again != id {
			t.Fatalf("ParseEventID(%q) = %d, formatted %q, re-parsed %d, %v", s, id, FormatEventID(id), again, err)
		}
		if !bytes.ContainsAny([]byte(s), "0123456789") {
			t.Fatalf("ParseEventID(%q) = %d without a digit", s, id)
		}
	})
}

// TestSSEReaderUnsendableID: an ID that a Last-Event-ID header cannot carry is ignored (the
// client would otherwise fail every reconnection); the frame itself is kept. Found by
// FuzzEventStream.
func TestSSEReaderUnsendableID(t *testing.T) {
	for _, id := range []string{"1\r2", "1\x002", "\x7f", "1\x1b"} {
		ev, err := NewSSEReader(strings.NewReader("id: " + id + "\nevent: keepalive\ndata: \n\n")).Next()
		if err != nil || ev.ID != "" || ev.Name != EventKeepalive {
			t.Errorf("ID %q: frame %+v, %v; want the frame without its ID", id, ev, err)
		}
	}
	ev, err := NewSSEReader(strings.NewReader("id: 12\t3\nevent: keepalive\n\n")).Next()
	if err != nil || ev.ID != "12\t3" {
		t.Errorf("ID with a tab: frame %+v, %v; want it kept", ev, err)
	}
}
