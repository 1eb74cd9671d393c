package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// request_id.max_records bounds what a replica keeps in memory, and the
// gateway_request_id_records gauge on /metrics says how much that is: with
// a bound of 3, two keyed creates hold 2 records and five hold 3.
//
// Not parallel: the gauge is registered on the global meter provider, which
// every in-process gateway of a parallel test replaces.
func TestRequestIDMaxRecordsBoundsTheMemory(t *testing.T) {
	sb := sandbox.New(sandbox.WithTokens("rid-token"), sandbox.WithRateLimit(0, 0))
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	grpcAddr, httpAddr, _ := startGateway(t, map[string]string{"INTERCOM_TOKEN": "rid-token", "INTERCOM_BASE_URL": srv.URL,
		"GATEWAY_INSECURE_NO_AUTH": "true", "GATEWAY_REQUEST_ID_MAX_RECORDS": "3"})
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	tickets := gatewayv1.NewTicketServiceClient(conn)
	records := func() int {
		t.Helper()
		resp, err := http.Get("http://" + httpAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`(?m)^gateway_request_id_records(?:\{[^}]*\})? (\d+)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no gateway_request_id_records on /metrics:\n%s", b)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	for i, want := range []int{1, 2, 3, 3, 3} {
		if _, err := tickets.CreateTicket(t.Context(), &gatewayv1.CreateTicketRequest{
			TicketTypeId: sandbox.SeedTicketTypeBug, RequestId: fmt.Sprintf("rid-bound-%d", i),
			Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: sandbox.SeedContactAlice}}},
			TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue(fmt.Sprintf("bound %d", i))},
		}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if got := records(); got != want {
			t.Errorf("after %d keyed creates: gateway_request_id_records %d, want %d", i+1, got, want)
		}
	}
}
