package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// proxyMain is `bench proxy`: a bare httputil.ReverseProxy with a pooled
// transport, the least any HTTP hop in front of the sandbox can cost.
func proxyMain(args []string) error {
	fs := flag.NewFlagSet("bench proxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	upstream := fs.String("upstream", "", "upstream base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-upstream: want a base URL, got %q", *upstream)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	return serveHTTPUntilSignal(*addr, proxy)
}

func serveHTTPUntilSignal(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// fixedMain is `bench fixed`: a gRPC server that answers any unary method
// with a fixed message, the ceiling of any gRPC service on this machine. The
// answer is the real one: the first call of each method is forwarded to
// -from and its response kept; later calls get the kept response. Requests
// and responses are still decoded and encoded, as in any real service.
func fixedMain(args []string) error {
	fs := flag.NewFlagSet("bench fixed", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	from := fs.String("from", "", "address of the gRPC server whose first answer is kept")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := grpc.NewClient("passthrough:///"+*from, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer src.Close()
	var (
		mu   sync.Mutex
		kept = map[string]proto.Message{}
	)
	handler := func(_ any, stream grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(stream)
		in, out, err := methodTypes(method)
		if err != nil {
			return status.Error(codes.Unimplemented, err.Error())
		}
		req := in.New().Interface()
		if err := stream.RecvMsg(req); err != nil {
			return err
		}
		mu.Lock()
		resp, ok := kept[method]
		mu.Unlock()
		if !ok {
			resp = out.New().Interface()
			if err := src.Invoke(stream.Context(), method, req, resp); err != nil {
				return err
			}
			mu.Lock()
			kept[method] = resp
			mu.Unlock()
		}
		return stream.SendMsg(resp)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(handler))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	return srv.Serve(ln)
}

// redisMain is `bench redis -addr host:port`: it becomes a throwaway
// redis-server on that address (no persistence), so the harness can start
// it like any other process and the shared limiter's rows run against a
// real one.
func redisMain(args []string) error {
	fs := flag.NewFlagSet("bench redis", flag.ContinueOnError)
	addr := fs.String("addr", "", "listen address host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("the Redis rows need redis-server on PATH: %w", err)
	}
	return syscall.Exec(bin, []string{bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no"}, os.Environ())
}
