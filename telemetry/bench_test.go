package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// BenchmarkTracingCost is the in-process companion of make bench's
// gateway-*-otel rows, for profiling (-cpuprofile) and for allocations per
// call, which unlike time do not depend on what else the machine runs: the
// whole stack (REST and gRPC listeners, services, schema cache, limiter,
// upstream client, sandbox) with tracing off, as by default, and on, every
// span exported over OTLP/HTTP to a local sink through the batch
// processor, as with OTEL_TRACES_EXPORTER=otlp. The load generator shares
// the process, so ns/op is not the gateway's cost alone; compare the
// off/on pairs.
func BenchmarkTracingCost(b *testing.B) {
	sink, received := startDiscardingSink(b)
	for _, mode := range []struct {
		name string
		env  map[string]string
	}{
		{"off", nil},
		{"otlp", map[string]string{
			"OTEL_TRACES_EXPORTER":               "otlp",
			"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink + "/v1/traces",
		}},
	} {
		s := startStack(b, stackConfig{env: mode.env, noRecorder: true, quietLogs: true, budget: 1 << 30,
			sandbox: []sandbox.Option{sandbox.WithRateLimit(0, 0)}})
		if got := s.tel.TracingEnabled(); got != (mode.env != nil) {
			b.Fatalf("%s: tracing enabled = %v", mode.name, got)
		}
		tickets := gatewayv1.NewTicketServiceClient(s.conn)
		ctx := context.Background()
		ran := false
		b.Run("grpc-"+mode.name, func(b *testing.B) {
			ran = true
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("rest-"+mode.name, func(b *testing.B) {
			ran = true
			b.ReportAllocs()
			url := s.httpURL + "/v1/tickets/" + sandbox.SeedTicketLogin
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
		s.stop()
		_ = s.tel.Shutdown(ctx) // flushes the last batch
		if ran && mode.env != nil && received.Load() == 0 {
			b.Error("the sink received no export: tracing was not on")
		}
	}
}

// BenchmarkOTLPExport is what the OTLP/HTTP exporter itself costs per span
// once the batch processor hands it a batch: the spans of a real gRPC
// GetTicket through the whole stack (the server span and the Intercom
// attempt span, with every attribute the gateway sets), repeated to a batch
// of 1,024 as the gateway sends them, encoded and posted to a loopback
// sink that discards them. It isolates the share of make bench's tracing
// cost that sampling fewer calls reduces and nothing in the gateway can:
// the exporter's conversion to OTLP messages and their protobuf encoding.
func BenchmarkOTLPExport(b *testing.B) {
	s := startStack(b, stackConfig{quietLogs: true})
	if _, err := gatewayv1.NewTicketServiceClient(s.conn).GetTicket(context.Background(),
		&gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
		b.Fatal(err)
	}
	s.stop()
	call := s.spans.GetSpans().Snapshots()
	if len(call) < 2 {
		b.Fatalf("a GetTicket made %d spans, want the server span and an attempt span", len(call))
	}
	batch := make([]sdktrace.ReadOnlySpan, 0, 1024)
	for len(batch) < cap(batch) {
		batch = append(batch, call[len(batch)%len(call)])
	}

	sink, received := startDiscardingSink(b)
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(sink+"/v1/traces"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = exp.Shutdown(context.Background()) }()

	b.ReportAllocs()
	for b.Loop() {
		if err := exp.ExportSpans(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	if received.Load() == 0 {
		b.Fatal("the sink received nothing")
	}
	spans := float64(b.N * len(batch))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
	b.ReportMetric(float64(received.Load())/spans, "bytes/span")
}

// startDiscardingSink is a collector that takes every OTLP/HTTP export,
// as a healthy one would, and keeps only the number of bytes received. It
// returns its base URL.
func startDiscardingSink(b *testing.B) (string, *atomic.Int64) {
	var received atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(sink.Close)
	return sink.URL, &received
}
