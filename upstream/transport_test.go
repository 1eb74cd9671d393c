package upstream_test

import (
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// TestDefaultTransportReusesConnections: with the default transport, calls one after another share
// one connection, and rounds of concurrent calls reuse the connections the first round opened instead
// of dialling again (Go's default transport keeps 2 idle connections per host, so every round would
// open and close most of its connections: about 480 for these 600 calls). Connections are counted by the sandbox as it accepts them.
func TestDefaultTransportReusesConnections(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	srv := httptest.NewUnstartedServer(sb)
	srv.Config.ConnState = sb.ConnState
	srv.Start()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL) // no WithTransport: the default under test
	ctx := t.Context()

	const sequential = 100
	for range sequential {
		if _, err := c.GetTicket(ctx, sandbox.SeedTicketLogin); err != nil {
			t.Fatal(err)
		}
	}
	// One connection, or two: net/http hands a finished call's connection
	// back to the pool from its read loop, so on a loaded machine the next
	// call can find the pool empty and dial while that hand-back is under
	// way. Without reuse this would be one connection per call.
	if n := sb.Stats().Connections; n > 2 {
		t.Fatalf("%d sequential calls opened %d connections, want 1 (2 at most)", sequential, n)
	}

	const concurrency, rounds = 50, 10
	round := func() {
		var wg sync.WaitGroup
		for range concurrency {
			wg.Go(func() {
				if _, err := c.GetTicket(ctx, sandbox.SeedTicketLogin); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for range rounds {
		round()
	}
	// The first round opens up to one connection per concurrent call (fewer when calls finish
	// before others start); later rounds reuse them. A few extra dials are allowed: a call may start
	// dialling just before another call hands back its connection.
	st := sb.Stats()
	if limit := int64(2 + concurrency + 5); st.Connections > limit {
		t.Errorf("%d rounds of %d concurrent calls opened %d connections in all, want at most %d (idle connections were dropped)",
			rounds, concurrency, st.Connections, limit)
	}
	if want := int64(sequential + rounds*concurrency); st.Requests != want {
		t.Errorf("the sandbox answered %d requests, want %d (one per call)", st.Requests, want)
	}
	t.Logf("%d calls, %d connections", st.Requests, st.Connections)
}

// TestNewTransportKeepsEnoughIdleConnections documents the pool size against Go's default of 2.
func TestNewTransportKeepsEnoughIdleConnections(t *testing.T) {
	tr := upstream.NewTransport()
	if tr.MaxIdleConnsPerHost < 64 || !tr.ForceAttemptHTTP2 || tr.IdleConnTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("NewTransport() = %+v: want a pool of at least 64 idle connections per host, HTTP/2 and timeouts", tr)
	}
}
