package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// errPanic is what a caller sees when a handler panics: the panic value and
// stack may hold request data, so they are logged, not returned.
var errPanic = status.Error(codes.Internal, "internal error")

func logPanic(ctx context.Context, log *slog.Logger, method string, p any) {
	log.ErrorContext(ctx, "panic in gRPC handler",
		"grpc.method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
}

// The access log deliberately records no metadata and no message contents:
// metadata carries the caller's Authorization header, and requests carry
// customer data.

// observer is the outermost of the gateway's interceptors but the drain: it
// recovers a handler's panic, writes the access-log line and, with
// WithOpenTelemetry, records the RPC metrics and takes the caller's trace
// context when no stats handler has. A panicking call is logged and counted
// as the INTERNAL it answers.
type observer struct {
	log     *slog.Logger
	metrics *rpcMetrics // nil without WithOpenTelemetry
}

func (ob observer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ctx, stats := ob.begin(ctx)
	defer func() {
		if p := recover(); p != nil {
			logPanic(ctx, ob.log, info.FullMethod, p)
			resp, err = nil, errPanic
		}
		ob.end(ctx, info.FullMethod, start, stats, err)
	}()
	return handler(ctx, req)
}

func (ob observer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ctx, stats := ob.begin(ss.Context())
	defer func() {
		if p := recover(); p != nil {
			logPanic(ctx, ob.log, info.FullMethod, p)
			err = errPanic
		}
		ob.end(ctx, info.FullMethod, start, stats, err)
	}()
	return handler(srv, &contextStream{ss, ctx})
}

func (ob observer) begin(ctx context.Context) (context.Context, *telemetry.CallStats) {
	if ob.metrics != nil {
		ctx = extractTrace(ctx)
	}
	return telemetry.WithCallStats(ctx)
}

func (ob observer) end(ctx context.Context, method string, start time.Time, stats *telemetry.CallStats, err error) {
	now := time.Now()
	st := status.Convert(err)
	if ob.metrics != nil {
		ob.metrics.record(ctx, method, st.Code(), now.Sub(start).Seconds())
	}
	logCall(ctx, ob.log, method, now.Sub(start), stats, st)
}

// contextStream is a ServerStream with a derived context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// logCall writes the access-log line: one per call, REST calls included
// (they reach the gRPC server through the in-memory connection). Logged
// with the call's context, so it carries trace_id and span_id when the
// logger's handler is telemetry.NewLogHandler.
func logCall(ctx context.Context, log *slog.Logger, method string, took time.Duration, stats *telemetry.CallStats, st *status.Status) {
	level := callLevel(method, st.Code())
	if !log.Enabled(ctx, level) {
		return
	}
	// The record is built here rather than through log.LogAttrs: the
	// Logger would capture the caller's program counter for every line
	// (runtime.Callers, a stack walk on each call), which only a handler
	// with AddSource reads, and the access log has no use for.
	r := slog.NewRecord(time.Now(), level, "gRPC call", 0)
	r.AddAttrs(
		slog.String("grpc.method", method),
		slog.String("grpc.code", st.Code().String()),
		// Whole microseconds: slog writes a float through encoding/json,
		// a tenth of the line's cost.
		slog.Int64("duration_us", took.Microseconds()),
		slog.String("transport", transport(ctx)),
		slog.Int64("upstream_attempts", stats.Attempts()),
	)
	if caller, workspace := stats.Identity(); caller != "" || workspace != "" {
		r.AddAttrs(slog.String("caller", caller), slog.String("workspace", workspace))
	}
	if st.Code() != codes.OK {
		// Status messages are written by the service package for callers, so
		// they hold nothing the caller may not see.
		r.AddAttrs(slog.String("grpc.message", st.Message()))
	}
	// As with the Logger's own methods, a failed write is not the call's
	// failure.
	_ = log.Handler().Handle(ctx, r)
}

// callLevel keeps health probes and reflection out of the default log, and
// raises the level for codes that point at the gateway or Intercom rather
// than at the caller.
func callLevel(method string, code codes.Code) slog.Level {
	switch code {
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.DeadlineExceeded, codes.Unavailable, codes.ResourceExhausted:
		return slog.LevelWarn
	}
	if !observed(method) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// transport says whether a call came in over the gRPC listener or from the
// REST mux, which reaches the server through the in-memory bufconn listener.
func transport(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil && p.Addr.Network() == "bufconn" {
		return "rest"
	}
	return "grpc"
}
