package crypto

import (
	"bytes"
	"strings"
	"testing"
)

func init() {
	// Keep the tests of this package fast, like those of every package that stores keys
	// under a password.
	TestOnlyWeakenPasswordKDF()
}

// cheapParams are valid parameters with the lowest cost.
func cheapParams(salt byte) PasswordParams {
	return PasswordParams{MemoryKiB: 8, Time: 1, Threads: 1, Salt: bytes.Repeat([]byte{salt}, 16)}
}

func TestDeriveFromPassword(t *testing.T) {
	pw := []byte("correct horse battery staple")
	k1, err := DeriveFromPassword(pw, cheapParams(1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password []byte
		params   PasswordParams
		wantSame bool
	}{
		{"same password and params", pw, cheapParams(1), true},
		{"other salt", pw, cheapParams(2), false},
		{"other password", []byte("correct horse battery stapler"), cheapParams(1), false},
		{"other time", pw, PasswordParams{MemoryKiB: 8, Time: 2, Threads: 1, Salt: cheapParams(1).Salt}, false},
		{"other memory", pw, PasswordParams{MemoryKiB: 16, Time: 1, Threads: 1, Salt: cheapParams(1).Salt}, false},
		{"other threads", pw, PasswordParams{MemoryKiB: 16, Time: 1, Threads: 2, Salt: cheapParams(1).Salt}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k2, err := DeriveFromPassword(tc.password, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			if same := k1 == k2; same != tc.wantSame {
				t.Errorf("keys equal = %v, want %v", same, tc.wantSame)
			}
		})
	}
}

func TestDeriveFromPasswordInvalid(t *testing.T) {
	with := func(f func(*PasswordParams)) PasswordParams {
		p := cheapParams(1)
		f(&p)
		return p
	}
	tests := []struct {
		name     string
		password string
		params   PasswordParams
		wantErr  string // a part of the error naming the bad value
	}{
		{"empty password", "", cheapParams(1), "empty password"},
		{"no salt", "pw", with(func(p *PasswordParams) { p.Salt = nil }), "salt of 0 bytes"},
		{"short salt", "pw", with(func(p *PasswordParams) { p.Salt = make([]byte, 15) }), "salt of 15 bytes"},
		{"long salt", "pw", with(func(p *PasswordParams) { p.Salt = make([]byte, 65) }), "salt of 65 bytes"},
		{"zero threads", "pw", with(func(p *PasswordParams) { p.Threads = 0 }), "threads 0"},
		{"too many threads", "pw", with(func(p *PasswordParams) { p.Threads, p.MemoryKiB = 17, 1024 }), "threads 17"},
		{"zero time", "pw", with(func(p *PasswordParams) { p.Time = 0 }), "time 0"},
		{"too much time", "pw", with(func(p *PasswordParams) { p.Time = 17 }), "time 17"},
		{"too little memory", "pw", with(func(p *PasswordParams) { p.MemoryKiB = 7 }), "memory 7 KiB"},
		{"too much memory", "pw", with(func(p *PasswordParams) { p.MemoryKiB = 4<<20 + 1 }), "memory 4194305 KiB"},
		{"memory below 8 per thread", "pw", with(func(p *PasswordParams) { p.Threads, p.MemoryKiB = 4, 31 }), "memory 31 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DeriveFromPassword([]byte(tc.password), tc.params)
			if err == nil {
				t.Fatal("DeriveFromPassword succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestPasswordParamsBounds(t *testing.T) {
	tests := []struct {
		name   string
		params PasswordParams
	}{
		{"defaults", PasswordParams{MemoryKiB: 128 << 10, Time: 3, Threads: 4, Salt: make([]byte, 16)}},
		{"defaults before 4 lanes", PasswordParams{MemoryKiB: 128 << 10, Time: 3, Threads: 1, Salt: make([]byte, 16)}},
		{"largest", PasswordParams{MemoryKiB: 4 << 20, Time: 16, Threads: 16, Salt: make([]byte, 64)}},
		{"smallest", PasswordParams{MemoryKiB: 8, Time: 1, Threads: 1, Salt: make([]byte, 16)}},
		{"8 KiB per thread", PasswordParams{MemoryKiB: 32, Time: 1, Threads: 4, Salt: make([]byte, 16)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.params.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestNewPasswordParams runs with the hook on (see init): the parameters must be the cheap
// ones, with a fresh salt each time.
func TestNewPasswordParams(t *testing.T) {
	p1, p2 := NewPasswordParams(), NewPasswordParams()
	if p1.MemoryKiB != 8 || p1.Time != 1 || p1.Threads != 1 {
		t.Errorf("NewPasswordParams with the test hook = %d KiB, %d passes, %d threads; want 8, 1, 1", p1.MemoryKiB, p1.Time, p1.Threads)
	}
	if len(p1.Salt) != 16 || bytes.Equal(p1.Salt, p2.Salt) {
		t.Errorf("salts %x and %x: want 16 fresh random bytes each", p1.Salt, p2.Salt)
	}
	if err := p1.Validate(); err != nil {
		t.Error(err)
	}
	if _, err := DeriveFromPassword([]byte("pw"), p1); err != nil {
		t.Error(err)
	}
}
