package schemacache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// scope names this package's tracer and meter (the convention of package
// telemetry).
const scope = "github.com/intercom-gateway/intercom-gateway/schemacache"

// Cache is one workspace's schema cache. It is a service.Client and a
// service.SchemaSource; see the package comment. It is safe for concurrent
// use.
type Cache struct {
	// Client serves ticket and tag calls. It is the wrapped client with
	// UpdateTicket's state lookups reading through this cache.
	*upstream.Client

	raw     *upstream.Client // what loads go to
	o       options
	origin  string // this Cache's id in Bus messages, to skip its own
	seq     atomic.Uint64
	tracer  trace.Tracer
	metrics *metrics

	types   *store[*upstream.TicketType]
	list    *store[[]upstream.TicketType]
	states  *store[[]upstream.TicketState]
	tickets *store[string] // ticket id -> ticket type id

	closeOnce   sync.Once
	unsubscribe func()
}

// The single key of the list stores.
const allKey = ""

// New returns a Cache over client, the workspace's Intercom client. With a
// Bus it subscribes at once; Close unsubscribes.
func New(client *upstream.Client, opts ...Option) (*Cache, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	c := &Cache{raw: client, o: o, origin: hex.EncodeToString(id[:]), tracer: otel.Tracer(scope)}
	var err error
	if c.metrics, err = newMetrics(otel.Meter(scope), o.workspace); err != nil {
		return nil, err
	}
	var clock otter.Clock
	if o.now != nil {
		clock = funcClock(o.now)
	}
	if c.types, err = newStore(c, "ticket_type", o.maxTypes, clock, client.GetTicketType,
		func(t *upstream.TicketType) any { return service.TicketTypeProto(t) }); err != nil {
		return nil, err
	}
	if c.list, err = newStore(c, "ticket_types", 1, clock,
		func(ctx context.Context, _ string) ([]upstream.TicketType, error) { return client.ListTicketTypes(ctx) },
		func(ts []upstream.TicketType) any {
			out := make([]*gatewayv1.TicketType, 0, len(ts))
			for i := range ts {
				out = append(out, service.TicketTypeProto(&ts[i]))
			}
			return out
		}); err != nil {
		return nil, err
	}
	if c.states, err = newStore(c, "ticket_states", 1, clock,
		func(ctx context.Context, _ string) ([]upstream.TicketState, error) {
			return client.ListTicketStates(ctx)
		},
		func(ss []upstream.TicketState) any {
			out := make([]*gatewayv1.TicketState, 0, len(ss))
			for _, st := range ss {
				out = append(out, service.TicketStateProto(st))
			}
			return out
		}); err != nil {
		return nil, err
	}
	if c.tickets, err = newStore(c, "ticket", o.maxTickets, clock, c.loadTicketTypeOf, nil); err != nil {
		return nil, err
	}
	c.Client = client.WithSchemaReader(c)
	if o.bus != nil {
		c.unsubscribe = o.bus.Subscribe(o.workspace, c.receive)
	}
	return c, nil
}

// Close stops listening to the Bus and the caches' background work. It
// always returns nil.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		if c.unsubscribe != nil {
			c.unsubscribe()
		}
		c.types.c.StopAllGoroutines()
		c.list.c.StopAllGoroutines()
		c.states.c.StopAllGoroutines()
		c.tickets.c.StopAllGoroutines()
	})
	return nil
}

func (c *Cache) nowNano() int64 {
	if c.o.now != nil {
		return c.o.now().UnixNano()
	}
	return time.Now().UnixNano()
}

func (c *Cache) age(e interface{ loaded() int64 }) time.Duration {
	return time.Duration(c.nowNano() - e.loaded())
}

func (e entry[V]) loaded() int64 { return e.loadedAt }

// TicketType implements service.SchemaSource and upstream.SchemaReader.
func (c *Cache) TicketType(ctx context.Context, id string) (*upstream.TicketType, error) {
	e, err := c.types.get(ctx, id)
	return e.val, err
}

// TicketTypeOf implements service.SchemaSource and upstream.SchemaReader. A
// ticket's type changes only when the ticket is moved to another type, so
// the id is cached like a schema.
func (c *Cache) TicketTypeOf(ctx context.Context, ticketID string) (string, error) {
	e, err := c.tickets.get(ctx, ticketID)
	return e.val, err
}

func (c *Cache) loadTicketTypeOf(ctx context.Context, ticketID string) (string, error) {
	t, err := c.raw.GetTicket(ctx, ticketID)
	if err != nil {
		return "", err
	}
	if t.Type == nil {
		return "", nil
	}
	return t.Type.ID, nil
}

// Len reports how many ticket types and ticket-to-type ids the cache
// holds, after evictions still pending. WithMaxEntries bounds both.
func (c *Cache) Len() (types, tickets int) {
	c.types.c.CleanUp()
	c.tickets.c.CleanUp()
	return c.types.c.EstimatedSize(), c.tickets.c.EstimatedSize()
}

// Prime caches t as if it had just been loaded from Intercom, without
// telling other replicas: a warm-up with types read elsewhere.
func (c *Cache) Prime(t *upstream.TicketType) { c.types.set(t.ID, t) }

// GetTicketType answers from the cache (service.TicketTypeAPI).
func (c *Cache) GetTicketType(ctx context.Context, id string) (*upstream.TicketType, error) {
	return c.TicketType(ctx, id)
}

// ListTicketTypes answers from the cache (service.TicketTypeAPI).
func (c *Cache) ListTicketTypes(ctx context.Context) ([]upstream.TicketType, error) {
	e, err := c.list.get(ctx, allKey)
	return e.val, err
}

// ListTicketStates answers from the cache (service.TicketTypeAPI and
// upstream.SchemaReader).
func (c *Cache) ListTicketStates(ctx context.Context) ([]upstream.TicketState, error) {
	e, err := c.states.get(ctx, allKey)
	return e.val, err
}

// GetTicketTypeProto is GetTicketType's answer as the gateway gives it, built
// once per cached entry (service.CachedAnswers).
func (c *Cache) GetTicketTypeProto(ctx context.Context, id string) (*gatewayv1.TicketType, error) {
	e, err := c.types.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.answer.(*gatewayv1.TicketType), nil
}

// ListTicketTypesProto is ListTicketTypes's answer as the gateway gives it,
// built once per cached list (service.CachedAnswers).
func (c *Cache) ListTicketTypesProto(ctx context.Context) ([]*gatewayv1.TicketType, error) {
	e, err := c.list.get(ctx, allKey)
	if err != nil {
		return nil, err
	}
	return e.answer.([]*gatewayv1.TicketType), nil
}

// ListTicketStatesProto is ListTicketStates's answer as the gateway gives
// it, built once per cached list (service.CachedAnswers).
func (c *Cache) ListTicketStatesProto(ctx context.Context) ([]*gatewayv1.TicketState, error) {
	e, err := c.states.get(ctx, allKey)
	if err != nil {
		return nil, err
	}
	return e.answer.([]*gatewayv1.TicketState), nil
}

// CreateTicketType creates the type in Intercom and caches Intercom's answer.
func (c *Cache) CreateTicketType(ctx context.Context, p upstream.CreateTicketTypeParams) (*upstream.TicketType, error) {
	t, err := c.raw.CreateTicketType(ctx, p)
	if err != nil {
		return nil, err
	}
	c.putType(ctx, t)
	return t, nil
}

// UpdateTicketType updates the type in Intercom and caches Intercom's answer.
func (c *Cache) UpdateTicketType(ctx context.Context, id string, p upstream.UpdateTicketTypeParams) (*upstream.TicketType, error) {
	t, err := c.raw.UpdateTicketType(ctx, id, p)
	if err != nil {
		c.dropType(ctx, id, false)
		return nil, err
	}
	c.putType(ctx, t)
	return t, nil
}

// CreateTicketTypeAttribute adds the attribute in Intercom and to the cached
// type.
func (c *Cache) CreateTicketTypeAttribute(ctx context.Context, typeID string, p upstream.CreateAttributeParams) (*upstream.TicketTypeAttribute, error) {
	a, err := c.raw.CreateTicketTypeAttribute(ctx, typeID, p)
	if err != nil {
		c.dropType(ctx, typeID, false)
		return nil, err
	}
	c.putAttribute(ctx, typeID, a)
	return a, nil
}

// UpdateTicketTypeAttribute updates the attribute in Intercom and in the
// cached type.
func (c *Cache) UpdateTicketTypeAttribute(ctx context.Context, typeID, attrID string, p upstream.UpdateAttributeParams) (*upstream.TicketTypeAttribute, error) {
	a, err := c.raw.UpdateTicketTypeAttribute(ctx, typeID, attrID, p)
	if err != nil {
		c.dropType(ctx, typeID, false)
		return nil, err
	}
	c.putAttribute(ctx, typeID, a)
	return a, nil
}

// putType caches t as Intercom just returned it, puts it into the cached
// list, and forgets the states (a new or changed type changes which states
// list it). Other replicas are told.
func (c *Cache) putType(ctx context.Context, t *upstream.TicketType) {
	c.types.set(t.ID, t)
	c.list.patch(allKey, func(old []upstream.TicketType) []upstream.TicketType {
		return replaceByID(old, *t, func(x upstream.TicketType) string { return x.ID })
	})
	c.states.invalidate(allKey)
	c.metrics.invalidated(ctx, "write")
	c.publish(ctx, t.ID)
}

// putAttribute puts a, as Intercom just returned it, into the cached type
// and list. A type that is not cached is left to its next load.
func (c *Cache) putAttribute(ctx context.Context, typeID string, a *upstream.TicketTypeAttribute) {
	withAttr := func(t upstream.TicketType) upstream.TicketType {
		t.Attributes = replaceByID(t.Attributes, *a, func(x upstream.TicketTypeAttribute) string { return x.ID })
		return t
	}
	c.types.patch(typeID, func(old *upstream.TicketType) *upstream.TicketType {
		t := withAttr(*old)
		return &t
	})
	c.list.patch(allKey, func(old []upstream.TicketType) []upstream.TicketType {
		out := slices.Clone(old)
		for i := range out {
			if out[i].ID == typeID {
				out[i] = withAttr(out[i])
			}
		}
		return out
	})
	c.metrics.invalidated(ctx, "write")
	c.publish(ctx, typeID)
}

// dropType forgets what the cache knows about a type: after a failed write
// (which may still have reached Intercom) or another replica's write.
func (c *Cache) dropType(ctx context.Context, typeID string, remote bool) {
	c.types.invalidate(typeID)
	c.list.invalidate(allKey)
	c.states.invalidate(allKey)
	if remote {
		c.metrics.invalidated(ctx, "remote")
	}
}

// replaceByID returns a copy of s with the element whose id is id(v)
// replaced by v, or v appended when there is none. The cached slice is
// shared with readers, so it is never changed in place.
func replaceByID[T any](s []T, v T, id func(T) string) []T {
	out := slices.Clone(s)
	for i := range out {
		if id(out[i]) == id(v) {
			out[i] = v
			return out
		}
	}
	return append(out, v)
}

// Interface checks: what the gateway needs from a Cache.
var (
	_ service.Client        = (*Cache)(nil)
	_ service.SchemaSource  = (*Cache)(nil)
	_ service.CachedAnswers = (*Cache)(nil)
	_ upstream.SchemaReader = (*Cache)(nil)
)

// funcClock adapts a time function to otter's clock. It gives no ticks, so
// expired entries are removed on access and writes rather than by a
// periodic clean-up.
type funcClock func() time.Time

func (f funcClock) NowNano() int64                      { return f().UnixNano() }
func (f funcClock) Tick(time.Duration) <-chan time.Time { return nil }

// otterLogger sends otter's reports (failed background reloads) to the
// Cache's logger.
type otterLogger struct{ c *Cache }

func (l otterLogger) Warn(ctx context.Context, msg string, err error) {
	l.c.o.logger.WarnContext(ctx, "schema cache: "+msg, "workspace", l.c.o.workspace, "error", err.Error())
}

func (l otterLogger) Error(ctx context.Context, msg string, err error) {
	l.c.o.logger.ErrorContext(ctx, "schema cache: "+msg, "workspace", l.c.o.workspace, "error", err.Error())
}
