package manifest

import (
	"fmt"
	"maps"
	"slices"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The types of document, as written in their "type" field.
const (
	KindFolder     = "folder_manifest"
	KindFile       = "file_manifest"
	KindKeysBundle = "realm_keys_bundle"
)

// Header is what every manifest has: who wrote this version and when, which vlob it is and
// where it sits in the tree. It is encoded flat, beside the manifest's own fields.
type Header struct {
	Author    parsec.DeviceID `cbor:"author"`    // device that signed this version
	Timestamp parsec.DateTime `cbor:"timestamp"` // when it was written (the vlob version's timestamp)
	ID        parsec.VlobID   `cbor:"id"`        // the vlob
	// Parent is the folder containing the entry. The root folder of a workspace is its own
	// parent, and its ID is the realm's ID; any other entry has another parent.
	Parent  parsec.VlobID   `cbor:"parent"`
	Version uint64          `cbor:"version"` // 1, 2, …; 0 only for a manifest never synced
	Created parsec.DateTime `cbor:"created"` // creation of the entry (first version)
	Updated parsec.DateTime `cbor:"updated"` // last change of the content
	// View is the certificate history its author had validated when writing this version
	// (see certif.View): readers check that theirs agrees. Nil in versions written before
	// views existed.
	View *certif.View `cbor:"seen,omitempty"`
}

// Head returns h itself, so that every manifest gives access to its header.
func (h *Header) Head() *Header { return h }

// IsRoot reports whether the manifest claims to be the root of its workspace.
func (h *Header) IsRoot() bool { return h.ID == h.Parent }

func (h *Header) check() error {
	switch {
	case h.Author.IsZero():
		return fmt.Errorf("author is zero")
	case h.Timestamp <= 0:
		return fmt.Errorf("timestamp is not positive")
	case h.ID.IsZero():
		return fmt.Errorf("id is zero")
	case h.Parent.IsZero():
		return fmt.Errorf("parent is zero")
	case h.View != nil && (h.View.Common.Timestamp > h.Timestamp || h.View.Realm.Timestamp > h.Timestamp):
		return fmt.Errorf("seen: a point of the certificate history after the version itself")
	case h.View != nil && (h.View.Common.Timestamp < 0 || h.View.Realm.Timestamp < 0):
		return fmt.Errorf("seen: a negative timestamp")
	}
	return nil
}

// Manifest is a *FolderManifest or a *FileManifest. The set is closed.
type Manifest interface {
	// Head is the manifest's header, which the caller may change (before sealing).
	Head() *Header
	// IsFolder reports whether it is a *FolderManifest.
	IsFolder() bool
	// Kind is its type: KindFolder or KindFile.
	Kind() string
	// Check checks its structure, independently of any other manifest and of the
	// certificates. Errors are of kind parsec.Invalid.
	Check() error

	check() error // Check without the prefix and the kind
	setType()
}

// FolderManifest is a folder, or the root of a workspace (ID == Parent == the realm's ID).
// Its children are named by entry names (see ParseEntryName).
type FolderManifest struct {
	Type string `cbor:"type"`
	Header
	Children map[string]parsec.VlobID `cbor:"children"`

	// Dropped says which entries Open left out because their names are invalid, and
	// why. It is not encoded.
	Dropped []string `cbor:"-"`
}

// dropInvalidNames removes the children whose names are invalid, saying so in Dropped.
func (m *FolderManifest) dropInvalidNames() {
	for _, name := range slices.Sorted(maps.Keys(m.Children)) {
		if problem := entryNameProblem(name); problem != "" {
			m.Dropped = append(m.Dropped, fmt.Sprintf("entry %s (%s): the name %s", quote(name), m.Children[name], problem))
			delete(m.Children, name)
		}
	}
}

func (m *FolderManifest) IsFolder() bool { return true }
func (m *FolderManifest) Kind() string   { return KindFolder }
func (m *FolderManifest) Check() error   { return invalid(m, m.check()) }
func (m *FolderManifest) setType()       { m.Type = KindFolder }

func (m *FolderManifest) check() error {
	if err := m.Header.check(); err != nil {
		return err
	}
	ids := make(map[parsec.VlobID]string, len(m.Children))
	for _, name := range slices.Sorted(maps.Keys(m.Children)) {
		id := m.Children[name]
		if problem := entryNameProblem(name); problem != "" {
			return fmt.Errorf("child name %s %s", quote(name), problem)
		}
		switch prev, dup := ids[id]; {
		case id.IsZero():
			return fmt.Errorf("child %s: id is zero", quote(name))
		case id == m.ID:
			return fmt.Errorf("child %s is the folder itself", quote(name))
		case id == m.Parent:
			return fmt.Errorf("child %s is the folder's parent", quote(name))
		case dup:
			return fmt.Errorf("children %s and %s are the same entry %s", quote(prev), quote(name), id)
		}
		ids[id] = name
	}
	return nil
}

// invalid turns the reason why m is invalid into the error of Check.
func invalid(m Manifest, reason error) error {
	if reason == nil {
		return nil
	}
	h := m.Head()
	return parsec.Errorf(parsec.Invalid, "invalid %s %s v%d: %v", label(m.Kind()), h.ID, h.Version, reason)
}

// label is how messages name a kind: "file manifest".
func label(kind string) string {
	switch kind {
	case KindFolder:
		return "folder manifest"
	case KindFile:
		return "file manifest"
	}
	return "manifest"
}

// Encode sets m's Type and returns its deterministic CBOR encoding. It encodes whatever it
// is given: validity is for Check.
func Encode(m Manifest) []byte {
	m.setType()
	return codec.MustMarshal(m)
}

// Decode parses the encoding of a manifest made by Encode and checks its structure. The
// bytes must be the canonical encoding of a folder or file manifest, without unknown
// fields. Errors are of kind parsec.Invalid.
func Decode(b []byte) (Manifest, error) {
	m, err := decode(b)
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid manifest: %v", err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeTrusted parses a manifest that this program encoded itself and kept (in its
// encrypted local cache), without the structure check: local versions have no author or
// timestamp until they are sealed. Never give it bytes that came from the server.
//
// It also skips the canonical-form check (decoding then encoding again), which matters for
// signed bytes only: a workspace of many files is read from the cache at every start.
func DecodeTrusted(b []byte) (Manifest, error) {
	m, err := decodeWith(b, codec.Unmarshal)
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid manifest: %v", err)
	}
	return m, nil
}

// Summary is what Peek reads of a manifest: what it is and when it last changed.
type Summary struct {
	Folder  bool
	Updated parsec.DateTime
	Author  parsec.DeviceID
}

// Peek reads the kind, last change and author of a manifest encoded by this device (see
// DecodeTrusted) without decoding its content: a workspace's files are peeked at when it is
// opened, and decoded only when used.
func Peek(b []byte) (Summary, error) {
	var head struct {
		Type    string          `cbor:"type"`
		Author  parsec.DeviceID `cbor:"author"`
		Updated parsec.DateTime `cbor:"updated"`
	}
	if err := codec.UnmarshalPartial(b, &head); err != nil {
		return Summary{}, parsec.Errorf(parsec.Invalid, "invalid manifest: malformed: %v", err)
	}
	if head.Type != KindFolder && head.Type != KindFile {
		return Summary{}, parsec.Errorf(parsec.Invalid, "invalid manifest: unknown type %s", quote(head.Type))
	}
	return Summary{Folder: head.Type == KindFolder, Updated: head.Updated, Author: head.Author}, nil
}

// decode is Decode without the structure check; its errors are bare reasons.
func decode(b []byte) (Manifest, error) { return decodeWith(b, codec.UnmarshalCanonical) }

// decodeWith is decode with the given strict decoder for the manifest itself.
func decodeWith(b []byte, unmarshal func([]byte, any) error) (Manifest, error) {
	var head struct {
		Type string `cbor:"type"`
	}
	// The type is looked up without decoding the rest, which the decoder of that type
	// does next (the whole, checked); bytes it cannot walk through are decoded as they
	// are, for the decoder's own word on what is wrong.
	var found bool
	var err error
	if head.Type, found, err = codec.TextField(b, "type"); err != nil || !found {
		if err := codec.UnmarshalLenient(b, &head); err != nil {
			return nil, fmt.Errorf("malformed: %v", err)
		}
	}
	var m Manifest
	switch head.Type {
	case KindFolder:
		m = new(FolderManifest)
	case KindFile:
		m = new(FileManifest)
	default:
		return nil, fmt.Errorf("unknown type %s", quote(head.Type))
	}
	if err := unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("malformed %s: %v", label(head.Type), err)
	}
	return m, nil
}
