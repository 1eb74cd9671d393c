package server

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// rpcMetrics records rpc.server.call.duration for every call, following the
// RPC semantic conventions of semconv v1.43.0
// (https://opentelemetry.io/docs/specs/semconv/rpc/rpc-metrics/): rpc.system.name
// grpc, rpc.method "package.Service/Method", rpc.response.status_code the
// canonical code name, error.type on the codes a server counts as its own
// errors. The instrument, its unit and buckets are the ones otelgrpc's stats
// handler uses, so dashboards built for otelgrpc read it unchanged.
//
// The gateway records it itself, in the interceptor that also writes the
// access log (which has the method, code and duration at hand), rather than
// through otelgrpc: a stats handler makes grpc report every header and
// payload event of every call, which with tracing off cost about a tenth of
// a cached call's CPU (`make bench`, gateway-grpc-type-cached) for one
// histogram point. otelgrpc's handler is installed only when tracing is on,
// for its spans, with its own metrics off.
//
// Its duration is the handler chain's (from the first interceptor to the
// last), without the message decoding and encoding that grpc does around it.
type rpcMetrics struct {
	duration rpcconv.ServerCallDuration
	// sets caches one attribute set per method and code: bounded by the
	// registered methods times 17 codes, and free of the per-call sort and
	// allocation of building a set.
	sets sync.Map // rpcKey → metric.RecordOption
}

type rpcKey struct {
	method string
	code   codes.Code
}

// rpcBuckets are otelgrpc's boundaries, in seconds.
var rpcBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func newRPCMetrics(mp metric.MeterProvider) (*rpcMetrics, error) {
	meter := mp.Meter("github.com/intercom-gateway/intercom-gateway/server", metric.WithSchemaURL(semconv.SchemaURL))
	d, err := rpcconv.NewServerCallDuration(meter, metric.WithExplicitBucketBoundaries(rpcBuckets...))
	if err != nil {
		return nil, err
	}
	return &rpcMetrics{duration: d}, nil
}

// record adds one call. fullMethod is grpc's "/package.Service/Method".
func (m *rpcMetrics) record(ctx context.Context, fullMethod string, code codes.Code, seconds float64) {
	if !observed(fullMethod) {
		return
	}
	k := rpcKey{fullMethod, code}
	opt, ok := m.sets.Load(k)
	if !ok {
		attrs := []attribute.KeyValue{
			semconv.RPCSystemNameGRPC,
			semconv.RPCMethod(strings.TrimPrefix(fullMethod, "/")),
			semconv.RPCResponseStatusCode(canonicalCode(code)),
		}
		if serverError(code) {
			attrs = append(attrs, semconv.ErrorTypeKey.String(canonicalCode(code)))
		}
		opt, _ = m.sets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
	m.duration.Inst().Record(ctx, seconds, opt.(metric.RecordOption))
}

// observed leaves health probes and reflection out of the RPC metrics, the
// traces and the default access log: probes would drown the calls.
func observed(fullMethod string) bool {
	return !strings.HasPrefix(fullMethod, "/grpc.health.") && !strings.HasPrefix(fullMethod, "/grpc.reflection.")
}

// serverError is the RPC conventions' list of codes that are the server's
// failure rather than the caller's.
func serverError(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// canonicalCode is a code's name as the gRPC spec writes it
// (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), which the
// conventions use: "CANCELLED", not grpc-go's "Canceled".
func canonicalCode(c codes.Code) string {
	if int(c) < len(canonicalCodes) {
		return canonicalCodes[c]
	}
	return "UNKNOWN"
}

var canonicalCodes = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// extractTrace puts the caller's trace context and baggage (W3C traceparent,
// tracestate and baggage metadata) into ctx when no stats handler has: with
// tracing off the gateway makes no spans, but a caller's trace still reaches
// the access log and, through the upstream transport, Intercom. It reads
// the three keys it needs rather than copying all of the call's metadata.
func extractTrace(ctx context.Context) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, incomingCarrier{ctx})
}

// incomingCarrier reads a propagator's keys from incoming gRPC metadata.
type incomingCarrier struct{ ctx context.Context }

var _ propagation.TextMapCarrier = incomingCarrier{}

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set is not used: extraction only reads.
func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}
