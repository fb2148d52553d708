package device

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// FuzzDeviceFile loads arbitrary bytes as a device file, then unlocks it with its password
// and with a wrong one. Each step fails with one clear error (Invalid for a file that is
// not a device file, BadAuth or Invalid for one that does not unlock), never a panic; a
// header that loads is written back to bytes that load the same; a wrong password never
// unlocks. The seeds are real device files, saved with the tests' cheap password KDF.
func FuzzDeviceFile(f *testing.F) {
	password := []byte("correct horse")
	dir := f.TempDir()
	l := sampleLocal("Acme", "alice@example.com", "laptop")
	if err := Save(filepath.Join(dir, "seed.keys"), l, password, 1234); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "seed.keys"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	var raw file
	if err := codec.Unmarshal(good, &raw); err != nil {
		f.Fatal(err)
	}
	for _, spoil := range []func(*file){
		func(r *file) { r.Header.DeviceLabel = "phone" },
		func(r *file) { r.Header.Format = 2 },
		func(r *file) { r.Header.KDF.Salt = r.Header.KDF.Salt[:4] },
		func(r *file) { r.Header.KDF.MemoryKiB = 1 << 30 },
		func(r *file) { r.Ciphertext = r.Ciphertext[1:] },
	} {
		r := raw
		r.Header.KDF.Salt = append([]byte(nil), raw.Header.KDF.Salt...)
		spoil(&r)
		f.Add(codec.MustMarshal(r))
	}
	f.Add([]byte{})
	f.Add([]byte("not a device file"))

	path := filepath.Join(dir, "fuzz.keys")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		df, err := Load(path)
		if err != nil {
			if !parsec.IsKind(err, parsec.Invalid) {
				t.Fatalf("Load(%x): error without kind Invalid: %v", data, err)
			}
			return
		}
		again, err := codec.Marshal(df.raw)
		if err != nil {
			t.Fatalf("Load(%x): the file does not encode back: %v", data, err)
		}
		if err := os.WriteFile(path, again, 0o600); err != nil {
			t.Fatal(err)
		}
		df2, err := Load(path)
		if err != nil {
			t.Fatalf("Load(%x) succeeded, but not on its encoding %x: %v", data, again, err)
		}
		if diff := cmp.Diff(df.raw, df2.raw, cmp.AllowUnexported(file{})); diff != "" {
			t.Fatalf("device file %x changed through an encoding (-first +second):\n%s", data, diff)
		}
		// Unlocking costs what the header's KDF parameters say, up to the bounds of
		// crypto.PasswordParams.Validate (4 GiB): only cheap ones are run here.
		if p := df.Header.KDF; p.MemoryKiB > 64 || p.Time > 2 || p.Threads > 4 {
			return
		}
		if _, err := df.Unlock([]byte("wrong password")); err == nil {
			t.Fatalf("device file %x unlocked with a wrong password", data)
		} else if !parsec.IsKind(err, parsec.BadAuth) && !parsec.IsKind(err, parsec.Invalid) {
			t.Fatalf("device file %x, wrong password: error without kind BadAuth or Invalid: %v", data, err)
		}
		got, err := df.Unlock(password)
		switch {
		case err != nil && !parsec.IsKind(err, parsec.BadAuth) && !parsec.IsKind(err, parsec.Invalid):
			t.Fatalf("device file %x: error without kind BadAuth or Invalid: %v", data, err)
		case err == nil && (got.DeviceID != df.Header.DeviceID || got.UserID != df.Header.UserID || got.OrganizationID != df.Header.OrganizationID):
			t.Fatalf("device file %x unlocked to a device %+v that its header %+v does not describe", data, got, df.Header)
		}
	})
}
