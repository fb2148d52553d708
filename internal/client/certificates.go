package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

const (
	topicCommon = "common"
	metaFlavour = "certificate_flavour" // "full" or "redacted"
)

// loadCertificates rebuilds the validated chain from the local cache.
func (c *Client) loadCertificates(ctx context.Context) error {
	flavour, err := c.cache.Meta(ctx, metaFlavour)
	if err != nil {
		return err
	}
	if flavour == "" {
		flavour = "full"
		if c.dev.InitialProfile == parsec.ProfileOutsider {
			flavour = "redacted"
		}
		if err := c.cache.SetMeta(ctx, metaFlavour, flavour); err != nil {
			return err
		}
	}
	stored, err := c.cache.Certificates(ctx)
	if err != nil {
		return err
	}
	raws := make([][]byte, len(stored))
	for i, s := range stored {
		raws[i] = s.Data
	}
	mem := certif.NewMemory(c.dev.RootVerifyKey, flavour == "redacted")
	if err := mem.AddTrusted(raws...); err != nil {
		return parsec.Errorf(parsec.Invalid, "local cache of device %s is damaged: %v", parsec.ShortID(c.dev.DeviceID), err)
	}
	c.certs = mem
	return nil
}

// PollCertificates fetches the certificates newer than those the client has, validates them
// against the chain, and keeps them. It returns how many were added. If the server sends
// anything invalid, nothing of the batch is kept and the client refuses every later
// operation: the error (kind parsec.Tampered) says that the server sent an invalid
// certificate.
func (c *Client) PollCertificates(ctx context.Context) (int, error) {
	// One poll at a time: two that fetched the same new certificates would each add them,
	// and the second would see them as repeated, as if the server lied.
	c.pollMu.Lock()
	defer c.pollMu.Unlock()
	n, err := c.pollOnce(ctx)
	if err != nil {
		return n, err
	}
	// When this user's own profile changed to or from External, the certificates come in the
	// other flavour (redacted or full) from now on: fetch them all again in that flavour.
	c.mu.Lock()
	p, ok := c.certs.Profile(c.dev.UserID)
	switched := ok && (p == parsec.ProfileOutsider) != c.certs.ExpectsRedacted()
	c.mu.Unlock()
	if !switched {
		return n, nil
	}
	return c.pollOtherFlavour(ctx, nil)
}

func (c *Client) pollOnce(ctx context.Context) (int, error) {
	if err := c.failed(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	lasts := c.certs.LastTimestamps()
	c.mu.Unlock()
	req := protocol.CertificateGetReq{CommonAfter: lasts[certif.CommonTopic], RealmAfter: map[parsec.VlobID]parsec.DateTime{},
		RecoveryAfter: map[parsec.UserID]parsec.DateTime{}}
	for t, ts := range lasts {
		switch {
		case t.IsRecovery():
			req.RecoveryAfter[t.Recovery] = ts
		case !t.IsCommon():
			req.RealmAfter[t.Realm] = ts
		}
	}
	var rep protocol.CertificateGetRep
	if err := c.Call(ctx, protocol.CmdCertificateGet, req, &rep); err != nil {
		return 0, err
	}
	raws := flatten(rep)
	if len(raws) == 0 {
		return 0, c.checkSelf()
	}
	c.mu.Lock()
	added, err := c.certs.AddBatch(raws)
	if errors.Is(err, certif.ErrRedactedFlavour) {
		// Legitimate when this user's own profile changed to or from External since the
		// last poll and other users or devices arrived meanwhile: the server serves every
		// certificate in the flavour of the current profile.
		c.mu.Unlock()
		return c.pollOtherFlavour(ctx, err)
	}
	defer c.mu.Unlock()
	if err != nil {
		return 0, c.tamperedLocked(err)
	}
	if err := c.checkSelfLocked(); err != nil {
		// Valid on its own but without this device: keep none of it.
		c.loadCertificates(ctx)
		return 0, err
	}
	if err := c.cache.AddCertificates(ctx, cacheRows(added, raws)); err != nil {
		// Memory is ahead of the cache: rebuild it from the cache so both agree.
		c.loadCertificates(ctx)
		return 0, err
	}
	return len(added), nil
}

// flatten lists the certificates of a reply: the common topic's, then each realm's, then
// each shared-recovery topic's (in the order of IDs, for determinism).
func flatten(rep protocol.CertificateGetRep) [][]byte {
	raws := slices.Clone(rep.Common)
	ids := slices.SortedFunc(maps.Keys(rep.Realms), func(a, b parsec.VlobID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range ids {
		raws = append(raws, rep.Realms[id]...)
	}
	users := slices.SortedFunc(maps.Keys(rep.Recovery), func(a, b parsec.UserID) int { return bytes.Compare(a[:], b[:]) })
	for _, u := range users {
		raws = append(raws, rep.Recovery[u]...)
	}
	return raws
}

// cacheRows pairs validated certificates with their bytes, for the local cache.
func cacheRows(certs []certif.Certificate, raws [][]byte) []localdb.Certificate {
	rows := make([]localdb.Certificate, len(certs))
	for i, cert := range certs {
		topic := topicCommon
		switch t := cert.Topic(); {
		case t.IsRecovery():
			topic = "recovery/" + t.Recovery.String()
		case !t.IsCommon():
			topic = "realm/" + t.Realm.String()
		}
		rows[i] = localdb.Certificate{Topic: topic, Timestamp: cert.When(), Data: raws[i]}
	}
	return rows
}

// tamperedLocked stops the client for good: the server sent an invalid certificate.
func (c *Client) tamperedLocked(err error) error {
	c.tampered = parsec.Errorf(parsec.Tampered,
		"the server sent an invalid certificate; refusing to continue with organization %s: %w", c.dev.OrganizationID, err)
	return c.tampered
}

// pollOtherFlavour fetches the whole chain in the flavour this client does not hold,
// validates it from the start, and keeps it instead of the current one, provided that it
// ends with this user at a profile that gets that flavour and is not older than the current
// one. Otherwise the server is lying; cause, when set, is the rejection that led here and is
// the one reported.
func (c *Client) pollOtherFlavour(ctx context.Context, cause error) (int, error) {
	c.mu.Lock()
	redacted := !c.certs.ExpectsRedacted()
	had := c.certs.LastTimestamps()
	c.mu.Unlock()
	var rep protocol.CertificateGetRep
	if err := c.Call(ctx, protocol.CmdCertificateGet, protocol.CertificateGetReq{}, &rep); err != nil {
		return 0, err
	}
	flavour := "full"
	if redacted {
		flavour = "redacted"
	}
	mem := certif.NewMemory(c.dev.RootVerifyKey, redacted)
	raws := flatten(rep)
	added, err := mem.AddBatch(raws)
	if err == nil {
		p, ok := mem.Profile(c.dev.UserID)
		switch {
		case !ok:
			err = fmt.Errorf("%s certificates without this user", flavour)
		case (p == parsec.ProfileOutsider) != redacted:
			err = fmt.Errorf("%s certificates, but they say this user is %s", flavour, p.Label())
		default:
			err = reachesAll(mem, had, flavour)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if cause != nil {
			err = cause
		}
		return 0, c.tamperedLocked(err)
	}
	old := c.certs
	c.certs = mem
	if err := c.checkSelfLocked(); err != nil {
		c.certs = old
		return 0, err
	}
	rows := cacheRows(added, raws)
	if err := c.cache.ReplaceCertificates(ctx, rows, metaFlavour, flavour); err != nil {
		// Memory is ahead of the cache: rebuild it from the cache so both agree.
		c.loadCertificates(ctx)
		return 0, err
	}
	return len(added), nil
}

// reachesAll checks that a chain fetched again reaches, in every topic but the
// shared-recovery ones (which an External user is not shown), the last certificate this
// device had: both flavours carry the same certificates, and the server serves a member
// the workspaces it was removed from up to the removal, which it had already.
func reachesAll(mem *certif.Memory, had map[certif.Topic]parsec.DateTime, flavour string) error {
	topics := slices.SortedFunc(maps.Keys(had), func(a, b certif.Topic) int { return strings.Compare(a.String(), b.String()) })
	for _, t := range topics {
		if t.IsRecovery() {
			continue
		}
		if last, _ := mem.LastTimestamp(t); last < had[t] {
			return fmt.Errorf("%s certificates ending on %s in the %s topic, before the last one this device has (%s)", flavour, last, t, had[t])
		}
	}
	return nil
}

func (c *Client) checkSelf() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkSelfLocked()
}

// checkSelfLocked makes sure the chain contains this device with its own keys, as soon as
// there is a chain: a server that hid or replaced them is lying.
func (c *Client) checkSelfLocked() error {
	if len(c.certs.Users()) == 0 {
		return nil
	}
	d, ok := c.certs.Device(c.dev.DeviceID)
	if !ok {
		c.tampered = parsec.Errorf(parsec.Tampered, "the server's certificates do not include this device (%s): refusing to continue", parsec.ShortID(c.dev.DeviceID))
		return c.tampered
	}
	signer, _ := c.dev.Signer()
	if d.VerifyKey != signer.VerifyKey() || d.UserID != c.dev.UserID {
		c.tampered = parsec.Errorf(parsec.Tampered, "the server's certificate for this device does not match its keys: refusing to continue")
		return c.tampered
	}
	u, ok := c.certs.User(c.dev.UserID)
	userKey, err := c.dev.UserKey()
	if !ok || err != nil || !u.PublicKey.Equal(userKey.Public()) {
		c.tampered = parsec.Errorf(parsec.Tampered, "the server's certificate for this user does not match its keys: refusing to continue")
		return c.tampered
	}
	return nil
}

// UserInfo is a user as the client shows it.
type UserInfo struct {
	ID        parsec.UserID
	Handle    parsec.HumanHandle // redacted placeholder for External viewers
	Profile   parsec.UserProfile
	CreatedOn parsec.DateTime
	CreatedBy *parsec.DeviceID
	RevokedOn parsec.DateTime
	RevokedBy *parsec.DeviceID
	// RevokedByName is the name of the user who revoked this one (ListUsers, ShowUser).
	RevokedByName string
	Frozen        bool // frozen by the server administrator (ListUsers, ShowUser, for Administrators)
	Devices       []DeviceInfo
}

// Status is "active", "revoked" or "frozen".
func (u UserInfo) Status() string {
	switch {
	case !u.RevokedOn.IsZero():
		return "revoked"
	case u.Frozen:
		return "frozen"
	}
	return "active"
}

// DeviceInfo is a device as the client shows it.
type DeviceInfo struct {
	ID        parsec.DeviceID
	Label     string
	CreatedOn parsec.DateTime
	Recovery  bool // a recovery device (parsec device export-recovery)
}

// Users lists the organization's users from the validated certificates.
func (c *Client) Users() []UserInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []UserInfo
	for _, u := range c.certs.Users() {
		handle := u.Handle()
		if u.ID == c.dev.UserID && u.HumanHandle == nil {
			handle = c.dev.HumanHandle // an External user still knows who they are
		}
		info := UserInfo{
			ID: u.ID, Handle: handle, Profile: u.Profile(), CreatedOn: u.CreatedOn, CreatedBy: u.CreatedBy,
			RevokedOn: u.RevokedOn, RevokedBy: u.RevokedBy,
		}
		for _, d := range c.certs.Devices(u.ID) {
			info.Devices = append(info.Devices, DeviceInfo{ID: d.ID, Label: d.DisplayLabel(), CreatedOn: d.CreatedOn, Recovery: d.Recovery})
		}
		out = append(out, info)
	}
	return out
}

// Profile returns this user's current profile according to the certificates (the initial
// one before any were fetched).
func (c *Client) Profile() parsec.UserProfile {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.certs.Profile(c.dev.UserID); ok {
		return p
	}
	return c.dev.InitialProfile
}
