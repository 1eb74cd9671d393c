package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The gateway's messages, so that gRPC calls can name them.
	_ "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

// The load generator runs as its own process (`bench load`), pinned to the
// other core than the servers. It speaks to its parent over stdin/stdout:
// after the warm-up it prints "start", after the measured window "end" and
// then one JSON line (loadResult). The parent samples /proc at "start" and
// "end", so CPU per call covers exactly the calls counted.

// loadResult is what one measured window produced.
type loadResult struct {
	Calls    int64   `json:"calls"`
	Errors   int64   `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
}

// loadSpec is the call to make, with the load's shape.
type loadSpec struct {
	Call        Call
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
}

func (s loadSpec) args() []string {
	b, _ := json.Marshal(s.Call)
	return []string{"load", "-call", string(b), "-c", fmt.Sprint(s.Concurrency),
		"-warmup", s.Warmup.String(), "-d", s.Duration.String()}
}

func loadMain(args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	callJSON := fs.String("call", "", "the Call, as JSON")
	var s loadSpec
	fs.IntVar(&s.Concurrency, "c", 1, "concurrent callers")
	fs.DurationVar(&s.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before the window")
	fs.DurationVar(&s.Duration, "d", 3*time.Second, "measured window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(*callJSON), &s.Call); err != nil {
		return fmt.Errorf("-call: %w", err)
	}
	do, closeFn, err := newCaller(s.Call, s.Concurrency)
	if err != nil {
		return err
	}
	defer closeFn()
	out := bufio.NewWriter(os.Stdout)
	res := drive(do, s, func(mark string) { fmt.Fprintln(out, mark); _ = out.Flush() })
	b, _ := json.Marshal(res)
	fmt.Fprintln(out, string(b))
	return out.Flush()
}

// drive runs s.Concurrency callers in a closed loop: warm-up, then the
// measured window. mark is called with "start" and "end".
func drive(do func(context.Context) error, s loadSpec, mark func(string)) loadResult {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		all       []time.Duration
		calls     atomic.Int64
		errs      atomic.Int64
		firstErr  atomic.Value
	)
	ctx := context.Background()
	for range s.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<14)
			for !stop.Load() {
				t0 := time.Now()
				err := do(ctx)
				d := time.Since(t0)
				if !measuring.Load() {
					continue
				}
				calls.Add(1)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	time.Sleep(s.Warmup)
	mark("start")
	t0 := time.Now()
	measuring.Store(true)
	time.Sleep(s.Duration)
	measuring.Store(false)
	elapsed := time.Since(t0)
	// Calls still in flight when the window closes are not counted; the
	// servers' CPU for them is, which overstates CPU per call by at most
	// Concurrency/calls.
	mark("end")
	stop.Store(true)
	wg.Wait()
	slices.Sort(all)
	r := loadResult{Calls: calls.Load(), Errors: errs.Load(), Seconds: elapsed.Seconds(),
		P50us: pct(all, 0.50), P90us: pct(all, 0.90), P99us: pct(all, 0.99)}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstErr = e
	}
	return r
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

// newCaller returns a function that makes one call, and a cleanup.
func newCaller(c Call, concurrency int) (func(context.Context) error, func(), error) {
	switch {
	case c.GRPC != "" && c.HTTP != "":
		return nil, nil, errors.New("a Call is either GRPC or HTTP")
	case c.GRPC != "":
		return grpcCaller(c)
	case c.HTTP != "":
		return httpCaller(c, concurrency)
	}
	return nil, nil, errors.New("a Call needs GRPC or HTTP")
}

// grpcCaller calls one unary method over one connection, as a typical client
// does (HTTP/2 multiplexes the concurrent calls).
func grpcCaller(c Call) (func(context.Context) error, func(), error) {
	in, out, err := methodTypes(c.GRPC)
	if err != nil {
		return nil, nil, err
	}
	req := in.New().Interface()
	if c.Body != "" {
		if err := protojson.Unmarshal([]byte(c.Body), req); err != nil {
			return nil, nil, fmt.Errorf("body of %s: %w", c.GRPC, err)
		}
	}
	conn, err := grpc.NewClient("passthrough:///"+c.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	pool := sync.Pool{New: func() any { return out.New().Interface() }}
	do := func(ctx context.Context) error {
		resp := pool.Get().(proto.Message)
		err := conn.Invoke(ctx, c.GRPC, req, resp)
		proto.Reset(resp)
		pool.Put(resp)
		return err
	}
	return do, func() { _ = conn.Close() }, nil
}

// methodTypes finds the request and response types of a full method name
// ("/pkg.Service/Method") among the registered descriptors.
func methodTypes(full string) (in, out protoreflect.MessageType, err error) {
	svc, method, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return nil, nil, fmt.Errorf("gRPC method %q: want /package.Service/Method", full)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, nil, fmt.Errorf("gRPC method %q: %w", full, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, nil, fmt.Errorf("gRPC method %q: %s is not a service", full, svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil, nil, fmt.Errorf("gRPC method %q: no such method", full)
	}
	if in, err = protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName()); err != nil {
		return nil, nil, err
	}
	if out, err = protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName()); err != nil {
		return nil, nil, err
	}
	return in, out, nil
}

// httpCaller makes one HTTP request per call over a pool of keep-alive
// connections, one per concurrent caller.
func httpCaller(c Call, concurrency int) (func(context.Context) error, func(), error) {
	method, path, ok := strings.Cut(c.HTTP, " ")
	if !ok {
		return nil, nil, fmt.Errorf("HTTP call %q: want \"METHOD /path\"", c.HTTP)
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     time.Minute,
	}
	client := &http.Client{Transport: tr}
	url := "http://" + c.Addr + path
	header := http.Header{}
	for _, h := range c.Header {
		k, v, _ := strings.Cut(h, ":")
		header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if c.Body != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/json")
	}
	do := func(ctx context.Context) error {
		var body io.Reader
		if c.Body != "" {
			body = strings.NewReader(c.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			return err
		}
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	return do, tr.CloseIdleConnections, nil
}
