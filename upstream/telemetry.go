package upstream

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// instrumentationName names this package's tracer and meter.
const instrumentationName = "github.com/intercom-gateway/intercom-gateway/upstream"

type attemptKey struct{}

// AttemptFromContext returns the 1-based number of the HTTP attempt an
// outgoing request is, for transports below the retry policy (WithTransport).
func AttemptFromContext(ctx context.Context) (int, bool) {
	n, ok := ctx.Value(attemptKey{}).(int)
	return n, ok
}

func withAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// newAttemptTransport instruments each attempt the retry policy sends, which
// is why it sits below it: the gateway.upstream.* metrics (see package
// telemetry) always and, when tp is not nil, one client span per attempt
// (otelhttp, which also injects traceparent and baggage into the request),
// with the retry number and Intercom's request_id.
//
// With tp nil (tracing off, the default) otelhttp is not there at all: even
// with no-op providers it clones every request and builds the span's and
// its metrics' attributes, 1–10 % of a proxied call's CPU in make bench-ab
// runs, for nothing sent anywhere. The caller's trace context and baggage,
// if the call brought any, are then injected by propagateTransport.
//
// otelhttp's own client metrics are off: gateway.upstream.requests and
// .duration say the same by Intercom operation and workspace, which the
// otelhttp ones cannot.
func newAttemptTransport(base http.RoundTripper, workspace string, tp trace.TracerProvider) http.RoundTripper {
	meter := otel.Meter(instrumentationName)
	t := &attemptTransport{base: base, workspace: telemetry.KeyWorkspace.String(workspace), traced: tp != nil}
	t.wsOnly = metric.WithAttributes(t.workspace)
	t.requests, _ = meter.Int64Counter(telemetry.MetricUpstreamRequests, metric.WithUnit("{request}"),
		metric.WithDescription("HTTP attempts sent to Intercom, by answer status (\"error\" when none came)."))
	t.duration, _ = meter.Float64Histogram(telemetry.MetricUpstreamDuration, metric.WithUnit("s"),
		metric.WithDescription("Time from sending an attempt to Intercom's response headers."),
		metric.WithExplicitBucketBoundaries(telemetry.DurationBuckets...))
	t.remaining, _ = meter.Int64Gauge(telemetry.MetricUpstreamRemaining, metric.WithUnit("{request}"),
		metric.WithDescription("X-RateLimit-Remaining of Intercom's latest answer."))
	t.limit, _ = meter.Int64Gauge(telemetry.MetricUpstreamLimit, metric.WithUnit("{request}"),
		metric.WithDescription("X-RateLimit-Limit of Intercom's latest answer."))
	untraced := propagateTransport{next: t}
	if tp == nil {
		return untraced
	}
	return sampledTransport{untraced: untraced, traced: otelhttp.NewTransport(t,
		// Given its provider, otelhttp does not look a tracer up on every request.
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(attemptSpanName))}
}

// sampledTransport sends an attempt through otelhttp unless the call's
// trace is known not to be sampled: then the attempt span would not be
// sampled either (the parent-based samplers follow the parent's decision,
// the ratio sampler decides by trace id, which the parent shares), so
// otelhttp would build a span and its attributes that go nowhere, on most
// calls when a tenth is sampled. The unsampled trace context still reaches
// Intercom. An attempt outside any trace (a background schema refresh), or
// under a span that records without being sampled, goes through otelhttp,
// whose sampler decides.
type sampledTransport struct{ traced, untraced http.RoundTripper }

func (s sampledTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	span := trace.SpanFromContext(req.Context())
	if sc := span.SpanContext(); sc.IsValid() && !sc.IsSampled() && !span.IsRecording() {
		return s.untraced.RoundTrip(req)
	}
	return s.traced.RoundTrip(req)
}

// propagateTransport passes the caller's W3C trace context and baggage on to
// Intercom when the client makes no spans: a trace that started upstream of
// the gateway still reaches the exact Intercom request. A request whose
// context carries neither is sent as it is.
type propagateTransport struct{ next http.RoundTripper }

func (p propagateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return p.next.RoundTrip(req)
	}
	// A RoundTripper must not change the request it was given.
	out := req.Clone(ctx)
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(out.Header))
	return p.next.RoundTrip(out)
}

// attemptSpanName is "{method} {operation}": the HTTP conventions'
// "{method} {target}" with the Intercom operation standing in for the URL
// template, bounded where the path (which holds ids) is not.
func attemptSpanName(_ string, r *http.Request) string {
	if op, ok := OperationFromContext(r.Context()); ok {
		return r.Method + " " + string(op)
	}
	return r.Method
}

type attemptTransport struct {
	base             http.RoundTripper
	traced           bool // otelhttp above it makes the attempt's span
	workspace        attribute.KeyValue
	wsOnly           metric.MeasurementOption
	requests         metric.Int64Counter
	duration         metric.Float64Histogram
	remaining, limit metric.Int64Gauge
	// attrs holds the attribute set of each (operation, status) seen, so
	// that an attempt does not build and sort a new one: both are bounded
	// (Intercom operation ids, HTTP statuses).
	attrs sync.Map // attrKey -> metric.MeasurementOption
}

type attrKey struct {
	op     Operation
	status int // -1: no answer
}

func (t *attemptTransport) measurement(op Operation, status int) metric.MeasurementOption {
	k := attrKey{op, status}
	if m, ok := t.attrs.Load(k); ok {
		return m.(metric.MeasurementOption)
	}
	s := "error"
	if status >= 0 {
		s = strconv.Itoa(status)
	}
	m, _ := t.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(t.workspace, telemetry.KeyOperation.String(string(op)), telemetry.KeyStatus.String(s))))
	return m.(metric.MeasurementOption)
}

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if s := telemetry.CallStatsFrom(ctx); s != nil {
		s.AddAttempt()
	}
	op, _ := OperationFromContext(ctx)
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	elapsed := time.Since(start)

	status := -1
	if err == nil {
		status = resp.StatusCode
		if rl := ParseRateLimit(resp.Header); rl.Present {
			t.remaining.Record(ctx, int64(rl.Remaining), t.wsOnly)
			t.limit.Record(ctx, int64(rl.Limit), t.wsOnly)
		}
	}
	attrs := t.measurement(op, status)
	t.requests.Add(ctx, 1, attrs)
	t.duration.Record(ctx, elapsed.Seconds(), attrs)

	// The span is otelhttp's, started just above; it ends when the body is
	// read or closed.
	// Untraced, the span in ctx is the caller's (the gRPC server span, say),
	// which must not take the attempt's attributes.
	if span := trace.SpanFromContext(ctx); t.traced && span.IsRecording() {
		n, _ := AttemptFromContext(ctx)
		// One SetAttributes call: each one may grow the span's attribute
		// slice.
		attrs := [4]attribute.KeyValue{
			telemetry.KeyOperation.String(string(op)),
			t.workspace,
			semconv.HTTPRequestResendCount(max(n-1, 0)),
		}
		k := 3
		if err == nil {
			// Every Intercom answer carries its request_id in X-Request-Id;
			// error bodies repeat it, success bodies do not.
			if id := resp.Header.Get("X-Request-Id"); id != "" {
				attrs[k] = telemetry.KeyIntercomRequestID.String(id)
				k++
			}
		}
		span.SetAttributes(attrs[:k]...)
	}
	return resp, err
}
