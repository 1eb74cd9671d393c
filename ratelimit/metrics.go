package ratelimit

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// scope is the instrumentation scope of this package's metrics.
const scope = "github.com/intercom-gateway/intercom-gateway/ratelimit"

// metrics records through the global OpenTelemetry meter, so that whatever
// provider the gateway installs (telemetry package) receives them. Caller ids
// and workspace names are configuration, never secrets.
type metrics struct {
	decisions   metric.Int64Counter
	upstream429 metric.Int64Counter
	roundTrips  metric.Int64Counter
	transitions metric.Int64Counter
	degraded    metric.Int64Gauge
}

func newMetrics() *metrics {
	m := otel.Meter(scope)
	mt := &metrics{}
	// Instrument creation only fails on invalid names; the no-op instruments
	// returned then are still safe to use.
	mt.decisions, _ = m.Int64Counter("ratelimit.decisions",
		metric.WithDescription("Limiter decisions per upstream attempt, by outcome (granted, waited, refused) and reason."))
	mt.upstream429, _ = m.Int64Counter("ratelimit.upstream_429",
		metric.WithDescription("429 answers from Intercom seen by the limiter."))
	mt.roundTrips, _ = m.Int64Counter("ratelimit.redis.round_trips",
		metric.WithDescription("Redis round trips made by the shared limiter, by kind (lease, return, heartbeat, pause)."))
	mt.transitions, _ = m.Int64Counter("ratelimit.mode_transitions",
		metric.WithDescription("Switches between shared (Redis) and degraded (local) mode."))
	mt.degraded, _ = m.Int64Gauge("ratelimit.degraded",
		metric.WithDescription("1 while the limiter runs on its local fallback budget because Redis is unreachable."))
	return mt
}

func (m *metrics) decision(ctx context.Context, ws, caller, outcome, reason string) {
	m.decisions.Add(ctx, 1, metric.WithAttributes(attribute.String("workspace", ws), attribute.String("caller", caller),
		attribute.String("outcome", outcome), attribute.String("reason", reason)))
}

func (m *metrics) upstream429Seen(ctx context.Context, ws, op string) {
	m.upstream429.Add(ctx, 1, metric.WithAttributes(attribute.String("workspace", ws), attribute.String("operation", op)))
}

func (m *metrics) roundTrip(ctx context.Context, kind string) {
	m.roundTrips.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", kind)))
}

func (m *metrics) transition(ctx context.Context, to string) {
	m.transitions.Add(ctx, 1, metric.WithAttributes(attribute.String("to", to)))
	v := int64(0)
	if to == "degraded" {
		v = 1
	}
	m.degraded.Record(ctx, v)
}
