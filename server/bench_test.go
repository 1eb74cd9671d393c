package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// BenchmarkGetTicket measures one GetTicket three ways in the same run, so
// the gateway's own cost shows as a ratio: the Intercom client straight to
// the sandbox (the floor), the gateway over gRPC, and the gateway over REST.
// All of it runs on loopback; the sandbox's rate limit is off.
func BenchmarkGetTicket(b *testing.B) {
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	hs := httptest.NewServer(sb)
	defer hs.Close()
	client, err := upstream.New(upstream.WithToken("bench-token"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	b.Run("upstream-direct", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.GetTicket(ctx, sandbox.SeedTicketLogin); err != nil {
				b.Fatal(err)
			}
		}
	})

	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	g := startGatewayWith(b, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(service.Single("default", client), discard),
		TicketTypes: service.NewTicketTypeService(service.Single("default", client), discard),
		Tags:        service.NewTagService(service.Single("default", client), discard),
	})
	tickets := gatewayv1.NewTicketServiceClient(g.conn)
	b.Run("gateway-grpc", func(b *testing.B) {
		for b.Loop() {
			if _, err := tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gateway-rest", func(b *testing.B) {
		url := g.httpURL + "/v1/tickets/" + sandbox.SeedTicketLogin
		for b.Loop() {
			resp, err := http.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
	})
}
