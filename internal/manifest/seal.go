package manifest

import (
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// domain is what a document's signature is bound to: "parsec/1/<type>".
func domain(kind string) string { return "parsec/1/" + kind }

// manifestKey and manifestAAD bind a manifest blob to its vlob: it opens only with the key
// derived for that vlob, and only as that vlob.
func manifestKey(realmKey crypto.RealmKey, id parsec.VlobID) crypto.SecretKey {
	return realmKey.Derive(crypto.PurposeManifest, id)
}

func manifestAAD(id *parsec.VlobID) []byte { return id[:] }

// Seal sets m's Type, signs its encoding with the author device's key and encrypts the
// result with the key derived from realmKey for the vlob m.Head().ID. The caller runs
// Check first: Seal seals whatever it is given (tests seal invalid manifests on purpose).
func Seal(m Manifest, author crypto.SigningKey, realmKey crypto.RealmKey) []byte {
	return sealBody(Encode(m), m.Kind(), m.Head().ID, author, realmKey)
}

func sealBody(body []byte, kind string, id parsec.VlobID, author crypto.SigningKey, realmKey crypto.RealmKey) []byte {
	signed := make([]byte, 0, crypto.SignatureSize+len(body))
	signed = append(signed, author.Sign(domain(kind), body)...)
	signed = append(signed, body...)
	return manifestKey(realmKey, id).Encrypt(signed, manifestAAD(&id))
}

// ErrWrittenInvalid is wrapped by the errors of Open about a manifest that its author
// signed as it is: the server did not forge it, a member wrote it invalid (a bug, or on
// purpose). A reader skips such a version, saying so, rather than stop: one member must
// not be able to make a whole workspace unreadable.
var ErrWrittenInvalid = errors.New("written invalid by its author")

// Expected is what the server says of a manifest version it returns, which Open checks
// against the signed manifest.
type Expected struct {
	RealmID   parsec.VlobID   // the realm (workspace) the vlob was read from
	VlobID    parsec.VlobID   // the vlob
	Version   uint64          // its version (at least 1)
	Author    parsec.DeviceID // the device that wrote that version
	Timestamp parsec.DateTime // when
}

// Open decrypts and checks a manifest blob read from the server. realmKey is the realm key
// of the key index the server gave with the blob; verifyKey returns the verify key of a
// device, from the certificates.
//
// Open checks, in order, that the blob decrypts, that it holds a signature and the
// canonical encoding of a manifest without unknown fields, that the manifest's author
// signed it, that its ID, version, author and timestamp are those of expect, that its
// structure is valid (Check), that it is the workspace root (a folder that is its own
// parent) if and only if its ID is the realm's, and that no child of a folder is the root.
//
// Entries of a folder whose names are invalid (see ParseEntryName) are dropped, and said
// in Dropped: the rest of the folder stays readable.
//
// Every failure is a *parsec.Error naming the vlob, its version and what is wrong: of kind
// parsec.Invalid, wrapping ErrWrittenInvalid, when the author's signature verifies over
// an invalid manifest, else of kind parsec.Tampered; an error of verifyKey is returned
// wrapped and keeps its kind. Open does not check that the author was allowed to write at
// that time: the caller does, from the certificates (in verifyKey).
func Open(blob []byte, realmKey crypto.RealmKey, expect Expected, verifyKey func(parsec.DeviceID) (crypto.VerifyKey, error)) (Manifest, error) {
	fail := func(format string, args ...any) error {
		return parsec.Errorf(parsec.Tampered, "manifest %s v%d: "+format, append([]any{expect.VlobID, expect.Version}, args...)...)
	}
	if expect.RealmID.IsZero() || expect.VlobID.IsZero() {
		return nil, parsec.Errorf(parsec.Invalid, "open manifest: the realm ID and the vlob ID are required")
	}
	if expect.Version == 0 {
		return nil, fail("the server gives version 0")
	}
	signed, err := manifestKey(realmKey, expect.VlobID).Decrypt(blob, manifestAAD(&expect.VlobID))
	if err != nil {
		return nil, fail("%w", err)
	}
	if len(signed) <= crypto.SignatureSize {
		return nil, fail("too short to be signed (%d bytes)", len(signed))
	}
	sig, body := signed[:crypto.SignatureSize], signed[crypto.SignatureSize:]
	written := func(format string, args ...any) error {
		return parsec.Errorf(parsec.Invalid, "manifest %s v%d: "+format+" (%w, device %s)",
			append(append([]any{expect.VlobID, expect.Version}, args...), ErrWrittenInvalid, expect.Author)...)
	}
	m, err := decode(body)
	if err != nil {
		// Undecodable: still, if the author the server names signed these bytes, the
		// server did not forge them.
		if key, kerr := verifyKey(expect.Author); kerr == nil {
			for _, kind := range []string{KindFolder, KindFile} {
				if key.Verify(domain(kind), body, sig) == nil {
					return nil, written("%v", err)
				}
			}
		}
		return nil, fail("%v", err)
	}
	h := m.Head()
	key, err := verifyKey(h.Author)
	if err != nil {
		return nil, fmt.Errorf("manifest %s v%d: author %s: %w", expect.VlobID, expect.Version, h.Author, err)
	}
	if err := key.Verify(domain(m.Kind()), body, sig); err != nil {
		return nil, fail("signature of device %s does not verify: %w", h.Author, err)
	}
	switch {
	case h.Author != expect.Author:
		return nil, fail("signed by device %s, server says %s", h.Author, expect.Author)
	case h.ID != expect.VlobID:
		return nil, fail("the manifest is of vlob %s", h.ID)
	case h.Version != expect.Version:
		return nil, fail("the manifest is version %d", h.Version)
	case h.Timestamp != expect.Timestamp:
		return nil, fail("signed at %s, server says %s", h.Timestamp, expect.Timestamp)
	}
	if f, ok := m.(*FolderManifest); ok {
		f.dropInvalidNames()
	}
	if err := m.check(); err != nil {
		return nil, written("invalid %s: %v", label(m.Kind()), err)
	}
	if err := checkPlace(m, expect.RealmID); err != nil {
		return nil, written("%v", err)
	}
	return m, nil
}

// checkPlace checks the rules that need the realm's ID: the vlob of that ID is the root
// folder, no other vlob is its own parent, and no folder has the root as a child.
func checkPlace(m Manifest, realm parsec.VlobID) error {
	h := m.Head()
	switch {
	case h.ID == realm && !m.IsFolder():
		return fmt.Errorf("the workspace root is a file")
	case h.ID == realm && !h.IsRoot():
		return fmt.Errorf("the workspace root has parent %s", h.Parent)
	case h.ID != realm && h.IsRoot():
		return fmt.Errorf("the %s is its own parent but is not the workspace root %s", label(m.Kind()), realm)
	}
	if f, ok := m.(*FolderManifest); ok {
		for name, id := range f.Children {
			if id == realm {
				return fmt.Errorf("child %s is the workspace root", quote(name))
			}
		}
	}
	return nil
}
