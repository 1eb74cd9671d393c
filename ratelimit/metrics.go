package ratelimit

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// scope is the instrumentation scope of this package's metrics and spans.
const scope = "github.com/intercom-gateway/intercom-gateway/ratelimit"

// metrics records through the global OpenTelemetry API with the names the
// telemetry package documents, so that whatever provider the gateway installs
// receives them. Workspace names and caller ids are configuration, never
// secrets.
type metrics struct {
	tracer      trace.Tracer
	wait        metric.Float64Histogram
	refusals    metric.Int64Counter
	degraded    metric.Int64Gauge
	roundTrips  metric.Int64Counter
	transitions metric.Int64Counter
	upstream429 metric.Int64Counter

	// Attribute sets built once per workspace (and outcome), not per
	// Acquire: building one allocates and sorts, and every upstream
	// attempt asks the limiter.
	spanOpts sync.Map // workspace -> trace.SpanStartOption
	waitOpts sync.Map // waitKey -> metric.MeasurementOption
}

type waitKey struct {
	ws, outcome string
	degraded    bool
}

func newMetrics() *metrics {
	m := otel.Meter(scope)
	mt := &metrics{tracer: otel.Tracer(scope)}
	// Instrument creation fails only on invalid names; the no-op instruments
	// returned then are still safe to use.
	mt.wait, _ = m.Float64Histogram("gateway.ratelimit.wait", metric.WithUnit("s"),
		metric.WithDescription("How long an upstream attempt waited for the limiter, by outcome (granted, refused, canceled)."))
	mt.refusals, _ = m.Int64Counter("gateway.ratelimit.refusals", metric.WithUnit("{request}"),
		metric.WithDescription("Attempts the limiter did not send, by reason (budget, paused, concurrency)."))
	// Unit "{state}", not "1": the Prometheus exporter names a unit-1
	// gauge gateway_ratelimit_degraded_ratio, and a 0/1 state is no ratio
	// (the alerts in deploy/README.md query gateway_ratelimit_degraded).
	mt.degraded, _ = m.Int64Gauge("gateway.ratelimit.degraded", metric.WithUnit("{state}"),
		metric.WithDescription("1 while the limiter runs on its local fallback budget because Redis is unreachable."))
	mt.roundTrips, _ = m.Int64Counter("gateway.ratelimit.redis.round_trips", metric.WithUnit("{roundtrip}"),
		metric.WithDescription("Redis round trips of the shared limiter, by outcome (lease, return, heartbeat, pause, error)."))
	mt.transitions, _ = m.Int64Counter("gateway.ratelimit.mode_transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Switches between shared (Redis) and degraded (local) mode, by outcome (the new mode)."))
	mt.upstream429, _ = m.Int64Counter("gateway.ratelimit.upstream_429", metric.WithUnit("{response}"),
		metric.WithDescription("429 answers from Intercom seen by the limiter, by operation."))
	return mt
}

// start opens the gateway.ratelimit.wait span of one Acquire.
func (m *metrics) start(ctx context.Context, ws string) (context.Context, trace.Span) {
	opt, ok := m.spanOpts.Load(ws)
	if !ok {
		opt, _ = m.spanOpts.LoadOrStore(ws, trace.WithAttributes(attribute.String("workspace", ws)))
	}
	return m.tracer.Start(ctx, "gateway.ratelimit.wait", opt.(trace.SpanStartOption))
}

// done records the outcome of one Acquire on its span and instruments.
func (m *metrics) done(ctx context.Context, span trace.Span, ws, outcome string, reason Reason, degraded bool, waited time.Duration) {
	if span.IsRecording() {
		span.SetAttributes(attribute.String("outcome", outcome), attribute.Bool("degraded", degraded))
	}
	span.End()
	k := waitKey{ws, outcome, degraded}
	opt, ok := m.waitOpts.Load(k)
	if !ok {
		opt, _ = m.waitOpts.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(
			attribute.String("workspace", ws), attribute.String("outcome", outcome), attribute.Bool("degraded", degraded))))
	}
	m.wait.Record(ctx, waited.Seconds(), opt.(metric.MeasurementOption))
	if outcome == "refused" {
		m.refusals.Add(ctx, 1, metric.WithAttributes(attribute.String("workspace", ws), attribute.String("outcome", string(reason))))
	}
}

func (m *metrics) upstream429Seen(ctx context.Context, ws, op string) {
	m.upstream429.Add(ctx, 1, metric.WithAttributes(attribute.String("workspace", ws), attribute.String("operation", op)))
}

func (m *metrics) roundTrip(ctx context.Context, kind string) {
	m.roundTrips.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", kind)))
}

func (m *metrics) transition(ctx context.Context, workspaces []string, to string) {
	m.transitions.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", to)))
	v := int64(0)
	if to == "degraded" {
		v = 1
	}
	for _, ws := range workspaces {
		m.degraded.Record(ctx, v, metric.WithAttributes(attribute.String("workspace", ws)))
	}
}
