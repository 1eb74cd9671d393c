package schemacache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// replica is one gateway process's view: its own Redis client, bus and
// cache, on the shared sandbox.
func replica(t *testing.T, e *env, addr string) *schemacache.Cache {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	bus := schemacache.NewRedisBus(rdb, schemacache.WithPublishTimeout(time.Second))
	t.Cleanup(func() { _ = bus.Close() })
	return newCache(t, e.srv.URL, e.clock, schemacache.WithWorkspace("acme"), schemacache.WithBus(bus))
}

// eventually polls cond for up to 10 s: pub/sub delivery is asynchronous.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func typeName(t *testing.T, c *schemacache.Cache) (string, service.CacheStatus) {
	t.Helper()
	var name string
	st, err := read(func(ctx context.Context) error {
		tt, err := c.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		if err == nil {
			name = tt.Name
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return name, st
}

func TestWritesReachOtherReplicasThroughRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e := newEnv(t)
	a, b := replica(t, e, srv.Addr()), replica(t, e, srv.Addr())
	for _, c := range []*schemacache.Cache{a, b} {
		if name, _ := typeName(t, c); name != "Bug" {
			t.Fatalf("seeded type name %q", name)
		}
	}
	// Wait until both subscriptions are live: a message published before
	// would be lost (pub/sub is at most once).
	eventually(t, "both replicas subscribe", func() bool {
		n, err := redis.NewClient(&redis.Options{Addr: srv.Addr()}).PubSubNumSub(t.Context(), schemacache.DefaultChannel).Result()
		return err == nil && n[schemacache.DefaultChannel] == 2
	})

	name := "Defect"
	if _, err := a.UpdateTicketType(t.Context(), sandbox.SeedTicketTypeBug, upstream.UpdateTicketTypeParams{Name: &name}); err != nil {
		t.Fatal(err)
	}
	// b answered "Bug" from its cache; the message makes it drop that
	// entry, and its next read loads the new name.
	eventually(t, "replica b sees the new name", func() bool { n, _ := typeName(t, b); return n == "Defect" })
	// a applied its own write at once and ignores its own message.
	if n, st := typeName(t, a); n != "Defect" || st != service.CacheHit {
		t.Errorf("writing replica: %q (%v), want Defect from its cache", n, st)
	}

	// Redis goes away: writes still succeed (the publish fails and is
	// logged), and when it is back, each replica drops its schemas because
	// it may have missed messages.
	srv.Stop()
	again := "Bug report"
	if _, err := a.UpdateTicketType(t.Context(), sandbox.SeedTicketTypeBug, upstream.UpdateTicketTypeParams{Name: &again}); err != nil {
		t.Fatalf("a write with Redis down failed: %v", err)
	}
	if n, _ := typeName(t, b); n != "Defect" {
		t.Fatalf("b read %q while Redis was down; want its cached Defect", n)
	}
	srv.Restart()
	eventually(t, "replica b resubscribes and reloads", func() bool { n, _ := typeName(t, b); return n == "Bug report" })
}
