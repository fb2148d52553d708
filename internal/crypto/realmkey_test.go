package crypto

import (
	"errors"
	"testing"
)

func TestRealmKeyDerive(t *testing.T) {
	k := GenerateRealmKey()
	id1 := [16]byte{1}
	id2 := [16]byte{2}
	tests := []struct {
		name     string
		a, b     SecretKey
		wantSame bool
	}{
		{"deterministic", k.Derive(PurposeBlock, id1), k.Derive(PurposeBlock, id1), true},
		{"different ids", k.Derive(PurposeBlock, id1), k.Derive(PurposeBlock, id2), false},
		{"different purposes", k.Derive(PurposeBlock, id1), k.Derive(PurposeManifest, id1), false},
		{"canary vs realm name", k.Derive(PurposeCanary, [16]byte{}), k.Derive(PurposeRealmName, [16]byte{}), false},
		{"different realm keys", k.Derive(PurposeBlock, id1), GenerateRealmKey().Derive(PurposeBlock, id1), false},
		{"not the realm key itself", k.Derive(PurposeBlock, [16]byte{}), SecretKey(k), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if same := tc.a == tc.b; same != tc.wantSame {
				t.Errorf("keys equal = %v, want %v", same, tc.wantSame)
			}
		})
	}
}

// TestRealmKeyDeriveDefinition checks Derive against its definition, computed with the
// HKDF helper checked by TestHKDFRFC5869.
func TestRealmKeyDeriveDefinition(t *testing.T) {
	k := RealmKey{0x2f, 0xf1, 0x38}
	id := [16]byte{0xca, 0xdc, 0x3f, 0x58}
	info := append([]byte("parsec/1/block\x00"), id[:]...)
	want := hkdfSHA256(k[:], make([]byte, 32), string(info), 32) // no salt = HashLen zeros
	if got := k.Derive(PurposeBlock, id); string(got[:]) != string(want) {
		t.Errorf("Derive = %x, want %x", got[:], want)
	}
}

func TestRealmKeyCanary(t *testing.T) {
	k := GenerateRealmKey()
	c := k.Canary()
	tests := []struct {
		name    string
		key     RealmKey
		canary  []byte
		wantErr bool
	}{
		{"good", k, c, false},
		{"fresh canary", k, k.Canary(), false},
		{"other key", GenerateRealmKey(), c, true},
		{"truncated", k, c[:len(c)-1], true},
		{"empty", k, nil, true},
		{"not empty plaintext", k, k.Derive(PurposeCanary, [16]byte{}).Encrypt([]byte("x"), nil), true},
		{"other purpose", k, k.Derive(PurposeBlock, [16]byte{}).Encrypt(nil, nil), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.key.CheckCanary(tc.canary)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckCanary = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrDecrypt) {
				t.Errorf("CheckCanary = %v, want ErrDecrypt", err)
			}
		})
	}
}

func BenchmarkDerive(b *testing.B) {
	k := GenerateRealmKey()
	for b.Loop() {
		k.Derive(PurposeBlock, [16]byte{1})
	}
}
