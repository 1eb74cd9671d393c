package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
)

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   any               `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return doc.Services
}

func dependsOn(v any) []string {
	switch d := v.(type) {
	case []any:
		var out []string
		for _, x := range d {
			out = append(out, fmt.Sprint(x))
		}
		return out
	case map[string]any:
		var out []string
		for k := range d {
			out = append(out, k)
		}
		return out
	}
	return nil
}

// hostPort splits "http://host:port/x" or "host:port".
func hostPort(s string) (string, string) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	s, _, _ = strings.Cut(s, "/")
	h, p, _ := strings.Cut(s, ":")
	return h, p
}

// TestComposeCrossReferences checks compose.yaml and the configs it mounts:
// every service named (depends_on, the gateway's Redis and sandbox, the
// collector endpoint, the collector's exporter) exists and listens where it
// is named, every mounted file exists, and the collector's pipelines use
// only components it defines.
func TestComposeCrossReferences(t *testing.T) {
	t.Parallel()
	svcs := readCompose(t)
	for _, want := range []string{"gateway-1", "gateway-2", "redis", "sandbox", "otel-collector", "jaeger"} {
		if _, ok := svcs[want]; !ok {
			t.Errorf("compose.yaml has no service %q", want)
		}
	}
	for name, s := range svcs {
		for _, d := range dependsOn(s.DependsOn) {
			if _, ok := svcs[d]; !ok {
				t.Errorf("%s depends on %q, which is not a service", name, d)
			}
		}
		for _, v := range s.Volumes {
			if host, _, _ := strings.Cut(v, ":"); strings.HasPrefix(host, "./") {
				if _, err := os.Stat(host); err != nil {
					t.Errorf("%s mounts %s, which does not exist", name, host)
				}
			}
		}
	}
	gw := svcs["gateway-1"]
	if !slices.Equal(gw.Command, svcs["gateway-2"].Command) || fmt.Sprint(gw.Environment) != fmt.Sprint(svcs["gateway-2"].Environment) {
		t.Error("the two replicas are not wired alike")
	}
	cfg, err := os.ReadFile("compose/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var gwc struct {
		Workspaces []struct {
			BaseURL  string `yaml:"base_url"`
			TokenEnv string `yaml:"token_env"`
		} `yaml:"workspaces"`
		Redis struct {
			Addr string `yaml:"addr"`
		} `yaml:"redis"`
		Auth struct {
			HMACSecretEnv string `yaml:"hmac_secret_env"`
		} `yaml:"auth"`
	}
	if err := yaml.Unmarshal(cfg, &gwc); err != nil {
		t.Fatal(err)
	}
	sbHost, sbPort := hostPort(gwc.Workspaces[0].BaseURL)
	if _, ok := svcs[sbHost]; !ok || !slices.Contains(svcs[sbHost].Command, ":"+sbPort) {
		t.Errorf("the workspace's base_url %s is not the sandbox service's --addr (%v)", gwc.Workspaces[0].BaseURL, svcs[sbHost].Command)
	}
	for _, env := range []string{gwc.Workspaces[0].TokenEnv, gwc.Auth.HMACSecretEnv} {
		if gw.Environment[env] == "" {
			t.Errorf("the config reads %s, which compose does not set", env)
		}
	}
	if h, p := hostPort(gwc.Redis.Addr); h != "redis" || p != "6379" {
		t.Errorf("redis.addr %q is not the redis service", gwc.Redis.Addr)
	}
	colHost, colPort := hostPort(gw.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
	if _, ok := svcs[colHost]; !ok {
		t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT names %q, not a service", colHost)
	}

	col, err := os.ReadFile("compose/otel-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkCollector(t, col, colPort, func(host string) bool { _, ok := svcs[host]; return ok })
}

// checkCollector checks a collector config: the OTLP HTTP receiver listens
// on otlpPort, pipelines use only defined components, and exporter and
// scrape targets name known hosts.
func checkCollector(t *testing.T, raw []byte, otlpPort string, known func(string) bool) {
	t.Helper()
	var c struct {
		Receivers  map[string]any `yaml:"receivers"`
		Processors map[string]any `yaml:"processors"`
		Exporters  map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"exporters"`
		Service struct {
			Pipelines map[string]struct {
				Receivers  []string `yaml:"receivers"`
				Processors []string `yaml:"processors"`
				Exporters  []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("collector config: %v", err)
	}
	if !bytes.Contains(raw, []byte("0.0.0.0:"+otlpPort)) {
		t.Errorf("the collector does not receive OTLP on %s", otlpPort)
	}
	if len(c.Service.Pipelines) == 0 {
		t.Error("the collector has no pipelines")
	}
	for name, p := range c.Service.Pipelines {
		for _, r := range p.Receivers {
			if _, ok := c.Receivers[r]; !ok {
				t.Errorf("pipeline %s uses undefined receiver %s", name, r)
			}
		}
		for _, r := range p.Processors {
			if _, ok := c.Processors[r]; !ok {
				t.Errorf("pipeline %s uses undefined processor %s", name, r)
			}
		}
		for _, r := range p.Exporters {
			e, ok := c.Exporters[r]
			if !ok {
				t.Errorf("pipeline %s uses undefined exporter %s", name, r)
				continue
			}
			if h, _ := hostPort(e.Endpoint); h != "0.0.0.0" && !strings.HasPrefix(h, "${") && !known(h) {
				t.Errorf("exporter %s sends to %q, which is not a known service", r, h)
			}
		}
	}
}

// TestKubernetesCollectorConfig applies the same checks to the collector
// ConfigMap of the Kubernetes base.
func TestKubernetesCollectorConfig(t *testing.T) {
	t.Parallel()
	objs := decodeAll(t, kustomize(t, "kubernetes/base"))
	cm := objs.configmaps["otel-collector"]
	if cm == nil {
		t.Fatal("no otel-collector ConfigMap")
	}
	checkCollector(t, []byte(cm.Data["config.yaml"]), "4318", func(h string) bool { return objs.services[h] != nil })
}

// proc is one process of the stack.
type proc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func start(t *testing.T, bin string, args, env []string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: logs}
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *proc) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.cmd.Wait()
}

func waitHealthy(t *testing.T, httpAddr string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + httpAddr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy:\n%s", httpAddr, p.logs.String())
}

// TestComposeStackWithoutDocker starts what compose.yaml starts, wired the
// same way (its commands, its environment, its gateway config, with service
// names replaced by loopback addresses): the sandbox with a budget, a real
// Redis and two gateway replicas. It then shows a rolling restart with no
// failed call for a client that retries UNAVAILABLE, a page token honoured
// across replicas, and the replicas sharing the sandbox's budget: load on
// both never makes the sandbox answer 429.
func TestComposeStackWithoutDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for about 20 s")
	}
	t.Parallel()
	svcs := readCompose(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gateway").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rdb := redistest.Start(t)

	// The sandbox, as compose runs it, on a free port.
	sbAddr := freeAddr(t)
	sbArgs := slices.Clone(svcs["sandbox"].Command)
	for i, a := range sbArgs {
		if a == ":8081" {
			sbArgs[i] = sbAddr
		}
	}
	sb := start(t, bin, sbArgs, os.Environ())
	waitSandbox(t, sbAddr, sb)

	// The gateways' config, with compose's service names replaced.
	raw, err := os.ReadFile("compose/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("sandbox:8081", sbAddr, "redis:6379", rdb.Addr()).Replace(string(raw))
	cfgFile := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := svcs["gateway-1"]
	args := slices.Clone(gw.Command)
	for i, a := range args {
		if a == "/etc/intercom-gateway/gateway.yaml" {
			args[i] = cfgFile
		}
	}
	type replica struct {
		grpc, http string
		env        []string
		p          *proc
	}
	var reps [2]*replica
	for i := range reps {
		r := &replica{grpc: freeAddr(t), http: freeAddr(t)}
		r.env = []string{"PATH=" + os.Getenv("PATH")}
		for k, v := range gw.Environment {
			if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
				v = "http://127.0.0.1:1" // no collector here: a dead one must not hurt
			}
			r.env = append(r.env, k+"="+v)
		}
		r.env = append(r.env, "GATEWAY_GRPC_ADDR="+r.grpc, "GATEWAY_HTTP_ADDR="+r.http)
		r.p = start(t, bin, args, r.env)
		reps[i] = r
	}
	conns := make([]gatewayv1.TicketServiceClient, len(reps))
	for i, r := range reps {
		waitHealthy(t, r.http, r.p)
		cc, err := grpc.NewClient(r.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		conns[i] = gatewayv1.NewTicketServiceClient(cc)
	}

	// A page token from one replica is honoured by the other.
	q := &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{Filter: &gatewayv1.TicketFilter{
		Field: gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_TYPE_ID, Operator: gatewayv1.FilterOperator_FILTER_OPERATOR_EQUALS,
		Value: &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringValue{StringValue: "1"}}}}}
	p1, err := conns[0].SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q, PageSize: 1})
	if err != nil || p1.GetNextPageToken() == "" {
		t.Fatalf("search page 1: %v (next token %q)", err, p1.GetNextPageToken())
	}
	if _, err := conns[1].SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q, PageSize: 1, PageToken: p1.GetNextPageToken()}); err != nil {
		t.Errorf("replica 2 refused replica 1's page token: %v", err)
	}

	// A client that retries UNAVAILABLE on the other replica, as a
	// Kubernetes Service or a client-side balancer would.
	var next atomic.Int64
	call := func(ctx context.Context) error {
		var err error
		for attempt := 0; attempt < 6; attempt++ {
			c := conns[next.Add(1)%int64(len(conns))]
			_, err = c.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: "4001"})
			if status.Code(err) != codes.Unavailable {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return err
	}

	// Rolling restart under steady load: 10 calls a second.
	var failed, done atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := call(ctx); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					done.Add(1)
				}()
			}
		}
	}()
	for _, r := range reps {
		time.Sleep(time.Second)
		if err := r.p.stop(); err != nil {
			t.Errorf("replica %s did not stop cleanly: %v\n%s", r.grpc, err, r.p.logs.String())
		}
		r.p = start(t, bin, args, r.env)
		waitHealthy(t, r.http, r.p)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed during the rolling restart; first: %v", failed.Load(), done.Load(), firstErr.Load())
	}
	t.Logf("rolling restart: %d calls, %d failed", done.Load(), failed.Load())

	// Shared budget: both replicas, 16 callers each, for 11 s against a
	// sandbox whose budget (200 per 10 s) is the workspace budget.
	ctx, cancel := context.WithTimeout(context.Background(), 11*time.Second)
	defer cancel()
	var served [2]atomic.Int64
	var exhausted atomic.Int64
	var lwg sync.WaitGroup
	for i := range conns {
		for range 16 {
			lwg.Add(1)
			go func() {
				defer lwg.Done()
				for ctx.Err() == nil {
					_, err := conns[i].GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: "4001"})
					switch status.Code(err) {
					case codes.OK:
						served[i].Add(1)
					case codes.ResourceExhausted:
						// A well-behaved caller backs off on a refusal.
						exhausted.Add(1)
						time.Sleep(20 * time.Millisecond)
					}
				}
			}()
		}
	}
	lwg.Wait()
	statuses := sandboxStatuses(t, sbAddr)
	if statuses[http.StatusTooManyRequests] != 0 {
		t.Errorf("the sandbox answered %d requests with 429: the replicas overspent the shared budget", statuses[http.StatusTooManyRequests])
	}
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Errorf("served per replica = %d, %d: both should have had budget", served[0].Load(), served[1].Load())
	}
	if exhausted.Load() == 0 {
		t.Error("no call was refused for lack of budget: the load never reached the budget, so nothing was shown")
	}
	t.Logf("shared budget: served %d + %d, refused %d, sandbox statuses %v", served[0].Load(), served[1].Load(), exhausted.Load(), statuses)
}

func waitSandbox(t *testing.T, addr string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sandbox never listened:\n%s", p.logs.String())
}

func sandboxStatuses(t *testing.T, addr string) map[int]int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/__sandbox/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reqs []struct {
		Status int `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reqs); err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, r := range reqs {
		out[r.Status]++
	}
	return out
}
