package telemetry

import "go.opentelemetry.io/otel/attribute"

// Attribute keys shared by the gateway's metrics and spans (see the package
// comment for which instrument uses which).
const (
	KeyWorkspace = attribute.Key("workspace")
	KeyCaller    = attribute.Key("caller")
	KeyOperation = attribute.Key("operation")
	KeyStatus    = attribute.Key("status")
	KeyOutcome   = attribute.Key("outcome")
	KeyDegraded  = attribute.Key("degraded")
	KeyKind      = attribute.Key("kind")
	// KeyIntercomRequestID is Intercom's request_id of one answer. It is a
	// span attribute only: as a metric label it would be unbounded.
	KeyIntercomRequestID = attribute.Key("intercom.request_id")
)

// Instrument names of the gateway's own metrics.
const (
	MetricUpstreamRequests  = "gateway.upstream.requests"
	MetricUpstreamDuration  = "gateway.upstream.duration"
	MetricUpstreamRemaining = "gateway.upstream.ratelimit.remaining"
	MetricUpstreamLimit     = "gateway.upstream.ratelimit.limit"
	MetricRateLimitWait     = "gateway.ratelimit.wait"
	MetricRateLimitRefusals = "gateway.ratelimit.refusals"
	MetricRateLimitDegraded = "gateway.ratelimit.degraded"
	MetricCacheHits         = "gateway.schemacache.hits"
	MetricCacheMisses       = "gateway.schemacache.misses"
	MetricCacheRefreshes    = "gateway.schemacache.refreshes"
	MetricCacheStaleServes  = "gateway.schemacache.stale_serves"
	MetricCacheInvalidated  = "gateway.schemacache.invalidations"
	MetricCreateInDoubt     = "gateway.create.in_doubt"
	MetricConfigReloads     = "gateway.config.reloads"
	MetricRequestIDRecords  = "gateway.request_id.records"
)

// Kinds of gateway.config.reloads: what was re-read while running.
const (
	ReloadToken          = "token"           // a workspace's Intercom token file
	ReloadTLSCertificate = "tls_certificate" // a listener's certificate and key
)

// Span names of the gateway's own work.
const (
	SpanRateLimitWait   = "gateway.ratelimit.wait"
	SpanCacheLookup     = "gateway.schemacache.lookup"
	SpanCreateReconcile = "gateway.create.reconcile"
)

// DurationBuckets are histogram boundaries in seconds for the gateway's own
// duration instruments: from 1 ms (a cache-speed answer) to 30 s (beyond the
// upstream timeout of 20 s), so both a local limiter wait and a slow
// Intercom call land in a useful bucket.
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30}
