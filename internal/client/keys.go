package client

import (
	"context"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// realmKeys are the keys of a realm as its last keys bundle gives them, validated. They
// live in memory only.
type realmKeys struct {
	index     uint64 // the bundle's key index: the realm's last key
	bundle    manifest.OpenedBundle
	bundleKey crypto.SecretKey
}

// current returns the key to encrypt new data with.
func (k *realmKeys) current() (uint64, crypto.RealmKey, error) { return k.bundle.Last() }

// key returns the key of an index, if it is valid.
func (k *realmKeys) key(index uint64) (crypto.RealmKey, error) { return k.bundle.Key(index) }

// keysOf returns the realm's keys, fetching and validating the bundle of its last key
// index when the client does not have it yet. The certificates must be up to date.
func (c *Client) keysOf(ctx context.Context, realm parsec.VlobID) (*realmKeys, error) {
	c.mu.Lock()
	r, ok := c.certs.Realm(realm)
	cached := c.keys[realm]
	c.mu.Unlock()
	if !ok {
		return nil, parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(realm))
	}
	last := uint64(len(r.KeyRotations))
	if last == 0 {
		return nil, parsec.Errorf(parsec.Unavailable, "workspace %s has no key yet: its owner has not finished creating it", parsec.ShortID(realm))
	}
	if cached != nil && cached.index == last {
		return cached, nil
	}
	var rep protocol.RealmGetKeysBundleRep
	if err := c.Call(ctx, protocol.CmdRealmGetKeysBundle, protocol.RealmGetKeysBundleReq{RealmID: realm, KeyIndex: last}, &rep); err != nil {
		return nil, err
	}
	priv, err := c.dev.UserKey()
	if err != nil {
		return nil, err
	}
	bundleKey, err := manifest.OpenKeysBundleAccess(rep.KeysBundleAccess, priv)
	if err != nil {
		return nil, parsec.Errorf(parsec.Tampered, "the server sent an access to the keys of workspace %s that does not open: %v", parsec.ShortID(realm), err)
	}
	rot := r.KeyRotations[last-1]
	c.mu.Lock()
	author, ok := c.certs.Device(rot.Author)
	c.mu.Unlock()
	if !ok {
		return nil, parsec.Errorf(parsec.Tampered, "the key rotation of workspace %s names an unknown device", parsec.ShortID(realm))
	}
	canaries := make([][]byte, len(r.KeyRotations))
	for i, kr := range r.KeyRotations {
		canaries[i] = kr.KeyCanary
	}
	opened, err := manifest.OpenKeysBundle(rep.KeysBundle, bundleKey, manifest.BundleExpected{
		RealmID: realm, KeyIndex: last, Author: rot.Author, Timestamp: rot.Timestamp,
	}, author.VerifyKey, canaries)
	if err != nil {
		return nil, err
	}
	k := &realmKeys{index: last, bundle: opened, bundleKey: bundleKey}
	c.mu.Lock()
	c.keys[realm] = k
	c.mu.Unlock()
	return k, nil
}

// forgetKeys drops the cached keys of a realm (after a rotation).
func (c *Client) forgetKeys(realm parsec.VlobID) {
	c.mu.Lock()
	delete(c.keys, realm)
	c.mu.Unlock()
}

// rotateKey introduces a new key for a realm (OWNER): a bundle of every key so far plus the
// new one, sealed for each current member. With first set, the realm has no key yet.
func (c *Client) rotateKey(ctx context.Context, realm parsec.VlobID) error {
	for attempt := 0; ; attempt++ {
		err := c.tryRotateKey(ctx, realm)
		if attempt < 3 && protocol.IsStatus(err, protocol.StatusParticipantMismatch, protocol.StatusBadKeyIndex) {
			// Someone joined, left or rotated meanwhile: catch up and try again.
			if _, err := c.PollCertificates(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		c.forgetKeys(realm)
		_, err = c.PollCertificates(ctx)
		return err
	}
}

func (c *Client) tryRotateKey(ctx context.Context, realm parsec.VlobID) error {
	c.mu.Lock()
	r, ok := c.certs.Realm(realm)
	c.mu.Unlock()
	if !ok {
		return parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(realm))
	}
	var keys []crypto.RealmKey
	if len(r.KeyRotations) > 0 {
		old, err := c.keysOf(ctx, realm)
		if err != nil {
			return err
		}
		keys = old.bundle.AllKeys()
	}
	newKey := crypto.GenerateRealmKey()
	keys = append(keys, newKey)
	return c.WithFreshTimestamp(ctx, 200*time.Millisecond, func(ts parsec.DateTime) error {
		c.mu.Lock()
		members := c.certs.Members(realm)
		access := make(map[parsec.UserID][]byte, len(members))
		var missing error
		bundle, bundleKey := manifest.SealKeysBundle(manifest.KeysBundle{
			Author: c.dev.DeviceID, Timestamp: ts, RealmID: realm, Keys: keys,
		}, c.signer)
		for _, m := range members {
			u, ok := c.certs.User(m.UserID)
			if !ok {
				missing = parsec.Errorf(parsec.Tampered, "workspace %s has a member unknown to the certificates", parsec.ShortID(realm))
				break
			}
			a, err := manifest.SealKeysBundleAccess(bundleKey, u.PublicKey)
			if err != nil {
				missing = err
				break
			}
			access[m.UserID] = a
		}
		c.mu.Unlock()
		if missing != nil {
			return missing
		}
		cert := &certif.RealmKeyRotationCertificate{
			Author: c.dev.DeviceID, Timestamp: ts, RealmID: realm, KeyIndex: uint64(len(keys)),
			EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm,
			KeyCanary: newKey.Canary(),
			Seen:      certif.Seen{View: c.seen(certif.RealmTopic(realm))},
		}
		return c.Call(ctx, protocol.CmdRealmRotateKey, protocol.RealmRotateKeyReq{
			RealmKeyRotationCertificate:    certif.Sign(c.signer, cert),
			PerParticipantKeysBundleAccess: access,
			KeysBundle:                     bundle,
		}, nil)
	})
}
