package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// FileSource is a file to write into a workspace.
type FileSource struct {
	Path string                        // where, in the workspace
	Open func() (io.ReadCloser, error) // its content; may be called again on retry
}

// FileTarget is a file of a workspace to read.
type FileTarget struct {
	Path string // in the workspace
	// Create is called once the first bytes are ready (or at once for an empty file) and
	// receives the whole file in order; it is closed at the end.
	Create func() (io.WriteCloser, error)
	// ID, when set, is the entry a walk found at Path (Entry.ID): ReadFiles reads that
	// entry, with the others in one batch, rather than resolving Path again, which costs a
	// lookup per file; Path is resolved when the entry cannot be read here.
	ID parsec.VlobID
	// Apart says that this file may be created and written while other files of the call
	// are, from other goroutines (files of a disk); files whose targets do not all say so
	// are created and written one after another, in order (entries of one archive).
	Apart bool

	file *manifest.FileManifest // the manifest the walk found (Entry.file): read as it is
}

// Transfer tuning. An upload sends uploadStreams requests at once while it reads and
// encrypts the next ones: uploadBuffers request bodies in all (about 8 MiB each), which is
// the upload's memory. A download fetches transferStreams+1 batches ahead.
const (
	uploadStreams   = 4
	uploadBuffers   = uploadStreams + 2
	transferStreams = 2
)

// writeChunk is how many files WriteFiles uploads, then saves, at a time: a write of many
// files holds two such parts in memory, one read while the one before is saved (see
// uploadParts).
var writeChunk = 32 << 10

// sendChunk is how many files a write that sends its files as it goes (see writeFiles)
// uploads at a time: the manifests of one part go to the server while the contents of the
// next one upload.
var sendChunk = 2 * protocol.MaxBatchItems

// WriteFiles writes files into the workspace, creating them or replacing their content,
// and the missing folders above them. The content is encrypted block by block and
// uploaded first (several blocks per request, several requests at a time); then the
// manifests are saved locally in one transaction, which is when the write is
// acknowledged; Push or Sync sends them. More than writeChunk files are written that many
// at a time, each chunk acknowledged on its own: a write stopped midway keeps the chunks
// saved before. progress, if set, receives the bytes uploaded as they go.
func (w *Workspace) WriteFiles(ctx context.Context, files []FileSource, progress func(int64)) error {
	return w.writeFiles(ctx, files, progress, false)
}

// SendFiles writes files as WriteFiles does, and sends them, as one change (see Change):
// the files it creates go to the server as they are written (see writeFiles), the rest
// once they are.
func (w *Workspace) SendFiles(ctx context.Context, files []FileSource, progress func(int64)) error {
	return w.Change(ctx, false, func() error { return w.writeFiles(ctx, files, progress, true) })
}

// writeFiles is WriteFiles; with send, for a change that is pushed once written (see
// Change), the files it creates are also sent as it goes: sendChunk files at a time, the
// manifests of the new files of one part are pushed (and saved as the server took them)
// while the contents of the next part upload, then the part's other changes (its folders,
// the files it replaces) are saved, to be pushed with the rest of the change. Each file is
// thus saved once, as sent, rather than once to be sent and again once sent. The only part
// of a small write is saved, and goes with the folders: a file is not older than the
// folder version that names it, unless the change has several parts anyway. A part that
// cannot be sent is saved as WriteFiles saves it, and the next parts too: the change's
// push sends them, or says why it cannot. A write stopped midway keeps the parts sent or
// saved before. The contents of the next part are read and encrypted while those of one
// are on their way (see uploadParts).
func (w *Workspace) writeFiles(ctx context.Context, files []FileSource, progress func(int64), send bool) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.checkWritable(); err != nil {
		return err
	}
	for _, f := range files {
		if _, _, err := w.resolveParentForWrite(f.Path); err != nil {
			return err
		}
	}
	size := writeChunk
	if send {
		size = sendChunk
	}
	// The part being pushed, by another goroutine, while this one uploads the next: that
	// push works on the part's new files only, which nothing else touches meanwhile.
	var sending chan error
	var unsaved []parsec.VlobID // the changes of that part, saved once it is pushed
	settle := func(ctx context.Context) error {
		if sending == nil {
			return nil
		}
		if err := <-sending; err != nil {
			if errors.As(err, new(cacheError)) {
				// The part's other changes are gone from memory with the cache's
				// failure: the write stops there.
				sending = nil
				return err
			}
			send = false // saved instead, from now on
		}
		sending = nil
		// What the push took is saved already (and out of memory): save leaves it out.
		err := w.save(ctx, unsaved, nil)
		unsaved = nil
		return err
	}
	// A write that stops midway keeps the parts pushed before: their folders are saved
	// even when the write stops because ctx is done (and the push is over before the
	// workspace is unlocked, whatever happens).
	defer settle(context.WithoutCancel(ctx))
	// place records a part's files, whose contents are on the server, and saves them, or
	// starts sending its new files.
	placedOne := false
	place := func(chunk []FileSource, contents []*manifest.FileManifest, last bool) error {
		if err := settle(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		var changed, created []parsec.VlobID
		for i, f := range chunk {
			ids, err := w.putFile(f.Path, contents[i])
			if err != nil {
				return err
			}
			changed = append(changed, ids...)
			if id := contents[i].ID; !id.IsZero() {
				created = append(created, id)
			}
		}
		only := last && !placedOne
		placedOne = true
		if !send || only || len(created) == 0 {
			return w.save(ctx, changed, nil)
		}
		sending, unsaved = make(chan error, 1), changed
		go func(done chan<- error) { done <- w.pushOnce(ctx, created) }(sending)
		return nil
	}
	for attempt := 0; ; attempt++ {
		placed, err := w.uploadParts(ctx, files, size, progress, place)
		files = files[placed:]
		if placed > 0 {
			attempt = 0 // twice at most for each part
		}
		if attempt < 2 && protocol.IsStatus(err, protocol.StatusBadKeyIndex) {
			// The key changed during the upload: the parts not placed start again with
			// the new one.
			w.c.forgetKeys(w.id)
			if _, err := w.c.PollCertificates(ctx); err != nil {
				return err
			}
			continue
		}
		if serr := settle(context.WithoutCancel(ctx)); serr != nil {
			return serr
		}
		return err
	}
}

// uploadParts uploads the contents of files, size files at a time (a part), and calls
// place with each part once all its blocks are on the server, in order, from this
// goroutine (place is the one to change the workspace). Another goroutine reads the files
// (the uploader's workers encrypt them, on every processor), the next part's while one's
// last blocks are on their way and while place records it, without waiting for the part
// to be placed: two parts are held here at most (their manifests; the contents are in the
// uploader's bodies), besides one being pushed by place's doing. It returns how many files
// were placed, and the first error (of a read, an upload or place), after which no part
// is placed; the parts placed before stay.
func (w *Workspace) uploadParts(ctx context.Context, files []FileSource, size int, progress func(int64), place func(files []FileSource, contents []*manifest.FileManifest, last bool) error) (placed int, err error) {
	if len(files) == 0 {
		return 0, nil
	}
	keys, err := w.c.keysOf(ctx, w.id)
	if err != nil {
		return 0, err
	}
	index, key, err := keys.current()
	if err != nil {
		return 0, err
	}
	// The block size is asked of the server only once a file has a byte to upload: an
	// empty file is written offline without waiting for a server that does not answer.
	u := newUploader(ctx, w.c, w.id, index, key, func() uint64 { return w.c.newFileBlockSize(ctx) }, progress)
	type part struct {
		files    []FileSource
		contents []*manifest.FileManifest
		uploaded func() error
	}
	parts := make(chan part)
	var readErr error // the reading goroutine's, once parts is closed
	go func() {
		defer close(parts)
		stopped := func() error { return cmp.Or(u.failed(), context.Cause(u.ctx)) }
		for start := 0; start < len(files); start += size {
			chunk := files[start:min(start+size, len(files))]
			contents := make([]*manifest.FileManifest, len(chunk))
			for i, f := range chunk {
				if u.ctx.Err() != nil { // no file opened for nothing
					readErr = stopped()
					return
				}
				fm, err := u.addFile(f)
				if err != nil {
					readErr = err
					return
				}
				contents[i] = fm
			}
			select {
			case parts <- part{chunk, contents, u.endPart()}:
			case <-u.ctx.Done():
				readErr = stopped()
				return
			}
		}
	}()
	for p := range parts {
		if err = p.uploaded(); err == nil {
			err = place(p.files, p.contents, placed+len(p.files) == len(files))
		}
		if err != nil {
			u.abort(err)
			break
		}
		placed += len(p.files)
	}
	for range parts { // until the reading goroutine stops, as u is aborted
	}
	if err == nil && readErr != nil {
		// The parts before the one that could not be read are placed: the rest of
		// that one is dropped.
		err = readErr
		u.abort(err)
	}
	if ferr := u.finish(); err == nil {
		err = ferr
	}
	return placed, err
}

// uploadAnew is upload, started again (twice at most) when the workspace's key changed
// during the upload.
func (w *Workspace) uploadAnew(ctx context.Context, files []FileSource, progress func(int64)) ([]*manifest.FileManifest, error) {
	for attempt := 0; ; attempt++ {
		contents, err := w.upload(ctx, files, progress)
		if attempt < 2 && protocol.IsStatus(err, protocol.StatusBadKeyIndex) {
			// The key changed during the upload: start again with the new one.
			w.c.forgetKeys(w.id)
			if _, err := w.c.PollCertificates(ctx); err != nil {
				return nil, err
			}
			continue
		}
		return contents, err
	}
}

// resolveParentForWrite checks that a path can be written: its name is valid and nothing
// above it is a file.
func (w *Workspace) resolveParentForWrite(p string) ([]string, string, error) {
	names, err := splitPath(p)
	if err != nil {
		return nil, "", err
	}
	if len(names) == 0 {
		return nil, "", parsec.Errorf(parsec.Invalid, "cannot write a file at the workspace's root folder itself")
	}
	return names[:len(names)-1], names[len(names)-1], nil
}

// putFile records a file's new content at a path (in memory).
func (w *Workspace) putFile(p string, content *manifest.FileManifest) ([]parsec.VlobID, error) {
	dirs, name, err := w.resolveParentForWrite(p)
	if err != nil {
		return nil, err
	}
	changed, parentID, err := w.mkdirAll(dirs, true)
	if err != nil {
		return nil, err
	}
	now := w.c.now()
	parent := w.root()
	if parentID != w.id {
		parent = w.get(parentID).current().(*manifest.FolderManifest)
	}
	if id, ok := parent.Children[name]; ok {
		e := w.get(id)
		if e == nil || e.current() == nil {
			return nil, parsec.Errorf(parsec.Unavailable, "%s is not synced yet: run a sync", p)
		}
		if e.current().IsFolder() {
			return nil, parsec.Errorf(parsec.Exists, "%s is a folder", p)
		}
		f := w.edit(id).(*manifest.FileManifest)
		f.Size, f.BlockSize, f.Blocks, f.Updated = content.Size, content.BlockSize, content.Blocks, now
		return append(changed, id), nil
	}
	content.ID, content.Parent, content.Created, content.Updated = w.c.newID(), parentID, now, now
	w.entries[content.ID] = &entry{local: content}
	pf := w.editFolder(parentID)
	pf.Children[name] = content.ID
	pf.Updated = now
	return append(changed, content.ID, parentID), nil
}

// upload reads, encrypts and uploads the files' content; it returns a file manifest
// (content fields only) per file.
func (w *Workspace) upload(ctx context.Context, files []FileSource, progress func(int64)) ([]*manifest.FileManifest, error) {
	keys, err := w.c.keysOf(ctx, w.id)
	if err != nil {
		return nil, err
	}
	index, key, err := keys.current()
	if err != nil {
		return nil, err
	}
	// The block size is asked of the server only once a file has a byte to upload: an
	// empty file is written offline without waiting for a server that does not answer.
	u := newUploader(ctx, w.c, w.id, index, key, func() uint64 { return w.c.newFileBlockSize(ctx) }, progress)
	out := make([]*manifest.FileManifest, len(files))
	for i, f := range files {
		fm, err := u.addFile(f)
		if err != nil {
			u.abort(err)
			break
		}
		out[i] = fm
	}
	uploaded := u.endPart()
	if err := u.finish(); err != nil {
		return nil, err
	}
	if err := uploaded(); err != nil {
		return nil, err
	}
	return out, nil
}

// newFileBlockSize returns the span size of new files: the one the server asks for
// (organization_config's block_size, asked once in the client's life, then followed in
// the event stream's first event) when it is within the bounds manifest.NewFileBlockSize
// sets, the default otherwise. When the server cannot be asked, this write takes the
// default: a hint never stops a write.
func (c *Client) newFileBlockSize(ctx context.Context) uint64 {
	c.mu.Lock()
	bs := c.blockSize
	c.mu.Unlock()
	if bs != 0 {
		return bs
	}
	cfg, err := c.OrganizationConfig(ctx)
	if err != nil {
		return manifest.DefaultBlockSize
	}
	return c.takeBlockSize(cfg.BlockSize)
}

// takeBlockSize records the span size the server asks for (see newFileBlockSize) and
// returns the one new files take; a size out of bounds is said once.
func (c *Client) takeBlockSize(asked int64) uint64 {
	bs := manifest.NewFileBlockSize(asked)
	c.mu.Lock()
	said := c.blockSizeAsked == asked && c.blockSize != 0
	c.blockSize, c.blockSizeAsked = bs, asked
	c.mu.Unlock()
	if asked != 0 && uint64(asked) != bs && !said {
		c.warn("the server asks for blocks of %d bytes, not a power of two from %d KiB to %d MiB: new files are cut into blocks of %d KiB", asked, manifest.MinNewFileBlockSize>>10, manifest.MaxNewFileBlockSize>>20, bs>>10)
	}
	return bs
}

// uploader reads files block by block straight into request bodies, each block where it
// travels (protocol.BlockBatch); encrypts the blocks there, in place, on every processor;
// and sends the full bodies, uploadStreams at a time, while the next ones fill. Its memory
// is its bodies: uploadBuffers of protocol.BlockBatchCap bytes (about 8 MiB) at most.
type uploader struct {
	ctx      context.Context
	cancel   context.CancelFunc
	c        *Client
	realm    parsec.VlobID
	keyIndex uint64
	key      crypto.RealmKey
	progress func(int64)
	// blockSize is the span size of the files: each block holds up to that many bytes;
	// 0 until a file has a byte to upload, when blockSizeOf gives it.
	blockSize   int
	blockSizeOf func() uint64

	free    chan *uploadBatch // bodies sent, to fill again
	made    int               // bodies made so far (by the reading goroutine)
	cur     *uploadBatch      // the body being filled (by the reading goroutine)
	part    *uploadPart       // the part being read (by the reading goroutine; see endPart)
	jobs    chan sealJob
	full    chan *uploadBatch
	workers sync.WaitGroup
	senders sync.WaitGroup

	mu  sync.Mutex
	err error
}

// uploadBatch is a request body being filled, encrypted, then sent.
type uploadBatch struct {
	body      *protocol.BlockBatch
	sealed    sync.WaitGroup // blocks not yet encrypted
	cleartext int64
	part      *uploadPart // whose blocks it holds, once full
}

// uploadPart is the files added to an uploader between two calls of endPart, and their
// bodies: those bodies hold the part's blocks only.
type uploadPart struct {
	unsent sync.WaitGroup // its bodies not sent yet
	mu     sync.Mutex
	err    error // why one of its bodies was not sent
	files  []pendingFile
}

// sent is called once per body of the part, sent or not (err says why not).
func (p *uploadPart) sent(err error) {
	if err != nil {
		p.mu.Lock()
		p.err = cmp.Or(p.err, err)
		p.mu.Unlock()
	}
	p.unsent.Done()
}

// sealJob is a block read in place, to encrypt there.
type sealJob struct {
	batch  *uploadBatch
	id     parsec.BlockID
	offset uint64
	buf    []byte // nonce room, cleartext, tag room
	access *manifest.BlockAccess
	digest *crypto.Digest // the block's in the request body (protocol.BlockBatch)
}

func newUploader(ctx context.Context, c *Client, realm parsec.VlobID, index uint64, key crypto.RealmKey, blockSizeOf func() uint64, progress func(int64)) *uploader {
	ctx, cancel := context.WithCancel(ctx)
	u := &uploader{
		ctx: ctx, cancel: cancel, c: c, realm: realm, keyIndex: index, key: key, progress: progress, blockSizeOf: blockSizeOf,
		free: make(chan *uploadBatch, uploadBuffers),
		jobs: make(chan sealJob, 2*runtime.GOMAXPROCS(0)),
		full: make(chan *uploadBatch, uploadBuffers),
	}
	for range runtime.GOMAXPROCS(0) {
		u.workers.Go(u.seal)
	}
	for range uploadStreams {
		u.senders.Go(u.send)
	}
	return u
}

func (u *uploader) abort(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
	u.cancel()
}

func (u *uploader) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// slot returns where the next block, of at most u.blockSize bytes of cleartext, goes: in
// the current body, or in the next one when it is full (the full one goes to the
// senders). It waits for a free body when uploadBuffers are in use.
func (u *uploader) slot() ([]byte, error) {
	most := u.blockSize + manifest.BlockOverhead
	if u.cur != nil {
		if s := u.cur.body.Reserve(most); s != nil {
			return s, nil
		}
		u.flush()
	}
	select {
	case b := <-u.free:
		u.cur = b
	default:
		if u.made < uploadBuffers {
			u.made++
			u.cur = &uploadBatch{body: protocol.NewBlockBatch(make([]byte, protocol.BlockBatchCap))}
			break
		}
		select {
		case b := <-u.free:
			u.cur = b
		case <-u.ctx.Done():
			return nil, context.Cause(u.ctx)
		}
	}
	return u.cur.body.Reserve(most), nil
}

// addFile reads a file block by block and queues its blocks.
func (u *uploader) addFile(f FileSource) (*manifest.FileManifest, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// A first byte, read before anything else: an empty file needs no block, so no block
	// size either (see upload).
	var first [1]byte
	if n, err := io.ReadFull(r, first[:]); n == 0 {
		if err == io.EOF {
			return &manifest.FileManifest{BlockSize: uint64(cmp.Or(u.blockSize, manifest.DefaultBlockSize)), Blocks: []manifest.BlockAccess{}}, nil
		}
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if u.blockSize == 0 {
		u.blockSize = int(u.blockSizeOf())
	}
	fm := &manifest.FileManifest{BlockSize: uint64(u.blockSize)}
	var accesses []*manifest.BlockAccess
	for pending := first[:]; ; pending = nil {
		if err := u.failed(); err != nil {
			return nil, err
		}
		slot, err := u.slot()
		if err != nil {
			return nil, err
		}
		data := slot[manifest.BlockNonceSize : manifest.BlockNonceSize+u.blockSize]
		k := copy(data, pending)
		n, err := io.ReadFull(r, data[k:])
		n += k
		if n > 0 {
			id := parsec.NewBlockID()
			buf, digest := u.cur.body.Commit(id, n+manifest.BlockOverhead, len(slot))
			acc := new(manifest.BlockAccess)
			accesses = append(accesses, acc)
			u.cur.sealed.Add(1)
			u.cur.cleartext += int64(n)
			job := sealJob{batch: u.cur, id: id, offset: fm.Size, buf: buf, access: acc, digest: digest}
			fm.Size += uint64(n)
			select {
			case u.jobs <- job:
			case <-u.ctx.Done():
				u.cur.sealed.Done()
				return nil, context.Cause(u.ctx)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
	}
	// The accesses are filled by the workers before the part's bodies are sent.
	fm.Blocks = make([]manifest.BlockAccess, 0, len(accesses))
	if u.part == nil {
		u.part = &uploadPart{}
	}
	u.part.files = append(u.part.files, pendingFile{fm, accesses})
	return fm, nil
}

// flush hands the body being filled to the senders.
func (u *uploader) flush() {
	if u.cur == nil {
		return
	}
	if u.part == nil {
		u.part = &uploadPart{}
	}
	u.cur.part = u.part
	u.part.unsent.Add(1)
	u.full <- u.cur // never waits: it holds every body
	u.cur = nil
}

// endPart ends the part of the files added since the last endPart (or since the start):
// its last body goes to the senders now, without waiting to be full, and the next files
// go into other bodies. The function it returns waits until every body of the part is
// sent, then fills the part's files' block lists; it returns why a body was not sent, if
// one was not (another part failing stops this one only if it was not sent yet).
func (u *uploader) endPart() func() error {
	u.flush()
	p := u.part
	u.part = nil
	return func() error {
		if p == nil {
			return nil // no file
		}
		p.unsent.Wait()
		if p.err != nil {
			// The first error of the upload: a body that failed ends the requests of
			// the others, whose error (the context's) may come first here.
			return cmp.Or(u.failed(), p.err)
		}
		for _, pf := range p.files {
			for _, a := range pf.accesses {
				pf.fm.Blocks = append(pf.fm.Blocks, *a)
			}
		}
		return nil
	}
}

// seal encrypts each block, then computes its digest once for its access in the manifest
// and for the request's signature.
func (u *uploader) seal() {
	for j := range u.jobs {
		if u.failed() == nil {
			manifest.SealBlockInPlace(u.key, j.id, j.buf)
			*j.access = manifest.NewBlockAccess(j.id, j.offset, j.buf)
			*j.digest = j.access.Digest
		}
		j.batch.sealed.Done()
	}
}

// send sends full bodies once their blocks are encrypted, and frees them.
func (u *uploader) send() {
	for b := range u.full {
		b.sealed.Wait()
		err := u.failed()
		if err == nil && b.body.Blocks() > 0 {
			body, hash := b.body.Body(u.realm, u.keyIndex)
			err = u.c.callBody(u.ctx, protocol.CmdBlockCreate, body, hash, nil)
			if err != nil {
				u.abort(err)
			} else if u.progress != nil {
				u.progress(b.cleartext)
			}
		}
		b.part.sent(err)
		b.body.Reset()
		b.cleartext, b.part = 0, nil
		u.free <- b
	}
}

// finish sends what is left, waits for every body to be sent and stops the uploader; it
// returns the first error of the upload. Files added since the last endPart are sent
// too, but their block lists stay empty.
func (u *uploader) finish() error {
	u.flush()
	close(u.jobs)
	close(u.full)
	u.senders.Wait()
	u.workers.Wait()
	u.cancel()
	return u.failed()
}

type pendingFile struct {
	fm       *manifest.FileManifest
	accesses []*manifest.BlockAccess
}

// ReadFiles reads files of the workspace into their targets, in order, except that targets
// marked Apart may be created and written at once from several goroutines (progress is
// then called from them too). Their manifests are read from the local cache together, and
// blocks of several files travel together; each block is checked against the size and
// digest its (validated) manifest gives, then decrypted, and any mismatch stops everything
// as tampering.
func (w *Workspace) ReadFiles(ctx context.Context, targets []FileTarget, progress func(int64)) error {
	return w.readFiles(ctx, targets, progress, newPace())
}

// readFiles is ReadFiles at pace p: see download.
func (w *Workspace) readFiles(ctx context.Context, targets []FileTarget, progress func(int64), p pace) error {
	defer p.issue() // when it fails before its download starts
	w.lockRead()
	files := make([]download, len(targets))
	// Each target's entry: the one its walk found, else the one its folder names now.
	ids := make([]parsec.VlobID, len(targets))
	for i, t := range targets {
		if t.file != nil {
			continue
		}
		ids[i] = t.ID
		if t.ID == (parsec.VlobID{}) {
			if parent, name, err := w.resolveParent(t.Path); err == nil {
				ids[i] = parent.Children[name]
			}
		}
	}
	byID, err := w.entriesByID(ids)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	for i, t := range targets {
		var m manifest.Manifest
		if t.file != nil {
			m = t.file
		} else if e := byID[ids[i]]; e != nil {
			m = e.current()
		}
		if m == nil {
			if m, err = w.resolve(t.Path); err != nil {
				w.mu.Unlock()
				return err
			}
		}
		fm, ok := m.(*manifest.FileManifest)
		if !ok {
			w.mu.Unlock()
			return parsec.Errorf(parsec.Invalid, "%s is a folder", t.Path)
		}
		files[i] = download{fm: fm, create: t.Create, apart: t.Apart}
	}
	w.mu.Unlock()
	return w.c.downloadAt(ctx, w.id, files, progress, p)
}

// entriesByID reads entries, with the lock held: those in memory from there, the others
// from the local cache in one batch, decoded on every core (a lookup each would cost a
// query and a goroutine switch per file). The zero ID, and an entry that cannot be read,
// are left out: the caller resolves its target by path.
func (w *Workspace) entriesByID(ids []parsec.VlobID) (map[parsec.VlobID]*entry, error) {
	out := map[parsec.VlobID]*entry{}
	var stored []parsec.VlobID
	for _, id := range ids {
		switch {
		case id == (parsec.VlobID{}) || w.damaged[id]:
		case w.entries[id] != nil:
			out[id] = w.entries[id]
		case w.recent.get(id) != nil:
			out[id] = w.recent.get(id)
		default:
			stored = append(stored, id)
		}
	}
	var mu sync.Mutex
	err := w.eachStored(stored, func(id parsec.VlobID, e *entry) {
		mu.Lock()
		out[id] = e
		mu.Unlock()
	})
	return out, err
}

// ReadFile writes a file's content to dst.
func (w *Workspace) ReadFile(ctx context.Context, p string, dst io.Writer) error {
	return w.ReadFiles(ctx, []FileTarget{{Path: p, Create: func() (io.WriteCloser, error) { return nopCloser{dst}, nil }}}, nil)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

type download struct {
	fm     *manifest.FileManifest
	create func() (io.WriteCloser, error)
	apart  bool // see FileTarget.Apart
}

// piece is a range of a file: from a block, or a hole (zeros).
type piece struct {
	file int
	span manifest.Span
	last bool // the file's last piece
}

// A pace is what downloads of one tree, each a chunk of its files, share so that the next
// one starts fetching while the last batches of the one before are written, rather than
// once they all are: the batches being fetched or fetched and not yet taken to be written,
// transferStreams+1 in all (sem; each download writes one batch besides), and issued,
// closed once every batch of a download has been asked for (or the download ended), when
// the next one may start.
type pace struct {
	sem    chan struct{}
	issued func()
}

func newPace() pace {
	return pace{sem: make(chan struct{}, transferStreams+1), issued: func() {}}
}

// next is the pace of a download that follows this one, and a channel closed once its
// batches are all asked for.
func (p pace) next() (pace, <-chan struct{}) {
	issued := make(chan struct{})
	return pace{sem: p.sem, issued: sync.OnceFunc(func() { close(issued) })}, issued
}

func (p pace) issue() { p.issued() }

func (c *Client) download(ctx context.Context, realm parsec.VlobID, files []download, progress func(int64)) error {
	return c.downloadAt(ctx, realm, files, progress, newPace())
}

// downloadAt reads files, fetching their blocks ahead at pace p, and writes them.
func (c *Client) downloadAt(ctx context.Context, realm parsec.VlobID, files []download, progress func(int64), p pace) error {
	defer p.issue()
	// Cut the files into pieces, and the pieces into batches of blocks.
	var pieces []piece
	for i, f := range files {
		spans := f.fm.Spans(0, f.fm.Size)
		if len(spans) == 0 {
			pieces = append(pieces, piece{file: i, last: true})
			continue
		}
		for j, s := range spans {
			pieces = append(pieces, piece{file: i, span: s, last: j == len(spans)-1})
		}
	}
	// A block shared by several pieces (a file and its copy, made within the workspace,
	// share their blocks) is asked for once per batch, and checked once, when they all
	// describe it alike; one described otherwise goes to the next batch, where it is checked
	// against its own description.
	type batch struct {
		pieces []piece
		ids    []parsec.BlockID
		access map[parsec.BlockID]manifest.BlockAccess
		bytes  int
	}
	newBatch := func() *batch { return &batch{access: map[parsec.BlockID]manifest.BlockAccess{}} }
	var batches []*batch
	cur := newBatch()
	for _, p := range pieces {
		if a := p.span.Block; a != nil {
			have, asked := cur.access[a.ID]
			if asked && !sameBlock(have, *a) {
				batches = append(batches, cur)
				cur, asked = newBatch(), false
			}
			size := int(a.Size) + manifest.BlockOverhead
			if !asked && len(cur.ids) > 0 && (cur.bytes+size > protocol.MaxBatchBytes || len(cur.ids) >= protocol.MaxBatchItems) {
				batches = append(batches, cur)
				cur = newBatch()
			}
			if !asked {
				cur.ids = append(cur.ids, a.ID)
				cur.access[a.ID] = *a
				cur.bytes += size
			}
		}
		cur.pieces = append(cur.pieces, p)
	}
	batches = append(batches, cur)

	keys, err := c.keysOf(ctx, realm)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		blocks  map[parsec.BlockID][]byte
		release func()
		err     error
	}
	results := make([]chan result, len(batches))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// Fetch ahead: transferStreams+1 batches at a time (with those of the download before,
	// sharing the pace), in order.
	sem := p.sem
	go func() {
		defer p.issue()
		for i, b := range batches {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				blocks, release, err := c.readBlocks(ctx, realm, keys, b.ids, b.access)
				results[i] <- result{blocks, release, err}
			}()
		}
	}()
	zeros := make([]byte, 64<<10)
	var out io.WriteCloser
	defer func() { abort(out) }()
	// The batches fetched ahead but not written give their buffers back at the end.
	defer func() {
		cancel()
		for _, r := range results {
			select {
			case res := <-r:
				res.release()
			default:
			}
		}
	}()
	for i, b := range batches {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if res.err != nil {
			return res.err
		}
		if err := writeBatch(files, b.pieces, res.blocks, &out, zeros, progress); err != nil {
			res.release()
			return err
		}
		res.release()
	}
	return nil
}

// sameBlock says whether two accesses describe a block alike: same ID, size and digest
// (where it is in each file does not matter to read it).
func sameBlock(a, b manifest.BlockAccess) bool {
	a.Offset, b.Offset = 0, 0
	return a == b
}

// writeBatch writes a batch's pieces of files, from its blocks: those of the file *out
// holds (begun in an earlier batch) first, then the files wholly in the batch, on every
// core when their targets are written apart (creating small files is most of a download's
// time), then the first pieces of a file that ends in a later batch, which *out then
// holds.
func writeBatch(files []download, pieces []piece, blocks map[parsec.BlockID][]byte, out *io.WriteCloser, zeros []byte, progress func(int64)) error {
	head := 0
	if *out != nil {
		for head < len(pieces) && !pieces[head].last {
			head++
		}
		head = min(head+1, len(pieces))
	}
	tail := len(pieces)
	if tail > head && !pieces[tail-1].last {
		for f := pieces[tail-1].file; tail > head && pieces[tail-1].file == f; {
			tail--
		}
	}
	if err := writePieces(files, pieces[:head], blocks, out, zeros, progress); err != nil {
		return err
	}
	// The whole files, each a run of pieces ending with its last.
	var whole [][]piece
	apart := true
	for start, i := head, head; i < tail; i++ {
		apart = apart && files[pieces[i].file].apart
		if pieces[i].last {
			whole = append(whole, pieces[start:i+1])
			start = i + 1
		}
	}
	if !apart || len(whole) < 2 {
		if err := writePieces(files, pieces[head:tail], blocks, out, zeros, progress); err != nil {
			return err
		}
	} else {
		var failed atomic.Bool
		errs := make([]error, len(whole))
		parallel(len(whole), func(i int) {
			if failed.Load() {
				return
			}
			var f io.WriteCloser
			if errs[i] = writePieces(files, whole[i], blocks, &f, zeros, progress); errs[i] != nil {
				abort(f)
				failed.Store(true)
			}
		})
		for _, err := range errs {
			if err != nil {
				return err // the first file's that failed
			}
		}
	}
	return writePieces(files, pieces[tail:], blocks, out, zeros, progress)
}

// abort drops a file left incomplete, when its writer can drop it, else closes it.
func abort(w io.WriteCloser) {
	if a, ok := w.(interface{ Abort() }); ok {
		a.Abort()
	} else if w != nil {
		w.Close()
	}
}

// writePieces writes pieces of files, from blocks, to the files' writers: *out is the
// file being written, created at its first piece and closed (then nil) after its last.
func writePieces(files []download, pieces []piece, blocks map[parsec.BlockID][]byte, out *io.WriteCloser, zeros []byte, progress func(int64)) error {
	for _, p := range pieces {
		if *out == nil {
			// Through a variable: a writer that failed to open may be a nil pointer, which
			// in *out would be an interface that is not nil, closed later.
			w, err := files[p.file].create()
			if err != nil {
				return err
			}
			*out = w
		}
		if p.span.Size > 0 {
			if p.span.Block == nil {
				for left := p.span.Size; left > 0; {
					n := min(left, uint64(len(zeros)))
					if _, err := (*out).Write(zeros[:n]); err != nil {
						return err
					}
					left -= n
				}
			} else {
				data := blocks[p.span.Block.ID]
				if _, err := (*out).Write(data[p.span.InBlock : p.span.InBlock+p.span.Size]); err != nil {
					return err
				}
			}
			if progress != nil {
				progress(int64(p.span.Size))
			}
		}
		if p.last {
			err := (*out).Close()
			*out = nil
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNoLaterKey refuses a block that also decrypts with a key of the realm later than
// index, the one the server says it was sealed with (see manifest.BlockOpensWith): a member
// made it so that readers told different key indexes read different content. Readers who
// hold the same keys then read such a block with the same key, the newest it decrypts
// with, or refuse it: a block can only be made to decrypt with keys that exist when it is
// written, so only a reader not yet given a newer key could still be shown the older
// content. A block read with the realm's last key costs nothing more; one sealed before
// the last n rotations costs n more decryption attempts.
//
// checked is the last key index the block was already checked against (a block kept on
// the device), index otherwise; checkNoLaterKey returns the last one it is checked
// against now.
func checkNoLaterKey(keys *realmKeys, index, checked uint64, a manifest.BlockAccess, data []byte) (uint64, error) {
	last := keys.bundle.KeyIndex()
	if checked >= last {
		return checked, nil
	}
	bufp := scratchBlocks.Get().(*[]byte)
	defer scratchBlocks.Put(bufp)
	if cap(*bufp) < len(data) {
		*bufp = make([]byte, len(data))
	}
	scratch := (*bufp)[:len(data)]
	for j := max(index, checked) + 1; j <= last; j++ {
		key, err := keys.key(j)
		if err != nil {
			continue // a key that does not match its canary, which no reader decrypts with
		}
		if manifest.BlockOpensWith(key, a, data, scratch) {
			return 0, parsec.Errorf(parsec.Tampered, "block %s decrypts with key %d of the workspace and with key %d: it was written to show different readers different content", parsec.ShortID(a.ID), index, j)
		}
	}
	return last, nil
}

// scratchBlocks are buffers for checkNoLaterKey's decryption attempts.
var scratchBlocks = sync.Pool{New: func() any { return new([]byte) }}

// readBlocks fetches blocks ids and checks each against its access (one description per
// block: see sameBlock). The blocks share a reused buffer until release is called (release
// is never nil).
func (c *Client) readBlocks(ctx context.Context, realm parsec.VlobID, keys *realmKeys, ids []parsec.BlockID, access map[parsec.BlockID]manifest.BlockAccess) (blocks map[parsec.BlockID][]byte, release func(), err error) {
	release = func() {}
	out := map[parsec.BlockID][]byte{}
	cache := c.blockCache()
	if cache != nil {
		// Blocks kept on the device are checked like those of the server; one that does not
		// open is forgotten and read from the server.
		var missing []parsec.BlockID
		for _, id := range ids {
			if a, ok := access[id]; ok {
				if index, checked, data, ok := cache.get(realm, id); ok {
					key, err := keys.key(index)
					if err == nil {
						var now uint64
						if now, err = checkNoLaterKey(keys, index, checked, a, data); err == nil && now > checked {
							// Checked against keys made since it was kept: recorded, before
							// the block is opened in place, so that it is checked once.
							cache.rechecked(realm, id, index, now, data)
						}
					}
					if err == nil {
						if plain, err := manifest.OpenBlockInPlace(key, a, data); err == nil {
							out[id] = plain
							continue
						}
					}
					cache.drop(realm, id)
				}
			}
			missing = append(missing, id)
		}
		ids = missing
	}
	if len(ids) == 0 {
		return out, release, nil
	}
	var rep protocol.BlockReadRep
	release, err = c.callKeeping(ctx, protocol.CmdBlockRead, protocol.BlockReadReq{RealmID: realm, BlockIDs: ids}, &rep)
	if err != nil {
		return nil, release, err
	}
	// On failure, the buffer goes back at once.
	defer func() {
		if err != nil {
			release()
			release = func() {}
		}
	}()
	if len(rep.Blocks) != len(ids) {
		return nil, release, parsec.Errorf(parsec.Tampered, "the server returned %d blocks for %d asked", len(rep.Blocks), len(ids))
	}
	// Every block asked for comes back exactly once: a block returned twice, or one not
	// asked for (say, another block of the batch, kept on the device), would leave another
	// one missing.
	asked := make(map[parsec.BlockID]bool, len(ids))
	for _, id := range ids {
		asked[id] = true
	}
	returned := make(map[parsec.BlockID]bool, len(rep.Blocks))
	for _, b := range rep.Blocks {
		if !asked[b.BlockID] || returned[b.BlockID] {
			return nil, release, parsec.Errorf(parsec.Tampered, "the server returned block %s, which was not asked for (or twice)", parsec.ShortID(b.BlockID))
		}
		returned[b.BlockID] = true
	}
	plain := make([][]byte, len(rep.Blocks))
	errs := make([]error, len(rep.Blocks))
	parallel(len(rep.Blocks), func(i int) {
		b := rep.Blocks[i]
		a := access[b.BlockID]
		key, err := keys.key(b.KeyIndex)
		if err != nil {
			errs[i] = parsec.Errorf(parsec.Tampered, "block %s: %v", parsec.ShortID(b.BlockID), err)
			return
		}
		checked, err := checkNoLaterKey(keys, b.KeyIndex, b.KeyIndex, a, b.Data)
		if err != nil {
			errs[i] = err
			return
		}
		var kept []byte
		if cache != nil {
			kept = slices.Clone(b.Data) // the ciphertext, before it is opened in place
		}
		plain[i], errs[i] = manifest.OpenBlockInPlace(key, a, b.Data)
		if kept != nil && errs[i] == nil {
			cache.put(realm, b.BlockID, b.KeyIndex, checked, kept)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, release, err
	}
	for i, b := range rep.Blocks {
		out[b.BlockID] = plain[i]
	}
	return out, release, nil
}

// takeBack removes the part of a copy at p that was saved before the copy failed with
// cause, so that it can be made again; what memory holds of the rest is forgotten first.
// It returns cause, saying so if p could not be removed.
func (w *Workspace) takeBack(ctx context.Context, p string, cause error) error {
	ctx = context.WithoutCancel(ctx) // the copy may have stopped because ctx ended
	err := w.load(ctx)
	if err == nil {
		var parent *manifest.FolderManifest
		var name string
		if parent, name, err = w.resolveParent(p); err == nil {
			if _, ok := parent.Children[name]; ok {
				f := w.editFolder(parent.ID)
				delete(f.Children, name)
				f.Updated = w.c.now()
				err = w.save(ctx, []parsec.VlobID{parent.ID}, nil)
			}
		}
	}
	if err != nil {
		return parsec.Wrap(cause, "%s holds part of the copy, and removing it failed (%v): remove it, then copy again", p, err)
	}
	return cause
}

// CopyWithin copies a file or a folder tree to another path of the same workspace. File
// contents are shared (blocks never change), so nothing is uploaded. A tree is saved
// writeChunk entries at a time as it is walked; a copy that fails after a chunk was saved
// is taken back (see takeBack): it lands whole or not at all.
func (w *Workspace) CopyWithin(ctx context.Context, from, to string) (err error) {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	saved := false
	defer func() {
		if err != nil && saved {
			err = w.takeBack(ctx, to, err)
		}
	}()
	if err := w.checkWritable(); err != nil {
		return err
	}
	src, err := w.resolve(from)
	if err != nil {
		return err
	}
	if _, err := w.resolve(to); err == nil {
		return parsec.Errorf(parsec.Exists, "%s already exists", to)
	}
	fromNames, _ := splitPath(from)
	if toNames, err := splitPath(to); err == nil && len(toNames) > len(fromNames) && slices.Equal(toNames[:len(fromNames)], fromNames) {
		return parsec.Errorf(parsec.Invalid, "cannot copy %s into itself", from)
	}
	var changed []parsec.VlobID
	put := func(m manifest.Manifest, dst string) error {
		switch m := m.(type) {
		case *manifest.FileManifest:
			ids, err := w.putFile(dst, &manifest.FileManifest{Size: m.Size, BlockSize: m.BlockSize, Blocks: append([]manifest.BlockAccess(nil), m.Blocks...)})
			changed = append(changed, ids...)
			return err
		case *manifest.FolderManifest:
			names, err := splitPath(dst)
			if err != nil {
				return err
			}
			ids, _, err := w.mkdirAll(names, true)
			changed = append(changed, ids...)
			return err
		}
		return nil
	}
	if err := put(src, to); err != nil {
		return err
	}
	if f, ok := src.(*manifest.FolderManifest); ok {
		// The copies are made as the tree is walked, which never meets them: the copy is
		// never inside the source. They are saved every writeChunk entries, so that a copy
		// of any size holds one chunk in memory; one stopped midway keeps the chunks saved.
		err := w.eachInTree(to, f.ID, func(read func()) { read() }, true, func(e Entry) error {
			// Files are read from the local cache again: one it can no longer read stops
			// the copy (nothing more is saved) rather than being left out of it.
			src := w.get(e.ID)
			if src == nil || src.current() == nil {
				return parsec.Errorf(parsec.Unavailable, "%s cannot be read from this device's local cache: run a sync, then copy again", e.Path)
			}
			if err := put(src.current(), e.Path); err != nil {
				return err
			}
			if len(changed) < writeChunk {
				return nil
			}
			err := w.save(ctx, changed, nil)
			changed, saved = changed[:0], true
			return err
		})
		if err != nil {
			return err
		}
	}
	return w.save(ctx, changed, nil)
}
