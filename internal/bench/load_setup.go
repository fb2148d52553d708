package bench

import (
	"context"
	crand "crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// loadUser is one user of the load: a device that sets it up, and its workspace.
type loadUser struct {
	c  *client.Client
	ws parsec.VlobID
}

// setUpLoad creates the users (the organization's first one and Users-1 invited ones),
// one workspace each, then the devices, and seeds every device's folder with its files;
// it returns the devices, opened and synced. Devices opened before a failure are
// returned too, for the caller to close.
func setUpLoad(ctx context.Context, fx *fixture, o LoadOptions, spread bool) ([]*loadDevice, error) {
	users := []loadUser{{c: fx.c, ws: fx.ws.ID()}}
	if o.Users > 1 {
		o.Logf("Inviting %d users…", o.Users-1)
	}
	for u := 1; u < o.Users; u++ {
		c, err := fx.join(ctx, u)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		ws, err := c.CreateWorkspace(ctx, fmt.Sprintf("load %d", u))
		if err != nil {
			return nil, fmt.Errorf("user %d: create workspace: %w", u, err)
		}
		users = append(users, loadUser{c: c, ws: ws})
	}

	o.Logf("Creating %d devices and their files…", o.Clients)
	var seed [32]byte
	crand.Read(seed[:])
	devices := make([]*loadDevice, o.Clients)
	locals := make([]*device.Local, o.Clients)
	for i := range devices {
		u := users[i%len(users)]
		label := fmt.Sprintf("load-%03d", i)
		dev, err := u.c.NewOwnDevice(ctx, label, false)
		if err != nil {
			return nil, fmt.Errorf("create device %s: %w", label, err)
		}
		locals[i] = dev
		seed[0], seed[1] = byte(i), byte(i>>8) // one random sequence per device
		devices[i] = &loadDevice{index: i, label: label, user: i % len(users), connected: make(chan struct{}),
			rng: mrand.New(mrand.NewChaCha8(seed)), fileSize: int(o.FileSize)}
	}
	for ui, u := range users {
		ws, err := u.c.Workspace(ctx, u.ws)
		if err != nil {
			return nil, err
		}
		var files []client.FileSource
		for _, d := range devices {
			if d.user == ui {
				for f := range filesPerDevice {
					files = append(files, d.source(d.filePath(f)))
				}
			}
		}
		if err := ws.WriteFiles(ctx, files, nil); err != nil {
			return nil, fmt.Errorf("user %d: write the devices' files: %w", ui, err)
		}
		if err := ws.Push(ctx); err != nil {
			return nil, fmt.Errorf("user %d: send the devices' files: %w", ui, err)
		}
	}

	o.Logf("Opening %d devices…", o.Clients)
	var g errgroup.Group
	g.SetLimit(4)
	var mu sync.Mutex
	var opened []*loadDevice
	for i, d := range devices {
		g.Go(func() error {
			c, err := client.Open(ctx, fx.path("devices", d.label), locals[i], client.Options{HTTPClient: deviceHTTPClient(i, spread)})
			if err != nil {
				return fmt.Errorf("device %s: %w", d.label, err)
			}
			d.c = c
			mu.Lock()
			opened = append(opened, d)
			mu.Unlock()
			if _, err := c.PollCertificates(ctx); err != nil {
				return fmt.Errorf("device %s: %w", d.label, err)
			}
			if d.ws, err = c.Workspace(ctx, users[d.user].ws); err == nil {
				err = d.ws.Pull(ctx)
			}
			if err != nil {
				return fmt.Errorf("device %s: open its workspace: %w", d.label, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return opened, err
	}
	for _, d := range devices {
		for _, o := range devices {
			if o.user == d.user {
				d.peers = append(d.peers, o.index)
			}
		}
	}
	return devices, nil
}

// join invites user number u (a Member) and runs both sides of the invitation in this
// process, the organization's first device greeting; it returns the new user's client.
func (fx *fixture) join(ctx context.Context, u int) (*client.Client, error) {
	email := fmt.Sprintf("load%d@example.com", u)
	inv, err := fx.c.InviteUser(ctx, email, false)
	if err != nil {
		return nil, fmt.Errorf("invite %s: %w", email, err)
	}
	handle, err := parsec.NewHumanHandle(email, fmt.Sprintf("Load User %d", u))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	greeterCode, claimerCode := make(chan crypto.SASCode, 1), make(chan crypto.SASCode, 1)
	greeted := make(chan error, 1)
	go func() {
		greeted <- func() error {
			g, err := fx.c.Greet(ctx, inv.Token)
			if err != nil {
				return err
			}
			greeterCode <- g.Code()
			if err := g.WaitClaimerTrust(ctx); err != nil {
				return err
			}
			select {
			case code := <-claimerCode:
				if err := g.ConfirmClaimerCode(ctx, code); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
			req, err := g.Request(ctx)
			if err != nil {
				return err
			}
			_, err = g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, parsec.ProfileStandard)
			return err
		}()
	}()
	dev, err := func() (*device.Local, error) {
		cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
		if err != nil {
			return nil, err
		}
		if err := cl.Start(ctx); err != nil {
			return nil, err
		}
		select {
		case code := <-greeterCode:
			if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		claimerCode <- cl.Code()
		if err := cl.WaitGreeterTrust(ctx); err != nil {
			return nil, err
		}
		return cl.Finish(ctx, fx.path("users", strconv.Itoa(u)), handle, "setup", []byte(randomHex(16)))
	}()
	if err != nil {
		cancel()
		if gerr := <-greeted; gerr != nil {
			err = fmt.Errorf("%w (greeter: %v)", err, gerr)
		}
		return nil, fmt.Errorf("%s joining: %w", email, err)
	}
	if err := <-greeted; err != nil {
		return nil, fmt.Errorf("greeting %s: %w", email, err)
	}
	return openPolled(ctx, fx.path("users", strconv.Itoa(u)), dev)
}
