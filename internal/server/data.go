package server

import (
	"context"
	"errors"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Data: vlobs (versioned encrypted manifests) and blocks (encrypted file content), in
// batches. The server never looks inside a blob or a block; it checks who writes what, in
// which realm, with which key and at what time, and keeps every version.
//
// A command answers, in this order: the batch itself is malformed (too many items, an item
// twice, a block too large, a timestamp outside the ballpark); the realm does not exist;
// the caller's role does not allow the operation; the realm is read-only (archived) or the
// key index is not its last one; then, item by item, what the stored data says. A write is
// all or nothing: its items are checked and stored in one transaction.

// dataCommands are the vlob and block commands of the authenticated family.
func (s *Server) dataCommands() map[string]handler {
	return map[string]handler{
		protocol.CmdVlobWrite:        command(s.vlobWrite),
		protocol.CmdVlobReadBatch:    command(s.vlobReadBatch),
		protocol.CmdVlobReadVersions: command(s.vlobReadVersions),
		protocol.CmdVlobPollChanges:  command(s.vlobPollChanges),
		protocol.CmdBlockCreate:      command(s.blockCreate),
		protocol.CmdBlockRead:        command(s.blockRead),
	}
}

// dataAccess checks that the caller may read a realm's data, or with write set, write it
// encrypted with the key keyIndex, and returns the realm. A writer revoked or frozen since
// the handshake is refused as the handshake would refuse it (see currentCaller).
func dataAccess(tx metastore.Tx, c *caller, id parsec.VlobID, write bool, keyIndex uint64) (metastore.Realm, error) {
	if write {
		if _, err := currentCaller(tx, c); err != nil {
			return metastore.Realm{}, err
		}
	}
	realm, err := tx.Realm(c.org.ID, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return realm, protocol.Errorf(protocol.StatusRealmNotFound, "workspace %s not found", parsec.ShortID(id))
	}
	if err != nil {
		return realm, err
	}
	role, err := tx.CurrentRealmRole(c.org.ID, id, c.user.ID)
	if err != nil {
		return realm, err
	}
	switch {
	case role == parsec.RoleNone:
		return realm, protocol.Errorf(protocol.StatusAuthorNotAllowed, "not a member of workspace %s", parsec.ShortID(id))
	case !write:
		return realm, nil
	case !role.CanWrite():
		return realm, protocol.Errorf(protocol.StatusAuthorNotAllowed, "a %s of workspace %s cannot change its content", role, parsec.ShortID(id))
	case realm.ReadOnly():
		return realm, protocol.Errorf(protocol.StatusRealmArchived, "workspace %s is archived: its content is read-only", parsec.ShortID(id))
	case keyIndex == 0 || keyIndex != realm.KeyIndex:
		last, err := tx.LastTimestamp(c.org.ID, metastore.RealmTopic(id))
		if err != nil {
			return realm, err
		}
		e := protocol.Errorf(protocol.StatusBadKeyIndex, "key index %d is not the last key of workspace %s (%d)", keyIndex, parsec.ShortID(id), realm.KeyIndex)
		e.Detail.LastCertificateTimestamp = last
		return realm, e
	}
	return realm, nil
}

// lastCertificates returns the last timestamps of the common topic and of a realm's topic.
func lastCertificates(tx metastore.Tx, org parsec.OrganizationID, realm parsec.VlobID) (common, ofRealm parsec.DateTime, err error) {
	if common, err = tx.LastTimestamp(org, metastore.CommonTopic); err != nil {
		return 0, 0, err
	}
	ofRealm, err = tx.LastTimestamp(org, metastore.RealmTopic(realm))
	return common, ofRealm, err
}

func tooMany(what string, n int) error {
	return protocol.Errorf(protocol.StatusTooManyElements, "%d %s in one request, more than %d", n, what, protocol.MaxBatchItems)
}

func vlobError(status protocol.Status, id parsec.VlobID, format string, args ...any) *protocol.StatusError {
	e := protocol.Errorf(status, format, args...)
	e.Detail.VlobID = &id
	return e
}

func blockError(status protocol.Status, id parsec.BlockID, format string, args ...any) *protocol.StatusError {
	e := protocol.Errorf(status, format, args...)
	e.Detail.BlockID = &id
	return e
}

// vlobWrite creates (version 1) and updates (last version + 1) vlobs of one realm, all or
// none.
func (s *Server) vlobWrite(ctx context.Context, c *caller, req *protocol.VlobWriteReq) (any, error) {
	if len(req.Items) > protocol.MaxBatchItems {
		return nil, tooMany("vlobs", len(req.Items))
	}
	now := s.now()
	ids := make([]parsec.VlobID, len(req.Items))
	seen := make(map[parsec.VlobID]bool, len(req.Items))
	for i, it := range req.Items {
		if seen[it.VlobID] {
			return nil, vlobError(protocol.StatusBadRequest, it.VlobID, "vlob %s written twice in one request", parsec.ShortID(it.VlobID))
		}
		seen[it.VlobID] = true
		if !protocol.InBallpark(it.Timestamp, now) {
			e := vlobError(protocol.StatusTimestampOutOfBallpark, it.VlobID,
				"vlob timestamp %v is too far from the server's time %v: check this computer's clock", it.Timestamp, now)
			e.Detail.ServerTimestamp, e.Detail.ClientTimestamp = now, it.Timestamp
			return nil, e
		}
		ids[i] = it.VlobID
	}
	var lastCommon, lastRealm parsec.DateTime
	var rep protocol.VlobWriteRep
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		if _, err := dataAccess(tx, c, req.RealmID, true, req.KeyIndex); err != nil {
			return err
		}
		var err error
		if lastCommon, lastRealm, err = lastCertificates(tx, c.org.ID, req.RealmID); err != nil {
			return err
		}
		// A manifest comes after the certificates that allow it (its author's role, its key).
		after := max(lastCommon, lastRealm)
		for _, it := range req.Items {
			if it.Timestamp <= after {
				e := vlobError(protocol.StatusRequireGreaterTimestamp, it.VlobID,
					"vlob timestamp %v is not after the last certificate (%v)", it.Timestamp, after)
				e.Detail.StrictlyGreaterThan = after
				return e
			}
		}
		versions, err := tx.LastVlobVersions(c.org.ID, req.RealmID, ids)
		if err != nil {
			return err
		}
		atoms := make([]metastore.VlobAtom, len(req.Items))
		// A version comes after the one before: clients refuse a history that goes back in
		// time, and devices whose clocks differ by a little would write one. The first such
		// item is named; the bound is the greatest of their last versions' timestamps, so
		// that the batch restamped once, all its items alike, passes.
		var backdated *protocol.StatusError
		for i, it := range req.Items {
			last, exists := versions[it.VlobID]
			switch {
			case it.Version == 1 && exists:
				return vlobError(protocol.StatusVlobAlreadyExists, it.VlobID, "vlob %s already exists", parsec.ShortID(it.VlobID))
			case it.Version > 1 && !exists:
				return vlobError(protocol.StatusVlobNotFound, it.VlobID, "vlob %s not found", parsec.ShortID(it.VlobID))
			case it.Version == 0 || it.Version > 1 && it.Version != last.Version+1:
				return vlobError(protocol.StatusBadVlobVersion, it.VlobID, "vlob %s: version %d does not follow the last one, %d",
					parsec.ShortID(it.VlobID), it.Version, last.Version)
			case it.Version > 1 && it.Timestamp <= last.Timestamp:
				if backdated == nil {
					backdated = vlobError(protocol.StatusRequireGreaterTimestamp, it.VlobID, "vlob %s: version %d of %v is not after version %d (%v)",
						parsec.ShortID(it.VlobID), it.Version, it.Timestamp, last.Version, last.Timestamp)
				}
				backdated.Detail.StrictlyGreaterThan = max(backdated.Detail.StrictlyGreaterThan, last.Timestamp)
			}
			atoms[i] = metastore.VlobAtom{VlobID: it.VlobID, Version: it.Version, KeyIndex: req.KeyIndex, Blob: it.Blob,
				Author: c.device.ID, Timestamp: it.Timestamp}
		}
		if backdated != nil {
			return backdated
		}
		rep.Checkpoint, err = tx.AppendVlobAtoms(c.org.ID, req.RealmID, atoms)
		return err
	})
	if err != nil || len(req.Items) == 0 {
		return rep, err
	}
	if err := s.loadRealmView(ctx, c.org.ID, req.RealmID); err != nil {
		// The members will not get the events: they find the changes on their next poll.
		s.log.Error("loading the members of a workspace for its events", "org", c.org.ID, "realm", req.RealmID, "err", err)
	}
	realm := req.RealmID
	to := events.Audience{Realm: &realm, ExceptDevice: c.device.ID}
	evs := make([]events.Event, len(req.Items))
	for i, it := range req.Items {
		ev := protocol.EventVlobData{
			RealmID: realm, VlobID: it.VlobID, Author: c.device.ID, Timestamp: it.Timestamp, Version: it.Version,
			KeyIndex: req.KeyIndex, LastCommonCertificateTimestamp: lastCommon, LastRealmCertificateTimestamp: lastRealm,
		}
		if len(it.Blob) <= protocol.InlineEventBlob {
			ev.Blob = it.Blob
		}
		evs[i] = event(c.org.ID, protocol.EventVlob, ev, to)
	}
	// In one go: a bus on PostgreSQL records them in one transaction, not one each.
	s.cfg.Bus.PublishBatch(evs)
	return rep, nil
}

func vlobItems(atoms []metastore.VlobAtom) []protocol.VlobItem {
	out := make([]protocol.VlobItem, len(atoms))
	for i, a := range atoms {
		out[i] = protocol.VlobItem{VlobID: a.VlobID, KeyIndex: a.KeyIndex, Author: a.Author, Version: a.Version,
			Timestamp: a.Timestamp, Blob: a.Blob}
	}
	return out
}

// readVlobs runs read for a member of the realm and builds the reply.
func (s *Server) readVlobs(ctx context.Context, c *caller, realm parsec.VlobID, read func(tx metastore.Tx) ([]metastore.VlobAtom, error)) (any, error) {
	var rep protocol.VlobReadRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		if _, err := dataAccess(tx, c, realm, false, 0); err != nil {
			return err
		}
		atoms, err := read(tx)
		if err != nil {
			return err
		}
		rep.Items = vlobItems(atoms)
		rep.NeededCommonCertificateTimestamp, rep.NeededRealmCertificateTimestamp, err = lastCertificates(tx, c.org.ID, realm)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// vlobReadBatch reads the last version of vlobs, or the last one at a time.
func (s *Server) vlobReadBatch(ctx context.Context, c *caller, req *protocol.VlobReadBatchReq) (any, error) {
	if len(req.Vlobs) > protocol.MaxBatchItems {
		return nil, tooMany("vlobs", len(req.Vlobs))
	}
	ids := distinct(req.Vlobs)
	return s.readVlobs(ctx, c, req.RealmID, func(tx metastore.Tx) ([]metastore.VlobAtom, error) {
		return tx.LatestVlobAtoms(c.org.ID, req.RealmID, ids, req.At)
	})
}

// vlobReadVersions reads given versions of vlobs.
func (s *Server) vlobReadVersions(ctx context.Context, c *caller, req *protocol.VlobReadVersionsReq) (any, error) {
	if len(req.Items) > protocol.MaxBatchItems {
		return nil, tooMany("vlob versions", len(req.Items))
	}
	refs := make([]metastore.VlobRef, len(req.Items))
	for i, it := range req.Items {
		refs[i] = metastore.VlobRef{VlobID: it.VlobID, Version: it.Version}
	}
	refs = distinct(refs)
	return s.readVlobs(ctx, c, req.RealmID, func(tx metastore.Tx) ([]metastore.VlobAtom, error) {
		return tx.VlobAtoms(c.org.ID, req.RealmID, refs)
	})
}

// vlobPollChanges lists the vlobs changed since a checkpoint, with their last version,
// reading Limits.PollChanges entries of the change log at most.
func (s *Server) vlobPollChanges(ctx context.Context, c *caller, req *protocol.VlobPollChangesReq) (any, error) {
	var rep protocol.VlobPollChangesRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		if _, err := dataAccess(tx, c, req.RealmID, false, 0); err != nil {
			return err
		}
		span := uint64(s.limits.PollChanges)
		changes, current, err := tx.VlobChanges(c.org.ID, req.RealmID, req.LastCheckpoint, span)
		if err != nil {
			return err
		}
		rep.CurrentCheckpoint = current
		if end := req.LastCheckpoint + span; req.LastCheckpoint < current && end < current {
			rep.CurrentCheckpoint, rep.More = end, true
		}
		rep.Changes = make([]protocol.VlobVersion, len(changes))
		for i, ch := range changes {
			rep.Changes[i] = protocol.VlobVersion{VlobID: ch.VlobID, Version: ch.Version}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// blockCreate stores blocks of one realm: their bytes in the block store first, then their
// records in one transaction, so that a recorded block always has its bytes. A block
// already recorded in the same realm is skipped (the client retries an upload); one
// recorded in another realm is refused before anything is written.
//
// Two requests creating the same new block ID at once both write its bytes; the second
// to commit finds the record of the first. Block IDs are random and only their creator
// knows them until it uploads a manifest referencing them, after the blocks: in practice
// the two requests are the same client retrying, with the same bytes.
func (s *Server) blockCreate(ctx context.Context, c *caller, req *protocol.BlockCreateReq) (any, error) {
	if len(req.Blocks) > protocol.MaxBatchItems {
		return nil, tooMany("blocks", len(req.Blocks))
	}
	ids := make([]parsec.BlockID, len(req.Blocks))
	seen := make(map[parsec.BlockID]bool, len(req.Blocks))
	for i, b := range req.Blocks {
		if seen[b.BlockID] {
			return nil, blockError(protocol.StatusBadRequest, b.BlockID, "block %s sent twice in one request", parsec.ShortID(b.BlockID))
		}
		seen[b.BlockID] = true
		if len(b.Data) > protocol.MaxBlockSize {
			return nil, blockError(protocol.StatusBadRequest, b.BlockID, "block %s is %d bytes, more than %d",
				parsec.ShortID(b.BlockID), len(b.Data), protocol.MaxBlockSize)
		}
		ids[i] = b.BlockID
	}
	// newBlocks checks the request against the store and returns the blocks not recorded yet.
	newBlocks := func(tx metastore.Tx) ([]protocol.BlockData, error) {
		if _, err := dataAccess(tx, c, req.RealmID, true, req.KeyIndex); err != nil {
			return nil, err
		}
		known, err := tx.Blocks(c.org.ID, ids)
		if err != nil {
			return nil, err
		}
		var out []protocol.BlockData
		for _, b := range req.Blocks {
			k, ok := known[b.BlockID]
			switch {
			case !ok:
				out = append(out, b)
			case k.Realm != req.RealmID:
				return nil, blockError(protocol.StatusBlockAlreadyExists, b.BlockID, "block %s already exists", parsec.ShortID(b.BlockID))
			}
		}
		return out, nil
	}
	var fresh []protocol.BlockData
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		var err error
		fresh, err = newBlocks(tx)
		return err
	})
	if err != nil || len(fresh) == 0 {
		return protocol.BlockCreateRep{}, err
	}
	put := make([]blockstore.Block, len(fresh))
	for i, b := range fresh {
		put[i] = blockstore.Block{ID: b.BlockID, Data: b.Data}
	}
	if err := s.cfg.Blocks.PutBatch(ctx, c.org.ID, put); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		s.log.Error("block store: cannot store blocks", "org", c.org.ID, "realm", req.RealmID, "blocks", len(put), "err", err)
		return nil, protocol.Errorf(protocol.StatusStoreUnavailable, "the server cannot store blocks now: try again later")
	}
	now := s.now()
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		// Checked again: the realm or the caller's role may have changed meanwhile.
		fresh, err := newBlocks(tx)
		if err != nil {
			return err
		}
		records := make([]metastore.Block, len(fresh))
		for i, b := range fresh {
			records[i] = metastore.Block{ID: b.BlockID, Realm: req.RealmID, Author: c.device.ID, Size: int64(len(b.Data)),
				KeyIndex: req.KeyIndex, CreatedOn: now}
		}
		return tx.InsertBlocks(c.org.ID, records)
	})
	if err != nil {
		return nil, err
	}
	return protocol.BlockCreateRep{}, nil
}

// blockReaders is how many blocks a block_read reads from the block store at once.
const blockReaders = 8

// blockRead reads blocks of one realm. The reply has one item per ID asked, in order.
func (s *Server) blockRead(ctx context.Context, c *caller, req *protocol.BlockReadReq) (any, error) {
	if len(req.BlockIDs) > protocol.MaxBatchItems {
		return nil, tooMany("blocks", len(req.BlockIDs))
	}
	ids := distinct(req.BlockIDs)
	var known map[parsec.BlockID]metastore.Block
	var rep protocol.BlockReadRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		if _, err := dataAccess(tx, c, req.RealmID, false, 0); err != nil {
			return err
		}
		var err error
		if known, err = tx.Blocks(c.org.ID, ids); err != nil {
			return err
		}
		rep.NeededRealmCertificateTimestamp, err = tx.LastTimestamp(c.org.ID, metastore.RealmTopic(req.RealmID))
		return err
	})
	if err != nil {
		return nil, err
	}
	var total int64
	for _, id := range req.BlockIDs {
		b, ok := known[id]
		if !ok || b.Realm != req.RealmID {
			return nil, blockError(protocol.StatusBlockNotFound, id, "block %s not found in workspace %s", parsec.ShortID(id), parsec.ShortID(req.RealmID))
		}
		total += b.Size
	}
	if total > protocol.MaxReadBytes {
		return nil, protocol.Errorf(protocol.StatusTooManyElements, "%d bytes of blocks asked in one request, more than %d", total, protocol.MaxReadBytes)
	}
	// Large blocks are opened here (a block asked twice, twice), and their bytes sent from
	// the store as the reply is written (see blockReadReply); small ones are read, all
	// together (blockstore.GetMany), which bounds the files a request holds open to
	// MaxReadBytes/streamedBlockSize.
	reply := &blockReadReply{files: make([]openBlock, len(req.BlockIDs))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(blockReaders)
	var small []int // indexes in req.BlockIDs
	for i, id := range req.BlockIDs {
		if known[id].Size < streamedBlockSize {
			small = append(small, i)
		}
	}
	if len(small) > 0 {
		g.Go(func() error {
			ids := make([]parsec.BlockID, len(small))
			for j, i := range small {
				ids[j] = req.BlockIDs[i]
			}
			blocks, err := blockstore.GetMany(gctx, s.cfg.Blocks, c.org.ID, ids, blockReaders)
			for j, data := range blocks {
				reply.files[small[j]] = openBlock{data: data}
			}
			return err
		})
	}
	for i, id := range req.BlockIDs {
		if known[id].Size < streamedBlockSize {
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // an open failed or ctx is done: the rest are skipped
			}
			// Opened with the request's context, not the group's, which ends with Wait:
			// a store's reader may depend on it (S3's does) until the reply is written.
			r, size, err := s.cfg.Blocks.Open(ctx, c.org.ID, id)
			if err != nil {
				return err
			}
			reply.files[i] = openBlock{r: r, size: size}
			return nil
		})
	}
	err = g.Wait()
	if err != nil {
		reply.close()
		if ctx.Err() != nil {
			return nil, err
		}
		s.log.Error("block store: cannot read blocks", "org", c.org.ID, "realm", req.RealmID, "err", err)
		return nil, protocol.Errorf(protocol.StatusStoreUnavailable, "the server cannot read blocks now: try again later")
	}
	rep.Blocks = make([]protocol.BlockItem, len(req.BlockIDs))
	for i, id := range req.BlockIDs {
		rep.Blocks[i] = protocol.BlockItem{BlockID: id, KeyIndex: known[id].KeyIndex}
	}
	reply.rep = rep
	return reply, nil
}

// streamedBlockSize is the size from which a block_read sends a block from the block store
// as it writes the reply, rather than reading it first.
const streamedBlockSize = 64 << 10

// openBlock is a block to send: read (data), or open (r, of size bytes).
type openBlock struct {
	data []byte
	r    io.ReadCloser
	size int64
}

// blockReadReply is a block_read reply whose large blocks' bytes go from the block store to
// the connection as it is written, a piece at a time through one reused buffer, rather
// than each read whole into memory and copied into the reply's encoding. files[i] is the
// i-th block asked.
type blockReadReply struct {
	rep   protocol.BlockReadRep
	files []openBlock
}

func (r *blockReadReply) body() *replyBody {
	sizes := make([]int64, len(r.files))
	for i, f := range r.files {
		sizes[i] = f.size
		if f.r == nil {
			sizes[i] = int64(len(f.data))
		}
	}
	frame := protocol.OKBlockReadFrame(r.rep, sizes)
	body := &replyBody{close: r.close}
	for i, f := range r.files {
		body.addBytes(frame[i])
		if f.r == nil {
			body.addBytes(f.data)
		} else {
			body.addReader(f.r, f.size)
		}
	}
	body.addBytes(frame[len(r.files)])
	return body
}

func (r *blockReadReply) close() {
	for _, f := range r.files {
		if f.r != nil {
			f.r.Close()
		}
	}
}

// distinct returns the items without repetitions, in the order of their first occurrence.
func distinct[T comparable](items []T) []T {
	seen := make(map[T]bool, len(items))
	out := make([]T, 0, len(items))
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}
