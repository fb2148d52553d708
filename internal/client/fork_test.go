package client_test

import (
	"errors"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
)

// A fork: the server hides Mallory's revocation from Bob. Nothing shows it while Bob only
// reads what Mallory's revocation does not touch; as soon as Bob reads anything signed by
// someone who had seen the revocation (here, Alice sharing a workspace with him), the view
// signed in it names certificates the server does not give him: refused as withheld.
func TestHiddenRevocationIsExposed(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	if err := p.ac.RevokeUser(ctx, p.mallory.Device.UserID); err != nil {
		t.Fatal(err)
	}
	hiding := true
	hide(p, certif.KindRevokedUser, &hiding)
	poll(t, p.bc)
	if user(t, p.bc, p.mallory.Device.UserID).RevokedOn != 0 {
		t.Fatal("the lie did not hide the revocation")
	}

	id, err := p.ac.CreateWorkspace(ctx, "Plans")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ac.ShareWorkspace(ctx, id, p.bob.Device.UserID, parsec.RoleContributor); err != nil {
		t.Fatal(err)
	}
	_, err = p.bc.PollCertificates(ctx)
	if !errors.Is(err, certif.ErrWithheld) || !parsec.IsKind(err, parsec.Tampered) {
		t.Fatalf("Bob reads Alice's certificates without the revocation she had seen: %v, want withheld (tampering)", err)
	}

	// Once the server is honest again, Bob's device (opened again: a client that met a
	// lie stops for good) catches up and goes on.
	hiding = false
	again := p.bob.Open(t)
	poll(t, again)
	if user(t, again, p.mallory.Device.UserID).RevokedOn == 0 {
		t.Error("Bob still does not know of the revocation")
	}
}

// The same fork seen through data: the server hides from Bob a certificate Alice validated
// (here his own promotion), and Alice then writes a file. Its manifest carries Alice's
// view; Bob's client fetches the certificates up to it, does not get them, and refuses
// the file as withheld.
func TestHiddenCertificateIsExposedByAFile(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/before.txt": []byte("seen by everyone")})
	syncWS(t, aw)
	syncWS(t, bw)

	if err := p.ac.UpdateProfile(ctx, p.bob.Device.UserID, parsec.ProfileAdmin); err != nil {
		t.Fatal(err)
	}
	hiding := true
	hide(p, certif.KindUserUpdate, &hiding)
	poll(t, p.bc)
	write(t, aw, map[string][]byte{"/after.txt": []byte("written by one who saw the promotion")})
	syncWS(t, aw)

	err := bw.Pull(ctx)
	if !errors.Is(err, certif.ErrWithheld) || !parsec.IsKind(err, parsec.Tampered) {
		t.Fatalf("Bob receives a file whose author had seen a certificate hidden from him: %v, want withheld (tampering)", err)
	}
}

// hide makes the server leave the certificates of a kind out of what it gives, while *hiding.
func hide(p *people, kind string, hiding *bool) {
	lieAboutCertificates(p.srv, func(common [][]byte) [][]byte {
		if !*hiding {
			return common
		}
		var out [][]byte
		for _, raw := range common {
			if c, err := certif.Decode(raw); err == nil && c.Kind() == kind {
				continue
			}
			out = append(out, raw)
		}
		return out
	})
}
