package manifest

// SealBody signs and encrypts an arbitrary manifest body, so that tests can seal what
// Encode would never produce (unknown fields, non-canonical encodings, garbage).
var SealBody = sealBody

// SealKeysBundleBody is SealKeysBundle for an arbitrary body.
var SealKeysBundleBody = sealKeysBundleBody
