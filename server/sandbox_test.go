package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// startOnSandbox runs the real stack: server → service → schema cache →
// upstream client → the sandbox on a loopback httptest server.
func startOnSandbox(t *testing.T, sb *sandbox.Server, clientOpts ...upstream.Option) *gateway {
	t.Helper()
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	client, err := upstream.New(append([]upstream.Option{upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL)}, clientOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := schemacache.New(client)
	if err != nil {
		t.Fatal(err)
	}
	return startOnCache(t, cache)
}

// startOnCache serves the three services of one workspace, "default", whose
// Intercom calls go through cache; the gateway closes the cache at the end.
func startOnCache(t *testing.T, cache *schemacache.Cache) *gateway {
	t.Helper()
	t.Cleanup(func() { _ = cache.Close() })
	backends := service.Single("default", cache)
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	g := startGatewayWith(t, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(backends, discard),
		TicketTypes: service.NewTicketTypeService(backends, discard),
		Tags:        service.NewTagService(backends, discard),
	})
	g.cache = cache
	return g
}

// warmSchemas loads the seeded ticket types and the types of the seeded
// tickets into g's schema cache, as earlier calls would have: a ticket write
// then sends Intercom only the write itself.
func warmSchemas(t *testing.T, g *gateway) {
	t.Helper()
	for _, id := range []string{sandbox.SeedTicketTypeBug, sandbox.SeedTicketTypeInternal, sandbox.SeedTicketTypeIncident} {
		if _, err := g.cache.TicketType(t.Context(), id); err != nil {
			t.Fatalf("warming the schema cache: %v", err)
		}
	}
	for _, id := range []string{sandbox.SeedTicketLogin, sandbox.SeedTicketExport, sandbox.SeedTicketTypo,
		sandbox.SeedTicketDark, sandbox.SeedTicketRefund, sandbox.SeedTicketOutage} {
		if _, err := g.cache.TicketTypeOf(t.Context(), id); err != nil {
			t.Fatalf("warming the schema cache: %v", err)
		}
	}
}

func TestRESTAndGRPCAnswerAlikeOnTheSandbox(t *testing.T) {
	t.Parallel()
	g := startOnSandbox(t, sandbox.New())

	viaGRPC, err := gatewayv1.NewTicketTypeServiceClient(g.conn).ListTicketTypes(context.Background(), &gatewayv1.ListTicketTypesRequest{})
	if err != nil {
		t.Fatalf("gRPC ListTicketTypes: %v", err)
	}
	if len(viaGRPC.GetTicketTypes()) == 0 {
		t.Fatal("the seeded sandbox has no ticket types")
	}
	resp, body := g.do(t, http.MethodGet, "/v1/ticket-types", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/ticket-types: HTTP %d %s", resp.StatusCode, body)
	}
	viaREST := &gatewayv1.ListTicketTypesResponse{}
	if err := protojson.Unmarshal(body, viaREST); err != nil {
		t.Fatalf("REST body: %v", err)
	}
	if diff := cmp.Diff(viaGRPC, viaREST, protocmp.Transform()); diff != "" {
		t.Errorf("REST and gRPC answers differ (-grpc +rest):\n%s", diff)
	}
}

func TestIntercom429BecomesHTTP429WithRetryAfter(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	sb.SetFault("listTags", sandbox.Fault{RateLimitRate: 1})
	// One attempt: the 429 goes straight back to the caller instead of being
	// waited out by the client's retry policy.
	policy := upstream.DefaultRetryPolicy()
	policy.MaxAttempts = 1
	g := startOnSandbox(t, sb, upstream.WithRetryPolicy(policy))

	_, err := gatewayv1.NewTagServiceClient(g.conn).ListTags(context.Background(), &gatewayv1.ListTagsRequest{})
	if d, ok := service.RetryAfter(status.Convert(err)); status.Code(err) != codes.ResourceExhausted || !ok || d <= 0 {
		t.Errorf("gRPC ListTags: %v (retry after %v, %v); want RESOURCE_EXHAUSTED with RetryInfo", err, d, ok)
	}

	resp, body := g.do(t, http.MethodGet, "/v1/tags", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("GET /v1/tags: HTTP %d %s, want 429", resp.StatusCode, body)
	}
	st := &spb.Status{}
	if err := protojson.Unmarshal(body, st); err != nil {
		t.Fatalf("body is not google.rpc.Status JSON: %s: %v", body, err)
	}
	delay, ok := service.RetryAfter(status.FromProto(st))
	if st.GetCode() != int32(codes.ResourceExhausted) || !ok {
		t.Fatalf("body %s: want code 8 with a RetryInfo detail", body)
	}
	want := strconv.FormatInt(int64((delay+time.Second-1)/time.Second), 10)
	if got := resp.Header.Get("Retry-After"); got != want {
		t.Errorf("Retry-After %q, want %q (RetryInfo %v rounded up)", got, want, delay)
	}
	var info *errdetails.ErrorInfo
	for _, d := range status.FromProto(st).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			info = ei
		}
	}
	if info.GetReason() != "INTERCOM_RATE_LIMIT_EXCEEDED" {
		t.Errorf("ErrorInfo %v, want reason INTERCOM_RATE_LIMIT_EXCEEDED", info)
	}
}
