package main

// These tests run the command in-process through run, the seam between the
// environment (args, env, output streams) and everything else.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/config"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

type syncBuffer = testsupport.SyncBuffer

// startGateway runs the gateway in-process on free loopback ports until the
// test ends and returns its addresses and its log.
func startGateway(t *testing.T, kv map[string]string, args ...string) (grpcAddr, httpAddr string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, args...)
	go func() { done <- run(ctx, args, env(kv), io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "listening" {
				return rec["grpc_addr"].(string), rec["http_addr"].(string), logs
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("gateway exited: %v\n%s", err, logs)
		default:
		}
	}
	t.Fatalf("gateway did not start listening:\n%s", logs)
	return "", "", nil
}

func TestStartRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token and no sandbox asked for", nil, nil,
			`config: workspace "default" has no Intercom token: INTERCOM_TOKEN is not set; set it, or run the built-in simulator with --sandbox=on (GATEWAY_SANDBOX=on)`},
		{"a real token and no callers", map[string]string{"INTERCOM_TOKEN": "tok"}, nil,
			"config: no callers are configured, so anyone who can connect would act with the gateway's Intercom token; configure callers (README, production) or pass --insecure-no-auth (GATEWAY_INSECURE_NO_AUTH=true)"},
		{"auto is not a way to ask", map[string]string{"GATEWAY_SANDBOX": "auto"}, nil,
			`config: sandbox.mode (GATEWAY_SANDBOX) "auto" is gone: a gateway without a token no longer falls back to simulated data; use on for the sandbox`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, env(tc.env), io.Discard, &stderr)
			if err == nil || err.Error() != tc.want {
				t.Errorf("run: %v\nwant: %s", err, tc.want)
			}
			if stderr.Len() > 0 {
				t.Errorf("a refusal logged before the one line it returns:\n%s", stderr.String())
			}
		})
	}
}

func TestSandboxModeSaysSoAndListensWhereAsked(t *testing.T) {
	t.Parallel()
	_, httpAddr, logs := startGateway(t, map[string]string{"GATEWAY_SANDBOX": "on"})
	resp, err := http.Get("http://" + httpAddr + "/v1/ticket-types")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/ticket-types: %s", resp.Status)
	}
	var sandboxAddr string
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && strings.HasPrefix(fmt.Sprint(rec["msg"]), "sandbox mode:") {
			sandboxAddr, _ = rec["sandbox_addr"].(string)
			if !strings.Contains(rec["msg"].(string), "without caller authentication") {
				t.Errorf("the sandbox line does not say it runs open: %s", line)
			}
		}
	}
	if !strings.HasPrefix(sandboxAddr, "127.0.0.1:") {
		t.Errorf("sandbox listens on %q, want loopback (the default 127.0.0.1:0)\n%s", sandboxAddr, logs)
	}
}

// Real-looking secrets, driven through every path that prints something.
const (
	secretToken    = "dG9rOmI3ZTJjMWY0LWFhYmItNDQ1Ni05OWU4LTFjMmQzZTRmNWE2Yjox" // shaped like an Intercom token
	secretPassword = "Pw9Zq2LkT7"
	secretHMAC     = "hmac-secret-3f9c2a7e5d1b8c4f6a0e9d2c7b5a3f1e"
)

// Not parallel: the gateway's spans are exported over OTLP to a sink here,
// and the exporter reads its settings from the process environment.
func TestNoSecretInLogsErrorsHelpOrConfigCheck(t *testing.T) {
	key, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	keyHash := auth.HashKey([]byte(secretHMAC), key).Reveal()
	secrets := map[string]string{
		"token": secretToken, "base-URL password": secretPassword, "HMAC secret": secretHMAC,
		"key": key, "key hash": strings.TrimPrefix(keyHash, "hmac-sha256:"),
	}
	var seen []struct{ where, text string }
	saw := func(where, text string) { seen = append(seen, struct{ where, text string }{where, text}) }

	// Intercom, as reached through a base URL with a password.
	sb := sandbox.New(sandbox.WithTokens(secretToken), sandbox.WithRateLimit(0, 0))
	intercom := httptest.NewServer(sb)
	t.Cleanup(intercom.Close)
	baseURL := "http://gateway:" + secretPassword + "@" + strings.TrimPrefix(intercom.URL, "http://")
	kv := map[string]string{
		"INTERCOM_TOKEN": secretToken, "INTERCOM_BASE_URL": baseURL, "GATEWAY_INSECURE_NO_AUTH": "true",
		"GATEWAY_UPSTREAM_TIMEOUT": "300ms", "GATEWAY_LOG_LEVEL": "debug",
	}

	// -h with the secrets in the environment.
	var help bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, env(kv), io.Discard, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	saw("-h", help.String())

	// Config errors with the secrets around.
	for _, bad := range []map[string]string{
		{"INTERCOM_BASE_URL": "ftp://gateway:" + secretPassword + "@host"},
		{"INTERCOM_BASE_URL": "http://gateway:" + secretPassword + "@[::1"},
		{"INTERCOM_BASE_URL": baseURL, "GATEWAY_SANDBOX": "on"},
		{"GATEWAY_INSECURE_NO_AUTH": ""},
		{"INTERCOM_VERSION": "9"},
	} {
		merged := map[string]string{}
		for k, v := range kv {
			merged[k] = v
		}
		for k, v := range bad {
			merged[k] = v
		}
		err := run(context.Background(), nil, env(merged), io.Discard, io.Discard)
		if err == nil {
			t.Fatalf("run with %v: no error", bad)
		}
		saw("config error", err.Error())
	}

	// config check of a file with every kind of secret.
	dir := t.TempDir()
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(`workspaces:
  - name: acme
    base_url: %s
    token_env: ACME_TOKEN
auth:
  hmac_secret_env: KEY_SECRET
callers:
  - id: billing
    key_hashes: [%s]
    workspaces: [acme]
    permissions: {services: {"*": read}}
`, baseURL, keyHash)), 0o600); err != nil {
		t.Fatal(err)
	}
	var check bytes.Buffer
	checkEnv := env(map[string]string{"ACME_TOKEN": secretToken, "KEY_SECRET": secretHMAC})
	if err := run(context.Background(), []string{"config", "check", file}, checkEnv, &check, io.Discard); err != nil {
		t.Fatalf("config check: %v", err)
	}
	saw("config check", check.String())
	for _, want := range []string{"- " + config.Redacted, "base_url: http://gateway:xxxxx@", "token_env: ACME_TOKEN"} {
		if !strings.Contains(check.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, check.String())
		}
	}

	// Spans too, as a collector receives them: every span the gateways below
	// export over OTLP, sent within 20 ms of ending.
	spans := startOTLPSink(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", spans.url+"/v1/traces")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")

	// A running gateway, and Intercom failing in every way.
	grpcAddr, httpAddr, logs := startGateway(t, kv)
	conn, err := grpc.NewClient("passthrough:///"+grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tickets := gatewayv1.NewTicketServiceClient(conn)
	for _, f := range []struct {
		name  string
		fault *sandbox.Fault
	}{
		{"ok", nil},
		{"401", &sandbox.Fault{ErrorRate: 1, ErrorStatus: 401}},
		{"403", &sandbox.Fault{ErrorRate: 1, ErrorStatus: 403}},
		{"500", &sandbox.Fault{ErrorRate: 1, ErrorStatus: 500}},
		{"503", &sandbox.Fault{ErrorRate: 1, ErrorStatus: 503}},
		{"timeout", &sandbox.Fault{Latency: 2 * time.Second}},
		{"malformed", &sandbox.Fault{MalformedRate: 1}},
		{"reset", &sandbox.Fault{ResetRate: 1}},
	} {
		sb.ClearFaults()
		if f.fault != nil {
			sb.SetFault("getTicket", *f.fault)
		}
		resp, err := http.Get("http://" + httpAddr + "/v1/tickets/4001")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		saw("REST "+f.name, fmt.Sprint(resp.Header)+string(body))
		_, err = tickets.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: "4001"})
		if f.fault != nil && err == nil {
			t.Errorf("%s: GetTicket succeeded", f.name)
		}
		if st, ok := status.FromError(err); ok && err != nil {
			b, _ := protojson.Marshal(st.Proto())
			saw("gRPC "+f.name, string(b))
		}
	}
	sb.ClearFaults()
	saw("log", logs.String())

	// The same with caller auth: keys, good and bad, through every refusal
	// and Intercom failure.
	otherKey, _ := auth.NewKey() // well-formed, never configured: a revoked key looks the same
	secrets["unconfigured key"] = otherKey
	authEnv := map[string]string{"GATEWAY_CONFIG": file, "ACME_TOKEN": secretToken, "KEY_SECRET": secretHMAC, "GATEWAY_UPSTREAM_TIMEOUT": "300ms", "GATEWAY_LOG_LEVEL": "debug"}
	grpcAddr2, httpAddr2, logs2 := startGateway(t, authEnv)
	conn2, err := grpc.NewClient("passthrough:///"+grpcAddr2, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn2.Close() })
	tickets2 := gatewayv1.NewTicketServiceClient(conn2)
	for _, c := range []struct {
		name, authz, workspace string
		write                  bool
		fault                  *sandbox.Fault
	}{
		{name: "allowed", authz: "Bearer " + key},
		{name: "allowed, Intercom 401", authz: "Bearer " + key, fault: &sandbox.Fault{ErrorRate: 1, ErrorStatus: 401}},
		{name: "allowed, Intercom 500", authz: "Bearer " + key, fault: &sandbox.Fault{ErrorRate: 1, ErrorStatus: 500}},
		{name: "allowed, timeout", authz: "Bearer " + key, fault: &sandbox.Fault{Latency: 2 * time.Second}},
		{name: "read-only caller writes", authz: "Bearer " + key, write: true},
		{name: "unconfigured key", authz: "Bearer " + otherKey},
		{name: "Intercom token as the key", authz: "Bearer " + secretToken},
		{name: "key without Bearer", authz: key},
		{name: "HMAC secret as the key", authz: "Bearer " + secretHMAC},
		{name: "a secret as the workspace", authz: "Bearer " + key, workspace: secretToken},
	} {
		sb.ClearFaults()
		if c.fault != nil {
			sb.SetFault("getTicket", *c.fault)
		}
		method, path, body := http.MethodGet, "/v1/tickets/4001", ""
		if c.write {
			method, path, body = http.MethodPost, "/v1/tickets", `{"ticket_type_id":"1","contacts":[{"email":"a@example.com"}]}`
		}
		req, _ := http.NewRequest(method, "http://"+httpAddr2+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", c.authz)
		if c.workspace != "" {
			req.Header.Set("X-Intercom-Workspace", c.workspace)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		saw("REST "+c.name, fmt.Sprint(resp.Header)+string(b))

		md := metadata.Pairs("authorization", c.authz)
		if c.workspace != "" {
			md.Set("x-intercom-workspace", c.workspace)
		}
		ctx := metadata.NewOutgoingContext(context.Background(), md)
		if c.write {
			_, err = tickets2.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{TicketTypeId: "1"})
		} else {
			_, err = tickets2.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: "4001"})
		}
		if c.name == "allowed" && err != nil {
			t.Fatalf("the configured key was refused, so the refusals prove nothing: %v", err)
		}
		if st, ok := status.FromError(err); ok && err != nil {
			b, _ := protojson.Marshal(st.Proto())
			saw("gRPC "+c.name, string(b))
		} else if c.name != "allowed" {
			t.Errorf("%s: call succeeded", c.name)
		}
	}
	sb.ClearFaults()
	saw("log with callers", logs2.String())
	exported := spans.settled()
	upstreamSpans := 0
	for _, sp := range exported {
		text := protojson.Format(sp)
		saw("span "+sp.GetName(), text)
		if sp.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && strings.Contains(sp.GetName(), "getTicket") {
			upstreamSpans++
		}
	}
	if upstreamSpans == 0 {
		t.Errorf("no upstream span was exported (%d spans in all), so the span scan proves nothing", len(exported))
	}
	if !strings.Contains(logs.String(), "xxxxx") {
		t.Errorf("the startup log does not show the base URL, redacted:\n%s", logs)
	}

	for _, s := range seen {
		for what, secret := range secrets {
			if strings.Contains(s.text, secret) {
				t.Errorf("%s shows the %s:\n%s", s.where, what, s.text)
			}
		}
	}
	// The sandbox saw the token: the scan above would have found it had it leaked.
	if reqs := sb.Requests(); len(reqs) == 0 || reqs[0].Header.Get("Authorization") != "Bearer "+secretToken {
		t.Fatalf("Intercom did not receive the token; the test proves nothing")
	}
}

// otlpSink is a collector for tests: it decodes every OTLP/HTTP trace
// export and keeps the spans.
type otlpSink struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				s.spans = append(s.spans, ss.GetSpans()...)
			}
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// settled returns the spans received once no new one has arrived for
// 300 ms (the gateways export every 20 ms), or after 10 s.
func (s *otlpSink) settled() []*tracepb.Span {
	last, since := -1, time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.spans)
		s.mu.Unlock()
		if n != last {
			last, since = n, time.Now()
		} else if n > 0 && time.Since(since) > 300*time.Millisecond {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*tracepb.Span(nil), s.spans...)
}

func TestKeysNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "hmac")
	if err := os.WriteFile(secretFile, []byte(secretHMAC+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gateway.yaml")
	const base = "workspaces: [{name: acme, token_env: ACME_TOKEN}]\nauth: {hmac_secret_file: %s}\n"
	if err := os.WriteFile(file, []byte(fmt.Sprintf(base, secretFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"keys", "new", "--caller", "billing", "--config", file}, env(nil), &out, io.Discard); err != nil {
		t.Fatalf("keys new: %v", err)
	}
	var key, hash string
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, auth.KeyPrefix):
			key = line
		case strings.HasPrefix(line, "      - hmac-sha256:"):
			hash = strings.TrimPrefix(line, "      - ")
		}
	}
	if err := auth.CheckKey(key); err != nil {
		t.Fatalf("printed key %q: %v\n%s", key, err, out.String())
	}
	if want := auth.HashKey([]byte(secretHMAC), key).Reveal(); hash != want {
		t.Fatalf("printed hash %q, want the key's hash under the file's secret\n%s", hash, out.String())
	}
	if strings.Count(out.String(), key) != 1 {
		t.Errorf("the key is printed %d times, want once", strings.Count(out.String(), key))
	}
	// The printed lines, pasted, make a config the gateway accepts, and the
	// key then authenticates as the caller.
	i := strings.Index(out.String(), "callers:")
	pasted := fmt.Sprintf(base, secretFile) + out.String()[i:] + "    workspaces: [acme]\n    permissions: {services: {\"*\": read}}\n"
	if err := os.WriteFile(file, []byte(pasted), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Check(file, env(nil))
	if err != nil {
		t.Fatalf("config with the pasted lines: %v\n%s", err, pasted)
	}
	a, err := cfg.Authenticator(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(auth.Request{FullMethod: "/intercom.gateway.v1.TicketService/GetTicket", Authorization: []string{"Bearer " + key}})
	if err != nil || id.Caller != "billing" || id.Workspace != "acme" {
		t.Errorf("Authenticate with the new key: %+v, %v", id, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "new"}, "usage: gateway keys new --caller ID [--config FILE]"},
		{[]string{"keys", "new", "--caller", "x"}, "keys new: the key hash needs the key-hash secret named in the config file: pass --config FILE (or set GATEWAY_CONFIG)"},
	} {
		if err := run(context.Background(), tc.args, env(nil), io.Discard, io.Discard); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "10.0.0.5:8080": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
