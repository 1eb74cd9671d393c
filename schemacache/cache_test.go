package schemacache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is a sandbox on loopback and a Cache over a client of it.
type env struct {
	sb    *sandbox.Server
	srv   *httptest.Server
	clock *clock
	cache *schemacache.Cache
}

// Short bounds so that tests can step over them.
const (
	ttl      = time.Minute
	refresh  = 30 * time.Second
	maxStale = 5 * time.Minute
)

func newEnv(t *testing.T, opts ...schemacache.Option) *env {
	t.Helper()
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	srv := httptest.NewUnstartedServer(sb)
	srv.Config.ConnState = sb.ConnState
	srv.Start()
	t.Cleanup(srv.Close)
	clk := newClock()
	return &env{sb: sb, srv: srv, clock: clk, cache: newCache(t, srv.URL, clk, opts...)}
}

func newCache(t *testing.T, url string, clk *clock, opts ...schemacache.Option) *schemacache.Cache {
	t.Helper()
	client, err := upstream.New(upstream.WithToken("t"), upstream.WithBaseURL(url), upstream.WithVersion(upstream.VersionPreview),
		// One attempt, so that a failure is visible at once and no backoff is slept.
		upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1, MaxRateLimitWait: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	all := append([]schemacache.Option{schemacache.WithClock(clk.now), schemacache.WithTTL(ttl),
		schemacache.WithRefresh(refresh), schemacache.WithMaxStale(maxStale)}, opts...)
	c, err := schemacache.New(client, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// calls counts the requests the sandbox received for route.
func (e *env) calls(route string) int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

// read runs f in a call context and returns what the cache reported.
func read(f func(ctx context.Context) error) (service.CacheStatus, error) {
	ctx, report := service.WithCacheReport(context.Background())
	err := f(ctx)
	return report(), err
}

func TestRepeatedReadsWithinTTLCallIntercomOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 50 {
		want := service.CacheHit
		if i == 0 {
			want = service.CacheMiss
		}
		for _, r := range []struct {
			name string
			f    func(ctx context.Context) error
		}{
			{"GetTicketType", func(ctx context.Context) error {
				tt, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
				if err == nil && tt.Name != "Bug" {
					t.Errorf("type name = %q, want Bug", tt.Name)
				}
				return err
			}},
			{"ListTicketTypes", func(ctx context.Context) error { _, err := e.cache.ListTicketTypes(ctx); return err }},
			{"ListTicketStates", func(ctx context.Context) error { _, err := e.cache.ListTicketStates(ctx); return err }},
			{"TicketTypeOf", func(ctx context.Context) error {
				id, err := e.cache.TicketTypeOf(ctx, sandbox.SeedTicketLogin)
				if err == nil && id != sandbox.SeedTicketTypeBug {
					t.Errorf("TicketTypeOf = %q, want %s", id, sandbox.SeedTicketTypeBug)
				}
				return err
			}},
		} {
			got, err := read(r.f)
			if err != nil {
				t.Fatalf("%s #%d: %v", r.name, i, err)
			}
			if got != want {
				t.Fatalf("%s #%d reported %v, want %v", r.name, i, got, want)
			}
		}
		e.clock.advance(ttl / 100) // time passes, but stays within the TTL and the refresh interval
	}
	for route, want := range map[string]int{"getTicketType": 1, "listTicketTypes": 1, "listTicketStates": 1, "getTicket": 1} {
		if got := e.calls(route); got != want {
			t.Errorf("%s reached Intercom %d times for 50 reads, want %d", route, got, want)
		}
	}
}

func TestConcurrentColdReadsMakeOneCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Slow answers keep the first load in flight while the others arrive.
	e.sb.SetFault("getTicketType", sandbox.Fault{Latency: 50 * time.Millisecond})
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			tt, err := e.cache.GetTicketType(t.Context(), sandbox.SeedTicketTypeBug)
			if err == nil && tt.ID != sandbox.SeedTicketTypeBug {
				err = errors.New("wrong type " + tt.ID)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.calls("getTicketType"); got != 1 {
		t.Errorf("%d concurrent cold reads made %d Intercom calls, want 1", n, got)
	}
	if got := e.sb.Stats().Connections; got != 1 {
		t.Errorf("%d concurrent cold reads opened %d connections, want 1", n, got)
	}
}

func TestWritesUpdateTheCacheAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.ListTicketTypes(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetRequests()

	name := "Defect"
	if _, err := e.cache.UpdateTicketType(ctx, sandbox.SeedTicketTypeBug, upstream.UpdateTicketTypeParams{Name: &name}); err != nil {
		t.Fatal(err)
	}
	a, err := e.cache.CreateTicketTypeAttribute(ctx, sandbox.SeedTicketTypeBug, upstream.CreateAttributeParams{
		Name: "Browser", Description: "Which browser", DataType: "string"})
	if err != nil {
		t.Fatal(err)
	}
	newDesc := "Which browser and version"
	if _, err := e.cache.UpdateTicketTypeAttribute(ctx, sandbox.SeedTicketTypeBug, a.ID, upstream.UpdateAttributeParams{Description: &newDesc}); err != nil {
		t.Fatal(err)
	}
	created, err := e.cache.CreateTicketType(ctx, upstream.CreateTicketTypeParams{Name: "Feature request"})
	if err != nil {
		t.Fatal(err)
	}

	status, err := read(func(ctx context.Context) error {
		tt, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		if err != nil {
			return err
		}
		if tt.Name != "Defect" {
			t.Errorf("cached name = %q after UpdateTicketType, want Defect", tt.Name)
		}
		i := slices.IndexFunc(tt.Attributes, func(x upstream.TicketTypeAttribute) bool { return x.ID == a.ID })
		if i < 0 || tt.Attributes[i].Description != newDesc {
			t.Errorf("cached attributes lack the created and updated Browser attribute: %+v", tt.Attributes)
		}
		list, err := e.cache.ListTicketTypes(ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(list, func(x upstream.TicketType) bool { return x.ID == created.ID }) {
			t.Errorf("cached list lacks the created type %s", created.ID)
		}
		j := slices.IndexFunc(list, func(x upstream.TicketType) bool { return x.ID == sandbox.SeedTicketTypeBug })
		if j < 0 || list[j].Name != "Defect" || !slices.ContainsFunc(list[j].Attributes, func(x upstream.TicketTypeAttribute) bool { return x.ID == a.ID }) {
			t.Errorf("cached list does not show the updated Bug type")
		}
		nt, err := e.cache.GetTicketType(ctx, created.ID)
		if err == nil && nt.Name != "Feature request" {
			t.Errorf("created type cached as %q", nt.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if status != service.CacheHit {
		t.Errorf("reads after writes reported %v, want hit", status)
	}
	for _, r := range e.sb.Requests() {
		if r.Method == http.MethodGet {
			t.Errorf("read after writes reached Intercom: %s %s", r.Method, r.Path)
		}
	}
}

func TestStaleEntryServedWithinBoundWhenIntercomFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug); err != nil {
		t.Fatal(err)
	}
	e.sb.SetFault("getTicketType", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})

	e.clock.advance(ttl + time.Second)
	status, err := read(func(ctx context.Context) error {
		tt, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		if err == nil && tt.Name != "Bug" {
			t.Errorf("stale type = %q", tt.Name)
		}
		return err
	})
	if err != nil || status != service.CacheStale {
		t.Fatalf("past the TTL with Intercom failing: status %v, error %v; want the stale entry", status, err)
	}
	if got := e.calls("getTicketType"); got != 2 {
		t.Errorf("Intercom was asked %d times, want 2 (the load and one failed reload)", got)
	}

	e.clock.advance(maxStale) // now beyond TTL + max stale
	status, err = read(func(ctx context.Context) error {
		_, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		return err
	})
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("beyond the stale bound: status %v, error %v; want Intercom's 503", status, err)
	}

	// Intercom is back: the next read loads again.
	e.sb.ClearFaults()
	status, err = read(func(ctx context.Context) error {
		_, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		return err
	})
	if err != nil || status != service.CacheMiss {
		t.Fatalf("after recovery: status %v, error %v; want a miss", status, err)
	}
}

func TestDefiniteAnswersAreNotHiddenByStaleEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug); err != nil {
		t.Fatal(err)
	}
	e.sb.SetFault("getTicketType", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusNotFound})
	e.clock.advance(ttl + time.Second)
	_, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.StatusCode != http.StatusNotFound {
		t.Fatalf("a 404 on reload gave %v; want the 404, not the stale entry", err)
	}
}

func TestFreshReadsReloadAtMostOncePerMinReload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fresh := service.WithFreshSchema(t.Context())
	get := func(ctx context.Context) service.CacheStatus {
		t.Helper()
		st, err := read(func(c context.Context) error {
			if service.FreshSchema(ctx) {
				c = service.WithFreshSchema(c)
			}
			_, err := e.cache.GetTicketType(c, sandbox.SeedTicketTypeBug)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	steps := []struct {
		ctx      context.Context
		advance  time.Duration
		want     service.CacheStatus
		wantGets int
	}{
		{t.Context(), 0, service.CacheMiss, 1},
		{t.Context(), 0, service.CacheHit, 1},
		{fresh, 0, service.CacheHit, 1},                // loaded under a second ago: counts as fresh
		{fresh, 2 * time.Second, service.CacheMiss, 2}, // no-cache reloads
		{fresh, 0, service.CacheHit, 2},                // ...once per second at most
		{t.Context(), 10 * time.Second, service.CacheHit, 2},
	}
	for i, s := range steps {
		e.clock.advance(s.advance)
		if got := get(s.ctx); got != s.want {
			t.Errorf("step %d: %v, want %v", i, got, s.want)
		}
		if got := e.calls("getTicketType"); got != s.wantGets {
			t.Errorf("step %d: %d Intercom calls, want %d", i, got, s.wantGets)
		}
	}
}

func TestBackgroundRefreshAfterInterval(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(refresh + time.Second)
	st, err := read(func(ctx context.Context) error {
		_, err := e.cache.GetTicketType(ctx, sandbox.SeedTicketTypeBug)
		return err
	})
	if err != nil || st != service.CacheHit {
		t.Fatalf("a read past the refresh interval: %v, %v; want a hit answered from the cache", st, err)
	}
	// The reload runs in the background; wait for it to reach Intercom.
	deadline := time.Now().Add(5 * time.Second)
	for e.calls("getTicketType") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no background reload reached Intercom")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestUpdateTicketResolvesStatesThroughTheCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.cache.TicketTypeOf(ctx, sandbox.SeedTicketLogin); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.TicketType(ctx, sandbox.SeedTicketTypeBug); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.ListTicketStates(ctx); err != nil {
		t.Fatal(err)
	}
	e.sb.ResetRequests()
	resolved := "resolved"
	tk, err := e.cache.UpdateTicket(ctx, sandbox.SeedTicketLogin, upstream.UpdateTicketParams{StateCategory: &resolved})
	if err != nil {
		t.Fatal(err)
	}
	if tk.State.Category != "resolved" {
		t.Errorf("state = %+v, want resolved", tk.State)
	}
	var routes []string
	for _, r := range e.sb.Requests() {
		routes = append(routes, r.Route)
	}
	if !slices.Equal(routes, []string{"updateTicket"}) {
		t.Errorf("Intercom saw %v, want only updateTicket: the ticket's type and states come from the cache", routes)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	client, err := upstream.New(upstream.WithToken("t"))
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string][]schemacache.Option{
		"zero TTL":           {schemacache.WithTTL(0)},
		"refresh beyond TTL": {schemacache.WithTTL(time.Minute), schemacache.WithRefresh(2 * time.Minute)},
		"negative stale":     {schemacache.WithMaxStale(-1)},
		"no entries":         {schemacache.WithMaxEntries(0, 1)},
		"no workspace":       {schemacache.WithWorkspace("")},
	} {
		if _, err := schemacache.New(client, opts...); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// Memory is bounded per workspace: two workspaces' caches, each allowed 10
// ticket types and 20 ticket ids, read 60 types and 80 tickets each. Each
// holds at most its bound, and a second pass over the same ids goes back to
// Intercom for all but at most the bound: the others were really dropped.
func TestMemoryIsBoundedPerWorkspace(t *testing.T) {
	t.Parallel()
	const (
		maxTypes, maxTickets = 10, 20
		nTypes, nTickets     = 60, 80
	)
	e := newEnv(t, schemacache.WithMaxEntries(maxTypes, maxTickets))
	other := newCache(t, e.srv.URL, e.clock, schemacache.WithWorkspace("other"), schemacache.WithMaxEntries(maxTypes, maxTickets))
	ctx := t.Context()
	// Made behind the caches' back, with a client of their own.
	direct, err := upstream.New(upstream.WithToken("t"), upstream.WithBaseURL(e.srv.URL), upstream.WithVersion(upstream.VersionPreview))
	if err != nil {
		t.Fatal(err)
	}
	var typeIDs, ticketIDs []string
	for i := range nTypes {
		tt, err := direct.CreateTicketType(ctx, upstream.CreateTicketTypeParams{Name: fmt.Sprintf("Type %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		typeIDs = append(typeIDs, tt.ID)
	}
	for i := range nTickets {
		tk, err := direct.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: typeIDs[i%nTypes],
			Contacts:   []upstream.ContactIdentifier{{ID: sandbox.SeedContactAlice}},
			Attributes: map[string]any{"_default_title_": fmt.Sprintf("Ticket %d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		ticketIDs = append(ticketIDs, tk.ID)
	}

	for _, c := range []*schemacache.Cache{e.cache, other} {
		for pass := range 2 {
			e.sb.ResetRequests()
			for i, id := range typeIDs {
				tt, err := c.GetTicketType(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if tt.ID != id {
					t.Fatalf("type %s answered as %s", id, tt.ID)
				}
				if got, err := c.TicketTypeOf(ctx, ticketIDs[i%nTickets]); err != nil || got != typeIDs[i%nTickets%nTypes] {
					t.Fatalf("TicketTypeOf(%s) = %q, %v", ticketIDs[i%nTickets], got, err)
				}
			}
			for _, id := range ticketIDs[nTypes:] {
				if _, err := c.TicketTypeOf(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			types, tickets := c.Len()
			if types > maxTypes || tickets > maxTickets {
				t.Errorf("pass %d: the cache holds %d types and %d ticket ids, bound %d and %d", pass+1, types, tickets, maxTypes, maxTickets)
			}
			if pass == 1 {
				if n := e.calls("getTicketType"); n < nTypes-maxTypes {
					t.Errorf("second pass: %d type reads reached Intercom, want at least %d (all but the %d kept)", n, nTypes-maxTypes, maxTypes)
				}
				if n := e.calls("getTicket"); n < nTickets-maxTickets {
					t.Errorf("second pass: %d ticket reads reached Intercom, want at least %d (all but the %d kept)", n, nTickets-maxTickets, maxTickets)
				}
			}
		}
	}
}
