// Command gateway serves the intercom-gateway gRPC and REST APIs in front of
// Intercom (or, with no token configured, in front of the built-in Intercom
// simulator), and with `gateway sandbox` runs that simulator on its own.
//
// It only wires things: configuration (config.go), then the upstream client,
// the services and the server, then signal handling. Behaviour lives in the
// packages it wires: server, service, upstream and upstream/sandbox.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// sandboxToken is what the gateway sends to its in-process sandbox, which
// accepts any non-empty token.
const sandboxToken = "sandbox-token"

func main() {
	if err := realMain(context.Background()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "sandbox" {
		return runSandbox(ctx, args[1:], os.Getenv, os.Stderr)
	}
	return runGateway(ctx, args, os.Getenv, os.Stderr)
}

// newLogger writes JSON (or text) lines; lines logged inside a traced call
// carry its trace_id and span_id.
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(telemetry.NewLogHandler(h))
}

func runGateway(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	log.Info("starting", "config", cfg)

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

	clientOpts := []upstream.Option{
		upstream.WithToken(cfg.Intercom.Token.Reveal()),
		upstream.WithRegion(regions[cfg.Intercom.Region]),
		upstream.WithVersion(upstream.Version(cfg.Intercom.Version)),
		upstream.WithTimeout(cfg.Intercom.Timeout),
		// Calls sent as Preview because the configured version lacks them carry version_fallback=true.
		upstream.WithLogger(log.With("component", "upstream")),
	}
	if cfg.Intercom.BaseURL != "" {
		clientOpts = append(clientOpts, upstream.WithBaseURL(cfg.Intercom.BaseURL))
	}
	// /metrics is served on the HTTP listener: it is the port that
	// Prometheus and the orchestrator's probes (/healthz) already reach, and
	// it holds no secrets and only bounded labels.
	serverOpts := []server.Option{server.WithOpenTelemetry(), server.WithHTTPHandler("GET /metrics", tel.MetricsHandler())}

	if cfg.UseSandbox() {
		sb := sandbox.New(sandbox.WithLogger(log.With("component", "sandbox")))
		// A real loopback listener keeps the client honest: it speaks HTTP to
		// the sandbox exactly as it would to api.intercom.io.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
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
		if cfg.Intercom.Token != "" {
			log.Warn("GATEWAY_SANDBOX=on: INTERCOM_TOKEN is ignored")
		}
		clientOpts = append(clientOpts,
			upstream.WithToken(sandboxToken),
			upstream.WithBaseURL("http://"+ln.Addr().String()))
		serverOpts = append(serverOpts, server.WithHTTPHandler("/__sandbox/", sb))
		log.Warn("sandbox mode: serving the built-in Intercom simulator; set INTERCOM_TOKEN (or GATEWAY_SANDBOX=off) for real Intercom",
			"sandbox_addr", ln.Addr().String(), "admin_path", "/__sandbox/")
	}

	client, err := upstream.New(clientOpts...)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	svcLog := service.WithLogger(log)
	// Today's env configuration is one workspace; the workspace registry
	// replaces Single when several are configured.
	backends := service.Single("default", client)
	svcs := server.Services{
		Tickets:     service.NewTicketService(backends, svcLog),
		TicketTypes: service.NewTicketTypeService(backends, svcLog),
		Tags:        service.NewTagService(backends, svcLog),
	}
	srv, err := server.New(server.Config{ShutdownGrace: cfg.Listen.ShutdownGrace}, svcs,
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

// runSandbox is `gateway sandbox`: the simulator alone, for example as the
// upstream of a benchmark that runs the gateway in another process.
func runSandbox(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadSandboxConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	opts := []sandbox.Option{sandbox.WithLogger(log)}
	if cfg.RateLimit >= 0 {
		opts = append(opts, sandbox.WithRateLimit(cfg.RateLimit, 0))
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("sandbox listener: %w", err)
	}
	log.Info("sandbox listening", "addr", ln.Addr().String(), "admin_path", "/__sandbox/")
	return sandbox.New(opts...).Serve(ctx, ln)
}
