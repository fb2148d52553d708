package device

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

func init() { crypto.TestOnlyWeakenPasswordKDF() }

func sampleLocal(org parsec.OrganizationID, email, label string) *Local {
	return &Local{
		ServerURL: "http://127.0.0.1:6777", OrganizationID: org,
		RootVerifyKey: crypto.GenerateSigningKey().VerifyKey(),
		UserID:        parsec.NewUserID(), DeviceID: parsec.NewDeviceID(), DeviceLabel: label,
		HumanHandle:    parsec.HumanHandle{Email: email, Label: "Alice"},
		InitialProfile: parsec.ProfileAdmin,
		SigningKey:     crypto.GenerateSigningKey().Seed(),
		PrivateKey:     crypto.GenerateUserKey().Bytes(),
		LocalKey:       crypto.GenerateSecretKey(),
	}
}

func TestSaveUnlockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	path := Path(dir, l.DeviceID)
	if err := Save(path, l, []byte("correct horse"), 1234); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("device file mode %v, want 0600", info.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, l.SigningKey) || bytes.Contains(raw, l.PrivateKey[:32]) || bytes.Contains(raw, l.LocalKey[:]) {
		t.Fatal("a secret is written in clear in the device file")
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Header.DeviceID != l.DeviceID || f.Header.DeviceLabel != "laptop" || f.Header.CreatedOn != 1234 {
		t.Errorf("header: %+v", f.Header)
	}
	got, err := f.Unlock([]byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("unlocked device differs (-want +got):\n%s", diff)
	}
	if _, err := got.Signer(); err != nil {
		t.Error(err)
	}
	if _, err := got.UserKey(); err != nil {
		t.Error(err)
	}
}

func TestWrongPasswordChangesNothing(t *testing.T) {
	dir := t.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	path := Path(dir, l.DeviceID)
	if err := Save(path, l, []byte("right"), 1); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"wrong", "", "right "} {
		_, err := f.Unlock([]byte(pw))
		if parsec.KindOf(err) != parsec.BadAuth {
			t.Errorf("Unlock(%q) = %v, want kind BadAuth", pw, err)
		}
		if err != nil && !strings.Contains(err.Error(), "wrong password") {
			t.Errorf("Unlock(%q) error %q does not say the password is wrong", pw, err)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed unlock changed the device file")
	}
}

func TestEmptyPasswordRefusedOnSave(t *testing.T) {
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	if err := Save(Path(t.TempDir(), l.DeviceID), l, nil, 1); parsec.KindOf(err) != parsec.Invalid {
		t.Fatalf("Save with empty password = %v, want kind Invalid", err)
	}
}

func TestTamperedHeaderFailsToUnlock(t *testing.T) {
	dir := t.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	path := Path(dir, l.DeviceID)
	if err := Save(path, l, []byte("pw"), 1); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var f file
	if err := codec.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	f.Header.ServerURL = "http://evil.example"
	os.WriteFile(path, codec.MustMarshal(f), 0o600)
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Unlock([]byte("pw")); parsec.KindOf(err) != parsec.BadAuth {
		t.Fatalf("unlock of a file with an edited header = %v, want BadAuth", err)
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"empty":   {},
		"text":    []byte("hello"),
		"cbor":    codec.MustMarshal(map[string]int{"x": 1}),
		"version": codec.MustMarshal(file{Header: Header{Format: 99, Protection: "password"}}),
	} {
		p := filepath.Join(dir, name+".keys")
		os.WriteFile(p, content, 0o600)
		if _, err := Load(p); parsec.KindOf(err) != parsec.Invalid {
			t.Errorf("Load(%s) = %v, want kind Invalid", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.keys")); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("Load(missing) = %v, want NotFound", err)
	}
}

func TestListAndFind(t *testing.T) {
	dir := t.TempDir()
	if _, err := Find(dir, ""); parsec.KindOf(err) != parsec.NotFound {
		t.Fatalf("Find in empty dir = %v, want NotFound", err)
	}
	a := sampleLocal("Acme", "alice@example.com", "laptop")
	b := sampleLocal("Acme", "bob@example.com", "phone")
	a.DeviceID = parsec.DeviceID{0xab, 0xc1}
	b.DeviceID = parsec.DeviceID{0xab, 0xd2}
	for _, l := range []*Local{b, a} {
		if err := Save(Path(dir, l.DeviceID), l, []byte("pw"), 1); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "devices", "junk.keys"), []byte("junk"), 0o600)
	files, errs := List(dir)
	if len(files) != 2 || len(errs) != 1 {
		t.Fatalf("List: %d files, %d errors; want 2 and 1", len(files), len(errs))
	}
	if files[0].Header.HumanHandle.Email != "alice@example.com" {
		t.Errorf("List not sorted by email: first is %s", files[0].Header.HumanHandle.Email)
	}
	want := parsec.ShortID(a.DeviceID) + " - Acme: Alice <alice@example.com> @ laptop"
	if got := files[0].Header.Line(); got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	f, err := Find(dir, "ABC")
	if err != nil || f.Header.DeviceID != a.DeviceID {
		t.Fatalf("Find(ABC) = %v, %v", f, err)
	}
	_, err = Find(dir, "ab")
	if parsec.KindOf(err) != parsec.Invalid || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "bob@example.com") {
		t.Errorf("Find(ab) = %v, want an ambiguity listing both", err)
	}
	_, err = Find(dir, "ff")
	if parsec.KindOf(err) != parsec.NotFound || !strings.Contains(err.Error(), "alice@example.com") {
		t.Errorf("Find(ff) = %v, want not found listing candidates", err)
	}
	_, err = Find(dir, "")
	if err == nil || !strings.Contains(err.Error(), "--device") {
		t.Errorf("Find(\"\") with two devices = %v, want a request to choose", err)
	}
}

// A recovery file opens with its passphrase's key only: a wrong key is BadAuth and changes
// nothing, a password does not open it, an altered byte is BadAuth, and it never opens as
// a password-protected device.
func TestRecoveryFile(t *testing.T) {
	l := sampleLocal("Acme", "alice@example.com", "recovery")
	path := filepath.Join(t.TempDir(), "alice.recovery")
	key, _ := crypto.NewRecoveryPassphrase()
	data, err := EncodeRecovery(l, key, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, data); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file mode: %v, %v", info, err)
	}
	before, _ := os.ReadFile(path)
	f, err := Load(path)
	if err != nil || !f.IsRecovery() {
		t.Fatalf("Load = %+v, %v", f, err)
	}
	other, _ := crypto.NewRecoveryPassphrase()
	if _, err := f.UnlockRecovery(other); !parsec.IsKind(err, parsec.BadAuth) {
		t.Errorf("another passphrase: %v, want BadAuth", err)
	}
	if _, err := f.Unlock([]byte("a password")); !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("a password on a recovery file: %v, want Invalid", err)
	}
	got, err := f.UnlockRecovery(key)
	if err != nil || got.DeviceID != l.DeviceID || string(got.SigningKey) != string(l.SigningKey) {
		t.Fatalf("UnlockRecovery = %+v, %v", got, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("unlocking changed the file")
	}
	altered := append([]byte(nil), before...)
	altered[len(altered)-3] ^= 1
	os.WriteFile(path, altered, 0o600)
	if f, err := Load(path); err == nil {
		if _, err := f.UnlockRecovery(key); !parsec.IsKind(err, parsec.BadAuth) {
			t.Errorf("an altered recovery file: %v, want BadAuth", err)
		}
	}
	pw := filepath.Join(t.TempDir(), "alice.keys")
	if err := Save(pw, l, []byte("password"), 1); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(pw); err != nil || f.IsRecovery() {
		t.Fatalf("Load(password file) = %+v, %v", f, err)
	} else if _, err := f.UnlockRecovery(key); !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("a passphrase on a password file: %v, want Invalid", err)
	}
}

// A copy of a device file kept beside it (a backup made by hand) is the same device, not
// another: Find takes the file at the device's own path, by its ID or alone; copies of which
// none is at that path are named, to keep one.
func TestFindCopiesOfOneDevice(t *testing.T) {
	dir := t.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	own := Path(dir, l.DeviceID)
	if err := Save(own, l, []byte("pw"), 1); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "devices", "backup.keys")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"", l.DeviceID.String()[:6], l.DeviceID.String()} {
		f, err := Find(dir, prefix)
		if err != nil || f.Path != own {
			t.Errorf("Find(%q) with a backup beside the device file = %v, %v; want %s", prefix, f, err, own)
		}
	}
	if err := os.Rename(own, filepath.Join(dir, "devices", "other.keys")); err != nil {
		t.Fatal(err)
	}
	_, err = Find(dir, "")
	if parsec.KindOf(err) != parsec.Invalid || !strings.Contains(err.Error(), backup) || !strings.Contains(err.Error(), "other.keys") {
		t.Errorf("Find with two copies, neither at the device's path = %v; want both named", err)
	}
}

// Create writes a new device's file and never replaces one already there.
func TestCreateKeepsAnExistingFile(t *testing.T) {
	dir := t.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	path := Path(dir, l.DeviceID)
	if err := Create(path, l, []byte("pw"), 1); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	other := sampleLocal("Other", "bob@example.com", "phone")
	if err := Create(path, other, []byte("pw2"), 2); parsec.KindOf(err) != parsec.Exists {
		t.Errorf("Create over an existing file = %v, want kind Exists", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Create replaced an existing file")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d files in the devices folder, want 1 (no temporary file left)", len(entries))
	}
}

// Of several writes of one new file at once (two exports of a recovery file to one path),
// one takes the name and the others are refused: none replaces the file another wrote.
func TestWriteFileRefusesATakenName(t *testing.T) {
	for round := range 50 {
		path := filepath.Join(t.TempDir(), "alice.recovery")
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() { errs[i] = WriteFile(path, []byte{byte(i)}) })
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: writers %d and %d both wrote the file", round, won, i)
			case err == nil:
				won = i
			case parsec.KindOf(err) != parsec.Exists:
				t.Fatalf("round %d: writer %d: %v, want kind Exists", round, i, err)
			}
		}
		if got, _ := os.ReadFile(path); won < 0 || !bytes.Equal(got, []byte{byte(won)}) {
			t.Fatalf("round %d: the file holds %v, want the one writer %d that succeeded", round, got, won)
		}
	}
}
