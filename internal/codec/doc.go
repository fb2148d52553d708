// Package codec is the one place that configures CBOR: deterministic encoding (RFC 8949
// core deterministic, byte arrays as byte strings) and strict, bounded decoding (no duplicate
// keys, no unknown fields, no indefinite lengths, no tags, limited nesting and sizes).
//
// Certificates, manifests and RPC bodies all go through it, so that every decoder of
// untrusted bytes has the same rules and limits; a Decoder tightens the limits for input
// known to be smaller (the requests a server receives: see protocol.UnmarshalRequest).
package codec
