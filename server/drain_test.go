package server_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
)

// TestShutdownStopsBothListenersAtOnce: once shutdown begins, a new gRPC
// call on an open connection is refused at once (not served while REST
// drains), a new REST request gets 503, and the running calls of both
// transports drain side by side: the gRPC call finishes while the REST call
// is still running.
func TestShutdownStopsBothListenersAtOnce(t *testing.T) {
	t.Parallel()
	var entered atomic.Int32
	release := map[string]chan struct{}{"rest": make(chan struct{}), "grpc": make(chan struct{})}
	g := startGateway(t, server.Config{ShutdownGrace: 20 * time.Second}, blockingTags(&entered, release))
	client := gatewayv1.NewTagServiceClient(g.conn)

	grpcErr := make(chan error, 1)
	go func() {
		_, err := client.GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "grpc"})
		grpcErr <- err
	}()
	restErr := make(chan error, 1)
	keepAlive := &http.Client{Transport: &http.Transport{}}
	go func() {
		resp, err := keepAlive.Get(g.httpURL + "/v1/tags/rest")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		restErr <- err
	}()
	waitFor(t, "both calls to reach the handler", func() bool { return entered.Load() == 2 })

	g.stop()
	waitFor(t, "new gRPC calls to be refused", func() bool {
		_, err := client.GetTag(context.Background(), &gatewayv1.GetTagRequest{TagId: "late"})
		return status.Code(err) == codes.Unavailable
	})
	if n := entered.Load(); n != 2 {
		t.Errorf("%d calls reached the handler after shutdown began", n-2)
	}
	// The gRPC call finishes while REST is still draining.
	close(release["grpc"])
	select {
	case err := <-grpcErr:
		if err != nil {
			t.Errorf("in-flight gRPC call: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the gRPC call did not finish while REST was draining")
	}
	select {
	case err := <-g.done:
		g.done <- err
		t.Fatalf("Serve returned with a REST call in flight: %v", err)
	default:
	}
	close(release["rest"])
	if err := <-restErr; err != nil {
		t.Errorf("in-flight REST call: %v", err)
	}
	if err := <-g.done; err != nil {
		t.Errorf("Serve: %v, want nil after a clean drain", err)
	}
	g.done <- nil
}
