// Package telemetry sets up the gateway's OpenTelemetry plumbing once per
// process: the global tracer and meter providers and the W3C propagators,
// configured from the standard OTEL_* environment through autoexport; a
// Prometheus exporter whose handler the gateway serves at /metrics; a
// log/slog handler that stamps trace_id and span_id on every line written
// inside a traced call; and a small per-call record (CallStats) that lets
// the access log count upstream attempts.
//
// It is not where spans and metrics are recorded. Packages record with the
// global API, named by their import path:
//
//	tracer := otel.Tracer("github.com/intercom-gateway/intercom-gateway/ratelimit")
//	meter  := otel.Meter("github.com/intercom-gateway/intercom-gateway/ratelimit")
//
// Until Setup runs (in tests, say) those are no-ops, and Setup installs the
// real providers behind them, so no package needs to import this one. Get
// the tracer and meter (and create instruments) when a component is built,
// not in package-level variables: the global API binds early instruments to
// the first provider ever installed, so a test that installs its own
// provider later would not see them. Nor is
// it the place for the gRPC and HTTP instrumentation itself (server wires
// otelgrpc and otelhttp) or for configuration parsing (cmd/gateway).
//
// # Defaults
//
// With no OTEL_* variables nothing is exported: no tracer provider is
// installed (spans are the global no-op, which still carries an incoming
// traceparent through to Intercom), and metrics only accumulate in memory
// for /metrics. Traces are exported when OTEL_TRACES_EXPORTER is set (otlp,
// console or none) or an OTLP endpoint is (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); metrics likewise with
// OTEL_METRICS_EXPORTER. OTEL_SDK_DISABLED=true turns exporting off.
// Spans go through a batch processor (a queue of 4,096 spans exported in
// batches of 1,024 unless OTEL_BSP_* says otherwise), so a dead collector
// never blocks a call, and Shutdown flushes within a bounded time.
//
// # Names to use
//
// Semantic conventions: the HTTP attributes follow semconv v1.43.0 (stable
// HTTP), the gRPC ones the RPC conventions of the same version (release
// candidate), both as emitted by otelhttp and otelgrpc v0.72.0. The
// gateway's own metrics and spans use the names below; the Prometheus names
// (dots become underscores, counters gain _total, a unit suffix is added)
// are in brackets. Label values must stay bounded: workspace names and
// caller ids come from configuration, so they are allowed; ticket ids,
// request ids, raw paths and anything secret are not.
//
// Attribute (label) keys, used on metrics and spans alike:
//
//	workspace  configured workspace name (KeyWorkspace)
//	caller     configured caller id (KeyCaller)
//	operation  Intercom operation id, e.g. createTicket (KeyOperation)
//	status     HTTP status code of an Intercom answer as text, or "error"
//	           when no answer came (KeyStatus)
//	outcome    what a step decided, per instrument below (KeyOutcome)
//	degraded   true while the limiter runs without its shared store (KeyDegraded)
//	kind       what was re-read: token or tls_certificate (KeyKind)
//
// Metrics (every gateway.* instrument the code creates; a test,
// TestDocListsEveryMetric, fails when one is missing here):
//
//	gateway.upstream.requests             counter   {request}      workspace, operation, status     [gateway_upstream_requests_total]
//	gateway.upstream.duration             histogram s              workspace, operation, status     [gateway_upstream_duration_seconds]
//	gateway.upstream.ratelimit.remaining  gauge     {request}      workspace                        [gateway_upstream_ratelimit_remaining]
//	gateway.upstream.ratelimit.limit      gauge     {request}      workspace                        [gateway_upstream_ratelimit_limit]
//	gateway.upstream.credentials_rejected counter   {response}     operation, http_status (401|403) [gateway_upstream_credentials_rejected_total]
//	gateway.ratelimit.wait                histogram s              workspace, outcome, degraded     [gateway_ratelimit_wait_seconds]
//	gateway.ratelimit.refusals            counter   {request}      workspace, outcome (the reason)  [gateway_ratelimit_refusals_total]
//	gateway.ratelimit.degraded            gauge     {state}        workspace (1 degraded, 0 not)    [gateway_ratelimit_degraded]
//	gateway.ratelimit.mode_transitions    counter   {transition}   outcome (shared|degraded)        [gateway_ratelimit_mode_transitions_total]
//	gateway.ratelimit.redis.round_trips   counter   {roundtrip}    outcome (the kind, or error)     [gateway_ratelimit_redis_round_trips_total]
//	gateway.ratelimit.upstream_429        counter   {response}     workspace, operation             [gateway_ratelimit_upstream_429_total]
//	gateway.schemacache.hits              counter   {lookup}       workspace                        [gateway_schemacache_hits_total]
//	gateway.schemacache.misses            counter   {lookup}       workspace                        [gateway_schemacache_misses_total]
//	gateway.schemacache.refreshes         counter   {refresh}      workspace, outcome (ok|error)    [gateway_schemacache_refreshes_total]
//	gateway.schemacache.stale_serves      counter   {lookup}       workspace                        [gateway_schemacache_stale_serves_total]
//	gateway.schemacache.invalidations     counter   {invalidation} workspace, outcome (the cause)   [gateway_schemacache_invalidations_total]
//	gateway.create.in_doubt               counter   {create}       workspace, outcome               [gateway_create_in_doubt_total]
//	gateway.config.reloads                counter   {reload}       kind, workspace, outcome         [gateway_config_reloads_total]
//	gateway.request_id.records            gauge     {record}       (none)                           [gateway_request_id_records]
//
// Outcomes: for the limiter wait granted, refused or canceled (refusals
// count refused with the reason as outcome: budget, paused, concurrency,
// deadline); for the limiter's Redis round trips lease, heartbeat, pause
// or error; for schema-cache refreshes ok or error (every load from
// Intercom, foreground and background, so error is the cache's error
// count); for cache invalidations write (through this replica),
// remote (another replica's, over the bus), resubscribed (the bus
// reconnected and everything was dropped) or publish_error; for in-doubt
// creates lost (a create's answer was lost, so it went in doubt), then per
// reconciliation found (it found the ticket), absent (it proved none was
// made) or unresolved (it could not tell yet); for config reloads ok (a
// changed file was taken into use) or error (a changed file could not be
// used and the previous value stays; counted once until the file changes
// again). Config reloads of kind token carry the token's workspace, those
// of kind tls_certificate an empty one.
//
// RPC rate, latency and codes: rpc.server.call.duration
// [rpc_server_call_duration_seconds], by rpc.method, rpc.response.status_code
// and, for the codes that are the server's errors, error.type (semconv
// v1.43.0, otelgrpc's instrument and buckets), recorded by the gateway's
// access-log interceptor for traced and untraced calls alike (otelgrpc's
// stats handler, installed only when tracing is on, records none); REST
// from otelhttp (http.server.request.duration, by http.route).
//
// Spans (internal kind, children of the call's span):
//
//	gateway.ratelimit.wait      attributes workspace, outcome, degraded; its duration is the wait
//	gateway.schemacache.lookup  attributes workspace, kind, outcome (hit|miss|stale); only in
//	                            traced calls (a hit costs no span when the call's span is not recording)
//	gateway.create.reconcile    attributes workspace, outcome (found|absent|unresolved)
//
// Each Intercom attempt is a client span "<METHOD> <operation>" made by
// otelhttp below upstream's retry loop, carrying http.request.resend_count
// (0 for the first attempt), http.response.status_code and
// intercom.request_id.
package telemetry
