package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// BenchmarkAuthOverhead measures GetTicket through the gateway without and
// with caller auth in the same run, over gRPC and REST, so the cost of
// authentication shows as a ratio.
func BenchmarkAuthOverhead(b *testing.B) {
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	hs := httptest.NewServer(sb)
	defer hs.Close()
	client, err := upstream.New(upstream.WithToken("bench-token"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		b.Fatal(err)
	}
	key, _ := auth.NewKey()
	a, err := auth.New(auth.Config{Secret: authSecret, Callers: []auth.Caller{{
		ID: "bench", KeyHashes: []auth.KeyHash{auth.HashKey(authSecret, key)}, Workspaces: []string{"default"},
		Permissions: auth.Permissions{Services: map[string]auth.Access{"*": auth.AccessRead}},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	svcs := server.Services{
		Tickets:     service.NewTicketService(service.Single("default", client), discard),
		TicketTypes: service.NewTicketTypeService(service.Single("default", client), discard),
		Tags:        service.NewTagService(service.Single("default", client), discard),
	}
	open := startGatewayWith(b, server.Config{}, svcs)
	authed := startGatewayWith(b, server.Config{}, svcs, server.WithAuth(a))

	for _, g := range []struct {
		name string
		gw   *gateway
	}{{"open", open}, {"key", authed}} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
		tickets := gatewayv1.NewTicketServiceClient(g.gw.conn)
		b.Run("grpc-"+g.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("rest-"+g.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, g.gw.httpURL+"/v1/tickets/"+sandbox.SeedTicketLogin, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
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
}
