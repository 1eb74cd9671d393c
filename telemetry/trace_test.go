package telemetry_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

const (
	callerTraceID = "0af7651916cd43dd8448eb211c80319c"
	callerSpanID  = "b7ad6b7169203331"
	callerParent  = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

// One REST call with a caller's traceparent, whose first Intercom attempt
// fails with 503 and is retried: one trace from the caller's span to each
// Intercom attempt, every span under the right parent, and the sandbox got
// the traceparent of each attempt's own span.
func TestOneRESTCallIsOneTraceToEachIntercomAttempt(t *testing.T) {
	s := startStack(t, stackConfig{})
	s.sb.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Remaining: 1})

	code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, http.Header{
		"Traceparent": {callerParent},
		"Baggage":     {"tenant=blue"},
	})
	if code != http.StatusOK {
		t.Fatalf("GET /v1/tickets/%s: HTTP %d %s", sandbox.SeedTicketLogin, code, body)
	}
	s.stop()

	tr := traceOf(t, s.spans, callerTraceID)
	httpSpan := tr.one(t, "GET /v1/tickets/{ticket_id}", trace.SpanKindServer)
	if got := httpSpan.Parent.SpanID().String(); got != callerSpanID || !httpSpan.Parent.IsRemote() {
		t.Errorf("HTTP server span's parent = %s (remote %v), want the caller's %s", got, httpSpan.Parent.IsRemote(), callerSpanID)
	}
	if v := attr(httpSpan, "http.route"); v != "/v1/tickets/{ticket_id}" {
		t.Errorf("HTTP server span http.route = %q, want the route pattern", v)
	}
	const method = "intercom.gateway.v1.TicketService/GetTicket"
	// The in-memory REST→gRPC hop carries the context but makes no client
	// span of its own: the gRPC server span is the HTTP span's child.
	grpcServer := tr.one(t, method, trace.SpanKindServer)
	tr.childOf(t, grpcServer, httpSpan)
	if n := len(tr.named(method, trace.SpanKindClient)); n != 0 {
		t.Errorf("%d client spans for the in-memory hop, want none", n)
	}

	attempts := tr.named("GET getTicket", trace.SpanKindClient)
	if len(attempts) != 2 {
		t.Fatalf("%d Intercom attempt spans, want 2 (503, then 200):\n%s", len(attempts), tr)
	}
	recorded := s.sb.Requests()
	if len(recorded) != 2 {
		t.Fatalf("the sandbox recorded %d requests, want 2", len(recorded))
	}
	wantStatus := []int64{503, 200}
	for i, a := range attempts {
		tr.childOf(t, a, grpcServer)
		if got := attrInt(a, "http.request.resend_count"); got != int64(i) {
			t.Errorf("attempt %d: http.request.resend_count = %d, want %d", i+1, got, i)
		}
		if got := attrInt(a, "http.response.status_code"); got != wantStatus[i] {
			t.Errorf("attempt %d: http.response.status_code = %d, want %d", i+1, got, wantStatus[i])
		}
		if attr(a, "intercom.request_id") == "" || attr(a, "operation") != "getTicket" || attr(a, "workspace") != "acme" {
			t.Errorf("attempt %d: intercom.request_id %q operation %q workspace %q, want a request id, getTicket, acme",
				i+1, attr(a, "intercom.request_id"), attr(a, "operation"), attr(a, "workspace"))
		}
		want := "00-" + callerTraceID + "-" + a.SpanContext.SpanID().String() + "-01"
		if got := recorded[i].Header.Get("Traceparent"); got != want {
			t.Errorf("Intercom request %d: traceparent %q, want the attempt span's %q", i+1, got, want)
		}
		if got := recorded[i].Header.Get("Baggage"); !strings.Contains(got, "tenant=blue") {
			t.Errorf("Intercom request %d: baggage %q, want the caller's tenant=blue", i+1, got)
		}
	}
	// The limiter was asked before each attempt, inside the call's span.
	waits := tr.named(telemetry.SpanRateLimitWait, trace.SpanKindInternal)
	if len(waits) != 2 {
		t.Errorf("%d %s spans, want 2 (one per attempt):\n%s", len(waits), telemetry.SpanRateLimitWait, tr)
	}
	for i, w := range waits {
		tr.childOf(t, w, grpcServer)
		if attr(w, "outcome") != "granted" || attr(w, "degraded") != "false" || attr(w, "workspace") != "acme" {
			t.Errorf("limiter span %d: outcome %q degraded %q workspace %q, want granted, false, acme",
				i+1, attr(w, "outcome"), attr(w, "degraded"), attr(w, "workspace"))
		}
		if i < len(attempts) && w.EndTime.After(attempts[i].StartTime) {
			t.Errorf("limiter span %d ends after attempt %d started", i+1, i+1)
		}
	}
	if attr(attempts[0], "intercom.request_id") == attr(attempts[1], "intercom.request_id") {
		t.Error("both attempts carry the same intercom.request_id")
	}
	tr.connected(t, httpSpan)

	// The access log: one line for the call, inside the trace.
	lines := accessLines(t, s.logs)
	if len(lines) != 1 {
		t.Fatalf("%d access-log lines, want 1:\n%s", len(lines), s.logs)
	}
	l := lines[0]
	if l["trace_id"] != callerTraceID || l["span_id"] != grpcServer.SpanContext.SpanID().String() ||
		l["upstream_attempts"] != float64(2) || l["workspace"] != "acme" || l["grpc.code"] != "OK" || l["transport"] != "rest" {
		t.Errorf("access log %v: want trace_id %s, span_id of the gRPC server span, 2 upstream attempts, workspace acme, OK over rest",
			l, callerTraceID)
	}
}

// A REST call served through the schema cache: the first read misses and
// loads from Intercom (503, retried, 200), so its trace holds the REST,
// gRPC, cache, limiter and attempt spans, each under the right parent; the
// second read is a hit and sends nothing.
func TestRESTCallThroughCacheAndLimiterIsOneTrace(t *testing.T) {
	s := startStack(t, stackConfig{})
	s.sb.SetFault("listTicketTypes", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Remaining: 1})
	if code, body := s.get(t, "/v1/ticket-types", http.Header{"Traceparent": {callerParent}}); code != http.StatusOK {
		t.Fatalf("GET /v1/ticket-types: HTTP %d %s", code, body)
	}
	const second = "00-1bf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	if code, body := s.get(t, "/v1/ticket-types", http.Header{"Traceparent": {second}}); code != http.StatusOK {
		t.Fatalf("second GET /v1/ticket-types: HTTP %d %s", code, body)
	}
	s.stop()

	tr := traceOf(t, s.spans, callerTraceID)
	httpSpan := tr.one(t, "GET /v1/ticket-types", trace.SpanKindServer)
	const method = "intercom.gateway.v1.TicketTypeService/ListTicketTypes"
	grpcServer := tr.one(t, method, trace.SpanKindServer)
	tr.childOf(t, grpcServer, httpSpan)
	lookup := tr.one(t, telemetry.SpanCacheLookup, trace.SpanKindInternal)
	tr.childOf(t, lookup, grpcServer)
	if attr(lookup, "outcome") != "miss" || attr(lookup, "workspace") != "acme" {
		t.Errorf("cache span outcome %q workspace %q, want miss, acme", attr(lookup, "outcome"), attr(lookup, "workspace"))
	}
	waits := tr.named(telemetry.SpanRateLimitWait, trace.SpanKindInternal)
	attempts := tr.named("GET listTicketTypes", trace.SpanKindClient)
	if len(waits) != 2 || len(attempts) != 2 {
		t.Fatalf("%d limiter and %d attempt spans, want 2 and 2:\n%s", len(waits), len(attempts), tr)
	}
	recorded := s.sb.Requests()
	if len(recorded) != 2 {
		t.Fatalf("the sandbox recorded %d requests, want 2 (the second read is a cache hit)", len(recorded))
	}
	for i := range attempts {
		tr.childOf(t, waits[i], lookup)
		tr.childOf(t, attempts[i], lookup)
		if got := attrInt(attempts[i], "http.request.resend_count"); got != int64(i) {
			t.Errorf("attempt %d: resend_count %d, want %d", i+1, got, i)
		}
		want := "00-" + callerTraceID + "-" + attempts[i].SpanContext.SpanID().String() + "-01"
		if got := recorded[i].Header.Get("Traceparent"); got != want {
			t.Errorf("Intercom request %d: traceparent %q, want %q", i+1, got, want)
		}
	}
	tr.connected(t, httpSpan)

	hit := traceOf(t, s.spans, "1bf7651916cd43dd8448eb211c80319c")
	if l := hit.one(t, telemetry.SpanCacheLookup, trace.SpanKindInternal); attr(l, "outcome") != "hit" {
		t.Errorf("second read: cache outcome %q, want hit", attr(l, "outcome"))
	}
	if n := len(hit.named("GET listTicketTypes", trace.SpanKindClient)); n != 0 {
		t.Errorf("second read: %d Intercom attempts, want 0", n)
	}
}

// A gRPC caller's traceparent (metadata) reaches Intercom the same way.
func TestGRPCCallerTraceReachesIntercom(t *testing.T) {
	s := startStack(t, stackConfig{})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", callerParent)
	if _, err := gatewayv1.NewTicketTypeServiceClient(s.conn).ListTicketTypes(ctx, &gatewayv1.ListTicketTypesRequest{}); err != nil {
		t.Fatal(err)
	}
	s.stop()

	tr := traceOf(t, s.spans, callerTraceID)
	srv := tr.one(t, "intercom.gateway.v1.TicketTypeService/ListTicketTypes", trace.SpanKindServer)
	if srv.Parent.SpanID().String() != callerSpanID {
		t.Errorf("gRPC server span's parent = %s, want the caller's %s", srv.Parent.SpanID(), callerSpanID)
	}
	lookup := tr.one(t, telemetry.SpanCacheLookup, trace.SpanKindInternal)
	tr.childOf(t, lookup, srv)
	a := tr.one(t, "GET listTicketTypes", trace.SpanKindClient)
	tr.childOf(t, a, lookup)
	want := "00-" + callerTraceID + "-" + a.SpanContext.SpanID().String() + "-01"
	if got := s.sb.Requests()[0].Header.Get("Traceparent"); got != want {
		t.Errorf("Intercom request traceparent %q, want %q", got, want)
	}
}

// Health probes and scrapes would drown the calls: they make no spans.
func TestProbesAreNotTraced(t *testing.T) {
	s := startStack(t, stackConfig{})
	for _, p := range []string{"/healthz", "/metrics"} {
		if code, _ := s.get(t, p, nil); code != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", p, code)
		}
	}
	s.stop()
	if spans := s.spans.GetSpans(); len(spans) != 0 {
		t.Errorf("probes made %d spans: %v", len(spans), spanNames(spans))
	}
}

// A path the REST mux does not know gets a span named by method alone,
// never by the raw path.
func TestUnknownRESTPathSpanIsNotNamedByPath(t *testing.T) {
	s := startStack(t, stackConfig{})
	if code, _ := s.get(t, "/v1/no-such-thing/12345", nil); code != http.StatusNotFound {
		t.Fatalf("HTTP %d, want 404", code)
	}
	s.stop()
	for _, sp := range s.spans.GetSpans() {
		if strings.Contains(sp.Name, "12345") || strings.Contains(attr(sp, "http.route"), "12345") {
			t.Errorf("span %q (http.route %q) holds the raw path", sp.Name, attr(sp, "http.route"))
		}
		if sp.Name != "GET" {
			t.Errorf("span name %q, want GET", sp.Name)
		}
	}
}

// spanTrace is the spans of one trace.
type spanTrace []tracetest.SpanStub

func traceOf(t *testing.T, exp *tracetest.InMemoryExporter, traceID string) spanTrace {
	t.Helper()
	var tr spanTrace
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			tr = append(tr, s)
		}
	}
	if len(tr) == 0 {
		t.Fatalf("no span in trace %s; spans: %v", traceID, spanNames(exp.GetSpans()))
	}
	return tr
}

func (tr spanTrace) named(name string, kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range tr {
		if s.Name == name && s.SpanKind == kind {
			out = append(out, s)
		}
	}
	// In start order: attempts are numbered by it.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].StartTime.Before(out[j-1].StartTime); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (tr spanTrace) one(t *testing.T, name string, kind trace.SpanKind) tracetest.SpanStub {
	t.Helper()
	got := tr.named(name, kind)
	if len(got) != 1 {
		t.Fatalf("%d %v spans named %q, want 1:\n%s", len(got), kind, name, tr)
	}
	return got[0]
}

func (tr spanTrace) childOf(t *testing.T, child, parent tracetest.SpanStub) {
	t.Helper()
	if child.Parent.SpanID() != parent.SpanContext.SpanID() {
		t.Errorf("span %q (%v): parent %s, want %q %s", child.Name, child.SpanKind, child.Parent.SpanID(), parent.Name, parent.SpanContext.SpanID())
	}
}

// connected checks that every span of the trace descends from root: no
// span lost its parent on the way.
func (tr spanTrace) connected(t *testing.T, root tracetest.SpanStub) {
	t.Helper()
	ids := map[trace.SpanID]bool{}
	for _, s := range tr {
		ids[s.SpanContext.SpanID()] = true
	}
	for _, s := range tr {
		if s.SpanContext.SpanID() != root.SpanContext.SpanID() && !ids[s.Parent.SpanID()] {
			t.Errorf("span %q has parent %s outside the trace", s.Name, s.Parent.SpanID())
		}
	}
}

func (tr spanTrace) String() string {
	var b strings.Builder
	for _, s := range tr {
		fmt.Fprintf(&b, "  %s %q span=%s parent=%s\n", s.SpanKind, s.Name, s.SpanContext.SpanID(), s.Parent.SpanID())
	}
	return b.String()
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attrValue(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func attr(s tracetest.SpanStub, key string) string {
	v, _ := attrValue(s, key)
	return v.Emit()
}

func attrInt(s tracetest.SpanStub, key string) int64 {
	v, ok := attrValue(s, key)
	if !ok {
		return -1
	}
	return v.AsInt64()
}

// With tracing off (the default), the gateway makes no spans, but a
// caller's trace still passes through: the traceparent a gRPC or REST caller
// sent reaches Intercom unchanged, the access log carries its trace id, and
// every call is in the RPC metrics, with error.type on a server error.
func TestUntracedCallsPassTheCallersTraceThrough(t *testing.T) {
	s := startStack(t, stackConfig{noRecorder: true})
	if s.tel.TracingEnabled() || s.tel.TracerProvider() != nil {
		t.Fatal("tracing is on; this test is about the gateway with tracing off")
	}
	const restTraceID = "1bf7651916cd43dd8448eb211c80319c"
	restParent := "00-" + restTraceID + "-" + callerSpanID + "-01"

	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", callerParent)
	if _, err := gatewayv1.NewTicketServiceClient(s.conn).GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
		t.Fatalf("gRPC GetTicket: %v", err)
	}
	if code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, http.Header{"Traceparent": {restParent}}); code != http.StatusOK {
		t.Fatalf("REST GetTicket: HTTP %d %s", code, body)
	}
	s.sb.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	if _, err := gatewayv1.NewTicketServiceClient(s.conn).GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); status.Code(err) != codes.Unavailable {
		t.Fatalf("GetTicket with Intercom down: %v, want UNAVAILABLE", err)
	}
	s.stop()

	reqs := s.sb.Requests()
	if len(reqs) < 3 {
		t.Fatalf("the sandbox recorded %d requests, want at least 3", len(reqs))
	}
	for i, want := range []string{callerParent, restParent} {
		if got := reqs[i].Header.Get("Traceparent"); got != want {
			t.Errorf("Intercom request %d: traceparent %q, want the caller's %q", i+1, got, want)
		}
	}
	lines := accessLines(t, s.logs)
	if len(lines) != 3 {
		t.Fatalf("%d access-log lines, want 3:\n%s", len(lines), s.logs)
	}
	for i, want := range []string{callerTraceID, restTraceID} {
		if lines[i]["trace_id"] != want {
			t.Errorf("access-log line %d: trace_id %v, want the caller's %s", i+1, lines[i]["trace_id"], want)
		}
	}
	if _, ok := lines[2]["trace_id"]; ok {
		t.Errorf("a call without a traceparent logged trace_id %v", lines[2]["trace_id"])
	}

	m := parseMetrics(t, s.scrape(t))
	const getTicket = "intercom.gateway.v1.TicketService/GetTicket"
	ok := map[string]string{"rpc_method": getTicket, "rpc_response_status_code": "OK", "rpc_system_name": "grpc"}
	if got := m.value(t, "rpc_server_call_duration_seconds_count", ok); got != 2 {
		t.Errorf("GetTicket OK calls = %v, want 2 (gRPC and REST)", got)
	}
	unavailable := map[string]string{"rpc_method": getTicket, "rpc_response_status_code": "UNAVAILABLE", "error_type": "UNAVAILABLE"}
	if got := m.value(t, "rpc_server_call_duration_seconds_count", unavailable); got != 1 {
		t.Errorf("GetTicket UNAVAILABLE calls = %v, want 1", got)
	}
	for _, sr := range m {
		if sr.name == "rpc_server_call_duration_seconds_count" && sr.labels["rpc_response_status_code"] == "OK" {
			if _, has := sr.labels["error_type"]; has {
				t.Errorf("an OK series has error_type: %v", sr.labels)
			}
		}
	}
}
