// Package examples_test runs the example clients in examples/ (Go,
// TypeScript and Python) against a real gateway binary on its built-in
// sandbox, so that a broken example, or a gateway change that breaks what
// they show, fails `make test`. Each example checks its own answers and
// exits non-zero on the first wrong one.
package examples_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
)

// needs skips when a toolchain or generated stubs are missing on a
// developer's machine, and fails in CI, where .ci/run provides them.
func needs(t *testing.T, what, hint string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing in CI: %s", what, hint)
	}
	t.Skipf("%s is missing: %s", what, hint)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// startGateway builds cmd/gateway and runs it on its sandbox, on free
// loopback ports, until the test ends. One caller, "examples", may write
// every service; its key is returned, as an operator would hand it over
// after `gateway keys new`.
func startGateway(t *testing.T, bin string) (grpcAddr, httpAddr, key string) {
	t.Helper()
	dir := t.TempDir()
	// Hex, as an operator would store it: the gateway trims white space
	// around a secret file's content, so raw random bytes could lose one.
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	secret := []byte(hex.EncodeToString(raw))
	key, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "key-hash-secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`sandbox:
  mode: "on"
auth:
  hmac_secret_file: %s
callers:
  - id: examples
    key_hashes: [%q]
    workspaces: [default]
    permissions:
      services: {"*": write}
`, secretFile, auth.HashKey(secret, key).Reveal())
	configFile := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// Port 0, and the bound addresses read back from the gateway's log.
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", configFile)
	cmd.Env = append(os.Environ(),
		"INTERCOM_TOKEN=",
		"GATEWAY_GRPC_ADDR=127.0.0.1:0",
		"GATEWAY_HTTP_ADDR=127.0.0.1:0",
	)
	var logs testsupport.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var (
			ok  bool
			err error = errors.New("no listening record in the log yet")
		)
		if grpcAddr, httpAddr, ok = testsupport.ListeningAddrs(logs.String()); ok {
			var resp *http.Response
			if resp, err = http.Get("http://" + httpAddr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return grpcAddr, httpAddr, key
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not healthy after 20s (last error %v)\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestExamples(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gateway").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	node, _ := exec.LookPath("node")
	for _, tt := range []struct {
		name string
		dir  string
		cmd  func(t *testing.T, grpcAddr string, env []string) *exec.Cmd
	}{
		{"go", "..", func(t *testing.T, grpcAddr string, env []string) *exec.Cmd {
			c := exec.Command("go", "run", "./examples/go")
			c.Env = append(os.Environ(), append(env, "GATEWAY_GRPC="+grpcAddr)...)
			return c
		}},
		{"typescript", "typescript", func(t *testing.T, grpcAddr string, env []string) *exec.Cmd {
			needs(t, "node", "install Node.js 20", node != "")
			needs(t, "the TypeScript example's packages and stubs", "run `make examples`",
				exists("typescript/node_modules/.bin/tsx") && exists("typescript/gen/intercom/gateway/v1/ticket_service_pb.ts"))
			c := exec.Command(node, "node_modules/.bin/tsx", "main.ts")
			c.Env = append(os.Environ(), append(env, "GATEWAY_GRPC=http://"+grpcAddr)...)
			return c
		}},
		{"python", "python", func(t *testing.T, grpcAddr string, env []string) *exec.Cmd {
			// Debian's python3-grpcio is visible to /usr/bin/python3 only.
			needs(t, "/usr/bin/python3 with python3-grpcio", "apt-get install python3-grpcio python3-protobuf",
				exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf").Run() == nil)
			needs(t, "the Python example's stubs", "run `make examples`", exists("python/gen/intercom/gateway/v1/ticket_service_pb2_grpc.py"))
			c := exec.Command("/usr/bin/python3", "main.py")
			c.Env = append(os.Environ(), append(env, "GATEWAY_GRPC="+grpcAddr)...)
			return c
		}},
	} {
		// Each example gets its own gateway: step 7 makes the sandbox answer
		// 429, after which the gateway rightly holds that workspace's calls
		// until Intercom's reset, which would stall the next example.
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			grpcAddr, httpAddr, key := startGateway(t, bin)
			// The key is what lets the examples in: without it the gateway refuses.
			resp, err := http.Get("http://" + httpAddr + "/v1/ticket-types")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("a call without a key got HTTP %d, want 401", resp.StatusCode)
			}
			env := []string{"GATEWAY_HTTP=http://" + httpAddr, "GATEWAY_KEY=" + key}
			cmd := tt.cmd(t, grpcAddr, env)
			cmd.Dir = tt.dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s example failed: %v\n%s", tt.name, err, out)
			}
			if !bytes.Contains(out, []byte(fmt.Sprintf("%s example: all checks passed", tt.name))) {
				t.Fatalf("%s example did not finish its checks:\n%s", tt.name, out)
			}
			t.Logf("%s", out)
		})
	}
}

// TestProtoLoaderReadsTheBundle loads `make proto-bundle`'s output with
// @grpc/proto-loader and nothing else on the include path, as a Node team
// using dynamic loading would.
func TestProtoLoaderReadsTheBundle(t *testing.T) {
	t.Parallel()
	node, _ := exec.LookPath("node")
	needs(t, "node", "install Node.js 20", node != "")
	needs(t, "the TypeScript example's packages", "run `make examples`", exists("typescript/node_modules/@grpc/proto-loader"))
	bundle := t.TempDir()
	mk := exec.Command("make", "-s", "proto-bundle", "PROTO_BUNDLE="+bundle)
	mk.Dir = ".."
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make proto-bundle: %v\n%s", err, out)
	}
	cmd := exec.Command(node, "load-bundle.mjs", bundle)
	cmd.Dir = "typescript"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("proto-loader on the bundle: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
