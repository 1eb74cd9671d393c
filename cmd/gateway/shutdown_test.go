package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// process is the gateway binary running in a child process, with its JSON
// log lines collected from stderr.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []map[string]any
	raw    strings.Builder
	listen chan map[string]any // the "listening" record
	exited chan struct{}       // closed when the process has exited
	err    error               // Wait's result, once exited is closed
}

// waitListening returns the gateway's "listening" log record, failing the
// test if the process exits or has not bound its listeners within 30 s.
func (p *process) waitListening(t *testing.T) map[string]any {
	t.Helper()
	select {
	case rec := <-p.listen:
		return rec
	case <-p.exited:
		t.Fatalf("gateway exited early: %v\n%s", p.err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not start listening:\n%s", p.logs())
	}
	return nil
}

func buildGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin), listen: make(chan map[string]any, 1), exited: make(chan struct{})}
	// Only what the test sets: an INTERCOM_TOKEN in the developer's
	// environment must not leak into the child.
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			_ = json.Unmarshal(sc.Bytes(), &rec)
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			p.lines = append(p.lines, rec)
			p.mu.Unlock()
			if rec["msg"] == "listening" {
				p.listen <- rec
			}
		}
	}()
	go func() {
		<-scanned // Wait closes the pipe, so read it to the end first
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

func (p *process) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rec := range p.lines {
		if rec["msg"] == msg {
			return true
		}
	}
	return false
}

func TestSIGTERMDrainsInFlightCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	t.Parallel()
	bin := buildGateway(t)

	// gRPC calls get a ticket and REST calls a ticket type. The REST calls
	// are faster, so the gRPC calls outlive the HTTP drain and the test also
	// sees that the gRPC server waits for them. Each REST call reads another
	// type: reads of one type would share a single schema-cache load.
	const (
		token      = "it-test-token-7f3a"
		grpcCalls  = 10
		restCalls  = 3
		grace      = 10 * time.Second
		seedTicket = "4001" // the sandbox seed's first ticket
	)
	seedTypes := [restCalls]string{"1", "2", "3"} // the sandbox seed's ticket types
	sb := sandbox.New()
	sb.SetFault("getTicket", sandbox.Fault{Latency: 1500 * time.Millisecond})
	sb.SetFault("getTicketType", sandbox.Fault{Latency: 300 * time.Millisecond})
	var arrived atomic.Int32
	upstreamSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tickets/"+seedTicket || slices.Contains(seedTypes[:], strings.TrimPrefix(r.URL.Path, "/ticket_types/")) {
			arrived.Add(1)
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(upstreamSrv.Close)

	p := startProcess(t, bin,
		"INTERCOM_TOKEN="+token, "INTERCOM_BASE_URL="+upstreamSrv.URL, "GATEWAY_SANDBOX=off",
		"GATEWAY_GRPC_ADDR=127.0.0.1:0", "GATEWAY_HTTP_ADDR=127.0.0.1:0",
		"GATEWAY_SHUTDOWN_GRACE="+grace.String(), "GATEWAY_LOG_LEVEL=debug", "GATEWAY_INSECURE_NO_AUTH=true")
	listening := p.waitListening(t)
	grpcAddr, httpAddr := listening["grpc_addr"].(string), listening["http_addr"].(string)

	conn, err := grpc.NewClient("passthrough:///"+grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// A health watcher that, like a load balancer, stops watching once told
	// the gateway is going away (an open watch would itself hold the drain).
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watch, err := healthpb.NewHealthClient(conn).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before SIGTERM: %v, %v; want SERVING", first.GetStatus(), err)
	}
	notServing := make(chan bool, 1)
	go func() {
		defer stopWatch()
		for {
			resp, err := watch.Recv()
			if err != nil {
				notServing <- false
				return
			}
			if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
				notServing <- true
				return
			}
		}
	}()

	type result struct {
		id, want string
		err      error
	}
	results := make(chan result, grpcCalls+restCalls)
	client := gatewayv1.NewTicketServiceClient(conn)
	for range grpcCalls {
		go func() {
			resp, err := client.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: seedTicket})
			results <- result{resp.GetTicket().GetId(), seedTicket, err}
		}()
	}
	for _, seedType := range seedTypes {
		go func() {
			resp, err := http.Get("http://" + httpAddr + "/v1/ticket-types/" + seedType)
			if err != nil {
				results <- result{want: seedType, err: err}
				return
			}
			defer resp.Body.Close()
			var body struct {
				TicketType struct{ ID string } `json:"ticket_type"`
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status + " " + string(b))
			} else {
				err = json.Unmarshal(b, &body)
			}
			results <- result{body.TicketType.ID, seedType, err}
		}()
	}

	// SIGTERM only once every call is waiting on the slow upstream.
	deadline := time.Now().Add(20 * time.Second)
	for arrived.Load() < grpcCalls+restCalls {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls reached the upstream", arrived.Load(), grpcCalls+restCalls)
		}
		time.Sleep(5 * time.Millisecond)
	}
	sigterm := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	for range grpcCalls + restCalls {
		if r := <-results; r.err != nil || r.id != r.want {
			t.Errorf("in-flight call: got id %q, error %v; want id %s", r.id, r.err, r.want)
		}
	}
	if !<-notServing {
		t.Error("the health watch ended without reporting NOT_SERVING")
	}

	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("gateway exited with %v, want status 0\n%s", p.err, p.logs())
		}
		if took := time.Since(sigterm); took > grace {
			t.Errorf("exit took %v after SIGTERM, longer than the %v grace period", took, grace)
		}
	case <-time.After(grace + 10*time.Second):
		t.Fatalf("gateway still running %v after SIGTERM\n%s", grace+10*time.Second, p.logs())
	}
	if !p.logged("shut down cleanly") {
		t.Errorf("no clean-shutdown log line:\n%s", p.logs())
	}
	if strings.Contains(p.logs(), token) {
		t.Errorf("the Intercom token appears in the gateway's log")
	}
}

// TestExitStatusSaysCallsWereCut: a call still running when the grace period
// ends is cancelled, and the exit status (3) says so.
func TestExitStatusSaysCallsWereCut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	t.Parallel()
	bin := buildGateway(t)
	sb := sandbox.New()
	sb.SetFault("getTicket", sandbox.Fault{Latency: 20 * time.Second})
	arrived := make(chan struct{}, 1)
	upstreamSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(upstreamSrv.Close)
	p := startProcess(t, bin,
		"INTERCOM_TOKEN=it-test-token", "INTERCOM_BASE_URL="+upstreamSrv.URL, "GATEWAY_SANDBOX=off",
		"GATEWAY_GRPC_ADDR=127.0.0.1:0", "GATEWAY_HTTP_ADDR=127.0.0.1:0",
		"GATEWAY_SHUTDOWN_GRACE=300ms", "GATEWAY_INSECURE_NO_AUTH=true")
	listening := p.waitListening(t)
	conn, err := grpc.NewClient("passthrough:///"+listening["grpc_addr"].(string), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	callErr := make(chan error, 1)
	go func() {
		_, err := gatewayv1.NewTicketServiceClient(conn).GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: "4001"})
		callErr <- err
	}()
	<-arrived
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("gateway still running after SIGTERM\n%s", p.logs())
	}
	var exitErr *exec.ExitError
	if !errors.As(p.err, &exitErr) || exitErr.ExitCode() != 3 {
		t.Errorf("exit: %v, want status 3\n%s", p.err, p.logs())
	}
	if err := <-callErr; err == nil {
		t.Error("the call outliving the grace period succeeded")
	}
}
