package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/workspace"
)

// A rotated token file is counted as a reload of its workspace, and the
// token itself appears nowhere in /metrics.
func TestTokenReloadsAreCounted(t *testing.T) {
	clearOTelEnv(t)
	tel, err := telemetry.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("tok-old-1f2e3d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ft, err := workspace.WatchFile(path, time.Hour, slog.New(slog.DiscardHandler), workspace.ReportAs("acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	// Replace the file the way a Secret update does: write aside, rename.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("tok-new-9a8b7c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	// The watcher reacts asynchronously (fsnotify); wait for it, bounded.
	for deadline := time.Now().Add(10 * time.Second); ft.Token() != "tok-new-9a8b7c"; {
		if time.Now().After(deadline) {
			t.Fatal("the rotated token was not picked up within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	m := parseMetrics(t, rec.Body.String())
	if got := m.value(t, "gateway_token_reloads_total", map[string]string{"workspace": "acme", "outcome": "ok"}); got != 1 {
		t.Errorf("token reloads = %v, want 1", got)
	}
	for _, sr := range m {
		for _, v := range sr.labels {
			if v == "tok-old-1f2e3d" || v == "tok-new-9a8b7c" {
				t.Errorf("%s has the token as a label", sr.name)
			}
		}
	}
}
