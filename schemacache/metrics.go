package schemacache

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/intercom-gateway/intercom-gateway/service"
)

// Metric, span and attribute names, as listed in package telemetry's
// documentation.
const (
	metricHits          = "gateway.schemacache.hits"
	metricMisses        = "gateway.schemacache.misses"
	metricRefreshes     = "gateway.schemacache.refreshes"
	metricStaleServes   = "gateway.schemacache.stale_serves"
	metricInvalidations = "gateway.schemacache.invalidations"
	spanLookup          = "gateway.schemacache.lookup"
	keyWorkspace        = "workspace"
	keyOutcome          = "outcome"
)

// metrics are the cache's instruments, with the workspace label bound.
type metrics struct {
	hits, misses, refreshes, stale, invalidations metric.Int64Counter

	ws                  metric.MeasurementOption
	loadOK, loadError   metric.MeasurementOption
	write, remote, lost metric.MeasurementOption
	publishError        metric.MeasurementOption
}

func newMetrics(m metric.Meter, workspace string) (*metrics, error) {
	var (
		x   metrics
		err error
	)
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, unit string
		desc       string
	}{
		{&x.hits, metricHits, "{lookup}", "Schema reads answered from the cache within its TTL."},
		{&x.misses, metricMisses, "{lookup}", "Schema reads that waited for Intercom (cold, expired, no-cache, or failed)."},
		{&x.refreshes, metricRefreshes, "{refresh}", "Schema loads from Intercom, foreground and background, by outcome (ok|error)."},
		{&x.stale, metricStaleServes, "{lookup}", "Schema reads answered with an entry past its TTL because Intercom failed."},
		{&x.invalidations, metricInvalidations, "{invalidation}", "Cache updates by cause: write (through this replica), remote (another replica's, via the bus), resubscribed (bus reconnected; everything dropped), publish_error."},
	} {
		if *c.dst, err = m.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc)); err != nil {
			return nil, err
		}
	}
	ws := attribute.String(keyWorkspace, workspace)
	with := func(outcome string) metric.MeasurementOption {
		return metric.WithAttributes(ws, attribute.String(keyOutcome, outcome))
	}
	x.ws = metric.WithAttributes(ws)
	x.loadOK, x.loadError = with("ok"), with("error")
	x.write, x.remote, x.lost, x.publishError = with("write"), with("remote"), with("resubscribed"), with("publish_error")
	return &x, nil
}

func (m *metrics) lookup(ctx context.Context, s service.CacheStatus) {
	switch s {
	case service.CacheHit:
		m.hits.Add(ctx, 1, m.ws)
	case service.CacheStale:
		// A stale serve is also a lookup that Intercom could not answer.
		m.stale.Add(ctx, 1, m.ws)
	default:
		m.misses.Add(ctx, 1, m.ws)
	}
}

func (m *metrics) loaded(ctx context.Context, err error) {
	if err != nil {
		m.refreshes.Add(ctx, 1, m.loadError)
		return
	}
	m.refreshes.Add(ctx, 1, m.loadOK)
}

func (m *metrics) invalidated(ctx context.Context, cause string) {
	switch cause {
	case "write":
		m.invalidations.Add(ctx, 1, m.write)
	case "remote":
		m.invalidations.Add(ctx, 1, m.remote)
	case "resubscribed":
		m.invalidations.Add(ctx, 1, m.lost)
	case "publish_error":
		m.invalidations.Add(ctx, 1, m.publishError)
	}
}
