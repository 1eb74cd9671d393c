// Package schemacache keeps one Intercom workspace's ticket-type schemas in
// memory: ticket types with their attributes, the list of ticket types, the
// workspace's ticket states, and which type each ticket has. Ticket writes
// are checked against these schemas before anything is sent to Intercom
// (service.SchemaSource), and the ticket-type reads of the gateway's API
// are answered from them.
//
// One Cache serves one workspace, and wraps that workspace's
// *upstream.Client:
//
//	cache, err := schemacache.New(client, schemacache.WithWorkspace("acme"))
//	backends := service.Single("acme", cache)
//
// A Cache is a service.Client: ticket and tag calls go to the client (with
// UpdateTicket's state lookups reading through the cache), ticket-type reads
// come from the cache, and ticket-type writes go to Intercom and then update
// the cache at once, and tell other replicas through a Bus (RedisBus).
//
// # Freshness
//
// An entry is fresh for the TTL (WithTTL). After the refresh interval
// (WithRefresh) a read still answers from the cache but reloads the entry in
// the background (otter's refresh-after-write), so a busy entry never goes
// cold. A read past the TTL reloads before it answers. When that reload
// fails because Intercom is unavailable (5xx, 429, timeouts, transport
// errors), the old entry is served for at most WithMaxStale beyond the TTL,
// and the answer says "stale" (service.CacheStale, the
// gateway.schemacache.stale_serves metric). Concurrent loads of one entry
// collapse into one Intercom call (otter's loader).
//
// A caller can ask for a fresh read (service.WithFreshSchema, which the
// gateway sets for cache-control: no-cache). Such reads are collapsed too,
// and an entry loaded less than WithMinReload ago counts as fresh, so no
// caller can make the gateway call Intercom more than once per entry per
// MinReload.
//
// # Reads at memory speed
//
// Each entry keeps, beside the schema, the gateway's answer built from it
// (service.CachedAnswers): GetTicketType, ListTicketTypes and
// ListTicketStates served from the cache look the answer up instead of
// converting every attribute on every call. A write through the gateway
// makes a new entry, and so a new answer. A hit makes no span unless the
// call is traced (its span is recording), so that with tracing off or an
// unsampled call it costs a map lookup, a counter and the call's
// x-gateway-cache report.
//
// # What it is not
//
// It caches no tickets: only the id of each ticket's type, which changes
// only when a ticket changes type. It does not decide what is valid; that is
// service's job. Values it returns are shared and must not be modified.
package schemacache
