package schemacache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/maypok86/otter/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// entry is one cached value with the time it was loaded (by the cache's
// clock) and a load sequence number, which tells a read whether the value
// was loaded while it waited (a miss) or was there before (a hit).
type entry[V any] struct {
	val      V
	loadedAt int64
	seq      uint64
}

// store is one kind of entry (ticket types, the type list, the states, the
// ticket-to-type ids) in its own otter cache.
type store[V any] struct {
	c     *otter.Cache[string, entry[V]]
	owner *Cache
}

func newStore[V any](owner *Cache, maxSize int, clock otter.Clock) (*store[V], error) {
	o := owner.o
	c, err := otter.New(&otter.Options[string, entry[V]]{
		MaximumSize: maxSize,
		// Entries outlive their TTL by the stale bound, so that a failed
		// reload can still fall back to them; get never answers from one
		// older than that either way.
		ExpiryCalculator:  otter.ExpiryWriting[string, entry[V]](o.ttl + o.maxStale),
		RefreshCalculator: otter.RefreshWriting[string, entry[V]](o.refresh),
		Clock:             clock,
		Logger:            otterLogger{owner},
	})
	if err != nil {
		return nil, fmt.Errorf("schemacache: %w", err)
	}
	return &store[V]{c: c, owner: owner}, nil
}

// get answers key from the cache, loading it with load when it is absent,
// past its TTL, or when ctx asks for a fresh read. It reports the outcome to
// the call (service.ReportSchema), to the metrics and to a span.
func (s *store[V]) get(ctx context.Context, kind, key string, load func(context.Context) (V, error)) (V, error) {
	o := s.owner
	ctx, span := o.tracer.Start(ctx, spanLookup)
	defer span.End()
	span.SetAttributes(attribute.String(keyWorkspace, o.o.workspace), attribute.String("kind", kind))

	before := o.seq.Load()
	loader := otter.LoaderFunc[string, entry[V]](func(ctx context.Context, _ string) (entry[V], error) {
		v, err := load(ctx)
		o.metrics.loaded(ctx, err)
		if err != nil {
			if isNotFound(err) {
				// Tells otter to drop an entry whose thing is gone.
				return entry[V]{}, errors.Join(otter.ErrNotFound, err)
			}
			return entry[V]{}, err
		}
		return entry[V]{val: v, loadedAt: o.nowNano(), seq: o.seq.Add(1)}, nil
	})

	var (
		e     entry[V]
		err   error
		stale bool
	)
	if service.FreshSchema(ctx) {
		e, stale, err = s.reload(ctx, key, loader)
	} else {
		e, err = s.c.Get(ctx, key, loader)
		err = unwrapNotFound(err)
		if err == nil && o.age(e) >= o.o.ttl {
			e, stale, err = s.reload(ctx, key, loader)
		}
	}
	status := service.CacheHit
	switch {
	case err != nil:
		status = service.CacheMiss
		span.RecordError(err)
		span.SetStatus(codes.Error, "schema read failed")
	case stale:
		status = service.CacheStale
	case e.seq > before:
		status = service.CacheMiss
	}
	o.metrics.lookup(ctx, status)
	service.ReportSchema(ctx, status)
	span.SetAttributes(attribute.String(keyOutcome, status.String()))
	if err != nil {
		var zero V
		return zero, err
	}
	return e.val, nil
}

// reload loads key now, joining a load already in flight. When the load
// fails because Intercom is unavailable, the old entry is returned with
// stale set if it is within the stale bound.
func (s *store[V]) reload(ctx context.Context, key string, loader otter.Loader[string, entry[V]]) (entry[V], bool, error) {
	o := s.owner
	old, had := s.c.GetIfPresent(key)
	if had && o.age(old) < o.o.minReload {
		return old, false, nil
	}
	var r otter.RefreshResult[string, entry[V]]
	select {
	case r = <-s.c.Refresh(ctx, key, loader):
	case <-ctx.Done():
		return entry[V]{}, false, ctx.Err()
	}
	if r.Err == nil {
		return r.Value, false, nil
	}
	err := unwrapNotFound(r.Err)
	if had && unavailable(err) && o.age(old) < o.o.ttl+o.o.maxStale {
		o.o.logger.WarnContext(ctx, "schema cache: Intercom failed; serving a stale entry",
			"workspace", o.o.workspace, "age", time.Duration(o.age(old)).String(), "error", err.Error())
		return old, true, nil
	}
	return entry[V]{}, false, err
}

// set stores v as freshly loaded.
func (s *store[V]) set(key string, v V) {
	o := s.owner
	s.c.Set(key, entry[V]{val: v, loadedAt: o.nowNano(), seq: o.seq.Add(1)})
}

// patch changes a present entry in place, keeping its age.
func (s *store[V]) patch(key string, f func(V) V) {
	s.c.ComputeIfPresent(key, func(old entry[V]) (entry[V], otter.ComputeOp) {
		return entry[V]{val: f(old.val), loadedAt: old.loadedAt, seq: old.seq}, otter.WriteOp
	})
}

func (s *store[V]) invalidate(key string) { s.c.Invalidate(key) }

// isNotFound reports an Intercom 404: the type (or ticket) does not exist.
func isNotFound(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.StatusCode == http.StatusNotFound
}

// unwrapNotFound removes the otter.ErrNotFound marker added by the loader,
// so callers see Intercom's error alone.
func unwrapNotFound(err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, otter.ErrNotFound) {
				return e
			}
		}
	}
	return err
}

// unavailable reports whether err means Intercom could not answer (as
// opposed to answering no): a stale entry may stand in only then. Intercom's
// 4xx answers other than 408 and 429 are definite, so they are returned.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return ue.StatusCode >= 500 || ue.StatusCode == http.StatusTooManyRequests || ue.StatusCode == http.StatusRequestTimeout
	}
	return true
}
