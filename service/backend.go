package service

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/auth"
)

// Backend is what one call runs against: the Intercom workspace chosen for
// it, the caller it runs for, and that workspace's client. Services never
// hold a client; they ask Backends for the one of the current call, so one
// gateway can front several workspaces.
type Backend struct {
	// Workspace is the configured workspace name.
	Workspace string
	// Caller is the authenticated caller id, "" without caller auth.
	Caller string

	Tickets     TicketAPI
	TicketTypes TicketTypeAPI
	Tags        TagAPI
	// Schema gives the ticket-type schemas that ticket writes are checked
	// against; the workspace's schema cache when it has one.
	Schema SchemaSource
}

// Key returns a store or cache key for parts, scoped to b's workspace and
// caller, so that nothing remembered for one workspace or caller is ever
// served to another. Parts are quoted, so no choice of names can make two
// different scopes collide.
func (b Backend) Key(parts ...string) string {
	var sb strings.Builder
	sb.WriteString(strconv.Quote(b.Workspace))
	sb.WriteByte('/')
	sb.WriteString(strconv.Quote(b.Caller))
	for _, p := range parts {
		sb.WriteByte('/')
		sb.WriteString(strconv.Quote(p))
	}
	return sb.String()
}

// Backends gives the Backend of the current call. Its errors are returned to
// the caller unchanged, so they should be gRPC statuses (for example
// PERMISSION_DENIED for a workspace the caller may not use).
type Backends interface {
	Backend(ctx context.Context) (Backend, error)
}

// Client is everything the three services need from one Intercom
// workspace; *upstream.Client implements it.
type Client interface {
	TicketAPI
	TicketTypeAPI
	TagAPI
}

// Single serves every call from one workspace named name: the gateway's
// single-token configuration, and tests. A call whose identity names another
// workspace is refused, never silently served from this one.
func Single(name string, c Client) Backends { return single{name: name, c: c} }

type single struct {
	name string
	c    Client
}

func (s single) Backend(ctx context.Context) (Backend, error) {
	id, _ := auth.FromContext(ctx)
	if id.Workspace != "" && id.Workspace != s.name {
		return Backend{}, status.Errorf(codes.PermissionDenied, "workspace %q is not served by this gateway", id.Workspace)
	}
	return BackendFor(s.name, id.Caller, s.c), nil
}

// BackendFor is the Backend of caller in workspace, served by c. When c is
// also a SchemaSource (a *schemacache.Cache is), ticket writes are checked
// against its schemas; otherwise every check reads Intercom.
func BackendFor(workspace, caller string, c Client) Backend {
	b := Backend{Workspace: workspace, Caller: caller, Tickets: c, TicketTypes: c, Tags: c}
	if src, ok := c.(SchemaSource); ok {
		b.Schema = src
	} else {
		b.Schema = uncachedSchema{types: c, tickets: c}
	}
	return b
}
