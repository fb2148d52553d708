package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

func TestBootstrapAndPoll(t *testing.T) {
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	c := alice.Open(t)
	n, err := c.PollCertificates(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("PollCertificates = %d, %v; want 2 certificates", n, err)
	}
	if n, err := c.PollCertificates(t.Context()); err != nil || n != 0 {
		t.Fatalf("second PollCertificates = %d, %v; want nothing new", n, err)
	}
	users := c.Users()
	if len(users) != 1 || users[0].Handle.Email != "alice@example.com" || users[0].Profile != parsec.ProfileAdmin ||
		users[0].Status() != "active" || len(users[0].Devices) != 1 || users[0].Devices[0].Label != "laptop" {
		t.Fatalf("users = %+v", users)
	}
	// A second client on the same device starts from the cache, with nothing to fetch.
	c.Close()
	c2 := alice.Open(t)
	if len(c2.Users()) != 1 {
		t.Fatal("certificates not kept in the local cache")
	}
	if n, err := c2.PollCertificates(t.Context()); err != nil || n != 0 {
		t.Fatalf("poll after reopen = %d, %v; want nothing new", n, err)
	}
}

// lieAboutCertificates makes the server rewrite certificate_get replies.
func lieAboutCertificates(srv *testenv.Server, rewrite func(common [][]byte) [][]byte) {
	srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdCertificateGet {
			return reply
		}
		var rep protocol.CertificateGetRep
		if err := protocol.DecodeReply(reply, &rep); err != nil {
			panic(err)
		}
		rep.Common = rewrite(rep.Common)
		out, err := protocol.OK(rep)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func TestLyingServerIsDetected(t *testing.T) {
	attacker := crypto.GenerateSigningKey()
	tests := []struct {
		name    string
		rewrite func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte
		want    string
	}{
		{
			name: "flipped signature byte",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				bad := append([]byte(nil), common[0]...)
				bad[3] ^= 1
				return [][]byte{bad, common[1]}
			},
			want: "signature",
		},
		{
			name: "flipped body byte",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				bad := append([]byte(nil), common[1]...)
				bad[len(bad)-1] ^= 1
				return [][]byte{common[0], bad}
			},
		},
		{
			name: "redacted certificates served to an administrator",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				var out [][]byte
				for _, c := range srv.StoredCommon(t, "Acme") {
					out = append(out, c.Redacted)
				}
				return out
			},
			want: "redacted",
		},
		{
			name: "device before its user",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				return [][]byte{common[1], common[0]}
			},
		},
		{
			name: "device certificate withheld",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				return common[:1]
			},
			want: "do not include this device",
		},
		{
			name: "certificate replayed twice",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				return append(common, common[1])
			},
		},
		{
			name: "forged user signed by an unknown root",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				c, err := certif.Decode(common[0])
				if err != nil {
					t.Fatal(err)
				}
				u := *c.(*certif.UserCertificate)
				return [][]byte{certif.Sign(attacker, &u), common[1]}
			},
			want: "signature",
		},
		{
			name: "forged extra administrator signed by an unknown key",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				c, _ := certif.Decode(common[1])
				author := c.(*certif.DeviceCertificate).DeviceID
				h := parsec.HumanHandle{Email: "mallory@example.com", Label: "Mallory"}
				u := &certif.UserCertificate{Author: &author, Timestamp: c.When() + 1, UserID: parsec.NewUserID(),
					HumanHandle: &h, PublicKey: crypto.GenerateUserKey().Public(), Algorithm: crypto.UserKeyAlgorithm,
					Profile: parsec.ProfileAdmin}
				return append(common, certif.Sign(attacker, u))
			},
			want: "signature",
		},
		{
			name: "garbage",
			rewrite: func(t *testing.T, srv *testenv.Server, common [][]byte) [][]byte {
				return [][]byte{[]byte("not a certificate")}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := testenv.NewServer(t)
			alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
			lieAboutCertificates(srv, func(common [][]byte) [][]byte { return tc.rewrite(t, srv, common) })
			c := alice.Open(t)
			_, err := c.PollCertificates(t.Context())
			if parsec.KindOf(err) != parsec.Tampered {
				t.Fatalf("PollCertificates = %v; want kind Tampered", err)
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			// The client refuses to go on, even for a harmless command.
			if err := c.Call(t.Context(), protocol.CmdPing, protocol.PingReq{Ping: "x"}, &protocol.PingRep{}); parsec.KindOf(err) != parsec.Tampered {
				t.Errorf("Call after tampering = %v; want the tampering error", err)
			}
			// Nothing invalid was kept: once the server stops lying, a fresh client gets the
			// genuine chain.
			srv.Lie = nil
			c2 := alice.Open(t)
			if n, err := c2.PollCertificates(t.Context()); err != nil || n != 2 {
				t.Fatalf("honest poll after the lie = %d, %v; want the 2 genuine certificates", n, err)
			}
		})
	}
}

func TestWithFreshTimestampRetries(t *testing.T) {
	srv := testenv.NewServer(t)
	c := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice").Open(t)
	var seen []parsec.DateTime
	bound := parsec.FromTime(time.Now().Add(time.Hour))
	err := c.WithFreshTimestamp(t.Context(), 500*time.Millisecond, func(ts parsec.DateTime) error {
		seen = append(seen, ts)
		if len(seen) < 3 {
			e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "later please")
			e.Detail.StrictlyGreaterThan = bound + parsec.DateTime(len(seen))
			return e
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 || seen[1] <= bound+1 || seen[2] <= bound+2 {
		t.Fatalf("timestamps tried: %v; want each retry after the server's bound %v", seen, bound)
	}

	// Other errors are returned at once; endless demands end with a Conflict.
	boom := errors.New("boom")
	calls := 0
	if err := c.WithFreshTimestamp(t.Context(), 0, func(parsec.DateTime) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("plain error: %v after %d calls", err, calls)
	}
	err = c.WithFreshTimestamp(t.Context(), 0, func(ts parsec.DateTime) error {
		e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "later")
		e.Detail.StrictlyGreaterThan = ts
		return e
	})
	if parsec.KindOf(err) != parsec.Conflict {
		t.Fatalf("endless retries = %v; want kind Conflict", err)
	}
	// A server that asks for "greater" without a bound is lying.
	err = c.WithFreshTimestamp(t.Context(), 0, func(ts parsec.DateTime) error {
		return protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "later")
	})
	if parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("greater timestamp without bound = %v; want Tampered", err)
	}
}

func TestHandshakeErrorsAreClear(t *testing.T) {
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	c := alice.Open(t)
	// Expired organization.
	mustPatch(t, srv, "Acme", func(o *codecOrg) { o.expired = true })
	if _, err := c.PollCertificates(t.Context()); parsec.KindOf(err) != parsec.Expired || !strings.Contains(err.Error(), "organization Acme has expired") {
		t.Fatalf("poll on expired org = %v", err)
	}
	mustPatch(t, srv, "Acme", func(o *codecOrg) { o.expired = false })
	// Frozen user.
	if _, err := srv.Admin(t).Freeze(t.Context(), "Acme", "alice@example.com", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PollCertificates(t.Context()); parsec.KindOf(err) != parsec.Frozen {
		t.Fatalf("poll when frozen = %v", err)
	}
}

type codecOrg struct{ expired bool }

func mustPatch(t *testing.T, srv *testenv.Server, org parsec.OrganizationID, f func(*codecOrg)) {
	t.Helper()
	var o codecOrg
	f(&o)
	if err := srv.SetExpired(t, org, o.expired); err != nil {
		t.Fatal(err)
	}
}
