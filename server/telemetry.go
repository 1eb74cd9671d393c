package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	httpfilters "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp/filters"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// WithOpenTelemetry measures every call with the global meter provider and,
// when tp is not nil (telemetry.Telemetry's TracerProvider: nil when tracing
// is off), traces it with tp, through the seams above:
//
//   - the RPC metrics (rpc.server.call.duration, see rpcMetrics) from the
//     access-log interceptor, traced or not;
//   - when tracing, an otelgrpc stats handler on the gRPC server: a span
//     per call, named by its full method. Untraced, there is no stats
//     handler at all (see rpcMetrics for its cost), and the interceptor
//     takes the caller's traceparent and baggage itself;
//   - an otelgrpc stats handler on the REST mux's in-memory connection,
//     which carries the REST span's traceparent and baggage to the gRPC
//     server (grpc-gateway itself forwards no trace headers) without a span
//     or metrics of its own for the in-process hop;
//   - otelhttp around the HTTP listener, with spans named by route pattern
//     ("GET /v1/tickets/{ticket_id}"), never by the raw path, whose ids would
//     make span names and the http.route label unbounded.
//
// Health checks, reflection, /healthz and /metrics are not traced: probes
// would drown the calls. Register it before other HTTP middleware so that
// its span covers them.
func WithOpenTelemetry(tp trace.TracerProvider) Option {
	traced := func(info *stats.RPCTagInfo) bool { return observed(info.FullMethodName) }
	return func(o *options) {
		o.rpcMetrics = true
		if tp != nil {
			// Its metrics are off: rpcMetrics records the same instrument
			// for traced and untraced calls alike.
			WithGRPCServerOption(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(traced),
				otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()))))(o)
		} else {
			tp = tracenoop.NewTracerProvider()
		}
		// The in-memory hop only carries the context across: a client span
		// there would repeat the gRPC server span (same process, same
		// duration) and its rpc.client.* metrics would repeat
		// rpc.server.*, at a cost on every REST call. With no-op providers
		// the handler makes neither; it still injects the HTTP server
		// span's traceparent and the caller's baggage, so the gRPC server
		// span is that span's child.
		WithInMemoryDialOption(grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithFilter(traced),
			otelgrpc.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()))))(o)
		WithHTTPMiddleware(otelhttp.NewMiddleware("",
			otelhttp.WithFilter(httpfilters.None(httpfilters.Path("/healthz"), httpfilters.Path("/metrics"))),
			otelhttp.WithSpanNameFormatter(spanName),
			// Without a provider otelhttp looks its tracer up on every
			// request (a lock and a map lookup in the provider).
			otelhttp.WithTracerProvider(tp),
		), routeAttribute)(o)
	}
}

// routeAttribute runs just inside otelhttp. It gives the routing layers
// below a place to report the matched route (a routeHolder in the context:
// those layers see copies of the request, so r.Pattern set there would not
// reach otelhttp) and, once the handler has run, copies that route into
// r.Pattern, which otelhttp reads to rename its span and label its metrics,
// and into the span's http.route attribute.
func routeAttribute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rh := &routeHolder{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rh)))
		r.Pattern = rh.pattern
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if route := routeOf(rh.pattern); route != "" {
				span.SetAttributes(semconv.HTTPRoute(route))
			}
		}
	})
}

// routeOf is the path part of a ServeMux pattern ("GET /healthz" → "/healthz").
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// spanName is "{method} {route}" once the route is known and "{method}"
// before (the HTTP semantic conventions' rule). otelhttp calls it again
// after the handler, when r.Pattern holds the matched route.
func spanName(_ string, r *http.Request) string {
	if route := routeOf(r.Pattern); route != "" {
		return r.Method + " " + route
	}
	return r.Method
}

// routeHolder carries the matched route of an HTTP request out of the
// routing layers, which work on their own copies of the request.
type routeHolder struct{ pattern string }

type routeKey struct{}

// reportRoute wraps a handler registered on the listener's http.ServeMux
// under a route pattern: it reports the pattern the mux matched.
func reportRoute(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rh, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
			rh.pattern = r.Pattern
		}
		h.ServeHTTP(w, r)
	})
}

// reportRESTRoute is grpc-gateway runtime middleware: it runs once the mux
// has matched a route, before the generated handler, and reports the route
// as "POST /v1/tickets/{ticket_id}:reply" rather than the catch-all "/"
// under which the mux is mounted. A path the mux does not know reports no
// route at all.
func reportRESTRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if rh, ok := r.Context().Value(routeKey{}).(*routeHolder); ok {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				rh.pattern = r.Method + " " + routeTemplate(p.String())
			}
		}
		next(w, r, params)
	}
}

// routeTemplate turns grpc-gateway's pattern syntax ("/v1/tickets/{ticket_id=*}")
// into the template of the proto's http rule ("/v1/tickets/{ticket_id}").
func routeTemplate(p string) string {
	return strings.ReplaceAll(p, "=*}", "}")
}
