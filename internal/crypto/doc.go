// Package crypto holds every cryptographic primitive of the system, behind typed keys:
//
//   - Ed25519 signatures over domain-separated messages ("parsec/1/<kind>" 0x00 body), so a
//     signature made for one kind of document can never be accepted as another;
//   - user key pairs for HPKE (RFC 9180) with the hybrid post-quantum KEM MLKEM768X25519,
//     HKDF-SHA256 and ChaCha20-Poly1305, used to seal material for a user;
//   - XChaCha20-Poly1305 with random 24-byte nonces for symmetric data, each object under its
//     own key derived with HKDF-SHA256 from a realm key and the object's ID, and AES-256-GCM
//     with random 24-byte nonces (AESKey) for blocks where the processor has AES instructions;
//   - SHA-256 digests and BLAKE3 ones (of blocks), Argon2id password keys, random tokens, and
//     the short authentication strings (SAS) of the invitation exchange.
//
// It is the only package that imports golang.org/x/crypto. It must never log, store or
// transmit a secret, and never accept a key, a ciphertext or a signature it has not checked.
package crypto
