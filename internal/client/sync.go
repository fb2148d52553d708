package client

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Sync brings the workspace up to date both ways: it pulls the server's changes, merging
// them with the local ones (reference §12.6: folders merged three-way, conflicting file
// edits both kept), then pushes the local changes.
func (w *Workspace) Sync(ctx context.Context) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.pull(ctx); err != nil {
		return err
	}
	return w.push(ctx)
}

// Pull fetches and merges the server's changes only.
func (w *Workspace) Pull(ctx context.Context) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return w.pull(ctx)
}

// Push sends the local changes only (pulling first when the server has newer versions).
func (w *Workspace) Push(ctx context.Context) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return w.push(ctx)
}

// NeedSync reports whether the workspace has local changes not pushed yet.
func (w *Workspace) NeedSync() bool {
	w.lockRead()
	defer w.mu.Unlock()
	for _, e := range w.entries {
		if e.local != nil {
			return true
		}
	}
	pending, err := w.c.cache.HasPending(context.Background(), w.id)
	if err != nil {
		w.c.warn("workspace %s: %v", parsec.ShortID(w.id), err)
	}
	return pending || err != nil // a cache that cannot be read may hold changes
}

func (w *Workspace) pull(ctx context.Context) error {
	err := w.pullChanges(ctx)
	if err != nil && len(w.entries) > 0 {
		// What was merged and not saved is dropped: the next sync lists it again (the
		// checkpoint saved is before it), where a copy left in memory would be taken for
		// one saved.
		w.load(context.WithoutCancel(ctx))
	}
	return err
}

func (w *Workspace) pullChanges(ctx context.Context) error {
	w.readErr, w.unsent = nil, nil
	checkpoint, err := w.c.cache.Checkpoint(ctx, w.id)
	if err != nil {
		return err
	}
	if checkpoint != w.checkpoint {
		// Another process of this device (a watcher and a command, say) synced meanwhile:
		// start again from what the cache holds now.
		if err := w.load(ctx); err != nil {
			return err
		}
	}
	known := w.c.knownCertificates(w.id)
	// The change log lists what changed; the folders name what exists. Every child a
	// folder brought by this sync names is fetched too, and so are the entries the last
	// sync left to look at again (see localdb.Checkpoint) and those whose copy here cannot
	// be read, so that a server leaving a change out of its log cannot hide an entry for
	// good.
	again, err := w.c.cache.Recheck(ctx, w.id)
	if err != nil {
		return err
	}
	damaged := slices.Collect(maps.Keys(w.damaged))
	again = append(again, damaged...)
	pl := &pulling{w: w, at: checkpoint, again: again, damaged: damaged, named: map[parsec.VlobID]naming{}, asked: map[parsec.VlobID]bool{}}
	ways := w.waysUp()
	// The log a page at a time, and each page's changes a batch at a time, each batch
	// merged and saved before the next, so that a first sync of many entries never holds
	// them all. The checkpoint moves after each page: a pull stopped midway lists the
	// rest of the page again, and skips the entries it saved.
	for {
		var rep protocol.VlobPollChangesRep
		if err := w.c.Call(ctx, protocol.CmdVlobPollChanges, protocol.VlobPollChangesReq{RealmID: w.id, LastCheckpoint: pl.at}, &rep); err != nil {
			return err
		}
		switch {
		case rep.CurrentCheckpoint < pl.at:
			return parsec.Errorf(parsec.Tampered, "the server's change log of workspace %s went back from %d to %d", parsec.ShortID(w.id), pl.at, rep.CurrentCheckpoint)
		case rep.More && (rep.CurrentCheckpoint == pl.at || len(rep.Changes) == 0):
			// A page spans entries of the log, each a change: an empty one would let the
			// server keep a pull going without end.
			return parsec.Errorf(parsec.Tampered, "the server says the change log of workspace %s goes on after %d, and gives nothing after it", parsec.ShortID(w.id), pl.at)
		case rep.CurrentCheckpoint-pl.at < uint64(len(rep.Changes)):
			return parsec.Errorf(parsec.Tampered, "the server gives %d changes of workspace %s between checkpoints %d and %d", len(rep.Changes), parsec.ShortID(w.id), pl.at, rep.CurrentCheckpoint)
		}
		if err := pl.fetchLog(ctx, latestChanges(rep.Changes)); err != nil {
			return err
		}
		if !rep.More {
			pl.end = rep.CurrentCheckpoint
			break
		}
		if err := pl.save(ctx, rep.CurrentCheckpoint); err != nil {
			return err
		}
	}
	for round := 1; ; round++ {
		folders := pl.folders
		if round == 1 {
			folders = append(folders, again...) // not folders: asked for all the same
		}
		pl.folders, pl.noted = nil, 0
		listed := w.missingChildren(folders, pl.asked, pl.named)
		if len(listed) == 0 {
			break
		}
		for id := range listed {
			pl.asked[id] = true
		}
		if err := pl.fetch(ctx, listed, round); err != nil {
			return err
		}
	}
	if err := pl.readErr(); err != nil {
		return err
	}
	pl.changed = append(pl.changed, w.rehome(ways)...)
	w.knownAt = known
	// What was asked for and is still not here is said once, and asked for again next time.
	held := w.versions(slices.Collect(maps.Keys(pl.asked)))
	var missing []parsec.VlobID
	for id := range pl.asked {
		if _, ok := held[id]; ok {
			continue
		}
		missing = append(missing, id)
		if _, said := w.unreadable[id]; said {
			continue
		}
		w.unreadable[id] = "missing"
		if n, ok := pl.named[id]; ok {
			w.c.warn("workspace %s: folder %s names %q (%s), which the server does not return", parsec.ShortID(w.id), parsec.ShortID(n.folder), n.name, parsec.ShortID(id))
		} else {
			w.c.warn("workspace %s: entry %s, which a folder names, is still not returned by the server", parsec.ShortID(w.id), parsec.ShortID(id))
		}
	}
	slices.SortFunc(missing, compareIDs)
	if !pl.saved && len(pl.changed) == 0 && pl.end == checkpoint && slices.Equal(missing, sortedIDs(again)) {
		return nil
	}
	if err := w.save(ctx, pl.changed, &localdb.Checkpoint{At: pl.end, Recheck: missing, Replace: true}); err != nil {
		return err
	}
	w.checkpoint = pl.end
	return nil
}

// latestChanges sorts a change log by ID, keeping each entry's highest version.
func latestChanges(changes []protocol.VlobVersion) []protocol.VlobVersion {
	slices.SortFunc(changes, func(a, b protocol.VlobVersion) int {
		if c := compareIDs(a.VlobID, b.VlobID); c != 0 {
			return c
		}
		return cmp.Compare(b.Version, a.Version)
	})
	return slices.CompactFunc(changes, func(a, b protocol.VlobVersion) bool { return a.VlobID == b.VlobID })
}

// pulling is the state of a pull under way.
type pulling struct {
	w       *Workspace
	at, end uint64          // the checkpoint saved, and the one the pull brings the workspace to
	again   []parsec.VlobID // what the last sync left to look at again
	damaged []parsec.VlobID // of again, those that are not in the cache's recheck
	changed []parsec.VlobID // merged, not saved yet
	saved   bool            // whether merged entries were saved already
	folders []parsec.VlobID // merged in the last round, whose children are looked for next
	noted   int             // how many of folders the cache's recheck holds
	asked   map[parsec.VlobID]bool
	named   map[parsec.VlobID]naming
}

// save saves what is merged, and checkpoint at with what is still to look at: besides what
// the last sync left (still in the cache), the folders merged since and the entries asked
// for.
func (pl *pulling) save(ctx context.Context, at uint64) error {
	if at != pl.at {
		if err := pl.readErr(); err != nil { // the checkpoint would move past an entry not merged
			return err
		}
	}
	recheck := slices.Concat(pl.damaged, pl.folders[pl.noted:], slices.Collect(maps.Keys(pl.asked)))
	if err := pl.w.save(ctx, pl.changed, &localdb.Checkpoint{At: at, Recheck: recheck}); err != nil {
		return err
	}
	pl.changed, pl.saved, pl.at, pl.w.checkpoint, pl.noted, pl.damaged = nil, true, at, at, len(pl.folders), nil
	return nil
}

// readErr returns the error that kept an entry from being read from the local cache, if
// any: then what is merged and not saved yet is dropped, the checkpoint not moved, and the
// next sync receives it all again.
func (pl *pulling) readErr() error {
	w := pl.w
	err := w.readErr
	if err != nil {
		w.readErr = nil
		w.load(context.Background())
	}
	return err
}

// pullSaveEvery is how many merged entries a pull holds before it saves them.
const pullSaveEvery = protocol.MaxBatchItems

// fetchLog fetches and merges the versions a page of the change log lists (sorted by ID,
// one per entry), a batch at a time. Each batch is read from the server and validated
// while the one before is merged and saved: that work uses the workspace, the reading
// only the client's certificates and keys.
func (pl *pulling) fetchLog(ctx context.Context, changes []protocol.VlobVersion) error {
	w := pl.w
	ctx, cancel := context.WithCancel(ctx)
	var ahead *logRead
	defer func() {
		cancel()
		if ahead != nil {
			<-ahead.done
		}
	}()
	// start lists what a batch brings that this device does not hold yet (its entries
	// are in no other batch, so merging the one before changes none of it), and reads it.
	start := func(chunk []protocol.VlobVersion) *logRead {
		listed := make(map[parsec.VlobID]uint64, len(chunk))
		for _, ch := range chunk {
			listed[ch.VlobID] = ch.Version
		}
		r := &logRead{held: w.versions(slices.Collect(maps.Keys(listed))), done: make(chan struct{})}
		maps.DeleteFunc(listed, func(id parsec.VlobID, v uint64) bool {
			have, ok := r.held[id]
			return ok && have >= v
		})
		if len(listed) == 0 {
			close(r.done)
			return r
		}
		go func() {
			defer close(r.done)
			skip := func(it protocol.VlobItem, err error) { r.skipped = append(r.skipped, skippedVlob{it, err}) }
			r.fetched, r.err = w.c.readVlobs(ctx, w.id, listed, readOpts{skip: skip})
		}()
		return r
	}
	chunks := slices.Collect(slices.Chunk(changes, protocol.MaxBatchItems))
	for i, chunk := range chunks {
		cur := ahead
		if cur == nil {
			cur = start(chunk)
		}
		ahead = nil
		if i+1 < len(chunks) {
			ahead = start(chunks[i+1])
		}
		<-cur.done
		if cur.err != nil {
			return cur.err
		}
		for _, s := range cur.skipped {
			w.skipUnreadable(s.item, s.err)
		}
		if err := pl.merge(ctx, cur.fetched, 0, cur.held); err != nil {
			return err
		}
	}
	return nil
}

// logRead is a batch of the change log being read from the server.
type logRead struct {
	held    map[parsec.VlobID]uint64 // the versions this device holds of its entries
	fetched []manifest.Manifest
	skipped []skippedVlob // for skipUnreadable, once merged
	err     error
	done    chan struct{}
}

type skippedVlob struct {
	item protocol.VlobItem
	err  error
}

// fetch reads the versions listed from the server, which need not all come back (they
// are looked for in later rounds), and merges them; see merge.
func (pl *pulling) fetch(ctx context.Context, listed map[parsec.VlobID]uint64, round int) error {
	w := pl.w
	if len(listed) == 0 {
		return nil
	}
	fetched, err := w.c.readVlobs(ctx, w.id, listed, readOpts{partial: true, skip: w.skipUnreadable})
	if err != nil {
		return err
	}
	return pl.merge(ctx, fetched, round, nil) // none held here
}

// merge checks versions read from the server (in round 0, those of the change log) against
// those held here (held: their versions, from versions), and merges them. An entry not held
// is not looked for in the cache: a first sync does not query it twice per entry for
// nothing.
func (pl *pulling) merge(ctx context.Context, fetched []manifest.Manifest, round int, held map[parsec.VlobID]uint64) error {
	w := pl.w
	isHeld := func(id parsec.VlobID) bool { _, ok := held[id]; return ok }
	for _, m := range fetched {
		var base manifest.Manifest
		if isHeld(m.Head().ID) {
			if e := w.get(m.Head().ID); e != nil {
				base = e.base
			}
		}
		if err := checkAfter(base, m); err != nil {
			return err
		}
		if round == 0 {
			if err := checkNewSincePoll(m, w.knownAt); err != nil {
				return err
			}
		}
	}
	// Folders first, so that conflict copies of files land in merged folders.
	slices.SortStableFunc(fetched, func(a, b manifest.Manifest) int {
		return boolRank(!a.IsFolder()) - boolRank(!b.IsFolder())
	})
	for _, m := range fetched {
		merged := w.merge(m, isHeld(m.Head().ID))
		pl.changed = append(pl.changed, merged...)
		for _, id := range merged {
			if e := w.entries[id]; e != nil && e.isFolder() {
				pl.folders = append(pl.folders, id)
			}
		}
	}
	if len(pl.changed) >= pullSaveEvery && w.readErr == nil {
		return pl.save(ctx, pl.at)
	}
	return nil
}

// naming is the folder that names an entry, and the name it gives it.
type naming struct {
	folder parsec.VlobID
	name   string
}

// missingChildren lists the children that folders (in either version) name and that this
// device has no manifest of, leaving out those already asked for, and notes in named which
// folder names each; an ID in folders that is not a folder here is listed itself when
// missing. It reads one folder at a time: a first sync brings every folder.
func (w *Workspace) missingChildren(folders []parsec.VlobID, asked map[parsec.VlobID]bool, named map[parsec.VlobID]naming) map[parsec.VlobID]uint64 {
	missing := map[parsec.VlobID]uint64{}
	look := func(ids []parsec.VlobID, in parsec.VlobID, names map[parsec.VlobID]string) {
		ids = slices.DeleteFunc(ids, func(id parsec.VlobID) bool { return asked[id] })
		held := w.versions(ids)
		for _, id := range ids {
			if _, ok := held[id]; ok {
				continue
			}
			missing[id] = 0
			if _, ok := named[id]; !ok && names != nil {
				named[id] = naming{folder: in, name: names[id]}
			}
		}
	}
	var others []parsec.VlobID
	for _, fid := range slices.Compact(sortedIDs(folders)) {
		e := w.get(fid)
		if e == nil {
			others = append(others, fid)
			continue
		}
		for _, m := range []manifest.Manifest{e.base, e.local} {
			if f, ok := m.(*manifest.FolderManifest); ok {
				names := make(map[parsec.VlobID]string, len(f.Children))
				for name, id := range f.Children {
					names[id] = name
				}
				look(slices.Collect(maps.Keys(names)), f.ID, names)
			}
		}
	}
	look(others, parsec.VlobID{}, nil)
	return missing
}

// skipUnreadable hears of a version a member wrote invalid: it is left out (the entry
// keeps the version it had, if any), and said once.
func (w *Workspace) skipUnreadable(it protocol.VlobItem, err error) {
	why := err.Error()
	if w.unreadable[it.VlobID] == why {
		return
	}
	w.unreadable[it.VlobID] = why
	w.c.warn("workspace %s: skipping an entry that cannot be read: %v", parsec.ShortID(w.id), err)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readOpts tune readVlobs.
type readOpts struct {
	// at, if not zero, asks for the versions current at that time: the IDs without a
	// version then are left out.
	at parsec.DateTime
	// partial: the IDs the server does not return are left out, not an error.
	partial bool
	// skip, if set, hears of the versions that their authors wrote invalid
	// (manifest.ErrWrittenInvalid), which are then left out instead of failing the read.
	skip func(protocol.VlobItem, error)
	// check, if set, checks each batch of validated manifests against what the caller
	// knows.
	check func([]manifest.Manifest) error
}

// readVlobs reads manifests from the server and validates them: the versions listed (at
// least), or with o.at set, the versions current at that time. Every manifest must decrypt,
// be signed by its author's device, whose user was not revoked and had a role allowing to
// write at the manifest's time, be encrypted with the key in force then, and match what
// the server says of it. Every ID comes back at most once, and, unless o.at or o.partial
// is set, exactly once.
func (c *Client) readVlobs(ctx context.Context, realm parsec.VlobID, listed map[parsec.VlobID]uint64, o readOpts) ([]manifest.Manifest, error) {
	at := o.at
	ids := sortedIDs(slices.Collect(maps.Keys(listed)))
	var out []manifest.Manifest
	for chunk := range slices.Chunk(ids, protocol.MaxBatchItems) {
		var rep protocol.VlobReadRep
		if err := c.Call(ctx, protocol.CmdVlobReadBatch, protocol.VlobReadBatchReq{RealmID: realm, Vlobs: chunk, At: at}, &rep); err != nil {
			return nil, err
		}
		seen := map[parsec.VlobID]bool{}
		for _, it := range rep.Items {
			want, asked := listed[it.VlobID]
			switch {
			case !asked || seen[it.VlobID]:
				return nil, parsec.Errorf(parsec.Tampered, "the server returned manifest %s, which was not asked for (or twice)", parsec.ShortID(it.VlobID))
			case it.Version < want:
				return nil, parsec.Errorf(parsec.Tampered, "the server returned version %d of manifest %s, older than the version %d it listed", it.Version, parsec.ShortID(it.VlobID), want)
			}
			seen[it.VlobID] = true
		}
		if at.IsZero() && !o.partial && len(seen) != len(chunk) {
			for _, id := range chunk {
				if !seen[id] {
					return nil, parsec.Errorf(parsec.Tampered, "the server listed manifest %s as changed but does not return it", parsec.ShortID(id))
				}
			}
		}
		ms, err := c.openVlobs(ctx, realm, rep, o.skip)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !at.IsZero() && m.Head().Timestamp > at {
				return nil, parsec.Errorf(parsec.Tampered, "asked for manifest %s as of %s, the server returned a version of %s", parsec.ShortID(m.Head().ID), at, m.Head().Timestamp)
			}
		}
		if o.check != nil {
			if err := o.check(ms); err != nil {
				return nil, err
			}
		}
		out = append(out, ms...)
	}
	return out, nil
}

// openVlobs validates the items of a read reply (in parallel: signatures cost). With skip
// set, the versions their authors wrote invalid are told to it and left out.
func (c *Client) openVlobs(ctx context.Context, realm parsec.VlobID, rep protocol.VlobReadRep, skip func(protocol.VlobItem, error)) ([]manifest.Manifest, error) {
	if len(rep.Items) == 0 {
		return nil, nil
	}
	if err := c.catchUp(ctx, realm, rep.NeededCommonCertificateTimestamp, rep.NeededRealmCertificateTimestamp); err != nil {
		return nil, err
	}
	keys, err := c.keysOf(ctx, realm)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	certs := c.certs
	c.mu.Unlock()
	r, _ := certs.Realm(realm)
	opened := make([]manifest.Manifest, len(rep.Items))
	errs := make([]error, len(rep.Items))
	parallel(len(rep.Items), func(i int) {
		opened[i], errs[i] = openVlob(certs, keys, r.KeyRotations, realm, rep.Items[i])
	})
	out := opened[:0]
	for i, m := range opened {
		switch err := errs[i]; {
		case err == nil:
			out = append(out, m)
		case skip != nil && errors.Is(err, manifest.ErrWrittenInvalid):
			skip(rep.Items[i], err)
		default:
			return nil, err
		}
	}
	if err := c.checkViews(ctx, realm, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkViews checks the certificate history that the authors of manifests signed in them
// against this device's, after fetching the certificates up to the latest point they name
// (the server's own word of what is needed may be a lie): a point the server does not
// deliver is withheld, a point held differently is a fork. Either way the server lies.
func (c *Client) checkViews(ctx context.Context, realm parsec.VlobID, ms []manifest.Manifest) error {
	var common, own parsec.DateTime
	for _, m := range ms {
		if v := m.Head().View; v != nil {
			common, own = max(common, v.Common.Timestamp), max(own, v.Realm.Timestamp)
		}
	}
	if common == 0 && own == 0 {
		return nil
	}
	if err := c.catchUp(ctx, realm, common, own); err != nil {
		return err
	}
	c.mu.Lock()
	certs := c.certs
	c.mu.Unlock()
	for _, m := range ms {
		h := m.Head()
		if h.View == nil {
			continue
		}
		if err := certs.CheckView(certif.RealmTopic(realm), *h.View); err != nil {
			return parsec.Errorf(parsec.Tampered, "manifest %s v%d, written by device %s: %w", parsec.ShortID(h.ID), h.Version, parsec.ShortID(h.Author), err)
		}
	}
	return nil
}

// catchUp polls the certificates when the server says they are needed to validate what it
// returned.
func (c *Client) catchUp(ctx context.Context, realm parsec.VlobID, common, realmTS parsec.DateTime) error {
	c.mu.Lock()
	haveCommon, _ := c.certs.LastTimestamp(certif.CommonTopic)
	haveRealm, _ := c.certs.LastTimestamp(certif.RealmTopic(realm))
	c.mu.Unlock()
	if common <= haveCommon && realmTS <= haveRealm {
		return nil
	}
	_, err := c.PollCertificates(ctx)
	return err
}

// openVlob validates one manifest version read from the server, rotations being the
// realm's key rotations.
func openVlob(certs *certif.Memory, keys *realmKeys, rotations []certif.RealmKeyRotationCertificate, realm parsec.VlobID, it protocol.VlobItem) (manifest.Manifest, error) {
	key, err := keys.key(it.KeyIndex)
	if err != nil {
		return nil, parsec.Errorf(parsec.Tampered, "manifest %s v%d: %v", parsec.ShortID(it.VlobID), it.Version, err)
	}
	if err := checkKeyInForce(rotations, it); err != nil {
		return nil, err
	}
	verify := func(dev parsec.DeviceID) (crypto.VerifyKey, error) {
		d, ok := certs.Device(dev)
		if !ok || d.CreatedOn > it.Timestamp {
			return crypto.VerifyKey{}, parsec.Errorf(parsec.Tampered, "manifest %s v%d is signed by device %s, unknown at %s", parsec.ShortID(it.VlobID), it.Version, parsec.ShortID(dev), it.Timestamp)
		}
		u, ok := certs.User(d.UserID)
		if !ok || u.RevokedAt(it.Timestamp) {
			return crypto.VerifyKey{}, parsec.Errorf(parsec.Tampered, "manifest %s v%d is signed by a revoked user", parsec.ShortID(it.VlobID), it.Version)
		}
		if role := certs.RoleAt(realm, d.UserID, it.Timestamp); !role.CanWrite() {
			return crypto.VerifyKey{}, parsec.Errorf(parsec.Tampered, "manifest %s v%d is signed by user %s, who could not write in the workspace then (%s)",
				parsec.ShortID(it.VlobID), it.Version, parsec.ShortID(d.UserID), roleName(role))
		}
		return d.VerifyKey, nil
	}
	m, err := manifest.Open(it.Blob, key, manifest.Expected{RealmID: realm, VlobID: it.VlobID, Version: it.Version, Author: it.Author, Timestamp: it.Timestamp}, verify)
	if err != nil {
		return nil, err
	}
	if h := m.Head(); (h.ID == realm) != (h.IsRoot() && m.IsFolder()) {
		return nil, parsec.Errorf(parsec.Tampered, "manifest %s v%d: only the workspace's root folder may have the workspace's ID", parsec.ShortID(it.VlobID), it.Version)
	}
	return m, nil
}

// parallel runs f(0..n-1), as many at a time as there are processors, on that many
// goroutines, each taking the next index until none is left. (With a goroutine per index,
// each grew a new stack: checking a signature and decoding a manifest need more than a
// goroutine starts with, and copying stacks took a fifth of opening 10,000 manifests.)
func parallel(n int, f func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// merge applies a validated remote manifest to the local state and returns the entries it
// changed; held says whether this device holds a version of the entry (see versions).
func (w *Workspace) merge(r manifest.Manifest, held bool) []parsec.VlobID {
	id := r.Head().ID
	if !held {
		w.keep(id, &entry{base: r})
		return append([]parsec.VlobID{id}, w.undoLoopingMove(r)...)
	}
	e, err := w.lookup(id)
	if e == nil {
		if err != nil {
			// The cache could not be read just now (see pull): its copy may hold local
			// changes, which the server's version must not replace unmerged.
			return nil
		}
		w.keep(id, &entry{base: r}) // a copy the cache held but could not decode is replaced
		return []parsec.VlobID{id}
	}
	if r.Head().Version <= e.baseVersion() {
		return nil
	}
	w.keep(id, e) // it changes below: kept until saved
	if e.local == nil && !w.removesChanged(e.base, r) {
		old := e.base
		e.base = r
		// Moved elsewhere: the folder it was in, renamed here, gives it up (see undoLostMove).
		changed := append([]parsec.VlobID{id}, w.undoLostMove(id, old.Head().Parent, r.Head().Parent)...)
		if r.Head().Parent != old.Head().Parent {
			changed = append(changed, w.undoLoopingMove(r)...)
		}
		return append(changed, w.restoreChanged(old, r)...)
	}
	if e.local == nil { // a folder unchanged here that removes an entry changed here
		e.local = cloneManifest(e.base)
	}
	if remote, isFile := r.(*manifest.FileManifest); isFile && r.Head().Author == w.c.dev.DeviceID {
		// A file version of this device: its own push whose acknowledgment was lost, or one
		// of another process of the same device (the CLI beside the GUI). It becomes the base,
		// and the local content made since stays on top, without a conflict copy; when the
		// local version is that one (same content, folder and date: the push was taken, then
		// the device stopped before saving so), nothing is left to push. A folder is merged
		// like any other: the other process may have added entries this one lacks.
		e.base = r
		if local, ok := e.local.(*manifest.FileManifest); ok && sameContent(local, remote) && local.Parent == remote.Parent && local.Updated == remote.Updated {
			e.local = nil
		} else {
			e.local.Head().Version = r.Head().Version
		}
		return []parsec.VlobID{id}
	}
	// Changed here and removed here too, the removal not sent: the change received wins
	// over the removal all the same (before the merge, so that a conflict copy is named
	// after the entry put back). One moved here is not removed from its old folder, but the
	// folders above it where it was moved to are put back if a change here removed them.
	var restored []parsec.VlobID
	switch {
	case e.base == nil:
	case e.local.Head().Parent == e.base.Head().Parent:
		restored = w.restoreChanged(e.base, r)
	default:
		restored = w.restoreChangedIn(e.base, r, e.local.Head().Parent)
	}
	switch remote := r.(type) {
	case *manifest.FileManifest:
		if local, ok := e.local.(*manifest.FileManifest); ok {
			return append(w.mergeFile(e, local, remote), restored...)
		}
	case *manifest.FolderManifest:
		if local, ok := e.local.(*manifest.FolderManifest); ok {
			return slices.Concat([]parsec.VlobID{id}, w.mergeFolder(e, local, remote), restored)
		}
	}
	e.base, e.local = r, nil // type changed: the remote wins
	return append([]parsec.VlobID{id}, restored...)
}

// loopingMove says whether folder x, under parent once merged, would be inside itself, and
// which folder moved here (the move not sent) closes the loop: one above x, or x itself
// (local and base are x's versions here; nil when x has no change here).
func (w *Workspace) loopingMove(x, parent parsec.VlobID, local *manifest.FolderManifest, base manifest.Manifest) (parsec.VlobID, bool) {
	var path []parsec.VlobID
	for cur, seen := parent, map[parsec.VlobID]bool{}; cur != x; {
		e := w.get(cur)
		if e == nil || e.current() == nil || e.current().Head().IsRoot() || seen[cur] {
			return parsec.VlobID{}, false // reaches the root, or a loop x is not in
		}
		seen[cur] = true
		path = append(path, cur)
		cur = e.current().Head().Parent
	}
	for _, y := range path {
		if ye := w.get(y); ye.local != nil && ye.base != nil && ye.local.Head().Parent != ye.base.Head().Parent {
			return y, true
		}
	}
	if base != nil && local.Parent == parent && parent != base.Head().Parent {
		return x, true
	}
	return parsec.VlobID{}, false // a loop no move of this device made: left as it is
}

// undoLoopingMove undoes the move made here that puts r, a folder's version received and
// taken as it is (new here, or unchanged here), inside itself: r's folder, or one above
// it, was moved here, the move not sent, into r or a folder inside it (the folder that
// closes the loop may be one received just now). It returns the entries it changed.
func (w *Workspace) undoLoopingMove(r manifest.Manifest) []parsec.VlobID {
	if !r.IsFolder() || len(w.changesUnsent().within) == 0 {
		return nil // nothing moved here: no loop to undo (and a first sync reads no more)
	}
	y, ok := w.loopingMove(r.Head().ID, r.Head().Parent, nil, nil)
	if !ok {
		return nil
	}
	return w.moveBack(y, r.Head().ID, nil, nil, nil)
}

// moveBack puts folder y, moved here, back in the folder it was in before (under its name
// there), out of the one it was moved to; x is the folder being merged, whose children are
// merged (local and base: its versions here), or nil when x has no change here and y is
// not x. It returns the other entries it changed.
func (w *Workspace) moveBack(y, x parsec.VlobID, local *manifest.FolderManifest, base manifest.Manifest, merged map[string]parsec.VlobID) []parsec.VlobID {
	var from, to parsec.VlobID
	if y == x {
		from, to = local.Parent, base.Head().Parent
	} else {
		ye := w.get(y)
		w.keep(y, ye)
		from, to = ye.local.Head().Parent, ye.base.Head().Parent
		ye.local.Head().Parent = to
	}
	children := func(id parsec.VlobID) map[string]parsec.VlobID {
		if id == x && merged != nil {
			return merged
		}
		f := w.editFolder(id)
		f.Updated = w.c.now()
		return f.Children
	}
	changed := []parsec.VlobID{y, from, to}
	out := children(from)
	for n, id := range out {
		if id == y {
			delete(out, n)
		}
	}
	name := "folder " + parsec.ShortID(y)
	if te := w.get(to); te != nil {
		if tb, ok := te.base.(*manifest.FolderManifest); ok {
			for n, id := range tb.Children {
				if id == y {
					name = n
				}
			}
		}
	}
	into := children(to)
	if _, taken := into[name]; taken {
		name = conflictName(into, name, "name conflict")
	}
	into[name] = y
	return slices.DeleteFunc(changed, func(id parsec.VlobID) bool { return id == x })
}

// undoLostMove takes entry id out of folder from, where a move made here had put it, when
// the merge keeps the entry in folder to (another device moved it too, first: its move
// wins), or where a rename made here kept it, when another device moved it to folder to;
// otherwise both folders would name it. It returns the folder, if changed.
func (w *Workspace) undoLostMove(id, from, to parsec.VlobID) []parsec.VlobID {
	if from == to {
		return nil
	}
	fe := w.get(from)
	if fe == nil || fe.local == nil {
		return nil // the move here was sent already: the folder's next version says
	}
	f, ok := fe.local.(*manifest.FolderManifest)
	if !ok {
		return nil
	}
	for name, child := range f.Children {
		if child == id {
			w.keep(from, fe)
			delete(f.Children, name)
			f.Updated = w.c.now()
			return []parsec.VlobID{from}
		}
	}
	return nil
}

// restoreChanged puts back what this device removed, the removal not sent yet, when another
// device changed it meanwhile (remote, after old: a file's content, a folder's entries) or
// changed something inside it: the change wins over the removal, as a removal received
// wins over nothing but a change here (mergeChildren). Each folder above the entry that
// this device took out of its folder is put back there, under its name then. It returns
// the folders changed.
func (w *Workspace) restoreChanged(old, remote manifest.Manifest) []parsec.VlobID {
	return w.restoreChangedIn(old, remote, remote.Head().Parent)
}

// restoreChangedIn is restoreChanged for an entry in folder parent here (where a move made
// here put it, not sent yet): the folders above it here are put back.
func (w *Workspace) restoreChangedIn(old, remote manifest.Manifest, parent parsec.VlobID) []parsec.VlobID {
	switch o := old.(type) {
	case *manifest.FileManifest:
		if r, ok := remote.(*manifest.FileManifest); !ok || sameContent(o, r) {
			return nil
		}
	case *manifest.FolderManifest:
		if r, ok := remote.(*manifest.FolderManifest); !ok || maps.Equal(o.Children, r.Children) {
			return nil
		}
	}
	removed := w.changesUnsent().removed
	if len(removed) == 0 {
		return nil
	}
	var changed []parsec.VlobID
	for id, seen := remote.Head().ID, map[parsec.VlobID]bool{}; !seen[id]; {
		seen[id] = true
		pe := w.get(parent)
		if pe == nil || pe.current() == nil {
			break
		}
		if removed[id] {
			changed = append(changed, w.putBack(id, parent, pe)...)
		}
		if pe.current().Head().IsRoot() {
			break
		}
		id, parent = parent, pe.current().Head().Parent
	}
	return changed
}

// putBack names entry id again in folder parent (pe), which named it before a change here
// not sent yet, under that name. It returns the folder, if changed.
func (w *Workspace) putBack(id, parent parsec.VlobID, pe *entry) []parsec.VlobID {
	base, ok := pe.base.(*manifest.FolderManifest)
	local, isFolder := pe.local.(*manifest.FolderManifest)
	if !ok || !isFolder {
		return nil
	}
	for _, child := range local.Children {
		if child == id {
			return nil // still named here: not removed
		}
	}
	for name, child := range base.Children {
		if child == id { // named there before the removal: back under that name
			w.keep(parent, pe)
			if _, taken := local.Children[name]; taken {
				name = conflictName(local.Children, name, "name conflict")
			}
			local.Children[name] = id
			local.Updated = w.c.now()
			return []parsec.VlobID{parent}
		}
	}
	return nil
}

// removesChanged says whether remote, a folder's next version, removes an entry of base that
// has a change here not sent yet (which mergeChildren keeps).
func (w *Workspace) removesChanged(base, remote manifest.Manifest) bool {
	b, ok := base.(*manifest.FolderManifest)
	r, isFolder := remote.(*manifest.FolderManifest)
	if !ok || !isFolder {
		return false
	}
	kept := make(map[parsec.VlobID]bool, len(r.Children))
	for _, id := range r.Children {
		kept[id] = true
	}
	for _, id := range b.Children {
		if !kept[id] && w.changedIn(id, r.ID) {
			return true
		}
	}
	return false
}

// changedIn says whether entry id is in folder here (one moved elsewhere is not kept there)
// and has a change not sent yet, itself or, a folder, an entry inside it at any depth.
func (w *Workspace) changedIn(id, folder parsec.VlobID) bool {
	c, _ := w.lookup(id)
	if c == nil || c.current() == nil || c.current().Head().Parent != folder {
		return false
	}
	return c.local != nil || w.changesUnsent().within[id]
}

// unsentChanges is what a pull knows of the changes not sent yet.
type unsentChanges struct {
	within  map[parsec.VlobID]bool // the folders above an entry changed, up to the root
	removed map[parsec.VlobID]bool // the entries a folder changed no longer names (removed, or moved)
}

// waysUp is, before a pull merges anything, the way from each entry changed here (not sent)
// up to the root: the folders above it and its name in each, and what the changes here
// removed from their folders. See rehome.
type waysUp struct {
	changed []parsec.VlobID
	names   map[parsec.VlobID]string // of each entry in a folder on the ways, its name there
	removed map[parsec.VlobID]bool   // taken out of a folder by a change here
}

// waysUp notes the ways up of the entries changed here, when there are any.
func (w *Workspace) waysUp() *waysUp {
	u := &waysUp{names: map[parsec.VlobID]string{}, removed: map[parsec.VlobID]bool{}}
	folders := map[parsec.VlobID]bool{} // whose entries are noted
	u.changed, _ = w.unsentIDs()
	for _, id := range u.changed {
		noteRemoved(w.get(id), u.removed)
		for cur := id; ; {
			e := w.get(cur)
			if e == nil || e.current() == nil || e.current().Head().IsRoot() {
				break
			}
			parent := e.current().Head().Parent
			if folders[parent] {
				break // noted with its entries already
			}
			folders[parent] = true
			f, ok := w.get(parent).currentFolder()
			if !ok {
				break
			}
			for name, child := range f.Children {
				u.names[child] = name
			}
			cur = parent
		}
	}
	return u
}

// rehome puts back in its folder each entry that, once a pull merged what it received, no
// longer has a way up to the root from an entry changed here (a folder removed elsewhere
// while a move or a removal elsewhere left the change here in it, in an order no rule of the
// merge saw whole): the first entry on the way up that its folder no longer names is named
// there again, under its name before the pull, unless a change here took it out. A change
// not sent is never left where no folder reaches it. It returns the folders changed.
func (w *Workspace) rehome(u *waysUp) []parsec.VlobID {
	var changed []parsec.VlobID
	for _, id := range u.changed {
		for cur, seen := id, map[parsec.VlobID]bool{}; !seen[cur]; {
			seen[cur] = true
			e := w.get(cur)
			if e == nil || e.current() == nil || e.current().Head().IsRoot() {
				break
			}
			parent := e.current().Head().Parent
			pe := w.get(parent)
			f, ok := pe.currentFolder()
			if !ok {
				break
			}
			if _, named := nameOf(f.Children, cur); named {
				cur = parent
				continue
			}
			name, known := u.names[cur]
			if !known || u.removed[cur] {
				break
			}
			w.keep(parent, pe)
			local := w.editFolder(parent)
			if _, taken := local.Children[name]; taken {
				name = conflictName(local.Children, name, "name conflict")
			}
			local.Children[name] = cur
			local.Updated = w.c.now()
			changed = append(changed, parent)
			break
		}
	}
	return changed
}

// nameOf returns the name of entry id among children.
func nameOf(children map[string]parsec.VlobID, id parsec.VlobID) (string, bool) {
	for name, child := range children {
		if child == id {
			return name, true
		}
	}
	return "", false
}

// unsentIDs lists the entries with a change not sent yet: those the cache holds so, and
// those changed in memory.
func (w *Workspace) unsentIDs() ([]parsec.VlobID, error) {
	var changed []parsec.VlobID
	err := w.c.cache.Pending(context.Background(), w.id, func(id parsec.VlobID, _ bool) error {
		if _, ok := w.entries[id]; !ok { // as memory holds it, below
			changed = append(changed, id)
		}
		return nil
	})
	for id, e := range w.entries {
		if e.local != nil {
			changed = append(changed, id)
		}
	}
	return changed, err
}

// noteRemoved adds to removed the entries that a change here to folder e (nil, or not a
// folder: none) took out of it.
func noteRemoved(e *entry, removed map[parsec.VlobID]bool) {
	if e == nil {
		return
	}
	base, ok := e.base.(*manifest.FolderManifest)
	local, isFolder := e.local.(*manifest.FolderManifest)
	if !ok || !isFolder {
		return
	}
	for _, child := range base.Children {
		removed[child] = true
	}
	for _, child := range local.Children {
		delete(removed, child)
	}
}

// changesUnsent lists the changes not sent yet, once per pull (a pull needs them only when
// it receives the removal of an entry unchanged here, or a change of one).
func (w *Workspace) changesUnsent() *unsentChanges {
	if w.unsent != nil {
		return w.unsent
	}
	u := &unsentChanges{within: map[parsec.VlobID]bool{}, removed: map[parsec.VlobID]bool{}}
	w.unsent = u
	changed, err := w.unsentIDs()
	if err != nil {
		w.readErr = parsec.Wrap(err, "workspace %s: the local changes cannot be listed", parsec.ShortID(w.id))
	}
	for _, id := range changed {
		noteRemoved(w.get(id), u.removed)
		// Up to the root, or to a folder marked already (its own folders are, or a loop).
		for cur := id; ; {
			e := w.get(cur)
			if e == nil || e.current() == nil || e.current().Head().IsRoot() {
				break
			}
			cur = e.current().Head().Parent
			if u.within[cur] {
				break
			}
			u.within[cur] = true
		}
	}
	return u
}

func sameContent(a, b *manifest.FileManifest) bool {
	return a.Size == b.Size && a.BlockSize == b.BlockSize && slices.Equal(a.Blocks, b.Blocks)
}

// mergeParent merges the parent field three-way: the local move wins when the remote did
// not move the entry.
func mergeParent(base, local, remote manifest.Manifest) parsec.VlobID {
	if base != nil && local.Head().Parent != base.Head().Parent && remote.Head().Parent == base.Head().Parent {
		return local.Head().Parent
	}
	return remote.Head().Parent
}

func (w *Workspace) mergeFile(e *entry, local, remote *manifest.FileManifest) []parsec.VlobID {
	id := remote.ID
	base, _ := e.base.(*manifest.FileManifest)
	// The local content is left to push only if it is neither the base's nor the remote's
	// (both sides may have made the same edit).
	localChanged := !sameContent(local, remote) && (base == nil || !sameContent(local, base))
	remoteChanged := base == nil || !sameContent(remote, base)
	parent := mergeParent(e.base, local, remote)
	changed := append([]parsec.VlobID{id}, w.undoLostMove(id, local.Parent, parent)...)
	switch {
	case localChanged && remoteChanged:
		// Both edited the content: the remote version keeps the entry, where a move here
		// put it, and the local one becomes a new file beside it, so that nothing is lost.
		now := w.c.now()
		cp := &manifest.FileManifest{
			Header:    manifest.Header{ID: w.c.newID(), Parent: parent, Created: now, Updated: local.Updated},
			Size:      local.Size,
			BlockSize: local.BlockSize,
			Blocks:    slices.Clone(local.Blocks),
		}
		e.base, e.local = remote, movedTo(remote, parent)
		changed = append(changed, w.placeConflictCopy(id, parent, cp)...)
	case localChanged:
		nl := cloneManifest(remote).(*manifest.FileManifest)
		nl.Size, nl.BlockSize, nl.Blocks, nl.Updated, nl.Parent = local.Size, local.BlockSize, slices.Clone(local.Blocks), local.Updated, parent
		e.base, e.local = remote, nl
	default:
		e.base, e.local = remote, movedTo(remote, parent)
	}
	return changed
}

// movedTo returns a copy of remote in folder parent, or nil when it is there already.
func movedTo(remote manifest.Manifest, parent parsec.VlobID) manifest.Manifest {
	if parent == remote.Head().Parent {
		return nil
	}
	nl := cloneManifest(remote)
	nl.Head().Parent = parent
	return nl
}

// placeConflictCopy inserts the conflict copy cp of entry id into folder parent, named
// after id's name there ("name (sync conflict N).ext"), or in the root if that folder is
// not known.
func (w *Workspace) placeConflictCopy(id, parent parsec.VlobID, cp *manifest.FileManifest) []parsec.VlobID {
	name := "file " + parsec.ShortID(id)
	if pe := w.get(parent); pe != nil && pe.current() != nil && pe.current().IsFolder() {
		for n, child := range pe.current().(*manifest.FolderManifest).Children {
			if child == id {
				name = n
			}
		}
	} else {
		parent = w.id
	}
	cp.Parent = parent
	w.entries[cp.ID] = &entry{local: cp}
	return w.insertCopy(parent, name, cp.ID)
}

// insertCopy names entry id in folder parent as a conflict copy of name ("name (sync
// conflict N).ext"); it returns the entries changed.
func (w *Workspace) insertCopy(parent parsec.VlobID, name string, id parsec.VlobID) []parsec.VlobID {
	folder := w.editFolder(parent)
	folder.Children[conflictName(folder.Children, name, "sync conflict")] = id
	folder.Updated = w.c.now()
	return []parsec.VlobID{id, parent}
}

func (w *Workspace) mergeFolder(e *entry, local, remote *manifest.FolderManifest) []parsec.VlobID {
	var baseChildren map[string]parsec.VlobID
	if b, ok := e.base.(*manifest.FolderManifest); ok {
		baseChildren = b.Children
	}
	merged := mergeChildren(baseChildren, local.Children, remote.Children, func(id parsec.VlobID) bool {
		return w.changedIn(id, remote.ID)
	}, func(id parsec.VlobID) bool {
		// In another folder here: moved there, on this device or another.
		c, _ := w.lookup(id)
		return c != nil && c.current() != nil && c.current().Head().Parent != remote.ID
	})
	parent := mergeParent(e.base, local, remote)
	lost := w.undoLostMove(remote.ID, local.Parent, parent)
	if y, ok := w.loopingMove(remote.ID, parent, local, e.base); ok {
		// Folders moved into each other, one here, one elsewhere: both would leave the
		// root, each inside the other. The move made here is undone: the one received wins.
		if y == remote.ID {
			parent = e.base.Head().Parent
		}
		lost = append(lost, w.moveBack(y, remote.ID, local, e.base, merged)...)
	}
	e.base = remote
	if maps.Equal(merged, remote.Children) && parent == remote.Parent {
		e.local = nil
		return lost
	}
	nl := cloneManifest(remote).(*manifest.FolderManifest)
	nl.Children, nl.Parent, nl.Updated = merged, parent, max(local.Updated, remote.Updated)
	e.local = nl
	return lost
}

// mergeChildren merges a folder's entries three-way, by entry ID: an entry added on one
// side is kept; removed on one side and untouched on the other, removed; removed remotely
// and changed here (changedHere: a file's content written, a folder's entries or anything
// deeper in it, not sent yet), kept, so that the change is not lost with it; removed on one side and renamed on
// the other, kept under the new name, unless it is in another folder here (elsewhere: it
// was moved there, and the move wins over the rename); renamed on both, the remote name
// wins. A local entry whose name then clashes with another is renamed "name (name
// conflict N).ext".
func mergeChildren(base, local, remote map[string]parsec.VlobID, changedHere, elsewhere func(parsec.VlobID) bool) map[string]parsec.VlobID {
	byID := func(m map[string]parsec.VlobID) map[parsec.VlobID]string {
		out := make(map[parsec.VlobID]string, len(m))
		for _, n := range slices.Sorted(maps.Keys(m)) {
			// In name order, so that an entry named twice (which validation refuses) still
			// merges the same way every time.
			out[m[n]] = n
		}
		return out
	}
	b, l, r := byID(base), byID(local), byID(remote)
	names := map[parsec.VlobID]string{}
	localSide := map[parsec.VlobID]bool{}
	for id, ln := range l {
		bn, inB := b[id]
		rn, inR := r[id]
		switch {
		case inR && inB && ln != bn && rn == bn:
			names[id], localSide[id] = ln, true // renamed locally only
		case inR:
			names[id] = rn
		case inB && ln == bn && (changedHere == nil || !changedHere(id)):
			// removed remotely, untouched locally: removed
		case inB && ln != bn && elsewhere != nil && elsewhere(id):
			// renamed locally, moved to another folder remotely: moved
		default:
			// added locally, or renamed or changed locally and removed remotely
			names[id], localSide[id] = ln, true
		}
	}
	for id, rn := range r {
		if _, inL := l[id]; inL {
			continue
		}
		if bn, inB := b[id]; !inB || rn != bn && (elsewhere == nil || !elsewhere(id)) {
			names[id] = rn // added remotely, or renamed remotely and removed (not moved) locally
		}
	}
	out := make(map[string]parsec.VlobID, len(names))
	var pending []parsec.VlobID
	for _, id := range sortedIDs(slices.Collect(maps.Keys(names))) {
		if localSide[id] {
			pending = append(pending, id)
			continue
		}
		out[names[id]] = id
	}
	for _, id := range pending {
		n := names[id]
		if _, taken := out[n]; taken {
			n = conflictName(out, n, "name conflict")
		}
		out[n] = id
	}
	return out
}

// Push limits: items and bytes per vlob_write.
const pushBatchBytes = 8 << 20

func (w *Workspace) push(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		pending, err := w.pendingInOrder()
		if err != nil || len(pending) == 0 {
			return err
		}
		if err := w.checkWritable(); err != nil {
			return parsec.Wrap(err, "%d local change(s) cannot be pushed", len(pending))
		}
		err = w.pushOnce(ctx, pending)
		se, refused := protocol.StatusOf(err)
		if err == nil || attempt >= 8 || !refused {
			return err
		}
		switch se.Status {
		case protocol.StatusBadVlobVersion, protocol.StatusVlobAlreadyExists:
			// Someone pushed a version meanwhile: merge it, then push the result.
			if err := w.pull(ctx); err != nil {
				return err
			}
		case protocol.StatusBadKeyIndex:
			w.c.forgetKeys(w.id)
			if _, err := w.c.PollCertificates(ctx); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// pendingInOrder lists the entries with local changes so that an entry is pushed before
// the folder that references it: files, then folders from the deepest, the root last.
func (w *Workspace) pendingInOrder() ([]parsec.VlobID, error) {
	var files, folders []parsec.VlobID
	err := w.c.cache.Pending(context.Background(), w.id, func(id parsec.VlobID, folder bool) error {
		if _, ok := w.entries[id]; ok {
			return nil // as memory holds it, below
		}
		if folder {
			folders = append(folders, id)
		} else {
			files = append(files, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for id, e := range w.entries {
		switch {
		case e.local == nil:
		case e.local.IsFolder():
			folders = append(folders, id)
		default:
			files = append(files, id)
		}
	}
	depth := make(map[parsec.VlobID]int, len(folders)) // of the folders only: there may be millions of files
	for _, id := range folders {
		// Folders whose parents loop are pushed all the same: the order spares other
		// devices a folder naming entries not there yet, it is not a check.
		up, _ := w.ancestors(id)
		depth[id] = len(up)
	}
	slices.SortFunc(files, compareIDs)
	slices.SortFunc(folders, func(a, b parsec.VlobID) int {
		if depth[a] != depth[b] {
			return depth[b] - depth[a]
		}
		return compareIDs(a, b)
	})
	return append(files, folders...), nil
}

// pushOnce pushes the entries pending, in order, in batches of up to MaxBatchItems
// manifests (pushBatchBytes of them). One batch is sent at a time, the next only once the
// server has taken the one before (an entry goes before the folder naming it); while a
// batch is on its way, the one taken before is saved and the next one is read from the
// cache and sealed. A device that stops with batches taken but not saved finds its own
// versions at its next sync (see merge).
//
// When the server says that the batches went into the change log right after the
// workspace's checkpoint, one after the other, the checkpoint moves past them once they
// are saved: the next sync does not list this device's own versions again (see
// protocol.VlobWriteRep).
func (w *Workspace) pushOnce(ctx context.Context, pending []parsec.VlobID) (err error) {
	var saving *backgroundSave // the batch taken last, being saved
	defer func() {
		if saving != nil {
			if serr := saving.end(ctx, w); serr != nil {
				err = cacheError{serr} // the local cache failing says more than the push's own error
			}
		}
	}()
	keys, err := w.c.keysOf(ctx, w.id)
	if err != nil {
		return err
	}
	index, key, err := keys.current()
	if err != nil {
		return err
	}
	send := func(b *pushBatch) error {
		b.rep = protocol.VlobWriteRep{}
		return w.c.Call(ctx, protocol.CmdVlobWrite, protocol.VlobWriteReq{RealmID: w.id, KeyIndex: index, Items: b.items}, &b.rep)
	}
	from := w.checkpoint
	logged, inLog := from, true // the batches so far are the log's entries from+1 to logged
	cur, pending, err := w.preparePush(pending, key)
	for cur != nil && err == nil {
		if now := w.c.clock.Now(); now.Sub(cur.ts) > pushResealAfter {
			// Sealed while a slow request was on its way: stamped again, so that the
			// server does not find it out of its ballpark.
			w.sealPush(cur, key, now)
		}
		done := make(chan error, 1)
		go func(b *pushBatch) { done <- send(b) }(cur)
		var next *pushBatch
		var nextErr error
		next, pending, nextErr = w.preparePush(pending, key)
		first := true
		err = w.c.WithFreshTimestamp(ctx, 100*time.Millisecond, func(ts parsec.DateTime) error {
			if first { // the request already on its way, sealed when prepared
				first = false
				return <-done
			}
			w.sealPush(cur, key, ts)
			return send(cur)
		})
		if err != nil {
			return err
		}
		if n := uint64(len(cur.items)); inLog && cur.rep.Checkpoint >= n && cur.rep.Checkpoint-n == logged {
			logged = cur.rep.Checkpoint
		} else {
			inLog = false // another device wrote in between, or the server does not say
		}
		if saving != nil {
			err := saving.end(ctx, w)
			saving = nil
			if err != nil {
				return cacheError{err}
			}
		}
		for i, id := range cur.ids {
			e := w.entries[id]
			e.base, e.local = cur.sealed[i], nil
		}
		saving = w.saveInBackground(ctx, cur.ids)
		cur, err = next, nextErr
	}
	if err != nil || !inLog || logged == from {
		return err
	}
	// The checkpoint moves only once every batch is saved: a stop in between leaves it
	// before the push, and the next sync lists the push's versions again.
	err = saving.end(ctx, w)
	saving = nil
	if err != nil {
		return cacheError{err}
	}
	// A cache that cannot move it only makes the next sync list these versions again.
	if moved, err := w.c.cache.MoveCheckpoint(context.WithoutCancel(ctx), w.id, from, logged); err != nil {
		w.c.warn("workspace %s: %v", parsec.ShortID(w.id), err)
	} else if moved {
		w.checkpoint = logged
	}
	return nil
}

// cacheError is the error of the local cache saving what the server took, which left the
// workspace's memory as the cache holds it (see saved): what was written and not saved is
// gone from memory too.
type cacheError struct{ error }

func (e cacheError) Unwrap() error { return e.error }

// pushResealAfter is how old a batch sealed ahead may be when it is sent (the server's
// ballpark is 5 minutes).
const pushResealAfter = 30 * time.Second

// pushBatch is a batch of entries to push, sealed for a timestamp.
type pushBatch struct {
	ids    []parsec.VlobID
	ts     parsec.DateTime
	sealed []manifest.Manifest // the versions sent
	items  []protocol.VlobWrite
	rep    protocol.VlobWriteRep // once the server took it
}

// preparePush pins the next batch of pending entries (read from the cache, kept until
// saved) and seals it for now; it returns nil when nothing is pending, and the entries
// left.
func (w *Workspace) preparePush(pending []parsec.VlobID, key crypto.RealmKey) (*pushBatch, []parsec.VlobID, error) {
	if len(pending) == 0 {
		return nil, nil, nil
	}
	if err := w.pinAll(pending[:min(len(pending), protocol.MaxBatchItems)]); err != nil {
		return nil, pending, err
	}
	n, size := 0, 0
	for n < len(pending) && n < protocol.MaxBatchItems {
		e := w.pin(pending[n])
		if e == nil || e.local == nil {
			return nil, pending, parsec.Errorf(parsec.Invalid, "the local change of entry %s cannot be read from the local cache", parsec.ShortID(pending[n]))
		}
		size += approxSize(e.local)
		if n > 0 && size > pushBatchBytes {
			break
		}
		n++
	}
	b := &pushBatch{ids: pending[:n]}
	w.sealPush(b, key, w.c.clock.Now())
	return b, pending[n:], nil
}

// sealPush signs and encrypts the next versions of a batch's entries for timestamp ts.
// It reads the workspace only (the entries are pinned), so that it may run while
// another batch is on its way.
func (w *Workspace) sealPush(b *pushBatch, key crypto.RealmKey, ts parsec.DateTime) {
	b.ts = ts
	b.items = make([]protocol.VlobWrite, len(b.ids))
	b.sealed = make([]manifest.Manifest, len(b.ids))
	seen := w.c.seen(certif.RealmTopic(w.id))
	entries := make([]*entry, len(b.ids))
	for i, id := range b.ids {
		entries[i] = w.entries[id]
	}
	parallel(len(b.ids), func(i int) {
		e := entries[i]
		m := cloneManifest(e.local)
		h := m.Head()
		h.Author, h.Timestamp, h.Version, h.View = w.c.dev.DeviceID, ts, e.baseVersion()+1, seen
		b.sealed[i] = m
		b.items[i] = protocol.VlobWrite{VlobID: h.ID, Version: h.Version, Timestamp: ts, Blob: manifest.Seal(m, w.c.signer, key)}
	})
}

// approxSize estimates the encoded size of a manifest, to fill push batches.
func approxSize(m manifest.Manifest) int {
	switch m := m.(type) {
	case *manifest.FileManifest:
		return 200 + 80*len(m.Blocks)
	case *manifest.FolderManifest:
		n := 200
		for name := range m.Children {
			n += len(name) + 20
		}
		return n
	}
	return 200
}
