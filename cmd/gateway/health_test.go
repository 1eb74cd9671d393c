package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
)

// TestHealthzShowsRedisDegradedMode runs the gateway with a real
// redis-server, kills Redis, and reads /healthz: the rate limiter and the
// request_id store are listed as degraded while the answer stays 200
// SERVING (readiness does not fail), and the list empties once Redis is
// back.
func TestHealthzShowsRedisDegradedMode(t *testing.T) {
	t.Parallel()
	red := redistest.Start(t)
	_, httpAddr, logs := startGateway(t, map[string]string{"GATEWAY_SANDBOX": "on", "GATEWAY_REDIS_ADDR": red.Addr()})
	base := "http://" + httpAddr
	type healthz struct {
		code     int
		Status   string
		Degraded []string
	}
	get := func(path string) healthz {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := healthz{code: resp.StatusCode}
		if path == "/healthz" {
			if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
				t.Fatal(err)
			}
		}
		return h
	}
	// wait polls /healthz (making calls that reach Redis) until ok says so.
	wait := func(what string, ok func(healthz) bool) healthz {
		t.Helper()
		var h healthz
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			get("/v1/tags")
			if h = get("/healthz"); ok(h) {
				return h
			}
		}
		t.Fatalf("%s: /healthz still says %+v\n%s", what, h, logs)
		return h
	}
	if h := get("/healthz"); h.code != 200 || h.Status != "SERVING" || len(h.Degraded) != 0 {
		t.Fatalf("with Redis up: /healthz %+v, want 200 SERVING and nothing degraded", h)
	}
	red.Stop()
	h := wait("Redis down", func(h healthz) bool { return slices.Contains(h.Degraded, "rate_limit") })
	if h.code != 200 || h.Status != "SERVING" {
		t.Errorf("degraded: /healthz %+v, want 200 SERVING (readiness must not fail)", h)
	}
	red.Restart()
	wait("Redis back", func(h healthz) bool { return h.code == 200 && len(h.Degraded) == 0 })
}
