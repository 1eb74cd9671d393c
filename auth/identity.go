// Package auth authenticates the gateway's callers and decides what each may
// do. It turns a gateway key (never an Intercom token) or a verified client
// certificate into an Identity, the caller and the Intercom workspace a call
// runs against, and carries that Identity in the call's context so that
// every later stage (the services, the workspace registry, stores, caches
// and the rate limiter) keys its work by it.
//
// What lives here:
//   - the key format (NewKey, CheckKey: prefix, randomness, checksum) and
//     key hashes (HashKey: HMAC-SHA256 under a server-side secret);
//   - the Caller configuration type and its Permissions (read or write per
//     service, with per-method overrides, over the RPC classification in
//     methods.go);
//   - the Authenticator, which answers one Request with an Identity or a
//     gRPC status whose ErrorInfo reason names the rule that refused.
//
// What does not: reading metadata, TLS state and the REST hop (package
// server, which calls the Authenticator from its interceptors), parsing the
// configuration file (package config), and Intercom credentials, which
// belong to the workspace configuration and never reach a caller.
package auth

import "context"

// Identity is who is calling and which Intercom workspace the call is for.
type Identity struct {
	// Caller is the configured caller id ("" when the gateway runs without
	// caller authentication).
	Caller string
	// Workspace is the workspace the call was routed to: the one named in
	// x-intercom-workspace, or the caller's default.
	Workspace string
	// Weight is the caller's configured share of a workspace's rate budget
	// relative to other callers (1 unless configured).
	Weight float64
}

type identityKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the Identity carried by ctx, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
