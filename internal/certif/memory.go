package certif

import (
	"cmp"
	"slices"
	"sync"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Memory is the client's view of an organization's certificates: it validates what it is
// given and keeps the result in memory. It implements State. It is safe for concurrent use.
type Memory struct {
	mu       sync.RWMutex
	root     crypto.VerifyKey
	redacted bool

	last    map[Topic]parsec.DateTime
	chains  map[Topic][]Point // every point of each topic's history, in order (see chain.go)
	users   map[parsec.UserID]*User
	order   []parsec.UserID // users in order of creation
	devices map[parsec.DeviceID]*Device
	realms  map[parsec.VlobID]*realm
	// recovery holds the last certificate of each user's shared-recovery topic.
	recovery map[parsec.UserID]Certificate
}

type realm struct {
	createdOn parsec.DateTime
	createdBy parsec.DeviceID
	members   map[parsec.UserID]Member
	history   []Member // every role change, in order (Role RoleNone: removal)
	rotations []*RealmKeyRotationCertificate
	name      *RealmNameCertificate
	archiving *RealmArchivingCertificate
}

// NewMemory returns an empty Memory for the organization whose root verify key is root.
// redacted says which flavour of user and device certificates the holder receives: true
// for an External (OUTSIDER) user, who gets them without human handles and device labels,
// false for everyone else. A certificate of the other flavour is rejected with
// ErrRedactedFlavour: the server served the wrong one.
func NewMemory(root crypto.VerifyKey, redacted bool) *Memory {
	return &Memory{
		root:     root,
		redacted: redacted,
		last:     make(map[Topic]parsec.DateTime),
		chains:   make(map[Topic][]Point),
		users:    make(map[parsec.UserID]*User),
		devices:  make(map[parsec.DeviceID]*Device),
		realms:   make(map[parsec.VlobID]*realm),
		recovery: make(map[parsec.UserID]Certificate),
	}
}

// ExpectsRedacted reports the flavour given to NewMemory.
func (m *Memory) ExpectsRedacted() bool { return m.redacted }

// RootVerifyKey returns the organization's root verify key.
func (m *Memory) RootVerifyKey() crypto.VerifyKey { return m.root }

// Add validates one certificate and keeps it.
func (m *Memory) Add(raw []byte) (Certificate, error) {
	cs, err := m.AddBatch([][]byte{raw})
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// AddBatch validates certificates and keeps them all, or none: when one is rejected the
// Memory is left as it was. Certificates of the common topic are processed first, then
// those of realm topics; within a topic, in the given order (the server's order). The
// result is in the given order.
func (m *Memory) AddBatch(raws [][]byte) ([]Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addBatch(raws, true)
}

// AddTrusted keeps certificates that this program validated earlier (read back from its
// own local storage, say) without checking signatures and rules again. It still decodes them
// strictly and checks their flavour, and it is all or nothing like AddBatch. Never give it
// bytes that came from the server without having gone through Add or AddBatch.
func (m *Memory) AddTrusted(raws ...[]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.addBatch(raws, false)
	return err
}

func (m *Memory) addBatch(raws [][]byte, check bool) ([]Certificate, error) {
	certs := make([]Certificate, len(raws))
	for i, raw := range raws {
		c, err := Decode(raw)
		if err != nil {
			return nil, err
		}
		certs[i] = c
	}
	order := make([]int, len(raws))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(topicRank(certs[a]), topicRank(certs[b]))
	})
	var undo journal
	for _, i := range order {
		c := certs[i]
		err := m.checkFlavour(c)
		if err == nil && check {
			err = validate(memState{m}, m.root, c, raws[i])
		}
		if err != nil {
			undo.rollback()
			return nil, err
		}
		m.apply(c, &undo)
	}
	return certs, nil
}

// topicRank orders a batch's topics: the common one first (everything refers to users and
// devices), then realms, then shared-recovery topics.
func topicRank(c Certificate) int {
	switch t := c.Topic(); {
	case t.IsRecovery():
		return 2
	case t.IsCommon():
		return 0
	}
	return 1
}

func (m *Memory) checkFlavour(c Certificate) error {
	var redacted bool
	switch c := c.(type) {
	case *UserCertificate:
		redacted = c.HumanHandle == nil
	case *DeviceCertificate:
		redacted = c.DeviceLabel == nil
	default:
		return nil
	}
	switch {
	case redacted && !m.redacted:
		return reject(c, ErrRedactedFlavour, "the server served a redacted certificate to a user who should get full ones")
	case !redacted && m.redacted:
		return reject(c, ErrRedactedFlavour, "the server served a full certificate to an External user, who should get redacted ones")
	}
	return nil
}

// journal records how to undo the changes of a batch.
type journal []func()

func (j *journal) push(f func()) { *j = append(*j, f) }

func (j journal) rollback() {
	for i := len(j) - 1; i >= 0; i-- {
		j[i]()
	}
}

// apply records a valid certificate. It tolerates inconsistent input (AddTrusted) by
// ignoring what refers to nothing known, rather than panicking.
func (m *Memory) apply(c Certificate, j *journal) {
	topic := c.Topic()
	old, had := m.last[topic]
	m.last[topic] = c.When()
	j.push(func() {
		if had {
			m.last[topic] = old
		} else {
			delete(m.last, topic)
		}
	})
	m.extendChain(c, j)

	switch c := c.(type) {
	case *UserCertificate:
		m.users[c.UserID] = &User{
			ID:             c.UserID,
			HumanHandle:    c.HumanHandle,
			PublicKey:      c.PublicKey,
			CreatedOn:      c.Timestamp,
			CreatedBy:      c.Author,
			InitialProfile: c.Profile,
		}
		m.order = append(m.order, c.UserID)
		n := len(m.order) - 1
		j.push(func() { delete(m.users, c.UserID); m.order = m.order[:n] })

	case *DeviceCertificate:
		m.devices[c.DeviceID] = &Device{
			ID:        c.DeviceID,
			UserID:    c.UserID,
			Label:     c.DeviceLabel,
			VerifyKey: c.VerifyKey,
			CreatedOn: c.Timestamp,
			CreatedBy: c.Author,
			Recovery:  c.Purpose != DevicePurpose,
		}
		j.push(func() { delete(m.devices, c.DeviceID) })
		if u := m.users[c.UserID]; u != nil {
			n := len(u.Devices)
			u.Devices = append(u.Devices, c.DeviceID)
			j.push(func() { u.Devices = u.Devices[:n] })
		}

	case *UserUpdateCertificate:
		if u := m.users[c.UserID]; u != nil {
			n := len(u.Updates)
			u.Updates = append(u.Updates, ProfileUpdate{On: c.Timestamp, By: c.Author, Profile: c.NewProfile})
			j.push(func() { u.Updates = u.Updates[:n] })
		}

	case *RevokedUserCertificate:
		if u := m.users[c.UserID]; u != nil {
			on, by := u.RevokedOn, u.RevokedBy
			u.RevokedOn, u.RevokedBy = c.Timestamp, &c.Author
			j.push(func() { u.RevokedOn, u.RevokedBy = on, by })
		}

	case *RealmRoleCertificate:
		r := m.realms[c.RealmID]
		if r == nil {
			r = &realm{createdOn: c.Timestamp, createdBy: c.Author, members: make(map[parsec.UserID]Member)}
			m.realms[c.RealmID] = r
			j.push(func() { delete(m.realms, c.RealmID) })
		}
		change := Member{UserID: c.UserID, Role: c.Role, Since: c.Timestamp, By: c.Author}
		nh := len(r.history)
		r.history = append(r.history, change)
		j.push(func() { r.history = r.history[:nh] })
		old, had := r.members[c.UserID]
		if c.Role == parsec.RoleNone {
			delete(r.members, c.UserID)
		} else {
			r.members[c.UserID] = Member{UserID: c.UserID, Role: c.Role, Since: c.Timestamp, By: c.Author}
		}
		j.push(func() {
			if had {
				r.members[c.UserID] = old
			} else {
				delete(r.members, c.UserID)
			}
		})

	case *RealmNameCertificate:
		if r := m.realms[c.RealmID]; r != nil {
			old := r.name
			r.name = c
			j.push(func() { r.name = old })
		}

	case *RealmKeyRotationCertificate:
		if r := m.realms[c.RealmID]; r != nil {
			n := len(r.rotations)
			r.rotations = append(r.rotations, c)
			j.push(func() { r.rotations = r.rotations[:n] })
		}

	case *RealmArchivingCertificate:
		if r := m.realms[c.RealmID]; r != nil {
			old := r.archiving
			r.archiving = c
			j.push(func() { r.archiving = old })
		}

	case *RecoverySetupCertificate, *RecoveryDeletionCertificate:
		user := c.Topic().Recovery
		old, had := m.recovery[user]
		m.recovery[user] = c
		j.push(func() {
			if had {
				m.recovery[user] = old
			} else {
				delete(m.recovery, user)
			}
		})
	}
}

// LastRecovery returns the last certificate of a user's shared-recovery topic (see State).
func (m *Memory) LastRecovery(user parsec.UserID) (Certificate, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.recovery[user], nil
}

// RecoverySetup returns the shared-recovery setup in force of a user, or nil (none ever,
// or the last one deleted).
func (m *Memory) RecoverySetup(user parsec.UserID) *RecoverySetupCertificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, _ := m.recovery[user].(*RecoverySetupCertificate)
	return s
}

// RecoverySetups returns every setup in force that the Memory knows of (the user's own and
// those it is a recipient of), by user.
func (m *Memory) RecoverySetups() map[parsec.UserID]*RecoverySetupCertificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[parsec.UserID]*RecoverySetupCertificate)
	for u, c := range m.recovery {
		if s, ok := c.(*RecoverySetupCertificate); ok {
			out[u] = s
		}
	}
	return out
}

// memState is the Memory seen as a State by its own validation, which runs with the
// lock already held.
type memState struct{ m *Memory }

func (s memState) LastTimestamp(t Topic) (parsec.DateTime, error) { return s.m.last[t], nil }

func (s memState) LastRecovery(user parsec.UserID) (Certificate, error) {
	return s.m.recovery[user], nil
}

func (s memState) LookupUser(id parsec.UserID) (User, bool, error) {
	u, ok := s.m.users[id]
	if !ok {
		return User{}, false, nil
	}
	return u.clone(), true, nil
}

func (s memState) LookupDevice(id parsec.DeviceID) (Device, bool, error) {
	d, ok := s.m.devices[id]
	if !ok {
		return Device{}, false, nil
	}
	return d.clone(), true, nil
}

func (s memState) RealmRole(realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	if r := s.m.realms[realm]; r != nil {
		return r.members[user].Role, nil
	}
	return parsec.RoleNone, nil
}

func (s memState) RealmMembers(realm parsec.VlobID) ([]Member, error) {
	r := s.m.realms[realm]
	if r == nil {
		return nil, nil
	}
	ms := make([]Member, 0, len(r.members))
	for _, mb := range r.members {
		ms = append(ms, mb)
	}
	slices.SortFunc(ms, func(a, b Member) int {
		if c := cmp.Compare(a.Since, b.Since); c != 0 {
			return c
		}
		return slices.Compare(a.UserID[:], b.UserID[:])
	})
	return ms, nil
}

func (s memState) RealmKeyIndex(realm parsec.VlobID) (uint64, error) {
	if r := s.m.realms[realm]; r != nil {
		return uint64(len(r.rotations)), nil
	}
	return 0, nil
}

func (s memState) PointAt(t Topic, ts parsec.DateTime) (Point, error) {
	return pointAt(s.m.chains[t], ts), nil
}

// State methods, for callers that want the Memory as a State.

func (m *Memory) PointAt(t Topic, ts parsec.DateTime) (Point, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.PointAt(t, ts)
}

func (m *Memory) LastTimestamp(t Topic) (parsec.DateTime, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.LastTimestamp(t)
}

func (m *Memory) LookupUser(id parsec.UserID) (User, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.LookupUser(id)
}

func (m *Memory) LookupDevice(id parsec.DeviceID) (Device, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.LookupDevice(id)
}

func (m *Memory) RealmRole(realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.RealmRole(realm, user)
}

func (m *Memory) RealmMembers(realm parsec.VlobID) ([]Member, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.RealmMembers(realm)
}

func (m *Memory) RealmKeyIndex(realm parsec.VlobID) (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memState{m}.RealmKeyIndex(realm)
}

// Read accessors for the client. They return copies.

// Users returns every user, in order of creation.
func (m *Memory) Users() []User {
	m.mu.RLock()
	defer m.mu.RUnlock()
	us := make([]User, len(m.order))
	for i, id := range m.order {
		us[i] = m.users[id].clone()
	}
	return us
}

// User returns a user.
func (m *Memory) User(id parsec.UserID) (User, bool) {
	u, ok, _ := m.LookupUser(id)
	return u, ok
}

// Device returns a device.
func (m *Memory) Device(id parsec.DeviceID) (Device, bool) {
	d, ok, _ := m.LookupDevice(id)
	return d, ok
}

// Devices returns a user's devices, in order of creation.
func (m *Memory) Devices(user parsec.UserID) []Device {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.users[user]
	if u == nil {
		return nil
	}
	ds := make([]Device, 0, len(u.Devices))
	for _, id := range u.Devices {
		if d := m.devices[id]; d != nil {
			ds = append(ds, d.clone())
		}
	}
	return ds
}

// Profile returns a user's current profile.
func (m *Memory) Profile(user parsec.UserID) (parsec.UserProfile, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u := m.users[user]
	if u == nil {
		return "", false
	}
	return u.Profile(), true
}

// RolesOf returns a user's current roles, by realm (realms where the user has no role are
// left out).
func (m *Memory) RolesOf(user parsec.UserID) map[parsec.VlobID]parsec.RealmRole {
	m.mu.RLock()
	defer m.mu.RUnlock()
	roles := make(map[parsec.VlobID]parsec.RealmRole)
	for id, r := range m.realms {
		if mb, ok := r.members[user]; ok {
			roles[id] = mb.Role
		}
	}
	return roles
}

// RoleAt returns the role a user had in a realm at time t: the role given by the last
// role certificate of that user with a timestamp not after t (RoleNone if none).
func (m *Memory) RoleAt(realm parsec.VlobID, user parsec.UserID, t parsec.DateTime) parsec.RealmRole {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.realms[realm]
	if r == nil {
		return parsec.RoleNone
	}
	role := parsec.RoleNone
	for _, h := range r.history {
		if h.Since > t {
			break
		}
		if h.UserID == user {
			role = h.Role
		}
	}
	return role
}

// LastRemoval returns the timestamp of the last role certificate removing someone from a
// realm (zero if nobody was ever removed).
func (m *Memory) LastRemoval(realm parsec.VlobID) parsec.DateTime {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.realms[realm]
	if r == nil {
		return 0
	}
	for i := len(r.history) - 1; i >= 0; i-- {
		if r.history[i].Role == parsec.RoleNone {
			return r.history[i].Since
		}
	}
	return 0
}

// Members returns a realm's current members, in the order they got their current role.
func (m *Memory) Members(realm parsec.VlobID) []Member {
	ms, _ := m.RealmMembers(realm)
	return ms
}

// Realm is what the certificates of one realm say.
type Realm struct {
	ID        parsec.VlobID
	CreatedOn parsec.DateTime
	CreatedBy parsec.DeviceID
	Members   []Member // current, in the order they got their role
	// KeyRotations[i] introduced the key of index i+1; the last one is the current key.
	KeyRotations []RealmKeyRotationCertificate
	Name         *RealmNameCertificate      // the last one; nil if never named
	Archiving    *RealmArchivingCertificate // the last one; nil if never archived (available)
}

// Realm returns what is known of a realm.
func (m *Memory) Realm(id parsec.VlobID) (Realm, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r := m.realms[id]
	if r == nil {
		return Realm{}, false
	}
	members, _ := memState{m}.RealmMembers(id)
	out := Realm{ID: id, CreatedOn: r.createdOn, CreatedBy: r.createdBy, Members: members}
	for _, k := range r.rotations {
		k := *k
		k.KeyCanary = slices.Clone(k.KeyCanary)
		out.KeyRotations = append(out.KeyRotations, k)
	}
	if r.name != nil {
		n := *r.name
		n.EncryptedName = slices.Clone(n.EncryptedName)
		out.Name = &n
	}
	if r.archiving != nil {
		a := *r.archiving
		out.Archiving = &a
	}
	return out, true
}

// Realms returns the IDs of every realm the Memory knows of, in order of creation.
func (m *Memory) Realms() []parsec.VlobID {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]parsec.VlobID, 0, len(m.realms))
	for id := range m.realms {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b parsec.VlobID) int {
		if c := cmp.Compare(m.realms[a].createdOn, m.realms[b].createdOn); c != 0 {
			return c
		}
		return slices.Compare(a[:], b[:])
	})
	return ids
}

// LastTimestamps returns the timestamp of the last certificate of every non-empty topic:
// what to ask the server for certificates "after".
func (m *Memory) LastTimestamps() map[Topic]parsec.DateTime {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[Topic]parsec.DateTime, len(m.last))
	for t, d := range m.last {
		out[t] = d
	}
	return out
}

func (u *User) clone() User {
	c := *u
	if u.HumanHandle != nil {
		h := *u.HumanHandle
		c.HumanHandle = &h
	}
	if u.CreatedBy != nil {
		d := *u.CreatedBy
		c.CreatedBy = &d
	}
	if u.RevokedBy != nil {
		d := *u.RevokedBy
		c.RevokedBy = &d
	}
	c.Updates = slices.Clone(u.Updates)
	c.Devices = slices.Clone(u.Devices)
	return c
}

func (d *Device) clone() Device {
	c := *d
	if d.Label != nil {
		l := *d.Label
		c.Label = &l
	}
	if d.CreatedBy != nil {
		a := *d.CreatedBy
		c.CreatedBy = &a
	}
	return c
}
