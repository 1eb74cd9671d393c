package telemetry_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// A create whose answer is lost (Intercom made the ticket, the body came
// back cut) is reconciled at once: the trace shows the create attempt, then
// the gateway.create.reconcile span with the search it sent, and the
// in-doubt counter says lost, then found.
func TestInDoubtCreateIsReconciledInItsTrace(t *testing.T) {
	// The sandbox on the real clock: the reconciliation searches by
	// created_at around the gateway's own clock.
	s := startStack(t, stackConfig{sandbox: []sandbox.Option{sandbox.WithClock(time.Now)}})
	s.sb.SetFault("createTicket", sandbox.Fault{MalformedRate: 1, Remaining: 1})
	req := &gatewayv1.CreateTicketRequest{}
	if err := protojson.Unmarshal([]byte(`{"ticket_type_id":"`+sandbox.SeedTicketTypeBug+`","request_id":"req-7f3a",
		"contacts":[{"email":"alice@example.com"}],
		"ticket_attributes":{"_default_title_":"Checkout times out","_default_description_":"Since Monday"}}`), req); err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", callerParent)
	created, err := gatewayv1.NewTicketServiceClient(s.conn).CreateTicket(ctx, req)
	if err != nil {
		t.Fatalf("CreateTicket: %v, want the reconciled ticket", err)
	}
	s.stop()

	tr := traceOf(t, s.spans, callerTraceID)
	srv := tr.one(t, "intercom.gateway.v1.TicketService/CreateTicket", trace.SpanKindServer)
	create := tr.one(t, "POST createTicket", trace.SpanKindClient)
	tr.childOf(t, create, srv)
	rec := tr.one(t, telemetry.SpanCreateReconcile, trace.SpanKindInternal)
	tr.childOf(t, rec, srv)
	if attr(rec, "outcome") != "found" || attr(rec, "workspace") != "acme" {
		t.Errorf("reconcile span outcome %q workspace %q, want found, acme", attr(rec, "outcome"), attr(rec, "workspace"))
	}
	search := tr.named("POST searchTickets", trace.SpanKindClient)
	if len(search) != 1 {
		t.Fatalf("%d search attempts, want 1 under the reconcile span:\n%s", len(search), tr)
	}
	tr.childOf(t, search[0], rec)
	if rec.StartTime.Before(create.EndTime) {
		t.Error("the reconciliation started before the create attempt ended")
	}
	tr.connected(t, srv)

	m := parseMetrics(t, s.scrape(t))
	for outcome, want := range map[string]float64{"lost": 1, "found": 1} {
		if got := m.value(t, "gateway_create_in_doubt_total", map[string]string{"workspace": "acme", "outcome": outcome}); got != want {
			t.Errorf("gateway_create_in_doubt_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if n := m.count("gateway_create_in_doubt_total"); n != 2 {
		t.Errorf("%d in-doubt series, want 2 (lost, found)", n)
	}
	if got := len(s.sb.Requests()); got < 2 {
		t.Errorf("the sandbox saw %d requests, want the create and the search", got)
	}
	if created.GetTicket().GetId() == "" {
		t.Error("the reconciled ticket has no id")
	}
}
