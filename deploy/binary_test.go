package deploy_test

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// dockerfile is what the tests read from deploy/Dockerfile.
type dockerfile struct {
	build       string            // the RUN line that builds the gateway, without RUN
	env         map[string]string // ENV of the final stage
	entrypoint  []string
	cmd         []string
	healthcheck []string
	user        string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := dockerfile{env: map[string]string{}}
	final := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "FROM":
			final = !strings.Contains(rest, " AS ")
		case "RUN":
			if strings.Contains(rest, "go build") {
				d.build = rest
			}
		case "ENV":
			if final {
				for _, kv := range strings.Fields(rest) {
					k, v, _ := strings.Cut(kv, "=")
					d.env[k] = v
				}
			}
		case "ENTRYPOINT":
			d.entrypoint = jsonArray(t, rest)
		case "CMD":
			d.cmd = jsonArray(t, rest)
		case "HEALTHCHECK":
			_, after, _ := strings.Cut(rest, "CMD ")
			d.healthcheck = jsonArray(t, after)
		case "USER":
			d.user = rest
		}
	}
	if d.build == "" || len(d.entrypoint) == 0 || len(d.healthcheck) == 0 {
		t.Fatalf("Dockerfile lacks a go build line, an ENTRYPOINT or a HEALTHCHECK: %+v", d)
	}
	return d
}

func jsonArray(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("Dockerfile: %q is not an exec-form JSON array: %v", s, err)
	}
	return out
}

// buildAsDockerfile runs the Dockerfile's own build line, with VERSION set
// and the output redirected to dir.
func buildAsDockerfile(t *testing.T, d dockerfile, dir, version string) string {
	t.Helper()
	bin := filepath.Join(dir, "gateway")
	line := strings.ReplaceAll(d.build, "/out/gateway", bin)
	cmd := exec.Command("bash", "-c", line)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build line failed: %v\n%s", err, out)
	}
	return bin
}

// TestDockerfileBuildsAStaticBinaryThatStartsAsTheImageStartsIt: Docker
// cannot run here, so the test builds with the Dockerfile's exact line,
// checks the binary needs no libc (the image is scratch), and starts it with
// the image's ENTRYPOINT, CMD, ENV and USER, then runs the image's
// HEALTHCHECK against it.
func TestDockerfileBuildsAStaticBinaryThatStartsAsTheImageStartsIt(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t)
	// The image's user (not root) must reach the binary and its config.
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := buildAsDockerfile(t, d, dir, "deploy-test")

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a program interpreter: it is dynamically linked and cannot run on scratch")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	f.Close()
	if out, err := exec.Command(bin, "version").Output(); err != nil || strings.TrimSpace(string(out)) != "deploy-test" {
		t.Errorf("gateway version = %q, %v; want the VERSION build arg", out, err)
	}

	// The image's config path holds, here, one workspace on a sandbox.
	sb := httptest.NewServer(sandbox.New())
	t.Cleanup(sb.Close)
	config := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(config, []byte(fmt.Sprintf("workspaces:\n  - name: main\n    base_url: %s\n    token_env: MAIN_TOKEN\nauth:\n  insecure_no_auth: true\n", sb.URL)), 0o644)
	args := append([]string{}, d.cmd...)
	for i, a := range args {
		if a == "/etc/intercom-gateway/gateway.yaml" {
			args[i] = config
		}
	}
	if d.entrypoint[0] != "/gateway" {
		t.Fatalf("ENTRYPOINT %q: the test expects /gateway", d.entrypoint)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gw := exec.CommandContext(ctx, bin, append(d.entrypoint[1:], args...)...)
	gw.Env = []string{"MAIN_TOKEN=sandbox-token"}
	for k, v := range d.env {
		gw.Env = append(gw.Env, k+"="+v)
	}
	// The image's ports are fixed; here the gateway binds free ones and
	// says which in its log.
	gw.Env = append(gw.Env, "GATEWAY_GRPC_ADDR=127.0.0.1:0", "GATEWAY_HTTP_ADDR=127.0.0.1:0")
	if os.Geteuid() == 0 && d.user != "" {
		var uid, gid uint32
		fmt.Sscanf(d.user, "%d:%d", &uid, &gid)
		gw.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	}
	logs := &syncBuffer{}
	gw.Stdout, gw.Stderr = logs, logs
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = gw.Wait() })

	deadline := time.Now().Add(30 * time.Second)
	var grpcAddr string
	for ok := false; !ok; {
		if grpcAddr, _, ok = testsupport.ListeningAddrs(logs.String()); !ok {
			if time.Now().After(deadline) {
				t.Fatalf("the gateway never logged its listening addresses:\n%s", logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	probe := append([]string{}, d.healthcheck[1:]...)
	for i, a := range probe {
		if strings.HasPrefix(a, "127.0.0.1:") {
			probe[i] = grpcAddr
		}
	}
	for {
		out, err := exec.Command(bin, probe...).CombinedOutput()
		if err == nil && strings.Contains(string(out), "SERVING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the HEALTHCHECK never passed: %v %s\ngateway log:\n%s", err, out, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Log lines are flushed in batches, so the startup line may follow the
	// first healthy probe by a moment.
	for !strings.Contains(logs.String(), `"version":"deploy-test"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the startup log does not name the version:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer = testsupport.SyncBuffer

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
