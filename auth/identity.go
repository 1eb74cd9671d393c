// Package auth authenticates the gateway's callers and decides what each may
// do. It turns a gateway key (never an Intercom token) into an Identity, the
// caller and the Intercom workspace a call runs against, and carries that
// Identity in the call's context so that every later stage (the services,
// the workspace registry, stores and caches) keys its work by it.
//
// It is not where Intercom credentials live: those belong to the workspace
// configuration and never reach a caller.
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
