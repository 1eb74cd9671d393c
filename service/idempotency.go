package service

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultIdempotencyTTL is how long a CreateTicket result is remembered by
// request_id. Retries come within seconds or minutes; a day covers a caller
// that retries from a queue after an outage.
const DefaultIdempotencyTTL = 24 * time.Hour

// Default bounds of MemoryIdempotencyStore (DefaultStoreMaxEntries is also
// the gateway's request_id.max_records default). A remembered create is its
// key, the ticket id and, for answers up to maxRememberedTicket, the
// encoded ticket: a few hundred bytes typically, so 100,000 entries fit in
// the byte bound with room to spare.
const (
	DefaultStoreMaxEntries = 100_000
	defaultMaxBytes        = 32 << 20
	// maxRememberedTicket is the largest answer kept whole. A larger ticket
	// (Intercom allows big descriptions) is remembered by id and fetched
	// again on a retry, so a few huge creates cannot pin megabytes for a day.
	maxRememberedTicket = 64 << 10
)

// CreateRecord is what a request_id store remembers about one create.
// Exactly one of Ticket/TicketID (the create succeeded) and InDoubt (it may
// have reached Intercom, and nobody knows its outcome) is set.
type CreateRecord struct {
	// TicketID is the created ticket's id.
	TicketID string
	// Ticket is the encoded gatewayv1.Ticket of the first answer, or nil
	// when it was too large to keep (then the ticket is fetched by id).
	Ticket []byte
	// InDoubt describes a create whose outcome is unknown.
	InDoubt *InDoubt
	// Fingerprint identifies the request (everything but request_id), so a
	// request_id reused for a different ticket is refused.
	Fingerprint string
}

func (r CreateRecord) empty() bool { return r.TicketID == "" && r.InDoubt == nil }

func (r CreateRecord) size() int {
	n := len(r.TicketID) + len(r.Ticket) + len(r.Fingerprint) + 64
	if r.InDoubt != nil {
		n += len(r.InDoubt.Fingerprint) + 64
	}
	return n
}

// InDoubt is a create that may have made a ticket: its answer was lost (a
// reset or timeout after the request was sent, a 5xx) or could not be read
// (a 200 with a malformed body).
type InDoubt struct {
	// Start and End bound when the attempt ran, by the gateway's clock.
	Start, End time.Time
	// Created is set when Intercom answered 200: the ticket exists, only its
	// id is unknown, so the create is never sent again.
	Created bool
	// Fingerprint identifies the request (everything but request_id), so a
	// request_id reused for a different ticket is refused.
	Fingerprint string
}

// IdempotencyStore remembers creates by their caller-chosen request id
// (AIP-155), because Intercom has no idempotency key of its own (2.11.yaml
// createTicket documents none; a retried POST /tickets makes a second
// ticket).
//
// Do returns the remembered ticket of key when there is one. Otherwise it
// runs fn at most once at a time per key (concurrent callers with the same
// key wait for it and share its outcome), passing the key's in-doubt record
// if any. fn returns the record to keep: a success (TicketID set), an
// in-doubt attempt (InDoubt set), or an empty record when nothing was
// created (the key is then forgotten, so the create can be tried again).
// The error fn returns goes to the caller in every case.
type IdempotencyStore interface {
	Do(ctx context.Context, key string, fn func(ctx context.Context, prev *InDoubt) (CreateRecord, error)) (CreateRecord, error)
}

// MemoryIdempotencyStore is an IdempotencyStore for one replica, bounded in
// entries and bytes; when full, the entries closest to expiry go first.
// Several replicas need a shared store, or a caller's retry that lands on
// another replica creates a second ticket.
type MemoryIdempotencyStore struct {
	ttl        time.Duration
	now        func() time.Time
	maxEntries int
	maxBytes   int
	group      singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *storeEntry, oldest first
	order   *list.List
	bytes   int
}

type storeEntry struct {
	key     string
	rec     CreateRecord
	expires time.Time
	size    int
}

// MemoryStoreOption configures a MemoryIdempotencyStore.
type MemoryStoreOption func(*MemoryIdempotencyStore)

// WithStoreClock sets the clock used for expiry (default time.Now).
func WithStoreClock(now func() time.Time) MemoryStoreOption {
	return func(s *MemoryIdempotencyStore) { s.now = now }
}

// WithStoreBounds sets the most entries and bytes the store holds (defaults
// 100,000 and 32 MiB).
func WithStoreBounds(maxEntries, maxBytes int) MemoryStoreOption {
	return func(s *MemoryIdempotencyStore) { s.maxEntries, s.maxBytes = maxEntries, maxBytes }
}

// WithStoreMaxEntries sets the most entries the store holds (default
// 100,000), keeping the byte bound.
func WithStoreMaxEntries(n int) MemoryStoreOption {
	return func(s *MemoryIdempotencyStore) { s.maxEntries = n }
}

// NewMemoryIdempotencyStore returns a store that remembers records for ttl.
func NewMemoryIdempotencyStore(ttl time.Duration, opts ...MemoryStoreOption) *MemoryIdempotencyStore {
	s := &MemoryIdempotencyStore{ttl: ttl, now: time.Now, maxEntries: DefaultStoreMaxEntries, maxBytes: defaultMaxBytes,
		entries: map[string]*list.Element{}, order: list.New()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Do implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Do(ctx context.Context, key string, fn func(context.Context, *InDoubt) (CreateRecord, error)) (CreateRecord, error) {
	if r, ok := s.lookup(key); ok && r.InDoubt == nil {
		return r, nil
	}
	type result struct {
		rec CreateRecord
		err error
	}
	ch := s.group.DoChan(key, func() (any, error) {
		// Looked up again: another call may have finished in between.
		prev, ok := s.lookup(key)
		if ok && prev.InDoubt == nil {
			return result{rec: prev}, nil
		}
		// The first caller's cancellation must not fail the callers that
		// joined it, and the outcome of a create that reached Intercom must
		// be recorded even if its caller went away.
		rec, err := fn(context.WithoutCancel(ctx), prev.InDoubt)
		if rec.empty() {
			s.forget(key)
		} else {
			s.remember(key, rec)
		}
		return result{rec: rec, err: err}, nil
	})
	select {
	case <-ctx.Done():
		return CreateRecord{}, ctx.Err()
	case r := <-ch:
		res := r.Val.(result)
		return res.rec, res.err
	}
}

// Get returns the record remembered for key, if any. A store that fronts a
// shared one (service/redisstore) uses it as this replica's copy.
func (s *MemoryIdempotencyStore) Get(key string) (CreateRecord, bool) { return s.lookup(key) }

// Put remembers rec for key (an empty record forgets key), within the
// store's TTL and bounds.
func (s *MemoryIdempotencyStore) Put(key string, rec CreateRecord) {
	if rec.empty() {
		s.forget(key)
		return
	}
	s.remember(key, rec)
}

// Len and Bytes report what the store holds (for tests and metrics).
func (s *MemoryIdempotencyStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes is the accounted size of the held records.
func (s *MemoryIdempotencyStore) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

func (s *MemoryIdempotencyStore) remember(key string, rec CreateRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(key)
	e := &storeEntry{key: key, rec: rec, expires: s.now().Add(s.ttl), size: rec.size() + len(key)}
	// Every entry has the same TTL, so insertion order is expiry order.
	s.entries[key] = s.order.PushBack(e)
	s.bytes += e.size
	now := s.now()
	for s.order.Len() > 0 {
		oldest := s.order.Front().Value.(*storeEntry)
		if !now.After(oldest.expires) && len(s.entries) <= s.maxEntries && s.bytes <= s.maxBytes {
			break
		}
		s.removeLocked(oldest.key)
	}
}

func (s *MemoryIdempotencyStore) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(key)
}

func (s *MemoryIdempotencyStore) removeLocked(key string) {
	if el, ok := s.entries[key]; ok {
		s.bytes -= el.Value.(*storeEntry).size
		s.order.Remove(el)
		delete(s.entries, key)
	}
}

func (s *MemoryIdempotencyStore) lookup(key string) (CreateRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.entries[key]
	if !ok {
		return CreateRecord{}, false
	}
	e := el.Value.(*storeEntry)
	if s.now().After(e.expires) {
		s.removeLocked(key)
		return CreateRecord{}, false
	}
	return e.rec, true
}
