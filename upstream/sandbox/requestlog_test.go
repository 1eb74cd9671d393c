package sandbox_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// TestRequestLogKeepsTheNewest: the request log is a ring buffer, so a long-running sandbox keeps a
// bounded number of requests, the newest, oldest first; the totals in Stats keep counting.
func TestRequestLogKeepsTheNewest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.WithRequestLog(3))
	paths := []string{"/tickets/4001", "/tickets/4002", "/tickets/4003", "/tickets/4004", "/tickets/4005"}
	for _, p := range paths {
		e.do(http.MethodGet, p, "2.11", nil)
	}
	got := func() []string {
		var out []string
		for _, r := range e.srv.Requests() {
			out = append(out, r.Path)
		}
		return out
	}
	if g := got(); !slices.Equal(g, paths[2:]) {
		t.Errorf("Requests() = %v, want the newest 3, oldest first: %v", g, paths[2:])
	}
	if n := e.srv.Stats().Requests; n != 5 {
		t.Errorf("Stats().Requests = %d, want 5", n)
	}
	e.srv.ResetRequests()
	e.do(http.MethodGet, "/tickets/4006", "2.11", nil)
	if g := got(); !slices.Equal(g, []string{"/tickets/4006"}) {
		t.Errorf("after ResetRequests, Requests() = %v, want [/tickets/4006]", g)
	}

	off := newEnv(t, sandbox.WithRequestLog(0))
	off.do(http.MethodGet, "/tickets/4001", "2.11", nil)
	if n := len(off.srv.Requests()); n != 0 || off.srv.Stats().Requests != 1 {
		t.Errorf("WithRequestLog(0): %d requests kept, %d counted; want 0 kept, 1 counted", n, off.srv.Stats().Requests)
	}
}

// TestStatsCountRateLimited: Stats().RateLimited counts every 429, from the
// budget and from a fault, and ResetRequests does not reset it.
func TestStatsCountRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.WithRateLimit(2, time.Hour), sandbox.WithRequestLog(1))
	for range 4 { // 2 within the budget, then 2 refused
		e.do(http.MethodGet, "/tickets/4001", "2.11", nil)
	}
	e.srv.ResetRequests()
	e.srv.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 503})
	e.do(http.MethodGet, "/tickets/4001", "2.11", nil)
	if n := e.srv.Stats().RateLimited; n != 2 {
		t.Errorf("Stats().RateLimited = %d, want 2", n)
	}
}

// TestStatsOverAdmin: GET /__sandbox/stats reports the totals a benchmark reads per call, including
// the connections accepted when the sandbox's ConnState is installed (Serve does that itself).
func TestStatsOverAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		e.mustOK(http.MethodGet, "/tickets/4001", "2.11", nil)
	}
	r := e.do(http.MethodGet, "/__sandbox/stats", "", nil)
	var st sandbox.Stats
	if err := json.Unmarshal(r.body, &st); err != nil || r.status != http.StatusOK {
		t.Fatalf("GET /__sandbox/stats: %d %s (%v)", r.status, r.body, err)
	}
	// Each API request takes the workspace lock at least for its fault check and its handler.
	if st.Requests != 3 || st.Locks < 6 || st.Contended > st.Locks {
		t.Errorf("stats = %+v, want 3 requests, at least 6 lock acquisitions, contended <= locks", st)
	}
}
