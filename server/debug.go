package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// DebugHandler serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/, for an operator chasing a production problem: CPU
// (/debug/pprof/profile?seconds=30), heap, goroutines, mutex and block
// contention, execution traces. It is never mounted on the API listener:
// profiles expose internals and a CPU profile costs CPU, so ServeDebug runs it
// on a listener of its own, which the gateway opens only when configured.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // heap, goroutine, allocs, mutex, block, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ServeDebug serves DebugHandler on ln until ctx ends. A CPU profile or
// trace in progress is cut off then.
func ServeDebug(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           DebugHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Warn("profiling listener on: /debug/pprof/ exposes the process's internals, keep it on a private address",
		"admin_addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
