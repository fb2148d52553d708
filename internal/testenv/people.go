package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// People join organizations the way people do: an invitation, then the greeter and the
// claimer run the real exchange through the server, each in its own goroutine, both
// picking the right code.

// Join invites email through greeter (an Administrator's client) and runs the greet and
// claim exchange: the new user, named name, gets the given profile and a device labelled
// "laptop". The test fails if any step fails.
func Join(t testing.TB, greeter *client.Client, email, name string, profile parsec.UserProfile) *User {
	t.Helper()
	inv, err := greeter.InviteUser(t.Context(), email, false)
	if err != nil {
		t.Fatalf("inviting %s: %v", email, err)
	}
	handle, err := parsec.NewHumanHandle(email, name)
	if err != nil {
		t.Fatal(err)
	}
	u := &User{ConfigDir: t.TempDir(), Password: []byte("password of " + email)}
	u.Device, err = exchange(t.Context(), greeter, inv, u, handle, "laptop", func(ctx context.Context, g *client.Greeting) error {
		req, err := g.Request(ctx)
		if err != nil {
			return err
		}
		_, err = g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, profile)
		return err
	})
	if err != nil {
		t.Fatalf("%s joining: %v", email, err)
	}
	return u
}

// AddDevice adds a device labelled label to the user of c through a real device
// invitation, greeted by c.
func AddDevice(t testing.TB, c *client.Client, label string) *User {
	t.Helper()
	inv, err := c.InviteDevice(t.Context(), false)
	if err != nil {
		t.Fatalf("inviting a device: %v", err)
	}
	u := &User{ConfigDir: t.TempDir(), Password: []byte("password of " + label)}
	u.Device, err = exchange(t.Context(), c, inv, u, parsec.HumanHandle{}, label, func(ctx context.Context, g *client.Greeting) error {
		req, err := g.Request(ctx)
		if err != nil {
			return err
		}
		_, err = g.CreateDevice(ctx, req.DeviceLabel)
		return err
	})
	if err != nil {
		t.Fatalf("adding device %q: %v", label, err)
	}
	return u
}

// exchange runs both sides of an invitation: the greeter in a goroutine, the claimer in
// this one. create is the greeter's last move, once both codes are confirmed. The claimer
// asks for a device labelled label and saves it in u.ConfigDir. When one side fails, the
// other is cancelled.
func exchange(ctx context.Context, greeter *client.Client, inv client.Invitation, u *User, handle parsec.HumanHandle,
	label string, create func(context.Context, *client.Greeting) error) (*device.Local, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	greeterCode, claimerCode := make(chan crypto.SASCode, 1), make(chan crypto.SASCode, 1)
	greeted := make(chan error, 1)
	go func() {
		err := func() error {
			g, err := greeter.Greet(ctx, inv.Token)
			if err != nil {
				return fmt.Errorf("greet: %w", err)
			}
			greeterCode <- g.Code()
			if err := g.WaitClaimerTrust(ctx); err != nil {
				return fmt.Errorf("greeter waiting for the claimer's trust: %w", err)
			}
			var code crypto.SASCode
			select {
			case code = <-claimerCode:
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := g.ConfirmClaimerCode(ctx, code); err != nil {
				return fmt.Errorf("greeter confirming the claimer's code: %w", err)
			}
			return create(ctx, g)
		}()
		if err != nil {
			cancel() // the claimer would wait for a greeter forever
		}
		greeted <- err
	}()

	dev, err := claim(ctx, inv.Link, u, handle, label, greeterCode, claimerCode)
	if err != nil {
		cancel()
		if gerr := <-greeted; gerr != nil {
			return nil, fmt.Errorf("greeter: %w (claimer: %v)", gerr, err)
		}
		return nil, err
	}
	if err := <-greeted; err != nil {
		return nil, fmt.Errorf("greeter: %w", err)
	}
	return dev, nil
}

func claim(ctx context.Context, link protocol.Link, u *User, handle parsec.HumanHandle, label string, greeterCode <-chan crypto.SASCode, claimerCode chan<- crypto.SASCode) (*device.Local, error) {
	cl, err := client.NewClaim(ctx, link, client.ClaimOptions{})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if err := cl.Start(ctx); err != nil {
		return nil, fmt.Errorf("claimer start: %w", err)
	}
	var code crypto.SASCode
	select {
	case code = <-greeterCode:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
		return nil, fmt.Errorf("claimer confirming the greeter's code: %w", err)
	}
	claimerCode <- cl.Code()
	if err := cl.WaitGreeterTrust(ctx); err != nil {
		return nil, fmt.Errorf("claimer waiting for the greeter's trust: %w", err)
	}
	dev, err := cl.Finish(ctx, u.ConfigDir, handle, label, u.Password)
	if err != nil {
		return nil, fmt.Errorf("claimer finishing: %w", err)
	}
	return dev, nil
}

// AskKeysBundle asks the server, as c, for a realm's keys bundle at index, the way a client
// that kept an old role would, and returns the server's answer: nil when it served it,
// else its refusal (see RefusedWith).
func AskKeysBundle(ctx context.Context, c *client.Client, realm parsec.VlobID, index uint64) error {
	var rep protocol.RealmGetKeysBundleRep
	return c.Call(ctx, protocol.CmdRealmGetKeysBundle, protocol.RealmGetKeysBundleReq{RealmID: realm, KeyIndex: index}, &rep)
}

// RefusedWith reports whether err is the server's refusal with the given status, as the
// protocol names it ("author_not_allowed"…).
func RefusedWith(err error, status string) bool {
	return protocol.IsStatus(err, protocol.Status(status))
}
