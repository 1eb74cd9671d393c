package main

import (
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// The schema_cache settings reach every workspace's cache: with the
// defaults (a 5-minute TTL) a second read is a hit and Intercom sees one
// GET; with GATEWAY_SCHEMA_TTL=1ms the second read, made after the TTL has
// passed, reloads.
func TestSchemaCacheSettingsReachTheCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		minGets int // the 1 ms case may also count a background refresh
		maxGets int
		want    []string // x-gateway-cache of the two reads
	}{
		{"defaults", nil, 1, 1, []string{"miss", "hit"}},
		{"1ms TTL", map[string]string{"GATEWAY_SCHEMA_TTL": "1ms", "GATEWAY_SCHEMA_REFRESH": "1ms"}, 2, 3, []string{"miss", "miss"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := sandbox.New(sandbox.WithTokens("schema-token"), sandbox.WithRateLimit(0, 0))
			srv := httptest.NewServer(sb)
			t.Cleanup(srv.Close)
			kv := map[string]string{"INTERCOM_TOKEN": "schema-token", "INTERCOM_BASE_URL": srv.URL, "GATEWAY_INSECURE_NO_AUTH": "true"}
			for k, v := range tc.env {
				kv[k] = v
			}
			grpcAddr, _, _ := startGateway(t, kv)
			conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			types := gatewayv1.NewTicketTypeServiceClient(conn)
			var got []string
			for i := range 2 {
				if i == 1 {
					// Past a 1 ms TTL whatever the machine's speed; far
					// inside the default 5 minutes.
					time.Sleep(5 * time.Millisecond)
				}
				var header metadata.MD
				if _, err := types.GetTicketType(t.Context(), &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}, grpc.Header(&header)); err != nil {
					t.Fatal(err)
				}
				got = append(got, header.Get(service.CacheHeader)...)
			}
			gets := 0
			for _, r := range sb.Requests() {
				if r.Route == "getTicketType" {
					gets++
				}
			}
			if gets < tc.minGets || gets > tc.maxGets || !slices.Equal(got, tc.want) {
				t.Errorf("two reads: Intercom saw %d GET /ticket_types/{id}, x-gateway-cache %v; want %d to %d and %v", gets, got, tc.minGets, tc.maxGets, tc.want)
			}
		})
	}
}
