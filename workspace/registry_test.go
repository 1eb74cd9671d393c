package workspace_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
	"github.com/intercom-gateway/intercom-gateway/workspace"
)

const seedTicket = "4001"

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// workspaces returns validated workspaces as config.Load would.
func workspaces(t *testing.T, yaml string, kv map[string]string) config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	kv["GATEWAY_CONFIG"] = p
	kv["GATEWAY_INSECURE_NO_AUTH"] = "true"
	cfg, err := config.Load("gateway", nil, env(kv), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newSandbox(t *testing.T, tokens ...string) (*sandbox.Server, string) {
	t.Helper()
	sb := sandbox.New(sandbox.WithTokens(tokens...), sandbox.WithRateLimit(0, 0))
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv.URL
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

func TestBackendPicksTheCallsWorkspace(t *testing.T) {
	t.Parallel()
	a, aURL := newSandbox(t, "token-a")
	b, bURL := newSandbox(t, "token-b")
	cfg := workspaces(t, fmt.Sprintf(`workspaces:
  - {name: a, region: us, base_url: %s, token_env: A_TOKEN}
  - {name: b, region: eu, base_url: %s, token_env: B_TOKEN}
`, aURL, bURL), map[string]string{"A_TOKEN": "token-a", "B_TOKEN": "token-b"})
	reg, err := workspace.New(cfg, workspace.WithGetenv(env(map[string]string{"A_TOKEN": "token-a", "B_TOKEN": "token-b"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	for _, tc := range []struct {
		name       string
		id         *auth.Identity
		wantErr    string // ErrorInfo reason
		wantA      int
		wantB      int
		wantCaller string
	}{
		{name: "a", id: &auth.Identity{Caller: "c1", Workspace: "a"}, wantA: 1, wantCaller: "c1"},
		{name: "b", id: &auth.Identity{Caller: "c2", Workspace: "b"}, wantB: 1, wantCaller: "c2"},
		{name: "unknown workspace", id: &auth.Identity{Caller: "c1", Workspace: "c"}, wantErr: workspace.ReasonWorkspaceUnknown},
		{name: "no workspace among several", id: &auth.Identity{Caller: "c1"}, wantErr: workspace.ReasonWorkspaceRequired},
		{name: "no identity among several", wantErr: workspace.ReasonWorkspaceRequired},
	} {
		a.ResetRequests()
		b.ResetRequests()
		ctx := context.Background()
		if tc.id != nil {
			ctx = auth.NewContext(ctx, *tc.id)
		}
		be, err := reg.Backend(ctx)
		if tc.wantErr != "" {
			if status.Code(err) != codes.PermissionDenied || reason(err) != tc.wantErr {
				t.Errorf("%s: %v (reason %q), want PERMISSION_DENIED %s", tc.name, err, reason(err), tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if be.Workspace != tc.id.Workspace || be.Caller != tc.wantCaller {
			t.Errorf("%s: backend for %q/%q", tc.name, be.Workspace, be.Caller)
		}
		if _, err := be.Tickets.GetTicket(ctx, seedTicket); err != nil {
			t.Fatalf("%s: GetTicket: %v", tc.name, err)
		}
		if len(a.Requests()) != tc.wantA || len(b.Requests()) != tc.wantB {
			t.Errorf("%s: sandbox a saw %d, b %d requests; want %d and %d", tc.name, len(a.Requests()), len(b.Requests()), tc.wantA, tc.wantB)
		}
	}
}

func TestRegionWithoutBaseURL(t *testing.T) {
	t.Parallel()
	cfg := workspaces(t, "workspaces:\n  - {name: a, region: eu, token_env: T}\n  - {name: b, region: au, token_env: T}\n", map[string]string{"T": "t"})
	reg, err := workspace.New(cfg, workspace.WithGetenv(env(map[string]string{"T": "t"})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for name, host := range map[string]string{"a": "https://api.eu.intercom.io", "b": "https://api.au.intercom.io"} {
		be, err := reg.Backend(auth.NewContext(context.Background(), auth.Identity{Workspace: name}))
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(be.Tickets); !strings.Contains(got, "baseURL: "+host+",") {
			t.Errorf("workspace %s: client %s, want base URL %s", name, got, host)
		}
	}
}

// kubeSecretDir lays out a token the way the kubelet mounts a Secret:
// dir/token -> ..data/token, ..data -> ..<timestamp>/, and returns a
// function that updates it the way the kubelet does (a new timestamped
// directory, then an atomic rename of a new ..data symlink over the old).
func kubeSecretDir(t *testing.T, token string) (path string, update func(string)) {
	t.Helper()
	dir := t.TempDir()
	n := 0
	write := func(tok string) string {
		n++
		ts := fmt.Sprintf("..2026_11_28_05_00_%02d.%d", n, n)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, "token"), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	first := write(token)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(first, filepath.Join(dir, "..data")))
	must(os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")))
	current := first
	return filepath.Join(dir, "token"), func(tok string) {
		next := write(tok)
		must(os.Symlink(next, filepath.Join(dir, "..data_tmp")))
		must(os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		must(os.RemoveAll(filepath.Join(dir, current)))
		current = next
	}
}

// TestTokenFileRotationUnderLoad replaces a workspace's token file while
// calls keep flowing and checks, through the Authorization headers the
// sandbox recorded, that the new token is used within a bounded time and
// that no call fails. The reload poll is set to an hour, so only the file
// watch can pick the change up in time.
func TestTokenFileRotationUnderLoad(t *testing.T) {
	t.Parallel()
	plainFile := func(how string) func(t *testing.T, tok string) (string, func(string)) {
		return func(t *testing.T, tok string) (string, func(string)) {
			dir := t.TempDir()
			p := filepath.Join(dir, "token")
			if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
				t.Fatal(err)
			}
			return p, func(next string) {
				var err error
				if how == "rename" {
					tmp := filepath.Join(dir, ".token.tmp")
					if err = os.WriteFile(tmp, []byte(next+"\n"), 0o600); err == nil {
						err = os.Rename(tmp, p)
					}
				} else {
					err = os.WriteFile(p, []byte(next+"\n"), 0o600)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}
	}
	for _, tc := range []struct {
		name   string
		layout func(t *testing.T, tok string) (string, func(string))
	}{
		{"kubernetes secret symlink swap", kubeSecretDir},
		{"file renamed over", plainFile("rename")},
		{"file rewritten in place", plainFile("write")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const oldToken, newToken = "old-token-a1b2", "new-token-c3d4"
			sb, url := newSandbox(t, oldToken, newToken)
			path, update := tc.layout(t, oldToken)
			cfg := workspaces(t, fmt.Sprintf("workspaces:\n  - {name: a, base_url: %s, token_file: %s}\n", url, path), map[string]string{})
			reg, err := workspace.New(cfg, workspace.WithGetenv(env(nil)), workspace.WithReloadPoll(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			be, err := reg.Backend(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			// Steady load: 4 callers, each with a short pause between calls.
			stop := make(chan struct{})
			var calls, failed atomic.Int64
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if _, err := be.Tickets.GetTicket(context.Background(), seedTicket); err != nil {
							failed.Add(1)
							t.Errorf("call failed: %v", err)
						}
						calls.Add(1)
						time.Sleep(time.Millisecond)
					}
				}()
			}
			for calls.Load() < 50 { // the old token is in use
				time.Sleep(time.Millisecond)
			}
			swapped := time.Now()
			update(newToken)
			var switched time.Duration
			for deadline := swapped.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
				if used(sb, newToken) > 0 {
					switched = time.Since(swapped)
					break
				}
			}
			// Keep the load on a little after the switch.
			after := calls.Load()
			for calls.Load() < after+50 {
				time.Sleep(time.Millisecond)
			}
			close(stop)
			wg.Wait()

			if switched == 0 {
				t.Fatalf("the new token was not used within 5 s of the swap (%d calls)", calls.Load())
			}
			reqs := sb.Requests()
			if used(sb, oldToken) == 0 {
				t.Errorf("the old token was never used; the test proves nothing")
			}
			// After the first request with the new token, at most the calls
			// already in flight (one per caller) still carry the old one.
			first := -1
			late := 0
			for i, r := range reqs {
				switch r.Header.Get("Authorization") {
				case "Bearer " + newToken:
					if first < 0 {
						first = i
					}
				case "Bearer " + oldToken:
					if first >= 0 {
						late++
					}
				default:
					t.Errorf("request %d carried %q", i, r.Header.Get("Authorization"))
				}
			}
			if late > 4 {
				t.Errorf("%d requests used the old token after the new one was first used", late)
			}
			if failed.Load() != 0 {
				t.Errorf("%d of %d calls failed", failed.Load(), calls.Load())
			}
			t.Logf("%s: new token used %v after the swap; %d calls, %d failed, %d old-token requests after the first new one",
				tc.name, switched.Round(time.Millisecond), calls.Load(), failed.Load(), late)
		})
	}
}

func used(sb *sandbox.Server, token string) int {
	n := 0
	for _, r := range sb.Requests() {
		if r.Header.Get("Authorization") == "Bearer "+token {
			n++
		}
	}
	return n
}
