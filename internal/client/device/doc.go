// Package device reads and writes device key files: the secret identity of one device (its
// signing key, the user's private key, the organization's root verify key) encrypted under a
// key derived from a password with Argon2id.
//
// A file's header (organization, user, device, label, server) is readable without the
// password, for listing; it is bound to the ciphertext as associated data, so editing it
// makes the file fail to unlock. Files are written atomically with mode 0600. Nothing here
// ever writes a secret in clear, logs it, or keeps the password.
package device
