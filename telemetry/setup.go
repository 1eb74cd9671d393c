package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultShutdownTimeout bounds Shutdown's flush when its context has no
// earlier deadline: long enough for a healthy collector to take the last
// batch, short enough that a dead one cannot hold up a rolling restart.
const DefaultShutdownTimeout = 5 * time.Second

// Option configures Setup.
type Option func(*options)

type options struct {
	serviceName    string
	serviceVersion string
	logger         *slog.Logger
	spanProcessors []sdktrace.SpanProcessor
	getenv         func(string) string
}

// WithServiceName sets service.name unless OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) says otherwise. Default "intercom-gateway".
func WithServiceName(name string) Option { return func(o *options) { o.serviceName = name } }

// WithServiceVersion sets service.version.
func WithServiceVersion(v string) Option { return func(o *options) { o.serviceVersion = v } }

// WithLogger receives the SDK's own errors (an exporter that cannot reach
// its collector, say) at WARN. By default they are dropped.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSpanProcessor adds a span processor next to (or, with tracing off
// in the environment, instead of) the exporter's. Tests use it with
// tracetest.NewInMemoryExporter; it always installs a tracer provider.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return func(o *options) { o.spanProcessors = append(o.spanProcessors, p) }
}

// WithGetenv replaces os.Getenv for the decisions Setup makes itself
// (whether anything is configured). The exporters autoexport builds still
// read the process environment.
func WithGetenv(f func(string) string) Option { return func(o *options) { o.getenv = f } }

// Telemetry is what Setup installed. Its zero value is not usable.
type Telemetry struct {
	tp       *sdktrace.TracerProvider // nil when tracing is off
	mp       *sdkmetric.MeterProvider
	metrics  http.Handler
	exported []string // what is sent where, for the startup log
}

// Setup installs the global propagators (W3C trace context and baggage),
// a meter provider that feeds MetricsHandler (and an OTLP or console
// exporter when OTEL_METRICS_EXPORTER or an OTLP endpoint asks for one) and,
// when the environment asks for traces, a tracer provider with a batching
// exporter. Call it once, before building servers and clients, and call
// Shutdown when the process ends.
func Setup(ctx context.Context, opts ...Option) (*Telemetry, error) {
	o := options{serviceName: "intercom-gateway", getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger != nil {
		log := o.logger
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			// Exporter errors quote endpoints and status messages, never
			// span contents or headers.
			log.Warn("telemetry export failed", "error", err.Error())
		}))
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}
	disabled := strings.EqualFold(strings.TrimSpace(o.getenv("OTEL_SDK_DISABLED")), "true")
	t := &Telemetry{}

	// Metrics: always a Prometheus reader for /metrics, on a registry of
	// our own so that nothing else in the process can add series to it.
	// Without scope labels: every series would repeat the instrumentation
	// library's name and version, and no two libraries share a name here.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if !disabled && configured(o.getenv, "OTEL_METRICS_EXPORTER", "METRICS") {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: metrics exporter from OTEL_* environment: %w", err)
		}
		if !autoexport.IsNoneMetricReader(r) {
			mopts = append(mopts, sdkmetric.WithReader(r))
			t.exported = append(t.exported, "metrics:"+exporterName(o.getenv, "OTEL_METRICS_EXPORTER"))
		}
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)

	// Traces: a provider only when something will receive the spans, so
	// that the default costs no span allocation at all.
	var topts []sdktrace.TracerProviderOption
	if !disabled && configured(o.getenv, "OTEL_TRACES_EXPORTER", "TRACES") {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			_ = t.mp.Shutdown(ctx)
			return nil, fmt.Errorf("telemetry: traces exporter from OTEL_* environment: %w", err)
		}
		if !autoexport.IsNoneSpanExporter(exp) {
			// The batcher drops spans when its queue is full rather than
			// blocking the call that ended them.
			topts = append(topts, sdktrace.WithBatcher(exp, batchOptions(o.getenv)...))
			t.exported = append(t.exported, "traces:"+exporterName(o.getenv, "OTEL_TRACES_EXPORTER"))
		}
	}
	for _, p := range o.spanProcessors {
		topts = append(topts, sdktrace.WithSpanProcessor(p))
	}
	if len(topts) > 0 {
		// The sampler comes from OTEL_TRACES_SAMPLER (default: parent-based,
		// always on), read by the SDK.
		t.tp = sdktrace.NewTracerProvider(append(topts, sdktrace.WithResource(res))...)
		otel.SetTracerProvider(t.tp)
	}
	otel.SetMeterProvider(t.mp)
	return t, nil
}

// Batch span processor sizes, unless OTEL_BSP_MAX_QUEUE_SIZE or
// OTEL_BSP_MAX_EXPORT_BATCH_SIZE is set (then the SDK's defaults and those
// variables apply). A REST call makes 4 spans
// and a gRPC call 3 (more with retries), so at 2,000 calls a second the
// SDK's default queue of 2,048 spans holds a quarter of a second: a
// collector that pauses for longer than that loses spans. 4,096 holds half
// a second (a few MiB at most), and batches of 1,024 halve the export
// requests; a collector takes that size by default (its OTLP limit is 4 MiB
// per request; a span here is well under 1 KiB).
const (
	batchQueueSize = 4096
	batchSize      = 1024
)

func batchOptions(getenv func(string) string) []sdktrace.BatchSpanProcessorOption {
	// Either variable set: the SDK reads both and keeps them consistent.
	if getenv("OTEL_BSP_MAX_QUEUE_SIZE") != "" || getenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") != "" {
		return nil
	}
	return []sdktrace.BatchSpanProcessorOption{sdktrace.WithMaxQueueSize(batchQueueSize), sdktrace.WithMaxExportBatchSize(batchSize)}
}

// configured says whether the environment asks for a signal to be exported:
// its exporter variable is set, or an OTLP endpoint is (which the OTel
// specification treats as asking for OTLP).
func configured(getenv func(string) string, exporterVar, signal string) bool {
	return getenv(exporterVar) != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

func exporterName(getenv func(string) string, exporterVar string) string {
	if v := getenv(exporterVar); v != "" {
		return v
	}
	return "otlp"
}

func newResource(ctx context.Context, o options) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", o.serviceName)}
	if o.serviceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.serviceVersion))
	}
	// Later detectors win, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
	// override the defaults above.
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// MetricsHandler serves the Prometheus text format of every metric recorded
// through the global meter provider, plus Go runtime and process metrics.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// TracerProvider is where the servers' and the Intercom clients' spans go
// (server.WithOpenTelemetry, upstream.WithTracerProvider): the SDK's
// provider when tracing is on, nil when it is off. They then make no spans
// at all (not even no-op ones); a caller's trace context still passes
// through to the logs and to Intercom.
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.tp == nil {
		return nil
	}
	return t.tp
}

// TracingEnabled reports whether a tracer provider is installed, i.e.
// whether spans are recorded at all.
func (t *Telemetry) TracingEnabled() bool { return t.tp != nil }

// Exported lists what is sent out of the process, as "signal:exporter"
// (for example "traces:otlp"); empty when nothing is.
func (t *Telemetry) Exported() []string { return append([]string(nil), t.exported...) }

// Shutdown flushes pending spans and metrics and stops the exporters. It
// returns within DefaultShutdownTimeout even when ctx has no deadline and
// the collector is gone; what could not be sent by then is dropped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultShutdownTimeout)
	defer cancel()
	var errs []error
	if t.tp != nil {
		if err := t.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("telemetry: flushing traces: %w", err))
		}
	}
	if err := t.mp.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("telemetry: flushing metrics: %w", err))
	}
	return errors.Join(errs...)
}
