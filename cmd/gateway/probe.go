package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// version is stamped at build time (-ldflags "-X main.version=…"; see
// deploy/Dockerfile) and printed by `gateway version`.
var version = "dev"

// runProbe is `gateway probe`: one grpc.health.v1 check against a running
// gateway, exiting 0 when it is SERVING. Images without a shell (the
// distroless one in deploy/) use it as their health check; Kubernetes
// speaks gRPC health itself and needs no binary.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "gRPC 'address' of the gateway to check")
	service := fs.String("service", "", "health 'service' name; empty checks the whole gateway")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this 'duration'")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: *service})
	if err != nil {
		return fmt.Errorf("probe %s: %w", *addr, err)
	}
	fmt.Fprintln(stdout, resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return errors.New("probe: not serving")
	}
	return nil
}
