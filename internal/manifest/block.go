package manifest

import (
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// BlockOverhead is how many bytes encryption adds to a block's cleartext, whatever its
// cipher.
const BlockOverhead = crypto.EncryptionOverhead

// Ciphers of blocks, as their access names them (BlockAccess.Cipher). Both have random
// 24-byte nonces and the same layout (nonce ‖ ciphertext ‖ tag), and each block has its
// own key, derived from the realm key and the block's ID for its cipher.
const (
	CipherXChaCha20Poly1305 = ""          // crypto.SecretKey: blocks written before AES-256-GCM, and by processors without AES instructions
	CipherAES256GCM         = "AES256GCM" // crypto.AESKey
)

// blockCipher is the cipher of the blocks this process seals: AES-256-GCM where the
// processor has instructions for it (crypto.AESHardware: two to three times as fast),
// XChaCha20-Poly1305 elsewhere. Every reader opens both.
var blockCipher = func() string {
	if crypto.AESHardware() {
		return CipherAES256GCM
	}
	return CipherXChaCha20Poly1305
}()

// BlockCipher is the cipher new blocks are sealed with on this processor (see the Cipher
// constants).
func BlockCipher() string { return blockCipher }

// blockAEAD is a block's key, of either cipher.
type blockAEAD interface {
	EncryptTo(dst, plaintext, aad []byte) []byte
	EncryptInPlace(buf, aad []byte)
	Decrypt(ciphertext, aad []byte) ([]byte, error)
	DecryptTo(dst, ciphertext, aad []byte) ([]byte, error)
	DecryptInPlace(ciphertext, aad []byte) ([]byte, error)
}

func blockKey(realmKey crypto.RealmKey, id parsec.BlockID, cipher string) blockAEAD {
	if cipher == CipherAES256GCM {
		return crypto.AESKey(realmKey.Derive(crypto.PurposeBlockAES, id))
	}
	return realmKey.Derive(crypto.PurposeBlock, id)
}

// SealBlock encrypts the cleartext of block id with the key derived from realmKey for it,
// with BlockCipher. The result is len(cleartext)+BlockOverhead bytes.
func SealBlock(realmKey crypto.RealmKey, id parsec.BlockID, cleartext []byte) []byte {
	return SealBlockTo(nil, realmKey, id, cleartext)
}

// SealBlockTo is SealBlock appending to dst, so that a writer can reuse one buffer for
// every block: with cap(dst)-len(dst) ≥ len(cleartext)+BlockOverhead it allocates no
// buffer. cleartext must not overlap dst's spare capacity.
func SealBlockTo(dst []byte, realmKey crypto.RealmKey, id parsec.BlockID, cleartext []byte) []byte {
	return blockKey(realmKey, id, blockCipher).EncryptTo(dst, cleartext, id[:])
}

// BlockNonceSize is where the cleartext starts in a buffer given to SealBlockInPlace.
const BlockNonceSize = crypto.EncryptionNonceSize

// SealBlockInPlace is SealBlock within buf, which holds the cleartext at
// buf[BlockNonceSize:len(buf)-BlockOverhead+BlockNonceSize] (the rest is room for what
// encryption adds): on return buf holds the encrypted block. A writer that reads each block
// where it will travel encrypts it without a copy.
func SealBlockInPlace(realmKey crypto.RealmKey, id parsec.BlockID, buf []byte) {
	blockKey(realmKey, id, blockCipher).EncryptInPlace(buf, id[:])
}

// OpenBlock checks a block read from the server against its access in the (already
// opened) file manifest and decrypts it: it must have the size and the digest the access
// gives (of the encrypted block, or for an access written before digests were of the
// encrypted block, of the cleartext; BLAKE3 or, written before, SHA-256), and decrypt with
// the key of access.ID for its cipher. realmKey is the realm key of the key index the
// server gave with the block. Every failure is a *parsec.Error of kind parsec.Tampered
// naming the block.
func OpenBlock(realmKey crypto.RealmKey, access BlockAccess, ciphertext []byte) ([]byte, error) {
	return openBlock(realmKey, access, ciphertext, false)
}

// OpenBlockInPlace is OpenBlock decrypting over the ciphertext's own memory (no
// allocation): ciphertext is destroyed, even on failure, and the result shares it.
func OpenBlockInPlace(realmKey crypto.RealmKey, access BlockAccess, ciphertext []byte) ([]byte, error) {
	return openBlock(realmKey, access, ciphertext, true)
}

func openBlock(realmKey crypto.RealmKey, access BlockAccess, ciphertext []byte, inPlace bool) ([]byte, error) {
	n := uint64(len(ciphertext))
	if n < BlockOverhead || n-BlockOverhead != access.Size {
		return nil, parsec.Errorf(parsec.Tampered, "block %s: wrong size: %d bytes, want %d (%d of cleartext)", access.ID, n, access.Size+BlockOverhead, access.Size)
	}
	switch {
	case access.Cipher != CipherXChaCha20Poly1305 && access.Cipher != CipherAES256GCM:
		return nil, parsec.Errorf(parsec.Tampered, "block %s: unknown cipher %q", access.ID, access.Cipher)
	case access.Hash != "" && access.Hash != HashBLAKE3:
		return nil, parsec.Errorf(parsec.Tampered, "block %s: digest of unknown algorithm %q", access.ID, access.Hash)
	}
	if access.Sealed && access.digestOf(ciphertext) != access.Digest {
		return nil, parsec.Errorf(parsec.Tampered, "block %s: digest mismatch", access.ID)
	}
	key := blockKey(realmKey, access.ID, access.Cipher)
	decrypt := key.Decrypt
	if inPlace {
		decrypt = key.DecryptInPlace
	}
	pt, err := decrypt(ciphertext, access.ID[:])
	if err != nil {
		return nil, parsec.Errorf(parsec.Tampered, "block %s: %w", access.ID, err)
	}
	if !access.Sealed && access.digestOf(pt) != access.Digest {
		return nil, parsec.Errorf(parsec.Tampered, "block %s: digest mismatch", access.ID)
	}
	return pt, nil
}

// BlockOpensWith says whether a block that OpenBlock accepts with one realm key also
// decrypts with realmKey (the key of another index), writing into scratch (at least as
// long as the block) and leaving the block as it is. A block sealed honestly decrypts with
// one key only; neither cipher commits to its key, though, so a member who holds two of a
// realm's keys can make one that decrypts with both, to different cleartexts, and a server
// that names each reader a different key index would show them different content under
// one signed digest. A reader checks that no later key opens a block (see the client's
// readBlocks).
func BlockOpensWith(realmKey crypto.RealmKey, access BlockAccess, ciphertext, scratch []byte) bool {
	if len(scratch) < len(ciphertext) {
		panic("manifest: BlockOpensWith: scratch shorter than the block")
	}
	_, err := blockKey(realmKey, access.ID, access.Cipher).DecryptTo(scratch[:0], ciphertext, access.ID[:])
	return err == nil
}
