package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// TestLimiterRefusalOnBothTransports: with a budget of 2 per 10 s window, the
// third call is refused by the gateway itself: gRPC gets RESOURCE_EXHAUSTED
// with RetryInfo and the GATEWAY_RATE_LIMITED reason, REST a 429 with
// Retry-After and RateLimit-* headers, and Intercom receives only the two
// calls that were granted.
func TestLimiterRefusalOnBothTransports(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	lim := ratelimit.NewLocal(ratelimit.Config{MaxWait: time.Millisecond}).For("default", ratelimit.Budget{Limit: 2})
	g := startOnSandbox(t, sb, upstream.WithLimiter(lim))
	// A local budget of 2 holds a burst of 1 and refills 1 per 10 s, so
	// one call passes at once and the next waits longer than MaxWait.
	if resp, body := g.do(t, http.MethodGet, "/v1/tags", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first call: HTTP %d %s", resp.StatusCode, body)
	}
	resp, body := g.do(t, http.MethodGet, "/v1/tags", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("HTTP %d %s, want 429", resp.StatusCode, body)
	}
	if st := decodeStatus(t, body); codes.Code(st.Code) != codes.ResourceExhausted {
		t.Errorf("body code %d, want RESOURCE_EXHAUSTED", st.Code)
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 10 {
		t.Errorf("Retry-After = %q, want 1..10 s", resp.Header.Get("Retry-After"))
	}
	if got := resp.Header.Get("RateLimit-Limit"); got != "2" {
		t.Errorf("RateLimit-Limit = %q, want 2", got)
	}
	if got := resp.Header.Get("RateLimit-Remaining"); got != "0" {
		t.Errorf("RateLimit-Remaining = %q, want 0", got)
	}
	if reset, err := strconv.Atoi(resp.Header.Get("RateLimit-Reset")); err != nil || reset < 0 || reset > 10 {
		t.Errorf("RateLimit-Reset = %q, want 0..10 s", resp.Header.Get("RateLimit-Reset"))
	}

	_, err = gatewayv1.NewTicketServiceClient(g.conn).GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || reason(st) != service.ReasonRateLimited {
		t.Fatalf("gRPC: %v %q reason %q, want RESOURCE_EXHAUSTED %s", st.Code(), st.Message(), reason(st), service.ReasonRateLimited)
	}
	if d, ok := service.RetryAfter(st); !ok || d <= 0 {
		t.Errorf("no RetryInfo: %v", st.Details())
	}
	if got := len(sb.Requests()); got != 1 {
		t.Errorf("Intercom received %d requests, want only the granted one", got)
	}
}
