package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/service/redisstore"
)

func newStore(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, time.Hour, redisstore.WithTimeout(2*time.Second))
}

// TestSharedBetweenReplicas: two stores on one Redis act as two replicas.
// Concurrent creates with one request_id run once; a retry on the other
// replica gets the first record; an in-doubt record reaches the next
// attempt; a failed create is forgotten.
func TestSharedBetweenReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := newStore(t, srv.Addr()), newStore(t, srv.Addr())
	ctx := context.Background()

	var runs atomic.Int32
	create := func(ctx context.Context, prev *service.InDoubt) (service.CreateRecord, error) {
		runs.Add(1)
		time.Sleep(50 * time.Millisecond)
		return service.CreateRecord{TicketID: "t1", Fingerprint: "f"}, nil
	}
	var wg sync.WaitGroup
	got := make([]service.CreateRecord, 6)
	for i := range got {
		wg.Go(func() {
			s := a
			if i%2 == 1 {
				s = b
			}
			rec, err := s.Do(ctx, "ws/caller/r1", create)
			if err != nil {
				t.Error(err)
			}
			got[i] = rec
		})
	}
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("create ran %d times for one request_id across two replicas, want 1", n)
	}
	for i, r := range got {
		if r.TicketID != "t1" {
			t.Errorf("call %d got %+v, want ticket t1", i, r)
		}
	}

	// In doubt on a, then the retry on b sees the marker.
	start := time.Unix(1_800_000_000, 0)
	_, _ = a.Do(ctx, "ws/caller/r2", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		return service.CreateRecord{InDoubt: &service.InDoubt{Start: start, End: start.Add(time.Second), Fingerprint: "f2"}}, errors.New("reset")
	})
	var seen *service.InDoubt
	rec, err := b.Do(ctx, "ws/caller/r2", func(_ context.Context, prev *service.InDoubt) (service.CreateRecord, error) {
		seen = prev
		return service.CreateRecord{TicketID: "t2"}, nil
	})
	if err != nil || rec.TicketID != "t2" {
		t.Fatalf("retry: %+v, %v", rec, err)
	}
	if seen == nil || !seen.Start.Equal(start) || seen.Fingerprint != "f2" {
		t.Errorf("the retry on the other replica saw %+v, want the in-doubt marker", seen)
	}

	// A create that made nothing is forgotten: the next try runs.
	_, _ = a.Do(ctx, "ws/caller/r3", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		return service.CreateRecord{}, errors.New("400")
	})
	ran := false
	_, _ = b.Do(ctx, "ws/caller/r3", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		ran = true
		return service.CreateRecord{TicketID: "t3"}, nil
	})
	if !ran {
		t.Error("a failed create was remembered")
	}
}

// TestRedisDownFallsBackToMemory: with Redis gone, creates still run and
// are remembered by this replica, and the store says it is degraded.
func TestRedisDownFallsBackToMemory(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Addr())
	srv.Stop()
	ctx := context.Background()
	runs := 0
	for range 2 {
		rec, err := s.Do(ctx, "k", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
			runs++
			return service.CreateRecord{TicketID: "t"}, nil
		})
		if err != nil || rec.TicketID != "t" {
			t.Fatalf("%+v, %v", rec, err)
		}
	}
	if runs != 1 {
		t.Errorf("create ran %d times, want 1 (the in-memory fallback remembers it)", runs)
	}
	if !s.Degraded() {
		t.Error("not degraded with Redis down")
	}
}

// TestSameReplicaRetryOutlivesRedisLosingTheRecord: a retry on the replica
// that made the create finds it even when Redis no longer has the record:
// made while Redis was down and retried after it came back, or recorded in
// Redis which then restarted empty. An in-doubt create made during an
// outage reaches the retry's attempt as in doubt, not as a fresh create.
func TestSameReplicaRetryOutlivesRedisLosingTheRecord(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Addr())
	ctx := context.Background()
	var runs atomic.Int32
	create := func(id string) func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		return func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
			runs.Add(1)
			return service.CreateRecord{TicketID: id}, nil
		}
	}
	do := func(key, id string) {
		t.Helper()
		if rec, err := s.Do(ctx, key, create(id)); err != nil || rec.TicketID != "first-"+key {
			t.Errorf("%s: %+v, %v; want the first create's ticket", key, rec, err)
		}
	}

	do("in-redis", "first-in-redis") // recorded in Redis
	srv.Stop()
	do("during-outage", "first-during-outage") // recorded in this replica only
	var seen *service.InDoubt
	if _, err := s.Do(ctx, "doubt", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		return service.CreateRecord{InDoubt: &service.InDoubt{Fingerprint: "f"}}, errors.New("answer lost")
	}); err == nil {
		t.Fatal("want the create's error")
	}
	srv.Restart() // empty: every record in Redis is gone
	do("in-redis", "second")
	do("during-outage", "second")
	if n := runs.Load(); n != 2 {
		t.Errorf("creates ran %d times, want 2 (no retry runs one again)", n)
	}
	_, _ = s.Do(ctx, "doubt", func(_ context.Context, prev *service.InDoubt) (service.CreateRecord, error) {
		seen = prev
		return service.CreateRecord{TicketID: "resolved"}, nil
	})
	if seen == nil || seen.Fingerprint != "f" {
		t.Errorf("the retry's attempt got in-doubt %+v, want the outage's record", seen)
	}
}

// TestMemoryCopyIsBounded: this replica's in-memory copy keeps at most
// WithMemoryMaxRecords records (the oldest go first), while Redis keeps
// them all.
func TestMemoryCopyIsBounded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, time.Hour, redisstore.WithTimeout(2*time.Second), redisstore.WithMemoryMaxRecords(2))
	ctx := context.Background()
	for i, want := range []int{1, 2, 2, 2} {
		id := fmt.Sprintf("t%d", i)
		if _, err := s.Do(ctx, "ws/caller/"+id, func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
			return service.CreateRecord{TicketID: id, Fingerprint: "f"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := s.MemoryRecords(); got != want {
			t.Errorf("after %d creates the memory copy holds %d records, want %d", i+1, got, want)
		}
	}
	// The first record left the memory copy but Redis still answers it.
	rec, err := s.Do(ctx, "ws/caller/t0", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		t.Error("create ran again for a request_id Redis remembers")
		return service.CreateRecord{}, nil
	})
	if err != nil || rec.TicketID != "t0" {
		t.Errorf("retry of the first create: %+v, %v; want ticket t0", rec, err)
	}
}
