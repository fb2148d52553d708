// Package manifest defines the encrypted documents of workspaces and how they are sealed
// and opened: folder and file manifests (the versioned content of vlobs), the blocks that
// file manifests point to, and the realm keys bundles that carry a realm's keys to its
// members.
//
// It is the client's trust boundary for data. The server stores these documents as opaque
// bytes and may lie about anything; everything a client reads from it goes through Open,
// OpenBlock, OpenKeysBundleAccess and OpenKeysBundle, which decrypt, check the signature,
// compare the document with what the server claims about it (vlob, version, author,
// timestamp; realm and key index for bundles) and check its structure. Every failure is a
// *parsec.Error of kind parsec.Tampered naming the object and what is wrong.
//
// Formats (all CBOR is the deterministic encoding of package codec, decoded strictly and
// canonically):
//
//	manifest blob   = Derive(realm key, "manifest", vlob ID).Encrypt(sig ‖ body, aad = vlob ID)
//	                  sig = Ed25519 by the author device over body, domain "parsec/1/<type>"
//	block           = Derive(realm key, "block", block ID).Encrypt(cleartext, aad = block ID)
//	                  (XChaCha20-Poly1305), or AESKey(Derive(realm key, "block_aes", block ID))
//	                  .Encrypt(cleartext, aad = block ID) (AES-256-GCM, 24-byte nonce), as its
//	                  access's Cipher says (not signed: its size, cipher and digest, BLAKE3 of
//	                  the encrypted block, or SHA-256 in accesses written before, are in the
//	                  signed file manifest)
//	keys bundle     = bundle key.Encrypt(sig ‖ body, aad = "parsec/1/realm_keys_bundle")
//	                  sig = Ed25519 by the rotating device, domain "parsec/1/realm_keys_bundle"
//	bundle access   = SealForUser(member's public key, "parsec/1/realm_keys_bundle_access",
//	                  CBOR {type, keys_bundle_key}) (not signed: forging one only denies access)
//
// What this package does not check: whether the author was allowed to write (a device of a
// non-revoked user with a writing role in the realm at that time). The caller decides that
// from the certificates, with the author and timestamp that Open returns.
//
// The package is pure: no I/O (no network, no files, no clock, no logging).
package manifest
