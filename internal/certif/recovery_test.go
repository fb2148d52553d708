package certif_test

import (
	"errors"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// setupOf is alice's setup with bob (1 share) and carol (2 shares), threshold 2.
func setupOf(w *world, ts parsec.DateTime) *certif.RecoverySetupCertificate {
	rs := []certif.RecoveryRecipient{{User: w.bob.User.ID, Shares: 1}, {User: w.carol.User.ID, Shares: 2}}
	certif.SortRecipients(rs)
	return &certif.RecoverySetupCertificate{Author: w.alice.ID, Timestamp: ts, UserID: w.alice.User.ID, Threshold: 2, Recipients: rs}
}

func deletionOf(w *world, setup *certif.RecoverySetupCertificate, ts parsec.DateTime) *certif.RecoveryDeletionCertificate {
	return &certif.RecoveryDeletionCertificate{Author: w.alice.ID, Timestamp: ts, UserID: w.alice.User.ID,
		SetupTimestamp: setup.Timestamp, Recipients: setup.RecipientIDs()}
}

func TestRecoveryRules(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, w *world) []byte
		want  error
	}{
		{"setup of another user", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			s.Author = w.bob.ID
			s.Recipients = []certif.RecoveryRecipient{{User: w.carol.User.ID, Shares: 1}}
			s.Threshold = 1
			return sign(w.bob, s)
		}, certif.ErrNotSelf},
		{"second setup in force", func(t *testing.T, w *world) []byte {
			w.add(t, sign(w.alice, setupOf(w, w.o.Tick())))
			return sign(w.alice, setupOf(w, w.o.Tick()))
		}, certif.ErrRecoveryExists},
		{"old setup replayed after its deletion", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			raw := sign(w.alice, s)
			w.add(t, raw)
			w.add(t, sign(w.alice, deletionOf(w, s, w.o.Tick())))
			return raw
		}, certif.ErrTimestampNotIncreasing},
		{"revoked recipient", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.carol.User))
			return sign(w.alice, setupOf(w, w.o.Tick()))
		}, certif.ErrRecipientRevoked},
		{"unknown recipient", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			s.Recipients = []certif.RecoveryRecipient{{User: parsec.NewUserID(), Shares: 2}}
			return sign(w.alice, s)
		}, certif.ErrUnknownUser},
		{"self as recipient", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			s.Recipients = []certif.RecoveryRecipient{{User: w.alice.User.ID, Shares: 2}}
			return sign(w.alice, s)
		}, certif.ErrInvalidField},
		{"threshold above the shares", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			s.Threshold = 4
			return sign(w.alice, s)
		}, certif.ErrInvalidField},
		{"recipients out of order", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			s.Recipients[0], s.Recipients[1] = s.Recipients[1], s.Recipients[0]
			return sign(w.alice, s)
		}, certif.ErrInvalidField},
		{"deletion without setup", func(t *testing.T, w *world) []byte {
			return sign(w.alice, deletionOf(w, setupOf(w, w.o.Tick()), w.o.Tick()))
		}, certif.ErrNoRecoverySetup},
		{"deletion twice", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			w.add(t, sign(w.alice, s))
			w.add(t, sign(w.alice, deletionOf(w, s, w.o.Tick())))
			return sign(w.alice, deletionOf(w, s, w.o.Tick()))
		}, certif.ErrNoRecoverySetup},
		{"deletion of another setup", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			w.add(t, sign(w.alice, s))
			other := *s
			other.Timestamp--
			return sign(w.alice, deletionOf(w, &other, w.o.Tick()))
		}, certif.ErrNoRecoverySetup},
		{"deletion with other recipients", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			w.add(t, sign(w.alice, s))
			d := deletionOf(w, s, w.o.Tick())
			d.Recipients = d.Recipients[:1]
			return sign(w.alice, d)
		}, certif.ErrShareMismatch},
		{"share certificate in the history", func(t *testing.T, w *world) []byte {
			s := setupOf(w, w.o.Tick())
			raw, err := certif.SealShares(w.alice.Key, s, w.bob.User.ID, w.bob.User.Key.Public(), [][]byte{{1, 2}})
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, certif.ErrNotInHistory},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			raw := tc.build(t, w)
			if _, err := w.m.Add(raw); !errors.Is(err, tc.want) || parsec.KindOf(err) != parsec.Invalid {
				t.Fatalf("Add = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRecoveryShares(t *testing.T) {
	w := newWorld(t)
	s := setupOf(w, w.o.Tick())
	w.add(t, sign(w.alice, s))
	if got := w.m.RecoverySetup(w.alice.User.ID); got == nil || got.Timestamp != s.Timestamp {
		t.Fatalf("setup in force: %+v", got)
	}
	carols := [][]byte{{1, 10}, {2, 20}}
	raw, err := certif.SealShares(w.alice.Key, s, w.carol.User.ID, w.carol.User.Key.Public(), carols)
	if err != nil {
		t.Fatal(err)
	}
	share, err := certif.ValidateShare(w.m, s, raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := certif.OpenShares(s, share, w.carol.User.Key, w.alice.Key.VerifyKey())
	if err != nil || len(got) != 2 || got[1][1] != 20 {
		t.Fatalf("OpenShares = %v, %v", got, err)
	}
	// Another recipient cannot open it.
	if _, err := certif.OpenShares(s, share, w.bob.User.Key, w.alice.Key.VerifyKey()); !errors.Is(err, certif.ErrShareMismatch) {
		t.Errorf("bob opening carol's share: %v", err)
	}
	// A share of another setup, or for a non-recipient, or signed by someone else, is refused.
	later := setupOf(w, w.o.Tick())
	if _, err := certif.ValidateShare(w.m, later, raw); !errors.Is(err, certif.ErrShareMismatch) {
		t.Errorf("share against a later setup: %v", err)
	}
	stranger, _ := certif.SealShares(w.alice.Key, s, w.mallory.User.ID, w.mallory.User.Key.Public(), carols)
	if _, err := certif.ValidateShare(w.m, s, stranger); !errors.Is(err, certif.ErrShareMismatch) {
		t.Errorf("share for a non-recipient: %v", err)
	}
	forged, _ := certif.SealShares(w.bob.Key, s, w.carol.User.ID, w.carol.User.Key.Public(), carols)
	if _, err := certif.ValidateShare(w.m, s, forged); !errors.Is(err, certif.ErrBadSignature) {
		t.Errorf("share signed by bob's key: %v", err)
	}
	// The wrong number of shares for the recipient.
	one, _ := certif.SealShares(w.alice.Key, s, w.carol.User.ID, w.carol.User.Key.Public(), carols[:1])
	sh, err := certif.ValidateShare(w.m, s, one)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certif.OpenShares(s, sh, w.carol.User.Key, w.alice.Key.VerifyKey()); !errors.Is(err, certif.ErrShareMismatch) {
		t.Errorf("one share where the setup gives two: %v", err)
	}
	// Sealed shares signed by another key than the setup's author's.
	if _, err := certif.OpenShares(s, share, w.carol.User.Key, crypto.GenerateSigningKey().VerifyKey()); !errors.Is(err, certif.ErrBadSignature) {
		t.Errorf("sealed shares checked with another key: %v", err)
	}
	// The deletion ends the setup in force.
	w.add(t, sign(w.alice, deletionOf(w, s, w.o.Tick())))
	if got := w.m.RecoverySetup(w.alice.User.ID); got != nil {
		t.Fatalf("setup in force after deletion: %+v", got)
	}
}
