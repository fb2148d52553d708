package client

import (
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
)

// blockCache keeps blocks read from the server on the device, as the server gave them:
// encrypted with the workspace's key, each checked again against its signed manifest when
// used. It holds at most limit bytes, forgetting the least recently used blocks first. It
// lets a mounted folder read again, and offline, what it read before.
type blockCache struct {
	dir   string
	limit int64

	mu   sync.Mutex
	size int64 // -1 until the folder is measured
}

// EnableBlockCache keeps up to limit bytes of the blocks this client reads on the device
// (see blockCache). The mount uses it; one-off commands, which read a file once, do not.
func (c *Client) EnableBlockCache(limit int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks = &blockCache{dir: filepath.Join(filepath.Dir(c.cache.Path()), "blocks"), limit: limit, size: -1}
}

func (c *Client) blockCache() *blockCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks
}

func (bc *blockCache) path(realm parsec.VlobID, id parsec.BlockID) string {
	return filepath.Join(bc.dir, realm.String(), id.String())
}

// A cached block's file starts with the key index it is encrypted with, its top bit set,
// then the last key index it was checked against (checkNoLaterKey), then the ciphertext.
// Files of earlier builds start with the key index alone (top bit clear): they were checked
// against no later key.
const (
	checkedMark  = 1 << 63
	cachedHeader = 16
)

// get returns a cached block: the key index it is encrypted with, the last key index no
// later key than which opens it, and its ciphertext.
func (bc *blockCache) get(realm parsec.VlobID, id parsec.BlockID) (index, checked uint64, ciphertext []byte, ok bool) {
	p := bc.path(realm, id)
	data, err := os.ReadFile(p)
	if err != nil || len(data) < 8 {
		return 0, 0, nil, false
	}
	now := time.Now()
	os.Chtimes(p, now, now) // recently used
	index = binary.BigEndian.Uint64(data)
	if index&checkedMark == 0 {
		return index, index, data[8:], true
	}
	if len(data) < cachedHeader {
		return 0, 0, nil, false
	}
	return index &^ checkedMark, binary.BigEndian.Uint64(data[8:]), data[cachedHeader:], true
}

// put keeps a block encrypted with key index, that no key after index up to checked
// opens, then forgets old ones beyond the limit. Failures only mean the block is read
// from the server next time.
func (bc *blockCache) put(realm parsec.VlobID, id parsec.BlockID, keyIndex, checked uint64, ciphertext []byte) {
	if !bc.write(realm, id, keyIndex, checked, ciphertext) {
		return
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if bc.size >= 0 {
		bc.size += int64(len(ciphertext) + cachedHeader)
	}
	bc.evict()
}

// rechecked records that a kept block (ciphertext, still intact) was checked up to key
// index checked, so that later reads check only the keys made since. The file is replaced
// whole (never a header written over in place, which a concurrent read could see torn);
// its size does not change. A failure only means the check is made again next time.
func (bc *blockCache) rechecked(realm parsec.VlobID, id parsec.BlockID, keyIndex, checked uint64, ciphertext []byte) {
	bc.write(realm, id, keyIndex, checked, ciphertext)
}

// write replaces the file of a block, reporting whether it did.
func (bc *blockCache) write(realm parsec.VlobID, id parsec.BlockID, keyIndex, checked uint64, ciphertext []byte) bool {
	p := bc.path(realm, id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return false
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return false
	}
	var head [cachedHeader]byte
	binary.BigEndian.PutUint64(head[:], keyIndex|checkedMark)
	binary.BigEndian.PutUint64(head[8:], checked)
	_, err1 := tmp.Write(head[:])
	_, err2 := tmp.Write(ciphertext)
	if err := tmp.Close(); err != nil || err1 != nil || err2 != nil || os.Rename(tmp.Name(), p) != nil {
		os.Remove(tmp.Name())
		return false
	}
	return true
}

// drop forgets a block that no longer opens.
func (bc *blockCache) drop(realm parsec.VlobID, id parsec.BlockID) { os.Remove(bc.path(realm, id)) }

// evict removes the least recently used blocks until the cache holds at most 90% of its
// limit (under bc.mu).
func (bc *blockCache) evict() {
	if bc.size >= 0 && bc.size <= bc.limit {
		return
	}
	type file struct {
		path string
		size int64
		used time.Time
	}
	var files []file
	var total int64
	filepath.WalkDir(bc.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files = append(files, file{p, info.Size(), info.ModTime()})
			total += info.Size()
		}
		return nil
	})
	if total > bc.limit {
		slices.SortFunc(files, func(a, b file) int { return a.used.Compare(b.used) })
		for _, f := range files {
			if total <= bc.limit*9/10 {
				break
			}
			if os.Remove(f.path) == nil {
				total -= f.size
			}
		}
	}
	bc.size = total
}
