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
	"go.opentelemetry.io/otel/trace"

	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// entry is one cached value with the time it was loaded (by the cache's
// clock) and a load sequence number, which tells a read whether the value
// was loaded while it waited (a miss) or was there before (a hit). answer is
// the gateway's answer built from val when the entry was made (see
// service.CachedAnswers), so that reads served from memory only look it up.
type entry[V any] struct {
	val      V
	answer   any
	loadedAt int64
	seq      uint64
}

// store is one kind of entry (ticket types, the type list, the states, the
// ticket-to-type ids) in its own otter cache.
type store[V any] struct {
	c      *otter.Cache[string, entry[V]]
	owner  *Cache
	kind   string // the span's kind attribute
	loader otter.Loader[string, entry[V]]
	build  func(V) any // the answer of an entry; nil: none
}

// newStore makes a store of at most maxSize entries, which load reads from
// Intercom and build (if not nil) turns into the gateway's answer.
func newStore[V any](owner *Cache, kind string, maxSize int, clock otter.Clock,
	load func(ctx context.Context, key string) (V, error), build func(V) any) (*store[V], error) {
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
	s := &store[V]{c: c, owner: owner, kind: kind, build: build}
	// One loader for every read of the store, rather than a closure per read.
	s.loader = otter.LoaderFunc[string, entry[V]](func(ctx context.Context, key string) (entry[V], error) {
		v, err := load(ctx, key)
		owner.metrics.loaded(ctx, err)
		if err != nil {
			if isNotFound(err) {
				// Tells otter to drop an entry whose thing is gone.
				return entry[V]{}, errors.Join(otter.ErrNotFound, err)
			}
			return entry[V]{}, err
		}
		return s.newEntry(v, owner.nowNano()), nil
	})
	return s, nil
}

// newEntry is v loaded at loadedAt (nanoseconds), with its answer built.
func (s *store[V]) newEntry(v V, loadedAt int64) entry[V] {
	e := entry[V]{val: v, loadedAt: loadedAt, seq: s.owner.seq.Add(1)}
	if s.build != nil {
		e.answer = s.build(v)
	}
	return e
}

// get answers key from the cache, loading it when it is absent, past its
// TTL, or when ctx asks for a fresh read. It reports the outcome to the call
// (service.ReportSchema), to the metrics and, when the call is traced, to a
// span.
func (s *store[V]) get(ctx context.Context, key string) (entry[V], error) {
	o := s.owner
	// A span only under a recording one: with tracing off (or the call not
	// sampled) a hit stays a map lookup, with no span made and thrown away.
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = o.tracer.Start(ctx, spanLookup,
			trace.WithAttributes(attribute.String(keyWorkspace, o.o.workspace), attribute.String("kind", s.kind)))
		defer span.End()
	}

	before := o.seq.Load()
	var (
		e     entry[V]
		err   error
		stale bool
	)
	if service.FreshSchema(ctx) {
		e, stale, err = s.reload(ctx, key, true)
	} else {
		e, err = s.c.Get(ctx, key, s.loader)
		err = unwrapNotFound(err)
		if err == nil && o.age(e) >= o.o.ttl {
			e, stale, err = s.reload(ctx, key, false)
		}
	}
	status := service.CacheHit
	switch {
	case err != nil:
		status = service.CacheMiss
	case stale:
		status = service.CacheStale
	case e.seq > before:
		status = service.CacheMiss
	}
	o.metrics.lookup(ctx, status)
	service.ReportSchema(ctx, status)
	if span != nil {
		span.SetAttributes(attribute.String(keyOutcome, status.String()))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "schema read failed")
		}
	}
	return e, err
}

// reload loads key now, joining a load already in flight. When the load
// fails because Intercom is unavailable, the old entry is returned with
// stale set if it is within the stale bound. An entry that another read
// has just reloaded is answered as it is: for a read past the TTL one
// younger than the TTL, for a forced read (the caller asked for a fresh
// one) one younger than MinReload.
func (s *store[V]) reload(ctx context.Context, key string, forced bool) (entry[V], bool, error) {
	o := s.owner
	old, had := s.c.GetIfPresent(key)
	fresh := o.o.ttl
	if forced {
		fresh = o.o.minReload
	}
	if had && o.age(old) < fresh {
		return old, false, nil
	}
	var r otter.RefreshResult[string, entry[V]]
	select {
	case r = <-s.c.Refresh(ctx, key, s.loader):
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
	s.c.Set(key, s.newEntry(v, s.owner.nowNano()))
}

// patch changes a present entry in place, keeping its age.
func (s *store[V]) patch(key string, f func(V) V) {
	s.c.ComputeIfPresent(key, func(old entry[V]) (entry[V], otter.ComputeOp) {
		e := s.newEntry(f(old.val), old.loadedAt)
		e.seq = old.seq
		return e, otter.WriteOp
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
