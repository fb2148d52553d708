package client

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// WorkspaceInfo is what the certificates say of a workspace this user belongs to.
type WorkspaceInfo struct {
	ID             parsec.VlobID
	Name           string // "" when it cannot be read (no key yet, corrupted name)
	Role           parsec.RealmRole
	Archiving      string // certif.Archiving*
	DeletionDate   parsec.DateTime
	KeyIndex       uint64
	CanSelfPromote bool
	// Tampered, when not nil, is why the name could not be read: the server sent keys
	// or a name that do not open (a parsec.Tampered error).
	Tampered error
}

// ReadOnly reports whether nobody may write in the workspace (archived or deletion planned).
func (w WorkspaceInfo) ReadOnly() bool { return w.Archiving != certif.ArchivingAvailable }

// WorkspaceMember is a member of a workspace and the role the certificates give it.
type WorkspaceMember struct {
	User UserInfo
	Role parsec.RealmRole
}

// certRealm returns the realm as the certificates describe it (under c.mu).
func (c *Client) certRealm(id parsec.VlobID) (certif.Realm, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.certs.Realm(id)
}

// Workspaces lists the workspaces this user currently has a role in, in order of creation.
// Names are decrypted with the workspaces' keys, fetched from the server when needed.
func (c *Client) Workspaces(ctx context.Context) ([]WorkspaceInfo, error) {
	c.mu.Lock()
	roles := c.certs.RolesOf(c.dev.UserID)
	ids := c.certs.Realms()
	c.mu.Unlock()
	var out []WorkspaceInfo
	for _, id := range ids {
		role, ok := roles[id]
		if !ok {
			continue
		}
		info, err := c.workspaceInfo(ctx, id, role)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (c *Client) workspaceInfo(ctx context.Context, id parsec.VlobID, role parsec.RealmRole) (WorkspaceInfo, error) {
	r, _ := c.certRealm(id)
	info := WorkspaceInfo{ID: id, Role: role, Archiving: certif.ArchivingAvailable, KeyIndex: uint64(len(r.KeyRotations))}
	if r.Archiving != nil {
		info.Archiving, info.DeletionDate = r.Archiving.Configuration, r.Archiving.DeletionDate
	}
	info.CanSelfPromote = c.canSelfPromote(r, role)
	if r.Name != nil && info.KeyIndex > 0 {
		keys, err := c.keysOf(ctx, id)
		if err != nil && parsec.KindOf(err) != parsec.Tampered {
			return info, err
		}
		if err == nil {
			var name string
			if name, err = openName(keys, r.Name); err == nil {
				info.Name = name
			}
		}
		if parsec.KindOf(err) == parsec.Tampered {
			info.Tampered = err
		}
	}
	return info, nil
}

// canSelfPromote: no active OWNER remains and nobody active holds a higher role.
func (c *Client) canSelfPromote(r certif.Realm, role parsec.RealmRole) bool {
	return c.selfPromotion(r, role) == parsec.RefusalNone
}

func nameKey(key crypto.RealmKey, realm parsec.VlobID) crypto.SecretKey {
	return key.Derive(crypto.PurposeRealmName, realm)
}

func openName(keys *realmKeys, cert *certif.RealmNameCertificate) (string, error) {
	key, err := keys.key(cert.KeyIndex)
	if err != nil {
		return "", err
	}
	name, err := nameKey(key, cert.RealmID).Decrypt(cert.EncryptedName, cert.RealmID[:])
	if err != nil {
		return "", parsec.Errorf(parsec.Tampered, "the name of workspace %s does not decrypt", parsec.ShortID(cert.RealmID))
	}
	// Written by a member's device, which checked it: another device, or a member
	// meaning harm, may not have. The name becomes a folder's when the workspace is
	// downloaded or mounted: "..", "/" or a control character must not reach there.
	if _, err := manifest.ParseEntryName(string(name)); err != nil {
		return "", parsec.Errorf(parsec.Invalid, "workspace %s has a name that cannot be used: %v", parsec.ShortID(cert.RealmID), err)
	}
	return string(name), nil
}

// FindWorkspace finds a workspace of this user by its whole ID, by exact name, or by a
// unique prefix of its ID. A whole ID comes first: names are chosen by members, and one
// may name a workspace after another's ID.
func (c *Client) FindWorkspace(ctx context.Context, ref string) (WorkspaceInfo, error) {
	all, err := c.Workspaces(ctx)
	if err != nil {
		return WorkspaceInfo{}, err
	}
	if id, err := parsec.ParseVlobID(ref); err == nil {
		for _, w := range all {
			if w.ID == id {
				return w, nil
			}
		}
	}
	var byName, byID []WorkspaceInfo
	for _, w := range all {
		if w.Name == ref {
			byName = append(byName, w)
		}
		if len(ref) >= 4 && strings.HasPrefix(w.ID.String(), strings.ToLower(ref)) {
			byID = append(byID, w)
		}
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return WorkspaceInfo{}, parsec.Errorf(parsec.Invalid, "%d workspaces are named %q: use an ID prefix", len(byName), ref)
	case len(byID) == 1:
		return byID[0], nil
	case len(byID) > 1:
		return WorkspaceInfo{}, parsec.Errorf(parsec.Invalid, "workspace ID prefix %q is ambiguous", ref)
	}
	// A workspace whose name the server keeps from being read may be the one: say so,
	// rather than that it does not exist.
	for _, w := range all {
		if w.Tampered != nil {
			return WorkspaceInfo{}, parsec.Errorf(parsec.Tampered, "no workspace named %q can be found, and the name of workspace %s cannot be read: %w", ref, parsec.ShortID(w.ID), w.Tampered)
		}
	}
	return WorkspaceInfo{}, parsec.Errorf(parsec.NotFound, "no workspace named %q or with an ID starting with it", ref)
}

// CreateWorkspace creates a workspace: this user is its OWNER; it gets its first key and
// its encrypted name, then its empty root folder. Not allowed to External users.
func (c *Client) CreateWorkspace(ctx context.Context, name string) (parsec.VlobID, error) {
	name = strings.TrimSpace(name)
	if _, err := manifest.ParseEntryName(name); err != nil {
		return parsec.VlobID{}, parsec.Errorf(parsec.Invalid, "invalid workspace name %q: %v", name, err)
	}
	if !parsec.CanCreateRealm(c.Profile()) {
		return parsec.VlobID{}, parsec.Errorf(parsec.Permission, "External users cannot create workspaces")
	}
	id := c.newRealmID()
	err := c.certify(ctx, realmOffset, protocol.CmdRealmCreate, c.roleCert(id, c.dev.UserID, parsec.RoleOwner),
		func(signed []byte) any { return protocol.RealmCreateReq{RealmRoleCertificate: signed} })
	if err != nil {
		return id, err
	}
	if err := c.finishBootstrap(ctx, id, name); err != nil {
		return id, err
	}
	return id, nil
}

// finishBootstrap gives a realm this user created its first key and its name, whichever
// is missing (creation is three steps that a crash may interrupt).
func (c *Client) finishBootstrap(ctx context.Context, id parsec.VlobID, name string) error {
	r, _ := c.certRealm(id)
	if len(r.KeyRotations) == 0 {
		if err := c.rotateKey(ctx, id); err != nil {
			return err
		}
	}
	r, _ = c.certRealm(id)
	if r.Name == nil {
		if name == "" {
			name = "workspace " + parsec.ShortID(id)
		}
		err := c.rename(ctx, id, name, true)
		if protocol.IsStatus(err, protocol.StatusInitialNameAlreadyExists) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	ws, err := c.Workspace(ctx, id)
	if err != nil {
		return err
	}
	return ws.Sync(ctx)
}

// RenameWorkspace changes a workspace's name (OWNER).
func (c *Client) RenameWorkspace(ctx context.Context, id parsec.VlobID, name string) error {
	name = strings.TrimSpace(name)
	if _, err := manifest.ParseEntryName(name); err != nil {
		return parsec.Errorf(parsec.Invalid, "invalid workspace name %q: %v", name, err)
	}
	return c.rename(ctx, id, name, false)
}

func (c *Client) rename(ctx context.Context, id parsec.VlobID, name string, initial bool) error {
	keys, err := c.keysOf(ctx, id)
	if err != nil {
		return err
	}
	index, key, err := keys.current()
	if err != nil {
		return err
	}
	encrypted := nameKey(key, id).Encrypt([]byte(name), id[:])
	return c.certify(ctx, realmOffset, protocol.CmdRealmRename,
		func(ts parsec.DateTime) certif.Certificate {
			return &certif.RealmNameCertificate{Author: c.dev.DeviceID, Timestamp: ts, RealmID: id, KeyIndex: index, EncryptedName: encrypted}
		},
		func(signed []byte) any {
			return protocol.RealmRenameReq{RealmNameCertificate: signed, InitialNameOrFail: initial}
		})
}

// ShareWorkspace gives a user a role in a workspace (or changes it). The server and every
// client check the rules: an OWNER grants anything, a MANAGER only READER and CONTRIBUTOR
// to users who are not MANAGER or OWNER, External users get READER or CONTRIBUTOR only,
// nobody changes their own role. Granting a user the role they already have changes nothing
// and gives an error of kind parsec.Exists.
func (c *Client) ShareWorkspace(ctx context.Context, id parsec.VlobID, user parsec.UserID, role parsec.RealmRole) error {
	if role == parsec.RoleNone {
		_, _, err := c.UnshareWorkspace(ctx, id, user)
		return err
	}
	if user == c.dev.UserID {
		return parsec.Errorf(parsec.Invalid, "you cannot change your own role")
	}
	c.mu.Lock()
	u, ok := c.certs.User(user)
	c.mu.Unlock()
	if !ok {
		return parsec.Errorf(parsec.NotFound, "user %s not found", parsec.ShortID(user))
	}
	for attempt := 0; ; attempt++ {
		keys, err := c.keysOf(ctx, id)
		if err != nil {
			return err
		}
		access, err := manifest.SealKeysBundleAccess(keys.bundleKey, u.PublicKey)
		if err != nil {
			return err
		}
		err = c.certify(ctx, realmOffset, protocol.CmdRealmShare, c.roleCert(id, user, role), func(signed []byte) any {
			return protocol.RealmShareReq{RealmRoleCertificate: signed, RecipientKeysBundleAccess: access, KeyIndex: keys.index}
		})
		if attempt < 3 && protocol.IsStatus(err, protocol.StatusBadKeyIndex) {
			// The workspace got a new key meanwhile: share the new bundle.
			if _, err := c.PollCertificates(ctx); err != nil {
				return err
			}
			continue
		}
		return err
	}
}

// UnshareWorkspace removes a user's role, then, when this user is OWNER, rotates the key so
// that the removed user cannot read anything written afterwards. (When the remover is a
// MANAGER, an OWNER's client rotates on its next sync.) It returns the key the workspace
// has then, and whether it is new. Removing a user who is not a member gives an error of
// kind parsec.Exists.
func (c *Client) UnshareWorkspace(ctx context.Context, id parsec.VlobID, user parsec.UserID) (key uint64, rotated bool, err error) {
	if user == c.dev.UserID {
		return 0, false, parsec.Errorf(parsec.Invalid, "you cannot remove yourself")
	}
	before := c.keyIndex(id)
	if err := c.unshare(ctx, id, user); err != nil {
		return before, false, err
	}
	err = c.rotateIfNeeded(ctx, id)
	key = c.keyIndex(id)
	return key, key > before, err
}

// keyIndex is the index of a realm's current key, as the certificates say.
func (c *Client) keyIndex(id parsec.VlobID) uint64 {
	r, _ := c.certRealm(id)
	return uint64(len(r.KeyRotations))
}

func (c *Client) unshare(ctx context.Context, id parsec.VlobID, user parsec.UserID) error {
	return c.certify(ctx, realmOffset, protocol.CmdRealmUnshare, c.roleCert(id, user, parsec.RoleNone),
		func(signed []byte) any { return protocol.RealmUnshareReq{RealmRoleCertificate: signed} })
}

// realmOffset is the timestamp offset of realm certificates (see WithFreshTimestamp).
const realmOffset = 200 * time.Millisecond

// roleCert makes the role certificate giving user role (RoleNone: removing them) in a realm.
func (c *Client) roleCert(realm parsec.VlobID, user parsec.UserID, role parsec.RealmRole) func(parsec.DateTime) certif.Certificate {
	return func(ts parsec.DateTime) certif.Certificate {
		return &certif.RealmRoleCertificate{Author: c.dev.DeviceID, Timestamp: ts, RealmID: realm, UserID: user, Role: role}
	}
}

// needsRotation reports whether someone left the realm after its last key rotation.
func (c *Client) needsRotation(id parsec.VlobID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.certs.Realm(id)
	if !ok || len(r.KeyRotations) == 0 {
		return false
	}
	last := r.KeyRotations[len(r.KeyRotations)-1].Timestamp
	return c.certs.LastRemoval(id) > last
}

func (c *Client) rotateIfNeeded(ctx context.Context, id parsec.VlobID) error {
	c.mu.Lock()
	role, _ := c.certs.RealmRole(id, c.dev.UserID)
	c.mu.Unlock()
	if role != parsec.RoleOwner || !c.needsRotation(id) {
		return nil
	}
	return c.rotateKey(ctx, id)
}

// WorkspaceMembers lists a workspace's current members.
func (c *Client) WorkspaceMembers(id parsec.VlobID) ([]WorkspaceMember, error) {
	r, ok := c.certRealm(id)
	if !ok {
		return nil, parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(id))
	}
	users := c.Users()
	var out []WorkspaceMember
	for _, m := range r.Members {
		i := slices.IndexFunc(users, func(u UserInfo) bool { return u.ID == m.UserID })
		if i < 0 {
			continue
		}
		out = append(out, WorkspaceMember{User: users[i], Role: m.Role})
	}
	return out, nil
}

// ArchiveWorkspace sets a workspace's archiving configuration (OWNER): certif.ArchivingAvailable,
// ArchivingArchived, or ArchivingDeletionPlanned with a deletion date. Making a workspace
// available or archived when it already is changes nothing and gives an error of kind
// parsec.Exists.
func (c *Client) ArchiveWorkspace(ctx context.Context, id parsec.VlobID, configuration string, deletion parsec.DateTime) error {
	return c.archive(ctx, id, configuration, func(parsec.DateTime) parsec.DateTime { return deletion })
}

// PlanWorkspaceDeletion archives a workspace and plans its deletion after the given delay,
// counted from the archiving certificate's time as the server counts the organization's
// minimum archiving period, so that a delay equal to that minimum is accepted. It returns
// the deletion date.
func (c *Client) PlanWorkspaceDeletion(ctx context.Context, id parsec.VlobID, after time.Duration) (parsec.DateTime, error) {
	var deletion parsec.DateTime
	err := c.archive(ctx, id, certif.ArchivingDeletionPlanned, func(ts parsec.DateTime) parsec.DateTime {
		deletion = ts.Add(after)
		return deletion
	})
	return deletion, err
}

func (c *Client) archive(ctx context.Context, id parsec.VlobID, configuration string, deletion func(ts parsec.DateTime) parsec.DateTime) error {
	r, _ := c.certRealm(id)
	current := certif.ArchivingAvailable
	if r.Archiving != nil {
		current = r.Archiving.Configuration
	}
	if current == configuration && configuration != certif.ArchivingDeletionPlanned {
		return parsec.Errorf(parsec.Exists, "workspace %s is already %s", parsec.ShortID(id), strings.ToLower(configuration))
	}
	return c.certify(ctx, realmOffset, protocol.CmdRealmUpdateArchiving,
		func(ts parsec.DateTime) certif.Certificate {
			return &certif.RealmArchivingCertificate{Author: c.dev.DeviceID, Timestamp: ts, RealmID: id, Configuration: configuration, DeletionDate: deletion(ts)}
		},
		func(signed []byte) any { return protocol.RealmUpdateArchivingReq{RealmArchivingCertificate: signed} })
}

// SelfPromote makes this user OWNER of a workspace that has no active owner left.
func (c *Client) SelfPromote(ctx context.Context, id parsec.VlobID) error {
	err := c.certify(ctx, realmOffset, protocol.CmdRealmSelfPromote, c.roleCert(id, c.dev.UserID, parsec.RoleOwner),
		func(signed []byte) any { return protocol.RealmSelfPromoteReq{RealmRoleCertificate: signed} })
	if err != nil {
		return err
	}
	return c.maintainRealm(ctx, id)
}

// MaintainWorkspaces does what owners' clients owe their workspaces: finish creating those
// this device started, remove revoked members, and rotate the key after anybody left.
func (c *Client) MaintainWorkspaces(ctx context.Context) error {
	c.mu.Lock()
	roles := c.certs.RolesOf(c.dev.UserID)
	c.mu.Unlock()
	var errs []error
	for id, role := range roles {
		if role != parsec.RoleOwner {
			continue
		}
		if err := c.maintainRealm(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Client) maintainRealm(ctx context.Context, id parsec.VlobID) error {
	r, _ := c.certRealm(id)
	if len(r.KeyRotations) == 0 || r.Name == nil {
		if r.CreatedBy == c.dev.DeviceID {
			return c.finishBootstrap(ctx, id, "")
		}
		return nil
	}
	for _, m := range r.Members {
		c.mu.Lock()
		u, ok := c.certs.User(m.UserID)
		c.mu.Unlock()
		if ok && !u.RevokedOn.IsZero() {
			err := c.unshare(ctx, id, m.UserID)
			if protocol.IsStatus(err, protocol.StatusRecipientAlreadyUnshared) {
				err = nil
			}
			if err != nil {
				return err
			}
		}
	}
	return c.rotateIfNeeded(ctx, id)
}
