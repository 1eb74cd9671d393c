package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	grpcfilters "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	httpfilters "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp/filters"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// WithOpenTelemetry traces and measures every call with the global tracer
// and meter providers (see package telemetry), through the seams above:
//
//   - an otelgrpc stats handler on the gRPC server (a span per call, named
//     by its full method, and the rpc.server.* metrics);
//   - an otelgrpc stats handler on the REST mux's in-memory connection, so a
//     REST call's gRPC client span carries its traceparent to the server
//     span (grpc-gateway itself forwards no trace headers);
//   - otelhttp around the HTTP listener, with spans named by route pattern
//     ("GET /v1/tickets/{ticket_id}"), never by the raw path, whose ids would
//     make span names and the http.route label unbounded.
//
// Health checks, reflection, /healthz and /metrics are not traced: probes
// would drown the calls. Register it before other HTTP middleware so that
// its span covers them.
func WithOpenTelemetry() Option {
	untraced := grpcfilters.Not(grpcfilters.Any(grpcfilters.ServicePrefix("grpc.health."), grpcfilters.ServicePrefix("grpc.reflection.")))
	return func(o *options) {
		WithGRPCServerOption(grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(untraced))))(o)
		WithInMemoryDialOption(grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithFilter(untraced))))(o)
		WithHTTPMiddleware(otelhttp.NewMiddleware("",
			otelhttp.WithFilter(httpfilters.None(httpfilters.Path("/healthz"), httpfilters.Path("/metrics"))),
			otelhttp.WithSpanNameFormatter(spanName),
		), routeAttribute)(o)
	}
}

// routeAttribute sets http.route on otelhttp's span once the handler has
// run and r.Pattern holds the matched route (otelhttp itself only renames
// the span and labels its metrics with it).
func routeAttribute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if route := routeOf(r.Pattern); route != "" {
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

// restRoute carries the grpc-gateway route of a REST call out of the
// runtime mux, which works on its own copy of the request.
type restRoute struct{ pattern string }

type restRouteKey struct{}

// restRoutes serves the grpc-gateway mux and then sets r.Pattern to the
// route the mux matched, as http.ServeMux does for its own routes, so that
// otelhttp (which reads r.Pattern after the handler) names the span and
// labels the metrics by "POST /v1/tickets/{ticket_id}:reply" rather than by
// the catch-all "/" under which the mux is mounted. Unmatched paths get no
// route at all.
type restRoutes struct{ gw http.Handler }

func (h restRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rr := &restRoute{}
	h.gw.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), restRouteKey{}, rr)))
	r.Pattern = ""
	if rr.pattern != "" {
		r.Pattern = r.Method + " " + rr.pattern
	}
}

// recordRESTRoute is grpc-gateway runtime middleware; it runs after the mux
// matched a route and before the generated handler.
func recordRESTRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if rr, ok := r.Context().Value(restRouteKey{}).(*restRoute); ok {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				rr.pattern = routeTemplate(p.String())
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
