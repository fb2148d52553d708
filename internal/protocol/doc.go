// Package protocol defines what travels between clients and the server: the HTTP routes and
// headers, the request signature, the RPC envelope and every command's request and reply,
// the reply statuses and how they map to error kinds, the server-sent events, and the
// parsec3:// addresses carried by links.
//
// Both sides import it; it holds no logic beyond encoding, decoding and validating shapes.
// Nothing in it trusts what it decodes: callers still validate certificates and content.
package protocol
