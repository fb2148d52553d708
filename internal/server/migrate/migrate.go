package migrate

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Stores are a deployment's metadata store and block store.
type Stores struct {
	Meta   metastore.Store
	Blocks blockstore.Store
}

// Summary says what a copy did.
type Summary struct {
	Organizations []OrgSummary
	BlocksCopied  int   // blocks written to the target block store
	BlocksSkipped int   // blocks already there
	BytesCopied   int64 // bytes of the blocks written
	BlocksChecked int   // blocks read back from both block stores, of equal SHA-256
}

// OrgSummary is one organization's part of a copy.
type OrgSummary struct {
	ID      parsec.OrganizationID
	Skipped bool // its metadata was already in the target store
	Counts       // what it holds, in both stores at the end
}

// Counts are the records of an organization.
type Counts struct {
	Users, Devices, Certificates, Invitations, Realms, VlobVersions, Blocks int
}

func (c Counts) String() string {
	return fmt.Sprintf("%d users, %d devices, %d certificates, %d invitations, %d workspaces, %d file and folder versions, %d blocks",
		c.Users, c.Devices, c.Certificates, c.Invitations, c.Realms, c.VlobVersions, c.Blocks)
}

// blockWorkers bounds the blocks copied or checked at once.
const blockWorkers = 8

// Copy copies every organization of from into to: the metadata of those to does not hold
// yet, then every block to does not hold yet. It then checks that both metadata stores hold
// the same organizations and both block stores the same bytes (SHA-256) for every block
// the metadata names. The source must not change meanwhile: stop its servers first.
// progress, if not nil, is told of each step.
func Copy(ctx context.Context, from, to Stores, progress func(format string, args ...any)) (Summary, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	var sum Summary
	var orgs []metastore.Organization
	if err := from.Meta.View(ctx, func(tx metastore.Tx) (err error) {
		orgs, err = tx.Organizations()
		return err
	}); err != nil {
		return sum, fmt.Errorf("listing the organizations: %w", err)
	}
	for _, o := range orgs {
		src, err := read(ctx, from.Meta, o.ID)
		if err != nil {
			return sum, fmt.Errorf("reading organization %s: %w", o.ID, err)
		}
		os := OrgSummary{ID: o.ID, Counts: src.counts()}
		err = to.Meta.Update(ctx, func(tx metastore.Tx) error {
			if _, err := tx.Organization(o.ID); err == nil {
				os.Skipped = true
				return nil
			} else if !errors.Is(err, metastore.ErrNotFound) {
				return err
			}
			return src.write(tx)
		})
		if err != nil {
			return sum, fmt.Errorf("writing organization %s: %w", o.ID, err)
		}
		if os.Skipped {
			progress("Organization %s: already in the target metadata store, skipped.", o.ID)
		} else {
			progress("Organization %s: copied (%s).", o.ID, os.Counts)
		}
		if err := copyBlocks(ctx, from.Blocks, to.Blocks, src, &sum); err != nil {
			return sum, err
		}
		sum.Organizations = append(sum.Organizations, os)
	}
	progress("Blocks: %d copied (%d bytes), %d already there.", sum.BlocksCopied, sum.BytesCopied, sum.BlocksSkipped)
	for _, o := range orgs {
		if err := check(ctx, from, to, o.ID, &sum); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// copyBlocks copies the blocks of an organization that dst does not hold yet.
func copyBlocks(ctx context.Context, src, dst blockstore.Store, o *orgData, sum *Summary) error {
	var copied, skipped, bytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blockWorkers)
	for _, b := range o.allBlocks() {
		g.Go(func() error {
			if rc, size, err := dst.Open(gctx, o.org.ID, b.ID); err == nil {
				rc.Close()
				if size == b.Size {
					skipped.Add(1)
					return nil
				}
			} else if !parsec.IsKind(err, parsec.NotFound) {
				return fmt.Errorf("block %s of %s in the target block store: %w", b.ID, o.org.ID, err)
			}
			data, err := src.Get(gctx, o.org.ID, b.ID)
			if err != nil {
				return fmt.Errorf("block %s of %s in the source block store: %w", b.ID, o.org.ID, err)
			}
			if err := dst.Put(gctx, o.org.ID, b.ID, data); err != nil {
				return fmt.Errorf("writing block %s of %s: %w", b.ID, o.org.ID, err)
			}
			copied.Add(1)
			bytes.Add(int64(len(data)))
			return nil
		})
	}
	err := g.Wait()
	sum.BlocksCopied += int(copied.Load())
	sum.BlocksSkipped += int(skipped.Load())
	sum.BytesCopied += bytes.Load()
	return err
}

// check fails unless both metadata stores hold the same organization, and both block
// stores the same bytes for each of its blocks.
func check(ctx context.Context, from, to Stores, org parsec.OrganizationID, sum *Summary) error {
	src, err := read(ctx, from.Meta, org)
	if err != nil {
		return fmt.Errorf("checking organization %s: %w", org, err)
	}
	dst, err := read(ctx, to.Meta, org)
	if err != nil {
		return fmt.Errorf("checking organization %s in the target metadata store: %w", org, err)
	}
	if diff := gocmp.Diff(src, dst, gocmp.AllowUnexported(orgData{}, realmData{}, bundleData{}), cmpopts.EquateEmpty()); diff != "" {
		return fmt.Errorf("organization %s differs in the target metadata store (-source +target):\n%s", org, diff)
	}
	var checked atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blockWorkers)
	for _, b := range src.allBlocks() {
		g.Go(func() error {
			a, err := digest(gctx, from.Blocks, org, b.ID)
			if err != nil {
				return fmt.Errorf("block %s of %s in the source block store: %w", b.ID, org, err)
			}
			z, err := digest(gctx, to.Blocks, org, b.ID)
			if err != nil {
				return fmt.Errorf("block %s of %s in the target block store: %w", b.ID, org, err)
			}
			if a != z {
				return fmt.Errorf("block %s of %s differs in the target block store (SHA-256 %x, want %x)", b.ID, org, z, a)
			}
			checked.Add(1)
			return nil
		})
	}
	err = g.Wait()
	sum.BlocksChecked += int(checked.Load())
	return err
}

func digest(ctx context.Context, s blockstore.Store, org parsec.OrganizationID, id parsec.BlockID) ([32]byte, error) {
	data, err := s.Get(ctx, org, id)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(data), nil
}

// orgData is everything a metadata store holds of one organization.
type orgData struct {
	org         metastore.Organization
	common      []metastore.Certificate
	users       []metastore.User
	devices     []metastore.Device
	invitations []metastore.Invitation
	attempts    []metastore.GreetingAttempt
	realms      []realmData
	recovery    []metastore.RecoverySetup // shared-recovery setups, deleted ones included
	recCerts    []metastore.Certificate   // the certificates of the users' shared-recovery topics
}

type realmData struct {
	realm   metastore.Realm
	certs   []metastore.Certificate
	roles   []metastore.RealmRole
	bundles []bundleData
	atoms   []metastore.VlobAtom // in the order of the realm's change log
	blocks  []metastore.Block
}

type bundleData struct {
	bundle metastore.KeysBundle
	access map[parsec.UserID][]byte
}

func (o *orgData) counts() Counts {
	c := Counts{Users: len(o.users), Devices: len(o.devices), Certificates: len(o.common) + len(o.recCerts), Invitations: len(o.invitations), Realms: len(o.realms)}
	for _, r := range o.realms {
		c.Certificates += len(r.certs)
		c.VlobVersions += len(r.atoms)
		c.Blocks += len(r.blocks)
	}
	return c
}

func (o *orgData) allBlocks() []metastore.Block {
	var all []metastore.Block
	for _, r := range o.realms {
		all = append(all, r.blocks...)
	}
	return all
}

// read reads an organization from a metadata store, in one consistent snapshot.
func read(ctx context.Context, s metastore.Store, id parsec.OrganizationID) (*orgData, error) {
	o := &orgData{}
	err := s.View(ctx, func(tx metastore.Tx) error {
		var err error
		if o.org, err = tx.Organization(id); err != nil {
			return err
		}
		if o.common, err = tx.Certificates(id, metastore.CommonTopic, 0); err != nil {
			return err
		}
		if o.users, err = tx.Users(id); err != nil {
			return err
		}
		for _, u := range o.users {
			d, err := tx.Devices(id, u.ID)
			if err != nil {
				return err
			}
			o.devices = append(o.devices, d...)
		}
		if o.invitations, err = tx.Invitations(id); err != nil {
			return err
		}
		for _, inv := range o.invitations {
			a, err := tx.GreetingAttempts(id, inv.Token)
			if err != nil {
				return err
			}
			o.attempts = append(o.attempts, a...)
		}
		topics, err := tx.RealmTopics(id)
		if err != nil {
			return err
		}
		slices.Sort(topics)
		for _, topic := range topics {
			realm, ok := topic.Realm()
			if !ok {
				return fmt.Errorf("unexpected certificate topic %q", topic)
			}
			r, err := readRealm(tx, id, realm, o.users)
			if err != nil {
				return fmt.Errorf("workspace %s: %w", realm, err)
			}
			o.realms = append(o.realms, r)
		}
		if o.recovery, err = tx.RecoverySetups(id); err != nil {
			return err
		}
		seen := make(map[parsec.UserID]bool)
		for _, setup := range o.recovery {
			if seen[setup.User] {
				continue
			}
			seen[setup.User] = true
			certs, err := tx.Certificates(id, metastore.RecoveryTopic(setup.User), 0)
			if err != nil {
				return err
			}
			o.recCerts = append(o.recCerts, certs...)
		}
		return nil
	})
	return o, err
}

func readRealm(tx metastore.Tx, org parsec.OrganizationID, id parsec.VlobID, users []metastore.User) (realmData, error) {
	var r realmData
	var err error
	if r.realm, err = tx.Realm(org, id); err != nil {
		return r, err
	}
	if r.certs, err = tx.Certificates(org, metastore.RealmTopic(id), 0); err != nil {
		return r, err
	}
	if r.roles, err = tx.RealmRoles(org, id); err != nil {
		return r, err
	}
	for k := uint64(1); k <= r.realm.KeyIndex; k++ {
		b, err := tx.KeysBundle(org, id, k)
		if errors.Is(err, metastore.ErrNotFound) {
			continue
		} else if err != nil {
			return r, err
		}
		bd := bundleData{bundle: b, access: map[parsec.UserID][]byte{}}
		for _, u := range users {
			a, err := tx.KeysBundleAccess(org, id, k, u.ID)
			if errors.Is(err, metastore.ErrNotFound) {
				continue
			} else if err != nil {
				return r, err
			}
			bd.access[u.ID] = a
		}
		r.bundles = append(r.bundles, bd)
	}
	// Every version of every vlob, in the order of the change log: by timestamp, since the
	// writes of a realm have increasing timestamps.
	last, _, err := tx.VlobChanges(org, id, 0, 0)
	if err != nil {
		return r, err
	}
	var refs []metastore.VlobRef
	for _, l := range last {
		for v := uint64(1); v <= l.Version; v++ {
			refs = append(refs, metastore.VlobRef{VlobID: l.VlobID, Version: v})
		}
	}
	if r.atoms, err = tx.VlobAtoms(org, id, refs); err != nil {
		return r, err
	}
	slices.SortStableFunc(r.atoms, func(a, b metastore.VlobAtom) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), bytes.Compare(a.VlobID[:], b.VlobID[:]), cmp.Compare(a.Version, b.Version))
	})
	r.blocks, err = tx.RealmBlocks(org, id)
	return r, err
}

// write writes the organization into a metadata store that does not hold it.
func (o *orgData) write(tx metastore.Tx) error {
	id := o.org.ID
	if err := tx.PutOrganization(o.org); err != nil {
		return err
	}
	for _, u := range o.users {
		if err := tx.InsertUser(id, u); err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
	}
	for _, d := range o.devices {
		if err := tx.InsertDevice(id, d); err != nil {
			return fmt.Errorf("device %s: %w", d.ID, err)
		}
	}
	for _, c := range o.common {
		if err := tx.AddCertificate(id, c); err != nil {
			return err
		}
	}
	for _, r := range o.realms {
		if err := r.write(tx, id); err != nil {
			return fmt.Errorf("workspace %s: %w", r.realm.ID, err)
		}
	}
	for _, c := range o.recCerts {
		if err := tx.AddCertificate(id, c); err != nil {
			return err
		}
	}
	for _, setup := range o.recovery {
		if err := tx.InsertRecoverySetup(id, setup); err != nil {
			return fmt.Errorf("shared-recovery setup of %s: %w", setup.User, err)
		}
	}
	for _, inv := range o.invitations {
		if err := tx.InsertInvitation(id, inv); err != nil {
			return fmt.Errorf("invitation: %w", err)
		}
	}
	for _, a := range o.attempts {
		if err := tx.InsertGreetingAttempt(id, a); err != nil {
			return fmt.Errorf("greeting attempt %s: %w", a.ID, err)
		}
	}
	return nil
}

func (r *realmData) write(tx metastore.Tx, org parsec.OrganizationID) error {
	id := r.realm.ID
	if err := tx.InsertRealm(org, r.realm); err != nil {
		return err
	}
	for _, role := range r.roles {
		if err := tx.AddRealmRole(org, id, role); err != nil {
			return err
		}
	}
	for _, b := range r.bundles {
		if err := tx.InsertKeysBundle(org, id, b.bundle, b.access); err != nil {
			return err
		}
	}
	for _, c := range r.certs {
		if err := tx.AddCertificate(org, c); err != nil {
			return err
		}
	}
	// One append per timestamp: the writes as the change log had them.
	for atoms := r.atoms; len(atoms) > 0; {
		n := 1
		for n < len(atoms) && atoms[n].Timestamp == atoms[0].Timestamp {
			n++
		}
		if _, err := tx.AppendVlobAtoms(org, id, atoms[:n]); err != nil {
			return err
		}
		atoms = atoms[n:]
	}
	for blocks := r.blocks; len(blocks) > 0; {
		n := min(len(blocks), 500)
		if err := tx.InsertBlocks(org, blocks[:n]); err != nil {
			return err
		}
		blocks = blocks[n:]
	}
	return nil
}
