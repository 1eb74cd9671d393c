package service

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// defaultIdempotencyTTL is how long a CreateTicket result is remembered by
// request_id. Retries come within seconds or minutes; a day covers a caller
// that retries from a queue after an outage.
const defaultIdempotencyTTL = 24 * time.Hour

// IdempotencyStore remembers the outcome of a create by its caller-chosen
// request id (AIP-155), because Intercom has no idempotency key of its own
// (INTERCOM-API.md §4: "a retried create can duplicate").
//
// Do runs create at most once per key while its result is remembered:
// concurrent calls with the same key wait for the first one and share its
// result, and later calls get the remembered result. Only successes are
// remembered, so a create that failed can be tried again with the same key.
type IdempotencyStore interface {
	Do(ctx context.Context, key string, create func(context.Context) ([]byte, error)) ([]byte, error)
}

// MemoryIdempotencyStore is an IdempotencyStore for one replica. Several
// replicas need a shared store, or a caller's retry that lands on another
// replica creates a second ticket.
type MemoryIdempotencyStore struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex
	results map[string]remembered
	inserts int
}

// sweepEvery is how many inserts pass between sweeps of expired results, so
// memory stays bounded by the results of one TTL without a background
// goroutine.
const sweepEvery = 1024

type remembered struct {
	value   []byte
	expires time.Time
}

// NewMemoryIdempotencyStore returns a store that remembers results for ttl.
func NewMemoryIdempotencyStore(ttl time.Duration) *MemoryIdempotencyStore {
	return &MemoryIdempotencyStore{ttl: ttl, now: time.Now, results: map[string]remembered{}}
}

// Do implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Do(ctx context.Context, key string, create func(context.Context) ([]byte, error)) ([]byte, error) {
	if v, ok := s.lookup(key); ok {
		return v, nil
	}
	ch := s.group.DoChan(key, func() (any, error) {
		// Checked again: another call may have finished between lookup and
		// DoChan.
		if v, ok := s.lookup(key); ok {
			return v, nil
		}
		// The first caller's cancellation must not fail the callers that
		// joined it, and a create that reached Intercom should be recorded
		// even if its caller went away.
		v, err := create(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		s.remember(key, v)
		return v, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]byte), nil
	}
}

func (s *MemoryIdempotencyStore) remember(key string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.results[key] = remembered{value: v, expires: now.Add(s.ttl)}
	s.inserts++
	if s.inserts%sweepEvery == 0 {
		for k, r := range s.results {
			if now.After(r.expires) {
				delete(s.results, k)
			}
		}
	}
}

func (s *MemoryIdempotencyStore) lookup(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.results[key]
	if !ok {
		return nil, false
	}
	if s.now().After(r.expires) {
		delete(s.results, key)
		return nil, false
	}
	return r.value, true
}
