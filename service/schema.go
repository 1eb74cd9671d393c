package service

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// SchemaSource gives the ticket-type schemas that ticket writes are checked
// against before Intercom sees them. The schema cache (package schemacache)
// implements it per workspace; without one, Backend falls back to reading
// Intercom on every call (see BackendFor).
//
// It has two methods because UpdateTicket names a ticket, not a type: the
// ticket's type is needed before its attributes can be checked.
type SchemaSource interface {
	// TicketType returns the ticket type with its attributes (and, from
	// Intercom-Version 2.12 on, its states).
	TicketType(ctx context.Context, id string) (*upstream.TicketType, error)
	// TicketTypeOf returns the id of the ticket type of the ticket id.
	TicketTypeOf(ctx context.Context, ticketID string) (string, error)
}

// uncachedSchema reads every schema from Intercom. It is what a Backend
// without a cache uses, so validation never depends on a cache being wired.
type uncachedSchema struct {
	types interface {
		GetTicketType(ctx context.Context, id string) (*upstream.TicketType, error)
	}
	tickets interface {
		GetTicket(ctx context.Context, id string) (*upstream.Ticket, error)
	}
}

func (u uncachedSchema) TicketType(ctx context.Context, id string) (*upstream.TicketType, error) {
	ReportSchema(ctx, CacheMiss)
	return u.types.GetTicketType(ctx, id)
}

func (u uncachedSchema) TicketTypeOf(ctx context.Context, ticketID string) (string, error) {
	t, err := u.tickets.GetTicket(ctx, ticketID)
	if err != nil {
		return "", err
	}
	if t.Type == nil {
		return "", nil
	}
	return t.Type.ID, nil
}

// CacheStatus says where the schema an answer depended on came from. It is
// reported to callers in the x-gateway-cache response header (REST:
// X-Gateway-Cache).
type CacheStatus int

// Cache statuses, from best to worst; a call that read several schemas
// reports the worst.
const (
	// CacheNone: the call read no schema.
	CacheNone CacheStatus = iota
	// CacheHit: answered from the cache, within its TTL.
	CacheHit
	// CacheMiss: read from Intercom during the call (cold, expired or
	// cache-control: no-cache).
	CacheMiss
	// CacheStale: Intercom failed and an entry past its TTL, but within the
	// stale bound, was served.
	CacheStale
)

// String is the header value: "", "hit", "miss" or "stale".
func (s CacheStatus) String() string {
	switch s {
	case CacheHit:
		return "hit"
	case CacheMiss:
		return "miss"
	case CacheStale:
		return "stale"
	}
	return ""
}

// CacheHeader is the response header (gRPC metadata) that carries the
// CacheStatus of a call that read a ticket-type schema or state list.
const CacheHeader = "x-gateway-cache"

type (
	freshKey  struct{}
	reportKey struct{}
)

type cacheReport struct {
	mu     sync.Mutex
	status CacheStatus
}

// WithFreshSchema asks schema sources to read Intercom rather than answer
// from their cache (the caller sent cache-control: no-cache, or validation
// failed against a schema that may be stale).
func WithFreshSchema(ctx context.Context) context.Context {
	return context.WithValue(ctx, freshKey{}, true)
}

// FreshSchema reports whether ctx asks for a fresh schema read.
func FreshSchema(ctx context.Context) bool {
	b, _ := ctx.Value(freshKey{}).(bool)
	return b
}

// WithCacheReport returns a context in which ReportSchema records, and a
// function that gives the worst status recorded so far. The interceptor uses
// it per call; tests use it to see what a read reported.
func WithCacheReport(ctx context.Context) (context.Context, func() CacheStatus) {
	r := &cacheReport{}
	return context.WithValue(ctx, reportKey{}, r), func() CacheStatus {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.status
	}
}

// ReportSchema records where a schema read by the current call came from;
// schema sources call it for each read. Outside WithCacheReport (which
// UnarySchemaInterceptor sets up per call) it does nothing.
func ReportSchema(ctx context.Context, s CacheStatus) {
	r, _ := ctx.Value(reportKey{}).(*cacheReport)
	if r == nil {
		return
	}
	r.mu.Lock()
	if s > r.status {
		r.status = s
	}
	r.mu.Unlock()
}

// noCacheRequested reports whether the caller's cache-control metadata
// (REST: the Cache-Control header, which grpc-gateway forwards as
// grpcgateway-cache-control) holds no-cache or max-age=0 (RFC 9111 §5.2.1).
// It reads the two keys alone rather than copying all of the call's
// metadata.
func noCacheRequested(ctx context.Context) bool {
	for _, key := range [...]string{"cache-control", "grpcgateway-cache-control"} {
		for _, v := range metadata.ValueFromIncomingContext(ctx, key) {
			for d := range strings.SplitSeq(v, ",") {
				d = strings.ToLower(strings.TrimSpace(d))
				if d == "no-cache" || d == "max-age=0" {
					return true
				}
			}
		}
	}
	return false
}

// cacheHeaders are the x-gateway-cache headers by status, made once: grpc
// copies what SetHeader is given.
var cacheHeaders = [...]metadata.MD{
	CacheHit:   metadata.Pairs(CacheHeader, CacheHit.String()),
	CacheMiss:  metadata.Pairs(CacheHeader, CacheMiss.String()),
	CacheStale: metadata.Pairs(CacheHeader, CacheStale.String()),
}

// UnarySchemaInterceptor lets callers force fresh schema reads with
// cache-control: no-cache, and tells them where a call's schema came from in
// the x-gateway-cache response header (hit, miss or stale; absent when the
// call read no schema).
func UnarySchemaInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if noCacheRequested(ctx) {
			ctx = WithFreshSchema(ctx)
		}
		r := &cacheReport{}
		ctx = context.WithValue(ctx, reportKey{}, r)
		resp, err := handler(ctx, req)
		r.mu.Lock()
		st := r.status
		r.mu.Unlock()
		if st != CacheNone {
			// Headers are sent with the first response message or the
			// status, so this still reaches the caller on both.
			_ = grpc.SetHeader(ctx, cacheHeaders[st])
		}
		return resp, err
	}
}
