package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/gen/openapiv2"
	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// fakeTags is a TagService whose GetTag and ListTags do what the test says.
type fakeTags struct {
	gatewayv1.UnimplementedTagServiceServer
	getTag   func(context.Context, *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error)
	listTags func(context.Context, *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error)
}

func (f *fakeTags) GetTag(ctx context.Context, r *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
	return f.getTag(ctx, r)
}

func (f *fakeTags) ListTags(ctx context.Context, r *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error) {
	return f.listTags(ctx, r)
}

// syncBuffer is a log sink that tests may read while the server writes.
type syncBuffer struct{ testsupport.SyncBuffer }

// records decodes the JSON log lines whose msg is msg.
func (s *syncBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// gateway is one running server.Server on loopback listeners.
type gateway struct {
	srv     *server.Server
	grpcURL string // host:port
	httpURL string // http://host:port
	conn    *grpc.ClientConn
	logs    *syncBuffer
	stop    context.CancelFunc
	done    chan error // Serve's result
	// cache is the workspace's schema cache, when the gateway has one.
	cache *schemacache.Cache
}

// startGateway serves tags, and Unimplemented ticket and ticket type services.
func startGateway(t *testing.T, cfg server.Config, tags gatewayv1.TagServiceServer, opts ...server.Option) *gateway {
	t.Helper()
	return startGatewayWith(t, cfg, server.Services{
		Tickets:     gatewayv1.UnimplementedTicketServiceServer{},
		TicketTypes: gatewayv1.UnimplementedTicketTypeServiceServer{},
		Tags:        tags,
	}, opts...)
}

func startGatewayWith(t testing.TB, cfg server.Config, svcs server.Services, opts ...server.Option) *gateway {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, svcs, append([]server.Option{server.WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	gl := listen(t)
	hl := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	g := &gateway{
		srv: srv, grpcURL: gl.Addr().String(), httpURL: "http://" + hl.Addr().String(),
		logs: logs, stop: cancel, done: make(chan error, 1),
	}
	go func() { g.done <- srv.Serve(ctx, gl, hl) }()
	g.conn, err = grpc.NewClient("passthrough:///"+g.grpcURL, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = g.conn.Close()
		cancel()
		select {
		case <-g.done:
		case <-time.After(30 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return g
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (g *gateway) do(t *testing.T, method, path, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.httpURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// rpcStatus is google.rpc.Status as the REST error body shows it.
type rpcStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

func decodeStatus(t *testing.T, body []byte) rpcStatus {
	t.Helper()
	var st rpcStatus
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("error body is not google.rpc.Status JSON: %s: %v", body, err)
	}
	return st
}

// notFound is what Intercom answers for an unknown tag (2.11.yaml findTag,
// 404 "Tag not found"). Only the service package's error mapping turns it
// into NOT_FOUND; without it the caller would see UNKNOWN.
var notFound = &upstream.Error{
	Operation: upstream.OpFindTag, StatusCode: http.StatusNotFound,
	Errors: []upstream.ErrorItem{{Code: "tag_not_found", Message: "Tag not found"}},
}

func TestRESTAndGRPCShareTheInterceptorChain(t *testing.T) {
	t.Parallel()
	var seen []string // transport-independent record from an added interceptor
	var mu sync.Mutex
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		mu.Lock()
		seen = append(seen, info.FullMethod)
		mu.Unlock()
		return h(ctx, req)
	}
	g := startGateway(t, server.Config{}, &fakeTags{
		getTag: func(context.Context, *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
			return nil, notFound
		},
	}, server.WithUnaryInterceptor(record))

	_, err := gatewayv1.NewTagServiceClient(g.conn).GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "404"})
	if got := status.Code(err); got != codes.NotFound {
		t.Errorf("gRPC GetTag: code %v, want NotFound (err %v)", got, err)
	}

	resp, body := g.do(t, http.MethodGet, "/v1/tags/404", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("REST GET /v1/tags/404: HTTP %d, want 404; body %s", resp.StatusCode, body)
	}
	if st := decodeStatus(t, body); st.Code != int(codes.NotFound) {
		t.Errorf("REST body code %d, want %d", st.Code, codes.NotFound)
	}

	const method = "/intercom.gateway.v1.TagService/GetTag"
	mu.Lock()
	if diff := cmp.Diff([]string{method, method}, seen); diff != "" {
		t.Errorf("added interceptor saw (-want +got):\n%s", diff)
	}
	mu.Unlock()

	type call struct{ Method, Code, Transport string }
	var got []call
	for _, rec := range g.logs.records(t, "gRPC call") {
		got = append(got, call{rec["grpc.method"].(string), rec["grpc.code"].(string), rec["transport"].(string)})
	}
	want := []call{{method, "NotFound", "grpc"}, {method, "NotFound", "rest"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("access log (-want +got):\n%s", diff)
	}
}

func TestPanicIsRecoveredOnBothTransports(t *testing.T) {
	t.Parallel()
	g := startGateway(t, server.Config{}, &fakeTags{
		getTag: func(context.Context, *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
			panic("boom with customer data")
		},
	})
	_, err := gatewayv1.NewTagServiceClient(g.conn).GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "1"})
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "boom") {
		t.Errorf("gRPC: got %v, want INTERNAL without the panic value", err)
	}
	resp, body := g.do(t, http.MethodGet, "/v1/tags/1", "", nil)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "boom") {
		t.Errorf("REST: HTTP %d %s, want 500 without the panic value", resp.StatusCode, body)
	}
	if n := len(g.logs.records(t, "panic in gRPC handler")); n != 2 {
		t.Errorf("logged %d panics, want 2:\n%s", n, g.logs)
	}
	// Each panicking call still has its access-log line, as the INTERNAL
	// its caller saw.
	var logged []any
	for _, rec := range g.logs.records(t, "gRPC call") {
		logged = append(logged, rec["grpc.code"])
	}
	if diff := cmp.Diff([]any{"Internal", "Internal"}, logged); diff != "" {
		t.Errorf("access-log codes (-want +got):\n%s", diff)
	}
}

func TestAuthorizationIsForwardedButNeverLogged(t *testing.T) {
	t.Parallel()
	const secret = "Bearer s3cr3t-caller-token"
	var mu sync.Mutex
	var got []metadata.MD
	capture := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		got = append(got, metadata.Pairs("authorization", strings.Join(md.Get("authorization"), ","),
			"grpcgateway-authorization", strings.Join(md.Get("grpcgateway-authorization"), ",")))
		mu.Unlock()
		return h(ctx, req)
	}
	g := startGateway(t, server.Config{}, &fakeTags{
		listTags: func(context.Context, *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error) {
			return &gatewayv1.ListTagsResponse{}, nil
		},
	}, server.WithUnaryInterceptor(capture))

	resp, body := g.do(t, http.MethodGet, "/v1/tags", "", http.Header{"Authorization": {secret}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/tags: HTTP %d %s", resp.StatusCode, body)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", secret)
	if _, err := gatewayv1.NewTagServiceClient(g.conn).ListTags(ctx, &gatewayv1.ListTagsRequest{}); err != nil {
		t.Fatalf("gRPC ListTags: %v", err)
	}

	want := metadata.Pairs("authorization", secret, "grpcgateway-authorization", "")
	mu.Lock()
	if diff := cmp.Diff([]metadata.MD{want, want}, got); diff != "" {
		t.Errorf("metadata seen by interceptors, REST then gRPC (-want +got):\n%s", diff)
	}
	mu.Unlock()
	if strings.Contains(g.logs.String(), "s3cr3t") {
		t.Errorf("the caller's token appears in the log:\n%s", g.logs)
	}
	if n := len(g.logs.records(t, "gRPC call")); n != 2 {
		t.Errorf("want 2 access log lines, got %d:\n%s", n, g.logs)
	}
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	rateLimited := &upstream.Error{
		Operation: upstream.OpListTags, StatusCode: http.StatusTooManyRequests,
		Errors:     []upstream.ErrorItem{{Code: "rate_limit_exceeded", Message: "Exceeded rate limit"}},
		RetryAfter: 1500 * time.Millisecond,
	}
	g := startGateway(t, server.Config{}, &fakeTags{
		listTags: func(context.Context, *gatewayv1.ListTagsRequest) (*gatewayv1.ListTagsResponse, error) {
			return nil, rateLimited
		},
		getTag: func(context.Context, *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
			return nil, notFound
		},
	})
	for _, tc := range []struct {
		name, method, path, body string
		wantHTTP                 int
		wantCode                 codes.Code
		wantRetryAfter           string
	}{
		{"mapped upstream 404", http.MethodGet, "/v1/tags/9", "", 404, codes.NotFound, ""},
		// 1.5 s rounds up, so that a client obeying Retry-After is never early.
		{"rate limited", http.MethodGet, "/v1/tags", "", 429, codes.ResourceExhausted, "2"},
		{"unknown JSON field", http.MethodPost, "/v1/tags", `{"name":"x","colour":"red"}`, 400, codes.InvalidArgument, ""},
		{"malformed JSON", http.MethodPost, "/v1/tags", `{"name":`, 400, codes.InvalidArgument, ""},
		{"unknown path", http.MethodGet, "/v1/nothing-here", "", 404, codes.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := g.do(t, tc.method, tc.path, tc.body, http.Header{"Content-Type": {"application/json"}})
			if resp.StatusCode != tc.wantHTTP {
				t.Errorf("HTTP %d, want %d; body %s", resp.StatusCode, tc.wantHTTP, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if st := decodeStatus(t, body); st.Code != int(tc.wantCode) || st.Message == "" {
				t.Errorf("body code %d message %q, want code %d and a message", st.Code, st.Message, tc.wantCode)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.wantRetryAfter)
			}
		})
	}

	// The REST body carries the same RetryInfo a gRPC caller gets.
	_, err := gatewayv1.NewTagServiceClient(g.conn).ListTags(context.Background(), &gatewayv1.ListTagsRequest{})
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay != 1500*time.Millisecond {
		t.Errorf("gRPC RetryInfo delay %v, want 1.5s (err %v)", delay, err)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	g := startGateway(t, server.Config{}, &fakeTags{})
	hc := healthpb.NewHealthClient(g.conn)
	for _, svc := range []string{"", "intercom.gateway.v1.TicketService", "intercom.gateway.v1.TicketTypeService", "intercom.gateway.v1.TagService"} {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("grpc health %q: %v, %v; want SERVING", svc, resp.GetStatus(), err)
		}
	}

	healthz := func(query string) (int, string) {
		resp, body := g.do(t, http.MethodGet, "/healthz"+query, "", nil)
		var b struct{ Status string }
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("/healthz%s body %q: %v", query, body, err)
		}
		return resp.StatusCode, b.Status
	}
	type answer struct {
		HTTP   int
		Status string
	}
	check := func(query string, want answer) {
		t.Helper()
		code, st := healthz(query)
		if diff := cmp.Diff(want, answer{code, st}); diff != "" {
			t.Errorf("/healthz%s (-want +got):\n%s", query, diff)
		}
	}
	check("", answer{200, "SERVING"})
	check("?service=intercom.gateway.v1.TagService", answer{200, "SERVING"})
	check("?service=no.such.Service", answer{404, "unknown service"})

	g.srv.Health().SetServingStatus("intercom.gateway.v1.TagService", healthpb.HealthCheckResponse_NOT_SERVING)
	check("?service=intercom.gateway.v1.TagService", answer{503, "NOT_SERVING"})
	check("", answer{200, "SERVING"})
	g.srv.Health().SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	check("", answer{503, "NOT_SERVING"})
}

// TestHealthzShowsDegradedMode: a dependency on its fallback (Redis
// unreachable) is listed by /healthz, which still answers 200 SERVING:
// readiness does not fail.
func TestHealthzShowsDegradedMode(t *testing.T) {
	t.Parallel()
	var degraded atomic.Bool
	g := startGateway(t, server.Config{}, &fakeTags{}, server.WithDegradation("rate_limit", degraded.Load))
	healthz := func() (int, string) {
		resp, body := g.do(t, http.MethodGet, "/healthz", "", nil)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	for _, tc := range []struct {
		degraded bool
		wantHTTP int
		wantBody string
	}{
		{false, 200, `{"status":"SERVING"}`},
		{true, 200, `{"status":"SERVING","degraded":["rate_limit"]}`},
		{false, 200, `{"status":"SERVING"}`},
	} {
		degraded.Store(tc.degraded)
		if code, body := healthz(); code != tc.wantHTTP || body != tc.wantBody {
			t.Errorf("degraded=%v: /healthz HTTP %d %s, want %d %s", tc.degraded, code, body, tc.wantHTTP, tc.wantBody)
		}
	}
	degraded.Store(true)
	resp, err := healthpb.NewHealthClient(g.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("grpc health while degraded: %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	g := startGateway(t, server.Config{}, &fakeTags{})
	resp, body := g.do(t, http.MethodGet, "/openapi.json", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("HTTP %d Content-Type %q, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, openapiv2.JSON) {
		t.Errorf("body is not openapiv2.JSON (%d bytes, want %d)", len(body), len(openapiv2.JSON))
	}
	var doc struct {
		Swagger string         `json:"swagger"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Swagger != "2.0" || doc.Paths["/v1/tags"] == nil {
		t.Errorf("not an OpenAPI v2 document with /v1/tags: swagger=%q err=%v", doc.Swagger, err)
	}
}

func TestReflectionListsTheServices(t *testing.T) {
	t.Parallel()
	g := startGateway(t, server.Config{}, &fakeTags{})
	stream, err := reflectionpb.NewServerReflectionClient(g.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.CloseSend()
	got := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		got[s.GetName()] = true
	}
	for _, want := range []string{
		"intercom.gateway.v1.TicketService", "intercom.gateway.v1.TicketTypeService",
		"intercom.gateway.v1.TagService", "grpc.health.v1.Health",
	} {
		if !got[want] {
			t.Errorf("reflection does not list %s (got %v)", want, got)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	t.Parallel()
	all := server.Services{
		Tickets:     gatewayv1.UnimplementedTicketServiceServer{},
		TicketTypes: gatewayv1.UnimplementedTicketTypeServiceServer{},
		Tags:        gatewayv1.UnimplementedTagServiceServer{},
	}
	noTags := all
	noTags.Tags = nil
	for _, tc := range []struct {
		name string
		cfg  server.Config
		svcs server.Services
		want string
	}{
		{"missing service", server.Config{}, noTags, "all required"},
		{"negative grace", server.Config{ShutdownGrace: -time.Second}, all, "ShutdownGrace must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := server.New(tc.cfg, tc.svcs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// blockingTags answers GetTag only when the channel release[tag_id] is closed
// (or the call's context ends), so that a test controls when in-flight calls
// finish.
func blockingTags(entered *atomic.Int32, release map[string]chan struct{}) *fakeTags {
	return &fakeTags{getTag: func(ctx context.Context, r *gatewayv1.GetTagRequest) (*gatewayv1.GetTagResponse, error) {
		entered.Add(1)
		select {
		case <-release[r.GetTagId()]:
			return &gatewayv1.GetTagResponse{Tag: &gatewayv1.Tag{Id: r.GetTagId()}}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServeDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	var entered atomic.Int32
	// REST calls ask for tag "rest", gRPC calls for tag "grpc"; each kind is
	// released separately, REST first, so the test sees that gRPC calls
	// outliving the REST drain are still waited for.
	release := map[string]chan struct{}{"rest": make(chan struct{}), "grpc": make(chan struct{})}
	g := startGateway(t, server.Config{ShutdownGrace: 20 * time.Second}, blockingTags(&entered, release))

	const perTransport = 3
	grpcErrs := make(chan error, perTransport)
	restErrs := make(chan error, perTransport)
	client := gatewayv1.NewTagServiceClient(g.conn)
	for range perTransport {
		go func() {
			_, err := client.GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "grpc"})
			grpcErrs <- err
		}()
		go func() {
			resp, err := http.Get(g.httpURL + "/v1/tags/rest")
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = errors.New(resp.Status)
				}
			}
			restErrs <- err
		}()
	}
	waitFor(t, "every call to reach the handler", func() bool { return entered.Load() == 2*perTransport })

	g.stop()
	waitFor(t, "health to turn NOT_SERVING", func() bool {
		resp, err := g.srv.Health().Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	})

	close(release["rest"])
	for range perTransport {
		if err := <-restErrs; err != nil {
			t.Errorf("in-flight REST call failed: %v", err)
		}
	}
	select {
	case err := <-g.done:
		g.done <- err // for the cleanup
		t.Fatalf("Serve returned while gRPC calls were in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release["grpc"])
	for range perTransport {
		if err := <-grpcErrs; err != nil {
			t.Errorf("in-flight gRPC call failed: %v", err)
		}
	}
	if err := <-g.done; err != nil {
		t.Errorf("Serve: %v, want nil after a clean drain", err)
	}
	g.done <- nil // for the cleanup
	if _, err := net.DialTimeout("tcp", g.grpcURL, time.Second); err == nil {
		t.Error("gRPC listener still accepts connections after Serve returned")
	}
}

func TestServeCutsOffCallsAfterTheGracePeriod(t *testing.T) {
	t.Parallel()
	var entered atomic.Int32
	g := startGateway(t, server.Config{ShutdownGrace: 200 * time.Millisecond}, blockingTags(&entered, nil))
	errc := make(chan error, 1)
	go func() {
		_, err := gatewayv1.NewTagServiceClient(g.conn).GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "1"})
		errc <- err
	}()
	waitFor(t, "the call to reach the handler", func() bool { return entered.Load() == 1 })
	g.stop()
	err := <-g.done
	g.done <- nil
	if !errors.Is(err, server.ErrCallsCut) || !strings.Contains(err.Error(), "grace period") {
		t.Errorf("Serve: %v, want ErrCallsCut about the grace period", err)
	}
	if err := <-errc; status.Code(err) == codes.OK {
		t.Error("the call outliving the grace period succeeded; want it cut off")
	}
}
