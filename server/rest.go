package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/gen/openapiv2"
	"github.com/intercom-gateway/intercom-gateway/service"
)

// JSONMarshalOptions is how REST callers see messages:
//   - field names as in the proto (snake_case, like Intercom's own JSON), so
//     a REST body looks like the proto and like Intercom;
//   - every field present, so clients need not know proto3 defaults (an
//     unset time is null, a false bool is false, an empty list is []);
//   - int64 as JSON strings and Timestamps as RFC 3339 strings, as the proto3
//     JSON mapping says, so no precision is lost in JavaScript clients.
var JSONMarshalOptions = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// JSONUnmarshalOptions rejects unknown request fields with 400 rather than
// silently dropping them: a misspelt field is a caller bug they should see.
// Both proto names and lowerCamelCase JSON names are accepted.
// Nesting is bounded by maxJSONDepth: a caller's 5,000-level body is a
// caller mistake (400), not something to hand to the gRPC hop.
var JSONUnmarshalOptions = protojson.UnmarshalOptions{DiscardUnknown: false, RecursionLimit: maxJSONDepth}

// maxJSONDepth bounds the nesting of messages (and of Struct/Value pairs) in
// a REST body. The contract's deepest legitimate request, a search with two
// levels of groups, nests 7 levels; attribute values are flat.
const maxJSONDepth = 64

// restMarshaler is the JSON marshaler, and names the content type of
// streamed answers: newline-delimited JSON, one {"result": …} object per
// line and, when the stream fails, a last {"error": google.rpc.Status} line.
type restMarshaler struct{ *runtime.JSONPb }

func (restMarshaler) StreamContentType(any) string { return "application/x-ndjson" }

// dropAll keeps gRPC metadata out of REST answers: the REST mux talks to the
// gRPC server over an in-memory connection, whose transport headers
// (content-type: application/grpc, …) are no business of an HTTP caller.
func dropAll(string) (string, bool) { return "", false }

// httpHandler is everything the HTTP listener serves: the REST API, the
// health and OpenAPI endpoints, and any WithHTTPHandler mounts.
func (s *Server) httpHandler(mounts []mount) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, restMarshaler{&runtime.JSONPb{
			MarshalOptions:   JSONMarshalOptions,
			UnmarshalOptions: JSONUnmarshalOptions,
		}}),
		runtime.WithErrorHandler(s.restErrorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithMiddlewares(reportRESTRoute),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithOutgoingTrailerMatcher(dropAll),
		runtime.WithMetadata(s.restPeerMetadata),
	)
	ctx := context.Background() // only used by the generated code to build clients
	for _, register := range []func(context.Context, *runtime.ServeMux) error{
		func(ctx context.Context, mux *runtime.ServeMux) error {
			return gatewayv1.RegisterTicketServiceHandler(ctx, mux, s.conn)
		},
		func(ctx context.Context, mux *runtime.ServeMux) error {
			return gatewayv1.RegisterTicketTypeServiceHandler(ctx, mux, s.conn)
		},
		func(ctx context.Context, mux *runtime.ServeMux) error {
			return gatewayv1.RegisterTagServiceHandler(ctx, mux, s.conn)
		},
	} {
		if err := register(ctx, gw); err != nil {
			return nil, fmt.Errorf("server: registering REST handlers: %w", err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", reportRoute(http.HandlerFunc(s.serveHealthz)))
	mux.Handle("GET /openapi.json", reportRoute(http.HandlerFunc(serveOpenAPI)))
	for _, m := range mounts {
		mux.Handle(m.pattern, reportRoute(m.h))
	}
	mux.Handle("/", gw) // reportRESTRoute reports its routes
	routes, err := loadAPIRoutes()
	if err != nil {
		return nil, err
	}
	return edges(routes, s.cfg.MaxRequestBytes, mux), nil
}

// incomingHeader decides which HTTP headers become gRPC metadata. The runtime
// always forwards Authorization as "authorization" (what caller auth reads);
// the default matcher would add a second copy as "grpcgateway-authorization",
// which is one more place a credential could leak from, so it is dropped.
// Other permanent HTTP headers keep the default "grpcgateway-" prefix.
func incomingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "Authorization") {
		return "", false
	}
	if strings.EqualFold(key, "X-Intercom-Workspace") {
		return mdWorkspace, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeader decides which gRPC response metadata become HTTP headers:
// only the gateway's documented ones, under their own names (x-gateway-cache
// becomes X-Gateway-Cache). grpc-gateway's default would forward every key
// as Grpc-Metadata-<key>, which exposes internals and is no contract.
func outgoingHeader(key string) (string, bool) {
	if key == service.CacheHeader {
		return http.CanonicalHeaderKey(key), true
	}
	return "", false
}

// restErrorHandler writes the runtime's default error body (google.rpc.Status
// as JSON, with the HTTP status that matches the code) and, for
// RESOURCE_EXHAUSTED with a RetryInfo detail, a Retry-After header in whole
// seconds, rounded up so that a client that obeys it never comes back early
// (RFC 9110 §10.2.3 allows only whole seconds).
//
// Two kinds of error are rewritten first: a body cut at the size limit is
// 413 (never 429: "retry later" would make a client resend the same body
// forever), and a body the JSON decoder refused gets a clear message and the
// field it names (decodeProblem).
func (s *Server) restErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	cause := err
	var httpErr *runtime.HTTPStatusError
	if errors.As(err, &httpErr) {
		cause = httpErr.Err
	}
	st := status.Convert(cause)
	if bs, ok := r.Context().Value(bodyStateKey{}).(*bodyState); ok && bs.tooLarge.Load() ||
		st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "larger than max") {
		writeTooLarge(w, r, s.cfg.MaxRequestBytes)
		return
	}
	if clear, ok := decodeProblem(st); ok {
		err = clear.Err()
	}
	if st.Code() == codes.Unauthenticated && isCallerAuthError(st) {
		// RFC 6750 §3: a 401 for a bearer token says which scheme to use.
		w.Header().Set("WWW-Authenticate", `Bearer realm="intercom-gateway"`)
	}
	if st.Code() == codes.ResourceExhausted {
		if d, ok := service.RetryAfter(st); ok {
			w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(d), 10))
		}
		// The window behind the refusal, in the IETF RateLimit header fields
		// (draft-ietf-httpapi-ratelimit-headers): RateLimit-Reset is the
		// number of seconds until the window resets.
		if limit, remaining, reset, ok := service.RateLimitInfo(st); ok {
			w.Header().Set("RateLimit-Limit", strconv.Itoa(limit))
			w.Header().Set("RateLimit-Remaining", strconv.Itoa(remaining))
			if !reset.IsZero() {
				w.Header().Set("RateLimit-Reset", strconv.FormatInt(max(ceilSeconds(time.Until(reset)), 0), 10))
			}
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// healthzBody is the JSON answer of GET /healthz.
type healthzBody struct {
	Status string `json:"status"`
	// Degraded names the dependencies running on a fallback
	// (WithDegradation); they do not change Status or the HTTP status.
	Degraded []string `json:"degraded,omitempty"`
}

// serveHealthz answers 200 when the health server reports SERVING for the
// gateway (or for the service named by ?service=), and 503 otherwise, so that
// plain HTTP probes see the same state as grpc.health.v1 clients. The body
// also lists the dependencies running degraded, which fail nothing.
func (s *Server) serveHealthz(w http.ResponseWriter, r *http.Request) {
	resp, err := s.health.Check(r.Context(), &healthpb.HealthCheckRequest{Service: r.URL.Query().Get("service")})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		code := http.StatusServiceUnavailable
		if status.Code(err) == codes.NotFound {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(healthzBody{Status: status.Convert(err).Message()})
		return
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	body := healthzBody{Status: resp.GetStatus().String()}
	for _, d := range s.degraded {
		if d.degraded() {
			body.Degraded = append(body.Degraded, d.name)
		}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiv2.JSON)
}

// isCallerAuthError tells the gateway's refusal of a caller's key apart from
// an UNAUTHENTICATED that reports the gateway's own Intercom token.
func isCallerAuthError(st *status.Status) bool {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			switch ei.GetReason() {
			case auth.ReasonKeyMissing, auth.ReasonKeyMalformed, auth.ReasonKeyUnknown,
				auth.ReasonCertAmbiguous, auth.ReasonCallerMismatch:
				return true
			}
		}
	}
	return false
}
