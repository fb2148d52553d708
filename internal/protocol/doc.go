// Package protocol defines what travels between clients and the server: the HTTP routes and
// headers, the request signature, the RPC envelope and every command's request and reply,
// the reply statuses and how they map to error kinds, the server-sent events, and the
// parsec3:// addresses carried by links.
//
// Both sides import it; it holds no logic beyond encoding, decoding and validating shapes.
// Nothing in it trusts what it decodes: callers still validate certificates and content.
//
// Blocks, megabytes per request, are encoded and decoded without copies: Bytes decodes as a
// part of the body it comes in (which must then outlive it), BlockBatch lays out a
// block_create body around blocks written in place, and OKBlockReadFrame gives a
// block_read reply's encoding around its blocks, which a server sends from where they are
// stored. Each is tested to give exactly the bytes of the ordinary encoding.
package protocol
