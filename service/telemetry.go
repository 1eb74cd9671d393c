package service

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// observed records every call's caller and workspace in the call's
// telemetry.CallStats as soon as they are known, for the access-log line
// that the server writes when the call ends.
type observed struct{ Backends }

func observe(b Backends) Backends {
	if _, ok := b.(observed); ok || b == nil {
		return b
	}
	return observed{b}
}

func (o observed) Backend(ctx context.Context) (Backend, error) {
	b, err := o.Backends.Backend(ctx)
	if err == nil {
		if s := telemetry.CallStatsFrom(ctx); s != nil {
			s.SetIdentity(b.Caller, b.Workspace)
		}
	}
	return b, err
}

// instrumentationName names this package's tracer and meter.
const instrumentationName = "github.com/intercom-gateway/intercom-gateway/service"

// inDoubtTelemetry records the in-doubt creates (see indoubt.go) under the
// names the telemetry package documents: a gateway.create.reconcile span per
// reconciliation and the gateway.create.in_doubt counter, by workspace and
// outcome: lost (a create's answer was lost, so it went in doubt), found
// (the reconciliation found the ticket), absent (it proved none was made)
// or unresolved (it could not tell yet; the caller is told to retry).
type inDoubtTelemetry struct {
	tracer trace.Tracer
	count  metric.Int64Counter
}

func newInDoubtTelemetry() inDoubtTelemetry {
	t := inDoubtTelemetry{tracer: otel.Tracer(instrumentationName)}
	t.count, _ = otel.Meter(instrumentationName).Int64Counter(telemetry.MetricCreateInDoubt, metric.WithUnit("{create}"),
		metric.WithDescription("Creates whose answer was lost (outcome lost) and their reconciliations (found, absent, unresolved)."))
	return t
}

func (t inDoubtTelemetry) lost(ctx context.Context, workspace string) {
	t.count.Add(ctx, 1, metric.WithAttributes(telemetry.KeyWorkspace.String(workspace), telemetry.KeyOutcome.String("lost")))
}

func (t inDoubtTelemetry) startReconcile(ctx context.Context, workspace string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, telemetry.SpanCreateReconcile, trace.WithAttributes(telemetry.KeyWorkspace.String(workspace)))
}

// endReconcile ends the span of a reconciliation that returned rec, err and
// done (see TicketService.reconcile).
func (t inDoubtTelemetry) endReconcile(ctx context.Context, span trace.Span, workspace string, err error, done bool) {
	outcome := "unresolved"
	switch {
	case !done:
		outcome = "absent"
	case err == nil:
		outcome = "found"
	}
	span.SetAttributes(telemetry.KeyOutcome.String(outcome))
	span.End()
	t.count.Add(ctx, 1, metric.WithAttributes(telemetry.KeyWorkspace.String(workspace), telemetry.KeyOutcome.String(outcome)))
}
