package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrCallsCut is wrapped by Serve's error when calls were still running
// after Config.ShutdownGrace and were cancelled. cmd/gateway exits with a
// distinct status for it, so an orchestrator can tell a clean stop from one
// that cut requests.
var ErrCallsCut = errors.New("server: in-flight calls were cut off")

// drain tracks the calls that arrived on the public listeners, so that
// shutdown can refuse new ones on both listeners at once and wait for the
// running ones on both at the same time.
type drain struct {
	mu       sync.Mutex
	draining bool
	inflight int
	idle     chan struct{} // closed when draining and inflight reaches 0
}

func newDrain() *drain { return &drain{idle: make(chan struct{})} }

// enter admits a call unless shutdown has begun; leave must follow.
func (d *drain) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining {
		return false
	}
	d.inflight++
	return true
}

func (d *drain) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inflight--
	if d.draining && d.inflight == 0 {
		close(d.idle)
	}
}

// begin stops admitting calls and returns a channel closed once none runs.
func (d *drain) begin() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.draining {
		d.draining = true
		if d.inflight == 0 {
			close(d.idle)
		}
	}
	return d.idle
}

var errShuttingDown = status.Error(codes.Unavailable, "the gateway is shutting down; retry on another instance")

// The gRPC interceptors count calls from the gRPC listener only: REST calls
// are counted once, by drainHTTP, when they arrive over HTTP, and must still
// reach the gRPC server through the in-memory connection while REST drains.

// Health checks are neither refused nor counted: a prober must read
// NOT_SERVING, and an open Watch must not hold the drain.

func (d *drain) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if transport(ctx) == "rest" || strings.HasPrefix(info.FullMethod, "/grpc.health.") {
		return handler(ctx, req)
	}
	if !d.enter() {
		return nil, errShuttingDown
	}
	defer d.leave()
	return handler(ctx, req)
}

func (d *drain) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if transport(ss.Context()) == "rest" || strings.HasPrefix(info.FullMethod, "/grpc.health.") {
		return handler(srv, ss)
	}
	if !d.enter() {
		return errShuttingDown
	}
	defer d.leave()
	return handler(srv, ss)
}

// drainHTTP admits REST requests the same way (a keep-alive connection can
// bring a new request after shutdown began) and answers 503 once draining.
func (d *drain) drainHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.enter() {
			w.Header().Set("Connection", "close")
			writeEdgeError(w, r, http.StatusServiceUnavailable, codes.Unavailable, "SHUTTING_DOWN",
				"the gateway is shutting down; retry on another instance")
			return
		}
		defer d.leave()
		next.ServeHTTP(w, r)
	})
}
