// Command gateway serves the intercom-gateway gRPC and REST APIs in front of
// Intercom (or, with --sandbox=on, in front of the built-in Intercom
// simulator). Its subcommands:
//
//	gateway sandbox            the simulator on its own
//	gateway config check FILE  validate a config file and print it, secrets redacted
//	gateway keys new --caller ID  make a caller key; print it once, and its hash for the config
//
// It only wires things: configuration (package config), then the workspace
// registry (package workspace), the services and the server, then signal
// handling (tools.go has the subcommands). Behaviour lives in the packages it
// wires.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/service/redisstore"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
	"github.com/intercom-gateway/intercom-gateway/workspace"
)

func main() {
	if err := realMain(context.Background()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		if errors.Is(err, server.ErrCallsCut) {
			// Stopped, but calls still running after the grace period were
			// cancelled: distinct from a failure to run at all (1).
			os.Exit(exitCallsCut)
		}
		os.Exit(1)
	}
}

// exitCallsCut is the exit status after a shutdown that cancelled calls
// still running when the grace period ended; 0 is a clean stop, 1 any other
// error.
const exitCallsCut = 3

func realMain(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
}

// run dispatches the subcommands. stdout gets what a subcommand prints on
// purpose (config check); stderr gets logs and -h.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "sandbox":
			return runSandbox(ctx, args[1:], getenv, stderr)
		case "config":
			return runConfig(args[1:], getenv, stdout)
		case "keys":
			return runKeys(args[1:], getenv, stdout, stderr)
		case "probe":
			return runProbe(ctx, args[1:], stdout, stderr)
		case "version":
			_, err := fmt.Fprintln(stdout, version)
			return err
		}
	}
	return runGateway(ctx, args, getenv, stderr)
}

// defaultGOGC is the garbage collector's target the gateway runs with when
// the environment does not set GOGC. Go's default (100) starts a cycle each
// time the heap doubles; the gateway's live heap is a few MiB, so under load
// that is dozens of cycles a second. Each one costs CPU in mark assists on
// the calls themselves, and shrinks the gRPC workers' stacks, which the next
// call grows again: `make bench` (cached GetTicketType over gRPC, 50 callers)
// measured 73 µs of CPU per call at 100 and 52 µs at 400. The price is heap
// headroom: the heap may grow to five times its live size before a cycle;
// the memory limit (tuneMemoryLimit) makes the collector work harder before
// the process nears its container's limit.
const defaultGOGC = 400

// memoryLimitRatio is the share of the container's memory limit given to
// the Go runtime as its soft limit: the rest is for what the runtime does
// not count (the executable's pages, which the container's limit does).
const memoryLimitRatio = 0.9

// tuneMemoryLimit sets the runtime's soft memory limit to memoryLimitRatio
// of the limit from (the container's cgroup in production), unless
// GOMEMLIMIT (or AUTOMEMLIMIT=off) is set, and returns the limit in effect
// for the startup log ("none" without a limit).
func tuneMemoryLimit(from memlimit.Provider) string {
	limit, err := memlimit.Set(memlimit.WithProvider(from), memlimit.WithRatio(memoryLimitRatio),
		memlimit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil || limit <= 0 || limit == math.MaxInt64 {
		return "none"
	}
	return strconv.FormatInt(limit, 10)
}

// tuneGC applies defaultGOGC unless GOGC is set (the runtime has already
// read it then), and returns the GOGC in effect, for the startup log.
func tuneGC(getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return v
	}
	debug.SetGCPercent(defaultGOGC)
	return strconv.Itoa(defaultGOGC)
}

// newLogger writes JSON (or text) lines; lines logged inside a traced call
// carry its trace_id and span_id.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.NewLogHandler(h))
}

func runGateway(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load("gateway", args, getenv, stderr)
	if err != nil {
		return err
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg.Log, logOut)
	log.Info("starting", "version", version, "config", cfg, "gogc", tuneGC(getenv), "memory_limit", tuneMemoryLimit(memlimit.FromCgroup))

	// Telemetry first, so that everything built below reports through it.
	tel, err := telemetry.Setup(ctx, telemetry.WithLogger(log))
	if err != nil {
		return err
	}
	defer func() {
		// Bounded (telemetry.DefaultShutdownTimeout): a dead collector
		// cannot hold up the exit.
		if err := tel.Shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry flush incomplete", "error", err.Error())
		}
	}()
	log.Info("telemetry", "exported", tel.Exported(), "tracing", tel.TracingEnabled(), "metrics_path", "/metrics")

	authn, err := cfg.Authenticator(getenv)
	if err != nil {
		return err
	}
	srvCfg, err := serverConfig(cfg)
	if err != nil {
		return err
	}
	regOpts := []workspace.Option{workspace.WithLogger(log), workspace.WithGetenv(getenv)}
	// /metrics is served on the HTTP listener: it is the port that
	// Prometheus and the orchestrator's probes (/healthz) already reach, and
	// it holds no secrets and only bounded labels.
	serverOpts := []server.Option{server.WithOpenTelemetry(tel.TracerProvider()), server.WithHTTPHandler("GET /metrics", tel.MetricsHandler()), server.WithAuth(authn)}
	if cfg.UseSandbox() {
		sbOpts := []sandbox.Option{sandbox.WithLogger(log.With("component", "sandbox"))}
		if cfg.Sandbox.RateLimit >= 0 {
			sbOpts = append(sbOpts, sandbox.WithRateLimit(cfg.Sandbox.RateLimit, 0))
		}
		sb := sandbox.New(sbOpts...)
		// A real listener keeps the client honest: it speaks HTTP to the
		// sandbox exactly as it would to Intercom.
		ln, err := net.Listen("tcp", cfg.Sandbox.Addr)
		if err != nil {
			return fmt.Errorf("sandbox listener: %w", err)
		}
		// The sandbox outlives the gateway's drain (in-flight calls still
		// need it), so it stops only when runGateway returns.
		sbCtx, stopSandbox := context.WithCancel(context.WithoutCancel(ctx))
		sbDone := make(chan error, 1)
		go func() { sbDone <- sb.Serve(sbCtx, ln) }()
		defer func() {
			stopSandbox()
			if err := <-sbDone; err != nil {
				log.Warn("sandbox stopped with an error", "error", err.Error())
			}
		}()
		regOpts = append(regOpts, workspace.WithSandbox("http://"+ln.Addr().String()))
		serverOpts = append(serverOpts, server.WithHTTPHandler("/__sandbox/", sb))
		open := "without caller authentication"
		if len(cfg.Callers) > 0 {
			open = "with caller authentication"
		}
		log.Warn("sandbox mode: serving the built-in Intercom simulator with demo data, "+open+"; its /__sandbox/ endpoints inject faults. For real Intercom set a token and drop --sandbox=on",
			"sandbox_addr", ln.Addr().String(), "admin_path", "/__sandbox/")
		if !loopback(cfg.Listen.HTTPAddr) {
			log.Warn("sandbox mode on a non-loopback HTTP address: other machines can reach /__sandbox/ and inject faults", "http_addr", cfg.Listen.HTTPAddr)
		}
	} else if len(cfg.Callers) == 0 {
		log.Warn("caller authentication is off (--insecure-no-auth): anyone who can connect acts with the gateway's Intercom token")
	}

	// Ticket-type schemas are cached per workspace: reads are answered from
	// memory and ticket writes are checked against them before Intercom.
	// With Redis, writes reach the other replicas' caches (the bus is added
	// below, before the registry builds the caches).
	var schemaBus schemacache.Bus
	regOpts = append(regOpts, workspace.WithClientWrapper(func(w config.Workspace, c *upstream.Client) (service.Client, error) {
		sc := cfg.SchemaCache
		opts := []schemacache.Option{schemacache.WithWorkspace(w.Name), schemacache.WithLogger(log.With("component", "schemacache")),
			schemacache.WithTTL(sc.TTL), schemacache.WithRefresh(sc.Refresh), schemacache.WithMaxStale(sc.MaxStale),
			schemacache.WithMinReload(sc.MinReload), schemacache.WithMaxEntries(sc.MaxTypes, sc.MaxTickets)}
		if schemaBus != nil {
			opts = append(opts, schemacache.WithBus(schemaBus))
		}
		return schemacache.New(c, opts...)
	}))
	// Rate budgets: shared by the replicas through Redis when one is
	// configured, else kept in this process.
	rlCfg := cfg.RateLimitConfig()
	rdb, err := cfg.Redis.RedisClient(getenv, rlCfg.RedisTimeout)
	if err != nil {
		return err
	}
	var ticketOpts []service.Option
	var requestIDRecords func() int
	var limiters interface {
		For(workspace string, b ratelimit.Budget) *ratelimit.Limiter
	}
	if rdb != nil {
		defer rdb.Close()
		shared := ratelimit.NewShared(rdb, rlCfg, log.With("component", "ratelimit"))
		defer shared.Close()
		limiters = shared
		// request_id results are shared too, so a retried create that
		// lands on another replica finds the first one.
		store := redisstore.New(rdb, service.DefaultIdempotencyTTL, redisstore.WithMemoryMaxRecords(cfg.RequestID.MaxRecords),
			redisstore.WithTimeout(max(rlCfg.RedisTimeout, 100*time.Millisecond)), redisstore.WithLogger(log.With("component", "request_id_store")))
		ticketOpts = append(ticketOpts, service.WithIdempotencyStore(store))
		requestIDRecords = store.MemoryRecords
		// /healthz shows both fallbacks while Redis is away; readiness
		// stays up, since the gateway still serves.
		serverOpts = append(serverOpts, server.WithDegradation("rate_limit", shared.Degraded),
			server.WithDegradation("request_id_store", store.Degraded))
		log.Info("rate budgets are shared with the other replicas through Redis", "replica", shared.ReplicaID())
		bus := schemacache.NewRedisBus(rdb, schemacache.WithBusLogger(log.With("component", "schemacache")))
		defer bus.Close()
		schemaBus = bus
	} else {
		limiters = ratelimit.NewLocal(rlCfg)
		log.Info("rate budgets are kept in this process (no redis.addr): right for a single replica only")
		store := service.NewMemoryIdempotencyStore(service.DefaultIdempotencyTTL, service.WithStoreMaxEntries(cfg.RequestID.MaxRecords))
		ticketOpts = append(ticketOpts, service.WithIdempotencyStore(store))
		requestIDRecords = store.Len
	}
	// What the bounded request_id memory holds, so an operator (and make
	// soak) can tell it filling towards request_id.max_records from a leak.
	if _, err := otel.Meter("github.com/intercom-gateway/intercom-gateway/cmd/gateway").Int64ObservableGauge(telemetry.MetricRequestIDRecords,
		metric.WithUnit("{record}"), metric.WithDescription("request_id results this replica holds in memory (bounded by request_id.max_records)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(requestIDRecords()))
			return nil
		})); err != nil {
		return err
	}
	// Every workspace's attempts are traced when tracing is on (a nil
	// provider leaves the instrumentation out).
	regOpts = append(regOpts, workspace.WithClientOptions(func(config.Workspace) []upstream.Option {
		return []upstream.Option{upstream.WithTracerProvider(tel.TracerProvider())}
	}))
	if cfg.RateLimit.Off {
		log.Warn("the gateway's rate limiter is off (rate_limit.off): calls go to Intercom without regard to its budget")
	} else {
		regOpts = append(regOpts, workspace.WithClientOptions(func(w config.Workspace) []upstream.Option {
			return []upstream.Option{upstream.WithLimiter(limiters.For(w.Name, w.Budget()))}
		}))
	}
	reg, err := workspace.New(cfg, regOpts...)
	if err != nil {
		return err
	}
	defer reg.Close()
	svcLog := service.WithLogger(log)
	pageKey, err := pageTokenKey(cfg, getenv)
	if err != nil {
		return err
	}
	if pageKey == nil {
		log.Info("search page tokens are signed with a key of this process: behind a load balancer, a next page that lands on another replica is refused; configure auth.hmac_secret_file to share one")
	}
	svcs := server.Services{
		Tickets:     service.NewTicketService(reg, append(ticketOpts, svcLog, service.WithPageTokenKey(pageKey))...),
		TicketTypes: service.NewTicketTypeService(reg, svcLog),
		Tags:        service.NewTagService(reg, svcLog),
	}
	srv, err := server.New(srvCfg, svcs,
		append(serverOpts, server.WithLogger(log))...)
	if err != nil {
		return err
	}

	grpcLis, err := net.Listen("tcp", cfg.Listen.GRPCAddr)
	if err != nil {
		return fmt.Errorf("gRPC listener: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.Listen.HTTPAddr)
	if err != nil {
		_ = grpcLis.Close()
		return fmt.Errorf("HTTP listener: %w", err)
	}
	if cfg.Listen.AdminAddr != "" {
		adminLis, err := net.Listen("tcp", cfg.Listen.AdminAddr)
		if err != nil {
			_, _ = grpcLis.Close(), httpLis.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		// Profiles stay available while the gateway drains, which is
		// when a stuck call is worth a goroutine dump.
		adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
		adminDone := make(chan error, 1)
		go func() { adminDone <- server.ServeDebug(adminCtx, adminLis, log) }()
		defer func() {
			stopAdmin()
			if err := <-adminDone; err != nil {
				log.Warn("admin listener stopped with an error", "error", err.Error())
			}
		}()
	}
	return srv.Serve(ctx, grpcLis, httpLis)
}

// pageTokenKey derives the key that signs search page tokens from the
// key-hash secret, which every replica shares, so a caller's next page may
// land on any replica. The derivation keeps the two uses apart: a page token
// reveals nothing about key hashes. Without a secret (no callers) it returns
// nil, and each process signs with a random key of its own.
func pageTokenKey(cfg config.Config, getenv func(string) string) ([]byte, error) {
	if cfg.Auth.HMACSecretEnv == "" && cfg.Auth.HMACSecretFile == "" {
		return nil, nil
	}
	secret, err := cfg.Auth.HMACSecret(getenv)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte("intercom-gateway search page tokens v1"))
	return m.Sum(nil), nil
}

// serverConfig is the listener part of cfg in the server's terms, with the
// TLS files loaded.
func serverConfig(cfg config.Config) (server.Config, error) {
	refl, err := server.ParseReflection(cfg.Auth.Reflection)
	if err != nil {
		return server.Config{}, err
	}
	sc := server.Config{ShutdownGrace: cfg.Listen.ShutdownGrace, Reflection: refl, MaxRequestBytes: int64(cfg.Listen.MaxRequestBytes)}
	if sc.GRPCTLS, err = listenerTLS(cfg.Listen.GRPCTLS); err != nil {
		return server.Config{}, fmt.Errorf("listen.grpc_tls: %w", err)
	}
	if sc.HTTPTLS, err = listenerTLS(cfg.Listen.HTTPTLS); err != nil {
		return server.Config{}, fmt.Errorf("listen.http_tls: %w", err)
	}
	return sc, nil
}

func listenerTLS(t config.TLS) (*tls.Config, error) {
	if t.CertFile == "" {
		return nil, nil
	}
	clientAuth := map[string]server.ClientAuth{
		"none": server.ClientCertNone, "optional": server.ClientCertOptional, "required": server.ClientCertRequired,
	}[t.ClientCerts]
	return server.LoadTLS(server.TLSFiles{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, ClientAuth: clientAuth})
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
