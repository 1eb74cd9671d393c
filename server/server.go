package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/test/bufconn"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
)

// Config holds the listener settings. A zero field takes its value from
// DefaultConfig.
type Config struct {
	// ShutdownGrace bounds how long Serve waits for in-flight REST and gRPC
	// calls once its context ends; after it, remaining calls are cut off.
	ShutdownGrace time.Duration
	// ReadHeaderTimeout bounds how long the HTTP server waits for a request's
	// headers, so that slow clients cannot hold connections open for free.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds how long reading a whole REST request (headers and
	// body) may take, so that a client sending a byte every few seconds
	// cannot hold a connection and a handler. Answers are not bounded by it:
	// a streamed search may run as long as its deadline allows.
	ReadTimeout time.Duration
	// IdleTimeout closes idle HTTP keep-alive connections, and gRPC
	// connections with no call for that long (keepalive MaxConnectionIdle).
	IdleTimeout time.Duration
	// HandshakeTimeout bounds how long a new gRPC connection may take to
	// send the HTTP/2 preface and settings (grpc.ConnectionTimeout), so that
	// connections that never speak are closed.
	HandshakeTimeout time.Duration
	// MaxRequestBytes is the largest request accepted: a REST body over it
	// is refused with 413 while reading (before it is buffered), a gRPC
	// message over it with RESOURCE_EXHAUSTED by grpc-go itself (without
	// RetryInfo, so no client retries it).
	MaxRequestBytes int64

	// GRPCTLS, when set, makes the gRPC listener speak TLS (see LoadTLS);
	// with ClientCAs it verifies client certificates, whose identities can
	// name the caller (auth.Caller.CertIdentities).
	GRPCTLS *tls.Config
	// HTTPTLS is GRPCTLS for the HTTP listener. A REST caller's verified
	// client certificate reaches the auth interceptor as a gRPC caller's
	// does.
	HTTPTLS *tls.Config
	// Reflection says whether gRPC server reflection is served, and to whom.
	// The zero value, ReflectionOn, serves it to anyone.
	Reflection Reflection
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		// 20 s is the upstream client's default call timeout, so a call that
		// started just before shutdown can still finish.
		ShutdownGrace:     20 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		HandshakeTimeout:  10 * time.Second,
		// The gateway's largest real requests (a ticket with its attributes,
		// a search) are a few kilobytes; 4 MiB is gRPC's default limit.
		MaxRequestBytes: 4 << 20,
	}
}

func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ShutdownGrace", &c.ShutdownGrace, d.ShutdownGrace},
		{"ReadHeaderTimeout", &c.ReadHeaderTimeout, d.ReadHeaderTimeout},
		{"ReadTimeout", &c.ReadTimeout, d.ReadTimeout},
		{"IdleTimeout", &c.IdleTimeout, d.IdleTimeout},
		{"HandshakeTimeout", &c.HandshakeTimeout, d.HandshakeTimeout},
	} {
		switch {
		case *f.v < 0:
			return c, fmt.Errorf("server: Config.%s must not be negative, got %v", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch {
	case c.MaxRequestBytes < 0:
		return c, fmt.Errorf("server: Config.MaxRequestBytes must not be negative, got %d", c.MaxRequestBytes)
	case c.MaxRequestBytes == 0:
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	return c, nil
}

// streamWorkers is how many goroutines serve gRPC calls, REST calls included (they arrive over the
// in-memory connection). Calls mostly wait on Intercom, so it is sized for calls in flight, not for
// cores; an idle worker costs its stack.
const streamWorkers = 128

// Services are the implementations registered on the gRPC server. All three
// are required.
type Services struct {
	Tickets     gatewayv1.TicketServiceServer
	TicketTypes gatewayv1.TicketTypeServiceServer
	Tags        gatewayv1.TagServiceServer
}

// Option configures a Server.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	auth       Authenticator
	unary      []grpc.UnaryServerInterceptor
	stream     []grpc.StreamServerInterceptor
	handlers   []mount
	grpcOpts   []grpc.ServerOption
	dialOpts   []grpc.DialOption
	middleware []func(http.Handler) http.Handler
	degraded   []degradation
	// rpcMetrics: WithOpenTelemetry asks for the RPC metrics (and trace
	// context extraction) in the access-log interceptor.
	rpcMetrics bool
}

type degradation struct {
	name     string
	degraded func() bool
}

type mount struct {
	pattern string
	h       http.Handler
}

func defaultOptions() options {
	return options{logger: slog.New(slog.DiscardHandler)}
}

// WithLogger sets the logger for access logs, recovered panics and lifecycle
// events. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithUnaryInterceptor adds unary interceptors between the access log and the
// error mapping, in the order given. Caller authentication belongs here: it
// is logged, and its errors are already gRPC statuses.
func WithUnaryInterceptor(i ...grpc.UnaryServerInterceptor) Option {
	return func(o *options) { o.unary = append(o.unary, i...) }
}

// WithStreamInterceptor is WithUnaryInterceptor for streaming calls.
func WithStreamInterceptor(i ...grpc.StreamServerInterceptor) Option {
	return func(o *options) { o.stream = append(o.stream, i...) }
}

// WithHTTPHandler serves h on the HTTP listener for pattern (an
// http.ServeMux pattern such as "/__sandbox/"), next to the REST API. The
// gateway uses it to expose the sandbox's admin endpoints in sandbox mode.
func WithHTTPHandler(pattern string, h http.Handler) Option {
	return func(o *options) { o.handlers = append(o.handlers, mount{pattern, h}) }
}

// WithGRPCServerOption adds options to the gRPC server, such as a stats
// handler (grpc.StatsHandler) or keepalive settings. Interceptors belong in
// WithUnaryInterceptor and WithStreamInterceptor, which place them in the
// chain; credentials for the gRPC listener may go here too.
func WithGRPCServerOption(opt ...grpc.ServerOption) Option {
	return func(o *options) { o.grpcOpts = append(o.grpcOpts, opt...) }
}

// WithInMemoryDialOption adds options to the in-memory connection the REST
// mux uses to reach the gRPC server, such as a client stats handler
// (grpc.WithStatsHandler). Dialer and transport credentials are the
// server's own and cannot be replaced.
func WithInMemoryDialOption(opt ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opt...) }
}

// WithHTTPMiddleware wraps everything the HTTP listener serves (REST, health,
// OpenAPI and WithHTTPHandler mounts), outermost first:
// WithHTTPMiddleware(a, b) serves a(b(handler)).
func WithHTTPMiddleware(mw ...func(http.Handler) http.Handler) Option {
	return func(o *options) { o.middleware = append(o.middleware, mw...) }
}

// WithDegradation names a dependency that can run in a degraded mode (the
// rate limiter and the request_id store on their local fallbacks while
// Redis is unreachable). GET /healthz lists the ones that report degraded,
// and still answers 200: the gateway serves, so readiness must not fail and
// take every replica out of the load balancer at once.
func WithDegradation(name string, degraded func() bool) Option {
	return func(o *options) {
		if degraded != nil {
			o.degraded = append(o.degraded, degradation{name, degraded})
		}
	}
}

// serviceNames are the health-checkable services, besides the overall "".
var serviceNames = []string{
	gatewayv1.TicketService_ServiceDesc.ServiceName,
	gatewayv1.TicketTypeService_ServiceDesc.ServiceName,
	gatewayv1.TagService_ServiceDesc.ServiceName,
}

// Server is the gateway's gRPC and HTTP front. Create it with New and run it
// once with Serve.
type Server struct {
	cfg     Config
	log     *slog.Logger
	grpc    *grpc.Server
	health  *health.Server
	http    *http.Server
	mem     *bufconn.Listener
	conn    *grpc.ClientConn // the REST mux's in-memory connection to grpc
	started atomic.Bool
	drain   *drain
	// restNonce proves that metadata about a REST caller's TLS peer was set
	// by this server's REST mux (see mdRESTPeer).
	restNonce string
	// degraded are the dependencies /healthz reports (WithDegradation).
	degraded []degradation
}

// New builds the servers without opening any listener. Health reports
// NOT_SERVING until Serve starts.
func New(cfg Config, svcs Services, opts ...Option) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if svcs.Tickets == nil || svcs.TicketTypes == nil || svcs.Tags == nil {
		return nil, errors.New("server: Services.Tickets, TicketTypes and Tags are all required")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}

	if cfg.Reflection == ReflectionAuthenticated && o.auth == nil {
		return nil, errors.New("server: authenticated reflection needs WithAuth")
	}
	s := &Server{cfg: cfg, log: o.logger, health: health.NewServer(), drain: newDrain(), degraded: o.degraded}
	if s.restNonce, err = newRESTNonce(); err != nil {
		return nil, err
	}

	ob := observer{log: o.logger}
	if o.rpcMetrics {
		if ob.metrics, err = newRPCMetrics(otel.GetMeterProvider()); err != nil {
			return nil, fmt.Errorf("server: RPC metrics: %w", err)
		}
	}
	unary := []grpc.UnaryServerInterceptor{s.drain.unary, ob.unary}
	stream := []grpc.StreamServerInterceptor{s.drain.stream, ob.stream}
	if o.auth != nil {
		unary = append(unary, s.unaryAuth(o.auth, cfg.Reflection))
		stream = append(stream, s.streamAuth(o.auth, cfg.Reflection))
	}
	// The schema interceptor sits inside the error mapping so that its
	// x-gateway-cache header is set on failed calls too.
	unary = append(append(unary, o.unary...), service.UnaryErrorInterceptor(o.logger), service.UnarySchemaInterceptor())
	stream = append(append(stream, o.stream...), service.StreamErrorInterceptor(o.logger))

	grpcOpts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(int(cfg.MaxRequestBytes)),
		grpc.ConnectionTimeout(cfg.HandshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: cfg.IdleTimeout}),
		// Without workers every call runs on a new goroutine, whose 8 KiB stack is grown and copied
		// several times on each call (the interceptors, the client and JSON decoding run deep):
		// about a fifth of the CPU profile under load. Workers keep their grown stacks between
		// calls; past streamWorkers calls in flight, grpc falls back to a goroutine per call.
		grpc.NumStreamWorkers(streamWorkers),
	}
	if cfg.GRPCTLS != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(newListenerCreds(cfg.GRPCTLS)))
	}
	s.grpc = grpc.NewServer(append(grpcOpts, o.grpcOpts...)...)
	gatewayv1.RegisterTicketServiceServer(s.grpc, svcs.Tickets)
	gatewayv1.RegisterTicketTypeServiceServer(s.grpc, svcs.TicketTypes)
	gatewayv1.RegisterTagServiceServer(s.grpc, svcs.Tags)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	if cfg.Reflection != ReflectionOff {
		reflection.Register(s.grpc)
	}
	s.setServing(healthpb.HealthCheckResponse_NOT_SERVING)

	// The REST mux dials the same grpc.Server through an in-memory listener,
	// so REST calls run the interceptor chain above. The connection is lazy:
	// nothing is dialled until the first REST call, after Serve has started
	// serving s.mem.
	s.mem = bufconn.Listen(1 << 20)
	s.conn, err = grpc.NewClient("passthrough:///bufnet", append(o.dialOpts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return s.mem.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// REST bodies are at most MaxRequestBytes of JSON; their binary form
		// is smaller, so the hop never refuses what the edge let through.
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(int(cfg.MaxRequestBytes))),
	)...)
	if err != nil {
		return nil, fmt.Errorf("server: in-memory gRPC connection: %w", err)
	}
	handler, err := s.httpHandler(o.handlers)
	if err != nil {
		_ = s.conn.Close()
		return nil, err
	}
	handler = s.drain.drainHTTP(handler)
	for i := len(o.middleware) - 1; i >= 0; i-- {
		handler = o.middleware[i](handler)
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(o.logger.Handler(), slog.LevelWarn),
	}
	if cfg.HTTPTLS != nil {
		s.http.TLSConfig = cfg.HTTPTLS.Clone()
	}
	return s, nil
}

// Health returns the gRPC health server, so that dependency checks can
// report the status of a single service (by its full name, e.g.
// "intercom.gateway.v1.TicketService") or of the whole gateway (""). Serve
// sets every status to SERVING when it starts and to NOT_SERVING when it
// begins to shut down; later changes are ignored.
func (s *Server) Health() *health.Server { return s.health }

func (s *Server) setServing(st healthpb.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus("", st)
	for _, name := range serviceNames {
		s.health.SetServingStatus(name, st)
	}
}

// Serve serves gRPC on grpcLis and HTTP on httpLis until ctx ends or a
// listener fails, then shuts down gracefully: health turns NOT_SERVING, the
// HTTP server stops accepting and waits for in-flight REST calls, then the
// gRPC server stops accepting and waits for in-flight gRPC calls. Both waits
// share one deadline, Config.ShutdownGrace; calls still running after it are
// cancelled and Serve reports it. Serve closes both listeners and can only be
// called once.
//
// It returns nil after a clean shutdown triggered by ctx.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("server: Serve called more than once")
	}
	errc := make(chan error, 3)
	go func() { errc <- wrapServe("gRPC", s.grpc.Serve(grpcLis)) }()
	go func() { errc <- wrapServe("in-memory gRPC", s.grpc.Serve(s.mem)) }()
	go func() {
		var err error
		if s.http.TLSConfig != nil {
			// The certificate is in TLSConfig; ServeTLS adds h2 to its ALPN.
			err = s.http.ServeTLS(httpLis, "", "")
		} else {
			err = s.http.Serve(httpLis)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- wrapServe("HTTP", err)
	}()
	s.setServing(healthpb.HealthCheckResponse_SERVING)
	s.log.InfoContext(ctx, "listening", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String(),
		"grpc_tls", s.cfg.GRPCTLS != nil, "http_tls", s.cfg.HTTPTLS != nil, "reflection", s.cfg.Reflection.String())

	var serveErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace.String())
	case serveErr = <-errc:
		// grpc.Server.Serve returns only after Stop, and http.Server.Serve
		// only after Shutdown, so any return here is a failure.
		if serveErr == nil {
			serveErr = errors.New("server: a listener stopped unexpectedly")
		}
		s.log.Error("listener failed; shutting down", "error", serveErr.Error())
	}
	return errors.Join(serveErr, s.shutdown())
}

func wrapServe(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("server: serving %s: %w", what, err)
}

// shutdown stops both listeners from taking new work at once, then drains
// them concurrently under one budget, Config.ShutdownGrace: health turns
// NOT_SERVING, new gRPC calls and new REST requests are refused with
// UNAVAILABLE / 503 from the first moment, and the running calls of both
// transports finish side by side. What still runs when the budget is spent
// is cancelled, and the error wraps ErrCallsCut.
func (s *Server) shutdown() error {
	// Shutdown also makes every later SetServingStatus a no-op, so nothing
	// can flip the gateway back to SERVING while it drains.
	s.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	idle := s.drain.begin()

	// http.Shutdown closes the listener and idle connections at once and
	// waits for the running requests; at the same time the gRPC calls run
	// on. Neither waits for the other.
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	var cut []string
	select {
	case <-idle:
	case <-ctx.Done():
		cut = append(cut, "gRPC")
	}
	if err := <-httpDone; err != nil {
		_ = s.http.Close()
		cut = append(cut, "REST")
	}
	// Every counted call is done (or the budget is spent): stop gRPC. What
	// is left is the in-memory REST connection, idle by now.
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
		<-stopped
		if len(cut) == 0 {
			cut = append(cut, "gRPC")
		}
	}
	_ = s.conn.Close()
	if len(cut) > 0 {
		return fmt.Errorf("%w: %s calls still running after the %v grace period", ErrCallsCut, strings.Join(cut, " and "), s.cfg.ShutdownGrace)
	}
	s.log.Info("shut down cleanly")
	return nil
}
