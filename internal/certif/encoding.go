package certif

import (
	"bytes"
	"slices"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// domain is what a certificate's signature is bound to.
func domain(kind string) string { return "parsec/1/" + kind }

// Sign sets c's Type, encodes it and signs it with key. It signs whatever it is given:
// validity is for Validate to decide (tests sign invalid certificates on purpose).
func Sign(key crypto.SigningKey, c Certificate) []byte {
	c.setType()
	body := codec.MustMarshal(c)
	sig := key.Sign(domain(c.Kind()), body)
	return append(sig, body...)
}

// SignSeen records in c the view of the history its author had validated (see View), then
// signs it like Sign.
func SignSeen(key crypto.SigningKey, c Certificate, v View) []byte {
	c.seen().View = &v
	return Sign(key, c)
}

// Body returns the signed part of a certificate's bytes (nil if raw is too short).
func Body(raw []byte) []byte {
	if len(raw) <= crypto.SignatureSize {
		return nil
	}
	return raw[crypto.SignatureSize:]
}

// Decode parses signed certificate bytes without checking the signature, so that the
// caller learns who the author is and can find its key. The body must be the canonical
// encoding of a known certificate type, and every field must be valid on its own.
// A decoded certificate is not to be trusted before Verify or Validate.
func Decode(raw []byte) (Certificate, error) {
	body := Body(raw)
	if body == nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid certificate: %w (%d bytes)", ErrMalformed, len(raw))
	}
	var head struct {
		Type string `cbor:"type"`
	}
	if err := codec.UnmarshalLenient(body, &head); err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid certificate: %w (%v)", ErrMalformed, err)
	}
	c := newCertificate(head.Type)
	if c == nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid certificate: %w (unknown type %s)", ErrMalformed, quote(head.Type))
	}
	if err := codec.UnmarshalCanonical(body, c); err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid %s: %w (%v)", label(head.Type), ErrMalformed, err)
	}
	if err := c.check(); err != nil {
		return nil, reject(c, ErrInvalidField, "%s", err.Error())
	}
	if err := checkSeen(c); err != nil {
		return nil, reject(c, ErrInvalidField, "%s", err.Error())
	}
	return c, nil
}

// Verify decodes raw and checks that key signed it.
func Verify(raw []byte, key crypto.VerifyKey) (Certificate, error) {
	c, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(c, raw, key); err != nil {
		return nil, err
	}
	return c, nil
}

func verifySignature(c Certificate, raw []byte, key crypto.VerifyKey) error {
	if key.Verify(domain(c.Kind()), raw[crypto.SignatureSize:], raw[:crypto.SignatureSize]) != nil {
		return reject(c, ErrBadSignature, "")
	}
	return nil
}

// CheckRedactedPair checks that redacted is the redacted twin of full: both decode, both
// are user certificates or both device certificates, full has a human handle (or device
// label) and redacted has none, and every other field, author and timestamp included, is
// identical. It does not check signatures: the caller verifies both, with the key of their
// common author (the server validates the full one with Validate and checks the redacted
// one with Verify and the same key).
func CheckRedactedPair(full, redacted []byte) error {
	fc, err := Decode(full)
	if err != nil {
		return err
	}
	rc, err := Decode(redacted)
	if err != nil {
		return err
	}
	if fc.Kind() != rc.Kind() {
		return reject(rc, ErrRedactedMismatch, "it is a %s, the full one a %s", label(rc.Kind()), label(fc.Kind()))
	}
	switch f := fc.(type) {
	case *UserCertificate:
		if f.HumanHandle == nil {
			return reject(fc, ErrRedactedMismatch, "the full certificate has no human handle")
		}
		if rc.(*UserCertificate).HumanHandle != nil {
			return reject(rc, ErrRedactedMismatch, "the redacted certificate has a human handle")
		}
	case *DeviceCertificate:
		if f.DeviceLabel == nil {
			return reject(fc, ErrRedactedMismatch, "the full certificate has no device label")
		}
		if rc.(*DeviceCertificate).DeviceLabel != nil {
			return reject(rc, ErrRedactedMismatch, "the redacted certificate has a device label")
		}
	default:
		return reject(fc, ErrRedactedMismatch, "only user and device certificates have a redacted flavour")
	}
	stripped := redactedTwin(fc)
	want := codec.MustMarshal(stripped)
	if got := Body(redacted); !bytes.Equal(want, got) {
		return reject(rc, ErrRedactedMismatch, "field %s differs", firstDifference(want, got))
	}
	return nil
}

// firstDifference names the first field that differs between two encoded maps.
func firstDifference(a, b []byte) string {
	var ma, mb map[string]codec.RawMessage
	if codec.UnmarshalLenient(a, &ma) != nil || codec.UnmarshalLenient(b, &mb) != nil {
		return "?"
	}
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !bytes.Equal(ma[k], mb[k]) {
			return quote(k)
		}
	}
	return "?"
}
