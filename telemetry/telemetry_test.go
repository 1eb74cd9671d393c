package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// clearOTelEnv makes a test independent of the environment it runs in.
func clearOTelEnv(t testing.TB) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(k, "")
	}
}

func TestSetupDefaultExportsNothing(t *testing.T) {
	clearOTelEnv(t)
	tel, err := telemetry.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.TracingEnabled() {
		t.Error("tracing is on with no OTEL_* variables")
	}
	if got := tel.Exported(); len(got) != 0 {
		t.Errorf("Exported() = %v, want nothing", got)
	}
	// A span started now is the no-op: not recording, no new ids.
	_, span := otel.Tracer("test").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("default span is recording=%v valid=%v, want a no-op", span.IsRecording(), span.SpanContext().IsValid())
	}
	span.End()

	// Metrics recorded through the global API reach /metrics.
	c, err := otel.Meter("test").Int64Counter(telemetry.MetricConfigReloads)
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 2, metric.WithAttributes(telemetry.KeyOutcome.String("ok")))
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `gateway_config_reloads_total{outcome="ok"} 2`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(rec.Body.String(), "gateway_"))
	}
	if !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Error("/metrics lacks the Go runtime metrics")
	}
}

func TestSetupEnvironmentSelectsExporters(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		tracing bool
		want    []string
	}{
		{"explicit none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, false, nil},
		{"endpoint alone means otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, true, []string{"metrics:otlp", "traces:otlp"}},
		{"traces only over grpc", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, []string{"traces:otlp"}},
		{"disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearOTelEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tel, err := telemetry.Setup(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Shutdown(context.Background())
			if tel.TracingEnabled() != tc.tracing {
				t.Errorf("TracingEnabled() = %v, want %v", tel.TracingEnabled(), tc.tracing)
			}
			if got := strings.Join(tel.Exported(), ","); got != strings.Join(tc.want, ",") {
				t.Errorf("Exported() = %q, want %q", got, strings.Join(tc.want, ","))
			}
		})
	}
}

func TestSetupRefusesUnknownExporter(t *testing.T) {
	clearOTelEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin-please")
	if _, err := telemetry.Setup(context.Background()); err == nil || !strings.Contains(err.Error(), "traces exporter") {
		t.Fatalf("Setup with an unknown exporter: err = %v, want a traces exporter error", err)
	}
}

// A collector that accepts connections and never answers must delay
// neither the calls that end spans nor Shutdown beyond its bound.
func TestDeadCollectorBlocksNeitherSpansNorShutdown(t *testing.T) {
	clearOTelEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, read nothing
		}
	}()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	tel, err := telemetry.Setup(context.Background(), telemetry.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	tr := otel.Tracer("test")
	for range 1000 {
		_, span := tr.Start(context.Background(), "call")
		span.End() // a blocking exporter would stall here once the queue filled
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tel.Shutdown(ctx) }()
	select {
	case <-done: // an error is expected: the flush could not complete
	case <-time.After(telemetry.DefaultShutdownTimeout + 5*time.Second):
		t.Fatal("Shutdown did not return with a dead collector")
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	clearOTelEnv(t)
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")

	ctx, span := otel.Tracer("test").Start(context.Background(), "call")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")

	lines := decodeLines(t, &buf)
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2", len(lines))
	}
	sc := span.SpanContext()
	if lines[0]["trace_id"] != sc.TraceID().String() || lines[0]["span_id"] != sc.SpanID().String() || lines[0]["component"] != "test" {
		t.Errorf("line inside the span = %v, want trace_id %s span_id %s component test", lines[0], sc.TraceID(), sc.SpanID())
	}
	if _, ok := lines[1]["trace_id"]; ok {
		t.Errorf("line outside any span has a trace_id: %v", lines[1])
	}
}

func TestCallStats(t *testing.T) {
	if telemetry.CallStatsFrom(context.Background()) != nil {
		t.Fatal("CallStatsFrom of a bare context is not nil")
	}
	ctx, s := telemetry.WithCallStats(context.Background())
	telemetry.CallStatsFrom(ctx).AddAttempt()
	telemetry.CallStatsFrom(ctx).AddAttempt()
	if s.Attempts() != 2 {
		t.Errorf("Attempts() = %d, want 2", s.Attempts())
	}
}

func decodeLines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(r)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
