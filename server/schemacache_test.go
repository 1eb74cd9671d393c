package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// startCachedOnSandbox is startOnSandbox with the workspace's schema cache.
func startCachedOnSandbox(t *testing.T, sb *sandbox.Server, opts ...schemacache.Option) *gateway {
	t.Helper()
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := schemacache.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	backends := service.Single("default", cache)
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	return startGatewayWith(t, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(backends, discard),
		TicketTypes: service.NewTicketTypeService(backends, discard),
		Tags:        service.NewTagService(backends, discard),
	})
}

func TestCacheStatusHeaderAndNoCache(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	// MinReload 0: every no-cache read goes to Intercom, so each is a miss.
	g := startCachedOnSandbox(t, sb, schemacache.WithMinReload(0))
	types := gatewayv1.NewTicketTypeServiceClient(g.conn)
	gets := func() int {
		n := 0
		for _, r := range sb.Requests() {
			if r.Route == "getTicketType" {
				n++
			}
		}
		return n
	}

	steps := []struct {
		name     string
		noCache  bool
		rest     bool
		want     string
		wantGets int
	}{
		{"gRPC cold", false, false, "miss", 1},
		{"gRPC warm", false, false, "hit", 1},
		{"REST warm", false, true, "hit", 1},
		{"gRPC no-cache", true, false, "miss", 2},
		{"REST no-cache", true, true, "miss", 3},
		{"REST warm again", false, true, "hit", 3},
	}
	for _, s := range steps {
		var got string
		if s.rest {
			h := http.Header{}
			if s.noCache {
				h.Set("Cache-Control", "no-cache")
			}
			resp, body := g.do(t, http.MethodGet, "/v1/ticket-types/"+sandbox.SeedTicketTypeBug, "", h)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", s.name, resp.StatusCode, body)
			}
			got = resp.Header.Get("X-Gateway-Cache")
			for k := range resp.Header {
				if strings.HasPrefix(k, "Grpc-Metadata-") {
					t.Errorf("%s: REST answer carries internal header %s", s.name, k)
				}
			}
		} else {
			ctx := t.Context()
			if s.noCache {
				ctx = metadata.AppendToOutgoingContext(ctx, "cache-control", "no-cache")
			}
			var header metadata.MD
			if _, err := types.GetTicketType(ctx, &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}, grpc.Header(&header)); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if v := header.Get(service.CacheHeader); len(v) == 1 {
				got = v[0]
			}
		}
		if got != s.want {
			t.Errorf("%s: cache header %q, want %q", s.name, got, s.want)
		}
		if n := gets(); n != s.wantGets {
			t.Errorf("%s: Intercom served %d GET /ticket_types/{id}, want %d", s.name, n, s.wantGets)
		}
	}

	// A call that reads no schema says nothing about the cache.
	resp, _ := g.do(t, http.MethodGet, "/v1/tags", "", nil)
	if v, ok := resp.Header["X-Gateway-Cache"]; ok {
		t.Errorf("GET /v1/tags carries X-Gateway-Cache %v", v)
	}
}
