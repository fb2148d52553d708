package device

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Local is a device's secret identity.
type Local struct {
	ServerURL      string                `cbor:"server_url"` // http(s)://host[:port]
	OrganizationID parsec.OrganizationID `cbor:"organization_id"`
	RootVerifyKey  crypto.VerifyKey      `cbor:"root_verify_key"`
	UserID         parsec.UserID         `cbor:"user_id"`
	DeviceID       parsec.DeviceID       `cbor:"device_id"`
	DeviceLabel    string                `cbor:"device_label"`
	HumanHandle    parsec.HumanHandle    `cbor:"human_handle"`
	InitialProfile parsec.UserProfile    `cbor:"initial_profile"`
	SigningKey     []byte                `cbor:"signing_key"` // Ed25519 seed
	PrivateKey     []byte                `cbor:"private_key"` // user HPKE private key
	LocalKey       crypto.SecretKey      `cbor:"local_key"`   // encrypts this device's local cache
}

// Signer returns the device's signing key.
func (l *Local) Signer() (crypto.SigningKey, error) { return crypto.SigningKeyFromSeed(l.SigningKey) }

// UserKey returns the user's private key.
func (l *Local) UserKey() (crypto.UserPrivateKey, error) {
	return crypto.ParseUserPrivateKey(l.PrivateKey)
}

// Header is the part of a device file readable without the password.
type Header struct {
	Format         int                   `cbor:"format"`
	Protection     string                `cbor:"protection"`
	CreatedOn      parsec.DateTime       `cbor:"created_on"`
	ServerURL      string                `cbor:"server_url"`
	OrganizationID parsec.OrganizationID `cbor:"organization_id"`
	UserID         parsec.UserID         `cbor:"user_id"`
	DeviceID       parsec.DeviceID       `cbor:"device_id"`
	DeviceLabel    string                `cbor:"device_label"`
	HumanHandle    parsec.HumanHandle    `cbor:"human_handle"`
	KDF            crypto.PasswordParams `cbor:"kdf"`
}

// file is the on-disk form.
type file struct {
	Header     Header `cbor:"header"`
	Ciphertext []byte `cbor:"ciphertext"`
}

const (
	formatVersion      = 1
	protectionPassword = "password"
	protectionRecovery = "recovery"
	ext                = ".keys"
	maxFileSize        = 1 << 20
)

// Path is where a device's file lives in a configuration directory.
func Path(configDir string, id parsec.DeviceID) string {
	return filepath.Join(configDir, "devices", id.String()+ext)
}

// Save encrypts the device with the password and writes it to path atomically (a temporary
// file in the same directory, synced, then renamed), with mode 0600. An existing file at path
// is replaced only once the new one is complete.
func Save(path string, l *Local, password []byte, now parsec.DateTime) error {
	return saveWithPassword(path, l, password, now, true)
}

// Create is Save for a new device: a file already at path (another device's) is left as it
// is, and the error is of kind parsec.Exists.
func Create(path string, l *Local, password []byte, now parsec.DateTime) error {
	return saveWithPassword(path, l, password, now, false)
}

func saveWithPassword(path string, l *Local, password []byte, now parsec.DateTime, replace bool) error {
	if len(password) == 0 {
		return parsec.Errorf(parsec.Invalid, "the device password must not be empty")
	}
	h := newHeader(l, protectionPassword, now)
	h.KDF = crypto.NewPasswordParams()
	key, err := crypto.DeriveFromPassword(password, h.KDF)
	if err != nil {
		return err
	}
	data, err := encode(l, h, key)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, replace)
}

// WriteFile writes a device file made by EncodeRecovery (or any file to keep private) to
// path atomically, mode 0600, as Create does: a file already at path, even one made while
// this one was written, is left as it is (kind parsec.Exists).
func WriteFile(path string, data []byte) error { return writeAtomic(path, data, false) }

// EncodeRecovery returns a recovery device file: like a device file, but protected by a
// recovery key (see crypto.NewRecoveryPassphrase) rather than a password; the key has full
// entropy, so nothing is derived from it. Save it with WriteFile, or hand it over (the GUI's
// download).
func EncodeRecovery(l *Local, key crypto.SecretKey, now parsec.DateTime) ([]byte, error) {
	return encode(l, newHeader(l, protectionRecovery, now), key)
}

// LoadBytes reads a device file from data, as Load reads it from a file; name says where it
// comes from in messages.
func LoadBytes(name string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s is not a device file (too large)", name)
	}
	var f file
	if err := codec.Unmarshal(data, &f); err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s is damaged or not a device file", name)
	}
	if f.Header.Format != formatVersion || f.Header.Protection != protectionPassword && f.Header.Protection != protectionRecovery {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s has an unsupported format (version %d, protection %q)",
			name, f.Header.Format, f.Header.Protection)
	}
	return &File{Path: name, Header: f.Header, raw: f}, nil
}

func newHeader(l *Local, protection string, now parsec.DateTime) Header {
	return Header{
		Format: formatVersion, Protection: protection, CreatedOn: now, ServerURL: l.ServerURL,
		OrganizationID: l.OrganizationID, UserID: l.UserID, DeviceID: l.DeviceID,
		DeviceLabel: l.DeviceLabel, HumanHandle: l.HumanHandle,
	}
}

func encode(l *Local, h Header, key crypto.SecretKey) ([]byte, error) {
	plain, err := codec.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("encode device: %w", err)
	}
	aad, err := codec.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode device: %w", err)
	}
	data, err := codec.Marshal(file{Header: h, Ciphertext: key.Encrypt(plain, aad)})
	if err != nil {
		return nil, fmt.Errorf("encode device: %w", err)
	}
	return data, nil
}

// writeAtomic writes data to path through a temporary file; an existing file at path is
// replaced only if replace is set.
func writeAtomic(path string, data []byte, replace bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	if err := place(tmp.Name(), path, replace); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// place gives the file tmp the name path; a file already there is replaced only if replace
// is set. Without replacing, a hard link takes the name only if it is free (a file made
// there meanwhile, by another process, is kept); where hard links do not exist, a check
// comes before the rename.
func place(tmp, path string, replace bool) error {
	if !replace {
		err := os.Link(tmp, path)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, fs.ErrExist):
			return parsec.Errorf(parsec.Exists, "%s already exists: it was left as it is", path)
		}
		if _, err := os.Lstat(path); err == nil {
			return parsec.Errorf(parsec.Exists, "%s already exists: it was left as it is", path)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

// File is a device file read from disk, not yet unlocked.
type File struct {
	Path   string
	Header Header
	raw    file
}

// Load reads a device file's header. It does not need the password.
func Load(path string) (*File, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, parsec.Errorf(parsec.NotFound, "device file %s not found", path)
		}
		return nil, fmt.Errorf("read device file: %w", err)
	}
	if info.Size() > maxFileSize {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s is not a device file (too large)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read device file: %w", err)
	}
	defer f.Close()
	// At most one byte more than a device file may hold: what is not a regular file (a
	// pipe, /dev/zero) may have no end.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read device file: %w", err)
	}
	return LoadBytes(path, data)
}

// IsRecovery reports whether the file is a recovery device file (see EncodeRecovery).
func (f *File) IsRecovery() bool { return f.Header.Protection == protectionRecovery }

// Unlock decrypts the device with its password. A wrong password, and a file whose header or
// ciphertext was changed, both fail with kind parsec.BadAuth.
func (f *File) Unlock(password []byte) (*Local, error) {
	if f.IsRecovery() {
		return nil, parsec.Errorf(parsec.Invalid, "%s is a recovery file: it opens with its passphrase (parsec device import-recovery)", f.Path)
	}
	key, err := crypto.DeriveFromPassword(password, f.Header.KDF)
	if err != nil {
		if len(password) == 0 {
			return nil, parsec.Errorf(parsec.BadAuth, "wrong password for device %s: empty password", f.Header.DeviceID)
		}
		return nil, parsec.Errorf(parsec.Invalid, "device file %s: %v", f.Path, err)
	}
	return f.open(key, "wrong password for device "+parsec.ShortID(f.Header.DeviceID))
}

// UnlockRecovery decrypts a recovery device file with the key of its passphrase. A wrong
// passphrase, and a file whose header or ciphertext was changed, both fail with kind
// parsec.BadAuth.
func (f *File) UnlockRecovery(key crypto.SecretKey) (*Local, error) {
	if !f.IsRecovery() {
		return nil, parsec.Errorf(parsec.Invalid, "%s is not a recovery file but a device file protected by a password", f.Path)
	}
	return f.open(key, "wrong passphrase for the recovery file "+f.Path)
}

func (f *File) open(key crypto.SecretKey, wrong string) (*Local, error) {
	aad, err := codec.Marshal(f.Header)
	if err != nil {
		return nil, err
	}
	plain, err := key.Decrypt(f.raw.Ciphertext, aad)
	if err != nil {
		return nil, parsec.Errorf(parsec.BadAuth, "%s (or the file was altered)", wrong)
	}
	var l Local
	if err := codec.Unmarshal(plain, &l); err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s is damaged", f.Path)
	}
	if l.DeviceID != f.Header.DeviceID || l.UserID != f.Header.UserID || l.OrganizationID != f.Header.OrganizationID {
		return nil, parsec.Errorf(parsec.Invalid, "device file %s is inconsistent", f.Path)
	}
	return &l, nil
}

// List returns the device files of a configuration directory, sorted by organization, then
// email, then label. Files that cannot be read are skipped and reported in the error list.
func List(configDir string) ([]*File, []error) {
	entries, err := os.ReadDir(filepath.Join(configDir, "devices"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("list devices: %w", err)}
	}
	var out []*File
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ext) {
			continue
		}
		path := filepath.Join(configDir, "devices", e.Name())
		if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
			// Opening a named pipe would wait for a writer, for ever.
			errs = append(errs, parsec.Errorf(parsec.Invalid, "device file %s is not a device file (not a regular file)", path))
			continue
		}
		f, err := Load(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Header, out[j].Header
		if a.OrganizationID != b.OrganizationID {
			return a.OrganizationID < b.OrganizationID
		}
		if a.HumanHandle.Email != b.HumanHandle.Email {
			return a.HumanHandle.Email < b.HumanHandle.Email
		}
		return a.DeviceLabel < b.DeviceLabel
	})
	return out, errs
}

// Line is how a device is shown in lists: "<short id> - <org>: <Name> <email> @ <label>".
func (h Header) Line() string {
	return fmt.Sprintf("%s - %s: %s @ %s", parsec.ShortID(h.DeviceID), h.OrganizationID, h.HumanHandle, h.DeviceLabel)
}

// Find returns the device whose ID starts with prefix (hex, case-insensitive). With an empty
// prefix it returns the only device, if there is exactly one. An unknown or ambiguous prefix
// is an error that lists the candidates.
func Find(configDir, prefix string) (*File, error) {
	files, errs := List(configDir)
	prefix = strings.ToLower(strings.ReplaceAll(strings.TrimSpace(prefix), "-", ""))
	var match []*File
	for _, f := range files {
		if strings.HasPrefix(f.Header.DeviceID.String(), prefix) {
			match = append(match, f)
		}
	}
	if len(match) > 1 && sameDevice(match) {
		// Copies of one device file (a backup kept beside it): the one at the device's own
		// path is the one this program writes (a new password goes there).
		for _, f := range match {
			if f.Path == Path(configDir, f.Header.DeviceID) {
				match = []*File{f}
				break
			}
		}
	}
	list := func(fs []*File) string {
		var b strings.Builder
		for _, f := range fs {
			b.WriteString("\n  " + f.Header.Line())
		}
		return b.String()
	}
	switch {
	case len(files) == 0 && len(errs) > 0: // damaged, not missing: say so
		return nil, parsec.Wrap(errs[0], "no device in %s can be read", configDir)
	case len(files) == 0:
		return nil, parsec.Errorf(parsec.NotFound, "no device in %s: bootstrap an organization or claim an invitation first", configDir)
	case len(match) == 1:
		return match[0], nil
	case len(match) > 1 && sameDevice(match):
		var paths strings.Builder
		for _, f := range match {
			paths.WriteString("\n  " + f.Path)
		}
		return nil, parsec.Errorf(parsec.Invalid, "device %s is in several files, none named %s: keep one of them there:%s",
			match[0].Header.Line(), filepath.Base(Path(configDir, match[0].Header.DeviceID)), paths.String())
	case prefix == "":
		return nil, parsec.Errorf(parsec.Invalid, "several devices in %s: choose one with --device:%s", configDir, list(files))
	case len(match) == 0 && len(errs) > 0:
		return nil, parsec.Errorf(parsec.NotFound, "device %q not found (%v); available devices:%s", prefix, errs[0], list(files))
	case len(match) == 0:
		return nil, parsec.Errorf(parsec.NotFound, "device %q not found; available devices:%s", prefix, list(files))
	}
	return nil, parsec.Errorf(parsec.Invalid, "device %q is ambiguous; it matches:%s", prefix, list(match))
}

// sameDevice reports whether files all hold the same device.
func sameDevice(files []*File) bool {
	for _, f := range files[1:] {
		if f.Header.DeviceID != files[0].Header.DeviceID {
			return false
		}
	}
	return true
}
