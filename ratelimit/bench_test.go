package ratelimit_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
)

// The limiter's own cost per upstream attempt (make bench-go): Acquire and
// release with a budget that never runs out, in memory and shared through a
// real redis-server. redis-rt/op is the Redis round trips per attempt
// (leases and heartbeats); the fleet tests measure it under a budget that
// does run out.

func benchAcquire(b *testing.B, l *ratelimit.Limiter) {
	ctx := auth.NewContext(context.Background(), auth.Identity{Caller: "bench", Workspace: "w"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, err := l.Acquire(ctx, "getTicket")
			if err != nil {
				b.Error(err)
				return
			}
			release()
		}
	})
}

func BenchmarkAcquireLocal(b *testing.B) {
	l := ratelimit.NewLocal(ratelimit.Config{}).For("w", ratelimit.Budget{Limit: 1 << 40, MaxInFlight: 1 << 20})
	benchAcquire(b, l)
}

func BenchmarkAcquireShared(b *testing.B) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	b.Cleanup(func() { rdb.Close() })
	s := ratelimit.NewShared(rdb, ratelimit.Config{}, nil)
	b.Cleanup(s.Close)
	l := s.For("w", ratelimit.Budget{Limit: 1 << 40, MaxInFlight: 1 << 20})
	rt0 := s.RoundTrips()
	b.ResetTimer()
	benchAcquire(b, l)
	b.ReportMetric(float64(s.RoundTrips()-rt0)/float64(b.N), "redis-rt/op")
}
