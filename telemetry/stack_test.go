package telemetry_test

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// stack is the whole gateway as cmd/gateway wires it, on loopback: REST and
// gRPC listeners with server.WithOpenTelemetry and /metrics, the services,
// an upstream client, and the sandbox as Intercom, all reporting to
// providers that telemetry.Setup installed with an in-memory span exporter.
type stack struct {
	sb      *sandbox.Server
	tel     *telemetry.Telemetry
	spans   *tracetest.InMemoryExporter
	logs    *syncBuffer
	httpURL string
	conn    *grpc.ClientConn
	stop    func() // drains the servers; every call's spans have ended after it
}

type stackConfig struct {
	workspace  string
	token      string
	baseURL    func(sandboxURL string) string
	sandbox    []sandbox.Option
	clientOpts []upstream.Option
	cacheOpts  []schemacache.Option
	// env is set after the OTEL_* environment is cleared (the benchmark
	// points the OTLP exporter at a local sink with it).
	env map[string]string
	// noRecorder leaves out the in-memory span exporter, so that tracing
	// is on only when env asks for it, as in a running gateway.
	noRecorder bool
	// quietLogs writes the logs nowhere (benchmarks).
	quietLogs bool
	// budget is the limiter's budget per window (default 1000).
	budget int
	// limiter replaces the local limiter built from budget. It is called
	// after telemetry.Setup: instruments made before it would report to
	// whichever provider an earlier test installed.
	limiter func() *ratelimit.Limiter
}

// fixedNow pins the sandbox's clock, so its rate-limit window never rolls
// over during a test and X-RateLimit-Remaining is predictable.
var fixedNow = time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)

func startStack(t testing.TB, c stackConfig) *stack {
	t.Helper()
	clearOTelEnv(t)
	for k, v := range c.env {
		t.Setenv(k, v)
	}
	if c.workspace == "" {
		c.workspace = "acme"
	}
	if c.token == "" {
		c.token = "test-token"
	}
	exp := tracetest.NewInMemoryExporter()
	var topts []telemetry.Option
	if !c.noRecorder {
		topts = append(topts, telemetry.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)))
	}
	tel, err := telemetry.Setup(context.Background(), topts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	sb := sandbox.New(append([]sandbox.Option{sandbox.WithClock(func() time.Time { return fixedNow })}, c.sandbox...)...)
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	base := hs.URL
	if c.baseURL != nil {
		base = c.baseURL(hs.URL)
	}
	// Retries without waiting: the tests count attempts, not backoff.
	policy := upstream.DefaultRetryPolicy()
	policy.BaseBackoff, policy.MaxBackoff, policy.Jitter = time.Millisecond, time.Millisecond, 0
	// The gateway's own limiter, asked before every attempt.
	var limiter *ratelimit.Limiter
	if c.limiter != nil {
		limiter = c.limiter()
	} else {
		limiter = ratelimit.NewLocal(ratelimit.Config{}).For(c.workspace, ratelimit.Budget{Limit: cmp.Or(c.budget, 1000)})
	}
	client, err := upstream.New(append([]upstream.Option{
		upstream.WithToken(c.token), upstream.WithBaseURL(base), upstream.WithWorkspace(c.workspace),
		upstream.WithRetryPolicy(policy), upstream.WithLimiter(limiter), upstream.WithTracerProvider(tel.TracerProvider()),
	}, c.clientOpts...)...)
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	var logw io.Writer = logs
	level := slog.LevelDebug
	if c.quietLogs {
		logw, level = io.Discard, slog.LevelInfo
	}
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: level})))
	// The schema cache in front of the client, as cmd/gateway wraps each
	// workspace's client.
	cache, err := schemacache.New(client, append([]schemacache.Option{schemacache.WithWorkspace(c.workspace)}, c.cacheOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	backends := service.Single(c.workspace, cache)
	svcLog := service.WithLogger(log)
	srv, err := server.New(server.Config{}, server.Services{
		Tickets:     service.NewTicketService(backends, svcLog),
		TicketTypes: service.NewTicketTypeService(backends, svcLog),
		Tags:        service.NewTagService(backends, svcLog),
	}, server.WithLogger(log), server.WithOpenTelemetry(tel.TracerProvider()), server.WithHTTPHandler("GET /metrics", tel.MetricsHandler()))
	if err != nil {
		t.Fatal(err)
	}
	gl, hl := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, gl, hl) }()
	conn, err := grpc.NewClient("passthrough:///"+gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	s := &stack{sb: sb, tel: tel, spans: exp, logs: logs, httpURL: "http://" + hl.Addr().String(), conn: conn}
	s.stop = func() {
		once.Do(func() {
			_ = conn.Close()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Serve did not return after cancel")
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

func (s *stack) get(t *testing.T, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.httpURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape reads the metrics as Prometheus would.
func (s *stack) scrape(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d", rec.Code)
	}
	return rec.Body.String()
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type syncBuffer = testsupport.SyncBuffer

// accessLines are the access-log records ("gRPC call").
func accessLines(t *testing.T, logs *syncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range decodeLines(t, strings.NewReader(logs.String())) {
		if l["msg"] == "gRPC call" {
			out = append(out, l)
		}
	}
	return out
}
