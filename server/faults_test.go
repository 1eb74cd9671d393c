package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// fastRetries keeps the client's retry rules but not its waits, so fault
// tests run in milliseconds.
func fastRetries() upstream.Option {
	p := upstream.DefaultRetryPolicy()
	p.BaseBackoff = time.Millisecond
	p.MaxBackoff = 2 * time.Millisecond
	p.MaxRateLimitWait = 0 // a 429 goes straight back to the caller
	return upstream.WithRetryPolicy(p)
}

func createReq() *gatewayv1.CreateTicketRequest {
	return &gatewayv1.CreateTicketRequest{
		TicketTypeId: sandbox.SeedTicketTypeBug,
		Contacts:     []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: sandbox.SeedContactAlice}}},
	}
}

func reason(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestSandboxFaultsThroughTheGateway injects each sandbox fault mode and
// checks what a gRPC caller sees, and how many requests reached Intercom:
// idempotent reads are retried, creates never are.
func TestSandboxFaultsThroughTheGateway(t *testing.T) {
	t.Parallel()
	getTicket := func(ctx context.Context, g *gateway) error {
		_, err := gatewayv1.NewTicketServiceClient(g.conn).GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin})
		return err
	}
	createTicket := func(ctx context.Context, g *gateway) error {
		_, err := gatewayv1.NewTicketServiceClient(g.conn).CreateTicket(ctx, createReq())
		return err
	}
	tests := []struct {
		name       string
		route      string
		fault      sandbox.Fault
		call       func(context.Context, *gateway) error
		deadline   time.Duration
		wantCode   codes.Code
		wantReason string
		wantSent   int // requests that reached the sandbox
	}{
		// Deadlines of a second leave a loaded machine time to get the
		// request to the sandbox before they expire.
		{"latency beyond the deadline", "getTicket", sandbox.Fault{Latency: 3 * time.Second}, getTicket, time.Second,
			codes.DeadlineExceeded, "", 1},
		{"latency within the deadline", "getTicket", sandbox.Fault{Latency: 50 * time.Millisecond}, getTicket, 5 * time.Second,
			codes.OK, "", 1},
		{"5xx on a read is retried, then UNAVAILABLE", "getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 503}, getTicket, 5 * time.Second,
			codes.Unavailable, "INTERCOM_SERVICE_UNAVAILABLE", 3},
		{"one 5xx on a read is absorbed by a retry", "getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 502, Remaining: 1}, getTicket, 5 * time.Second,
			codes.OK, "", 2},
		{"5xx on a create is not retried", "createTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 502}, createTicket, 5 * time.Second,
			codes.Unavailable, "INTERCOM_BAD_GATEWAY", 1},
		{"429 storm", "getTicket", sandbox.Fault{RateLimitRate: 1}, getTicket, 5 * time.Second,
			codes.ResourceExhausted, "INTERCOM_RATE_LIMIT_EXCEEDED", 1},
		{"connection reset on a read is retried", "getTicket", sandbox.Fault{ResetRate: 1}, getTicket, 5 * time.Second,
			codes.Unavailable, service.ReasonUpstreamUnavailable, 3},
		{"connection reset on a create is not retried", "createTicket", sandbox.Fault{ResetRate: 1}, createTicket, 5 * time.Second,
			codes.Unavailable, service.ReasonUpstreamUnavailable, 1},
		{"malformed JSON", "getTicket", sandbox.Fault{MalformedRate: 1}, getTicket, 5 * time.Second,
			codes.Unavailable, service.ReasonUpstreamMalformed, 1},
		{"slow body beyond the deadline", "getTicket", sandbox.Fault{SlowBody: 3 * time.Second}, getTicket, time.Second,
			codes.DeadlineExceeded, "", 1},
		{"slow body within the deadline", "getTicket", sandbox.Fault{SlowBody: 100 * time.Millisecond}, getTicket, 5 * time.Second,
			codes.OK, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb := sandbox.New()
			g := startOnSandbox(t, sb, fastRetries())
			if tt.route == "createTicket" {
				// A running gateway has the schemas a create is checked
				// against; the case counts what the create itself sends.
				if _, err := g.cache.TicketType(t.Context(), sandbox.SeedTicketTypeBug); err != nil {
					t.Fatal(err)
				}
				sb.ResetRequests()
			}
			sb.SetFault(tt.route, tt.fault)
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			st := status.Convert(tt.call(ctx, g))
			if st.Code() != tt.wantCode {
				t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), tt.wantCode)
			}
			if tt.wantReason != "" && reason(st) != tt.wantReason {
				t.Errorf("ErrorInfo reason = %q, want %q", reason(st), tt.wantReason)
			}
			if tt.wantCode == codes.ResourceExhausted {
				if d, ok := service.RetryAfter(st); !ok || d <= 0 {
					t.Errorf("RESOURCE_EXHAUSTED without RetryInfo: %v", st.Details())
				}
			}
			// Requests still in flight at the deadline are recorded when
			// the sandbox finishes them; wait for the count to settle.
			waitFor(t, "sandbox requests", func() bool { return len(sb.Requests()) >= tt.wantSent })
			if got := len(sb.Requests()); got != tt.wantSent {
				t.Errorf("Intercom received %d requests, want %d", got, tt.wantSent)
			}
		})
	}
}

// TestSandboxFaultsOverREST shows the same faults as HTTP statuses with a
// google.rpc.Status body.
func TestSandboxFaultsOverREST(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    sandbox.Fault
		wantHTTP int
		wantCode codes.Code
	}{
		{"5xx", sandbox.Fault{ErrorRate: 1, ErrorStatus: 500}, http.StatusServiceUnavailable, codes.Unavailable},
		{"reset", sandbox.Fault{ResetRate: 1}, http.StatusServiceUnavailable, codes.Unavailable},
		{"malformed", sandbox.Fault{MalformedRate: 1}, http.StatusServiceUnavailable, codes.Unavailable},
		{"429", sandbox.Fault{RateLimitRate: 1}, http.StatusTooManyRequests, codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb := sandbox.New()
			sb.SetFault("listTicketTypes", tt.fault)
			g := startOnSandbox(t, sb, fastRetries())
			resp, body := g.do(t, http.MethodGet, "/v1/ticket-types", "", nil)
			if resp.StatusCode != tt.wantHTTP {
				t.Fatalf("HTTP %d %s, want %d", resp.StatusCode, body, tt.wantHTTP)
			}
			if st := decodeStatus(t, body); codes.Code(st.Code) != tt.wantCode {
				t.Errorf("body code = %d, want %v", st.Code, tt.wantCode)
			}
			if tt.wantHTTP == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		})
	}
}
