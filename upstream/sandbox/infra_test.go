package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	restricted := newEnv(t, sandbox.WithTokens("only-this"))
	cases := []struct {
		name   string
		env    *env
		header map[string]string
		status int
	}{
		{"no header", e, nil, 401},
		{"empty bearer", e, map[string]string{"Authorization": "Bearer "}, 401},
		{"basic auth", e, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, 401},
		{"any token", e, map[string]string{"Authorization": "Bearer anything"}, 200},
		{"lower-case scheme", e, map[string]string{"Authorization": "bearer anything"}, 200},
		{"restricted: wrong token", restricted, map[string]string{"Authorization": "Bearer anything"}, 401},
		{"restricted: right token", restricted, map[string]string{"Authorization": "Bearer only-this"}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.env.doWith("GET", "/tags", "2.11", nil, tc.header)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 401 {
				var body struct {
					Errors []struct{ Code, Message string }
				}
				r.decode(t, &body)
				if r.errorCode(t) != "unauthorized" || body.Errors[0].Message != "Access Token Invalid" {
					t.Errorf("401 body: %s", r.body)
				}
			}
		})
	}
	if r := e.do("GET", "/nowhere", "2.11", nil); r.status != 404 || r.errorCode(t) != "not_found" {
		t.Errorf("unknown route: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/tickets/4001", "2.11", nil); r.status != 404 {
		t.Errorf("unknown method: %d %s", r.status, r.body)
	}
}

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_800_000_003, 0)}
	e := newEnv(t, sandbox.WithRateLimit(3, 10*time.Second), sandbox.WithClock(clk.Now))
	get := func(tok string) response {
		return e.doWith("GET", "/tags", "2.11", nil, map[string]string{"Authorization": "Bearer " + tok})
	}
	for i, want := range []string{"2", "1", "0"} {
		r := get("a")
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Remaining") != want ||
			r.header.Get("X-RateLimit-Reset") != "1800000010" {
			t.Errorf("request %d headers: %v", i, r.header)
		}
	}
	r := get("a")
	if r.status != http.StatusTooManyRequests || r.errorCode(t) != "rate_limit_exceeded" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("over budget: %d %v %s", r.status, r.header, r.body)
	}
	// Budgets are per token.
	if r := get("b"); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("other token: %d %v", r.status, r.header)
	}
	// The next window starts afresh.
	clk.Add(7 * time.Second)
	if r := get("a"); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "2" || r.header.Get("X-RateLimit-Reset") != "1800000020" {
		t.Errorf("next window: %d %v", r.status, r.header)
	}
	// Disabled: no headers, no 429.
	off := newEnv(t, sandbox.WithRateLimit(0, 0))
	for range 5 {
		if r := off.do("GET", "/tags", "2.11", nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("disabled limit: %d %v", r.status, r.header)
		}
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("getTicket", sandbox.Fault{Latency: 30 * time.Millisecond})
		start := time.Now()
		e.mustOK("GET", "/tickets/4001", "2.11", nil)
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("answered after %v, want at least 30ms", d)
		}
	})
	t.Run("5xx, not applied", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("createTag", sandbox.Fault{ErrorRate: 1})
		r := e.do("POST", "/tags", "2.11", map[string]any{"name": "Never"})
		if r.status != 503 || r.errorCode(t) != "service_unavailable" {
			t.Fatalf("got %d %s", r.status, r.body)
		}
		e.srv.SetFault("createTag", sandbox.Fault{ErrorRate: 1, ErrorStatus: 500})
		if r := e.do("POST", "/tags", "2.11", map[string]any{"name": "Never"}); r.status != 500 {
			t.Fatalf("ErrorStatus 500: got %d", r.status)
		}
		e.srv.ClearFaults()
		if strings.Contains(string(e.mustOK("GET", "/tags", "2.11", nil).body), "Never") {
			t.Error("a failed create was applied")
		}
	})
	t.Run("429 storm", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("*", sandbox.Fault{RateLimitRate: 1})
		for _, path := range []string{"/tags", "/ticket_types", "/tickets/4001"} {
			r := e.do("GET", path, "2.11", nil)
			if r.status != 429 || r.errorCode(t) != "rate_limit_exceeded" || r.header.Get("X-RateLimit-Remaining") != "0" ||
				r.header.Get("X-RateLimit-Reset") == "" || r.header.Get("X-RateLimit-Limit") == "" {
				t.Errorf("GET %s: %d %v %s", path, r.status, r.header, r.body)
			}
		}
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("listTags", sandbox.Fault{ResetRate: 1})
		req, _ := http.NewRequest("GET", e.ts.URL+"/tags", nil)
		req.Header.Set("Authorization", "Bearer x")
		resp, err := e.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response (%d), want a transport error", resp.StatusCode)
		}
		reqs := e.srv.Requests()
		if len(reqs) == 0 || reqs[len(reqs)-1].Status != 0 || !reqs[len(reqs)-1].Reset {
			t.Errorf("recorded: %+v", reqs)
		}
	})
	t.Run("reset after applying", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("createTag", sandbox.Fault{ResetAfterRate: 1, Remaining: 1})
		req, _ := http.NewRequest("POST", e.ts.URL+"/tags", strings.NewReader(`{"name":"Lost answer"}`))
		req.Header.Set("Authorization", "Bearer x")
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("got a response (%d), want a transport error", resp.StatusCode)
		}
		reqs := e.srv.Requests()
		if len(reqs) != 1 || reqs[0].Status != 200 || !reqs[0].Reset {
			t.Errorf("recorded: %+v, want one createTag applied with 200 and reset", reqs)
		}
		if !strings.Contains(string(e.mustOK("GET", "/tags", "2.11", nil).body), "Lost answer") {
			t.Error("the request whose answer was lost was not applied")
		}
	})
	t.Run("malformed, applied", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("createTag", sandbox.Fault{MalformedRate: 1})
		r := e.do("POST", "/tags", "2.11", map[string]any{"name": "Garbled"})
		if r.status != 200 || json.Valid(r.body) || len(r.body) == 0 {
			t.Fatalf("got %d %q, want 200 with invalid JSON", r.status, r.body)
		}
		if !strings.Contains(string(e.mustOK("GET", "/tags", "2.11", nil).body), "Garbled") {
			t.Error("the malformed answer's request was not applied")
		}
	})
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("listTicketTypes", sandbox.Fault{SlowBody: 100 * time.Millisecond})
		req, _ := http.NewRequest("GET", e.ts.URL+"/ticket_types", nil)
		req.Header.Set("Authorization", "Bearer x")
		start := time.Now()
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		headersAfter := time.Since(start)
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		// Ten chunks with a 10ms pause after each: the body ends at least
		// 90ms after the headers arrived.
		if spread := time.Since(start) - headersAfter; spread < 90*time.Millisecond {
			t.Errorf("body arrived within %v of the headers", spread)
		}
		if resp.StatusCode != 200 || !json.Valid(b) {
			t.Errorf("slow body: %d, valid JSON %v", resp.StatusCode, json.Valid(b))
		}
	})
	t.Run("remaining", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 502, Remaining: 2})
		var got []int
		for range 4 {
			got = append(got, e.do("GET", "/tickets/4001", "2.11", nil).status)
		}
		if want := []int{502, 502, 200, 200}; !equalInts(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		if len(e.srv.Faults()) != 0 {
			t.Errorf("fault not removed: %v", e.srv.Faults())
		}
	})
	t.Run("specific route beats *", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.srv.SetFault("*", sandbox.Fault{ErrorRate: 1})
		e.srv.SetFault("findTag", sandbox.Fault{})
		if r := e.do("GET", "/tags/9001", "2.11", nil); r.status != 200 {
			t.Errorf("findTag: %d", r.status)
		}
		if r := e.do("GET", "/tags", "2.11", nil); r.status != 503 {
			t.Errorf("listTags: %d", r.status)
		}
	})
	t.Run("fractions are seeded", func(t *testing.T) {
		t.Parallel()
		run := func() []int {
			e := newEnv(t, sandbox.WithRandSeed(42))
			e.srv.SetFault("listTags", sandbox.Fault{ErrorRate: 0.5})
			var out []int
			for range 60 {
				out = append(out, e.do("GET", "/tags", "2.11", nil).status)
			}
			return out
		}
		a, b := run(), run()
		if !equalInts(a, b) {
			t.Errorf("same seed, different outcomes:\n%v\n%v", a, b)
		}
		fails := 0
		for _, s := range a {
			if s == 503 {
				fails++
			}
		}
		if fails == 0 || fails == len(a) {
			t.Errorf("ErrorRate 0.5 failed %d of %d", fails, len(a))
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestRecording(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/tickets/search?ignored=1", "Preview", map[string]any{"query": f("open", "=", true)})
	e.doWith("GET", "/tags", "", nil, nil)
	reqs := e.srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/tickets/search" || r.RawQuery != "ignored=1" || r.Version != "Preview" ||
		r.Route != "searchTickets" || r.Status != 200 || !bytes.Contains(r.Body, []byte(`"query"`)) ||
		r.Header.Get("Authorization") != "Bearer "+token || r.Time.IsZero() {
		t.Errorf("recorded %+v", r)
	}
	if reqs[1].Status != 401 || reqs[1].Route != "listTags" || reqs[1].Version != "" {
		t.Errorf("recorded %+v", reqs[1])
	}
	e.srv.ResetRequests()
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests after ResetRequests", n)
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := admin("PUT", "/__sandbox/faults/getTicket", `{"error_rate":1,"error_status":502,"latency":"10ms","remaining":5}`); st != 200 {
		t.Fatalf("PUT fault: %d", st)
	}
	if got := e.srv.Faults()["getTicket"]; got.Latency != 10*time.Millisecond || got.ErrorStatus != 502 || got.Remaining != 5 {
		t.Errorf("fault installed as %+v", got)
	}
	if r := e.do("GET", "/tickets/4001", "2.11", nil); r.status != 502 {
		t.Errorf("faulted GET: %d", r.status)
	}
	_, faults := admin("GET", "/__sandbox/faults", "")
	if !bytes.Contains(faults, []byte(`"latency":"10ms"`)) {
		t.Errorf("GET faults: %s", faults)
	}
	for _, bad := range []string{`{"error_rate":2}`, `{"latency":"soon"}`, `{"typo":1}`, `not json`} {
		if st, _ := admin("PUT", "/__sandbox/faults/x", bad); st != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, st)
		}
	}
	if st, _ := admin("DELETE", "/__sandbox/faults", ""); st != 204 || len(e.srv.Faults()) != 0 {
		t.Errorf("DELETE faults: %d %v", st, e.srv.Faults())
	}
	e.mustOK("POST", "/tags", "2.11", map[string]any{"name": "Temporary"})
	_, list := admin("GET", "/__sandbox/requests", "")
	var recs []struct {
		Method, Path, Route, Body string
		Status                    int
	}
	if err := json.Unmarshal(list, &recs); err != nil {
		t.Fatalf("requests: %v %s", err, list)
	}
	// Admin calls are not recorded: only the two API calls are.
	if len(recs) != 2 || recs[1].Route != "createTag" || !strings.Contains(recs[1].Body, "Temporary") {
		t.Errorf("recorded: %+v", recs)
	}
	// The bearer token never leaves over the admin surface; in-process
	// callers of Requests() still see it.
	if strings.Contains(string(list), token) || !strings.Contains(string(list), "Bearer REDACTED") {
		t.Errorf("admin requests expose the token: %s", list)
	}
	if got := e.srv.Requests()[1].Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer ") || strings.Contains(got, "REDACTED") {
		t.Errorf("Requests() Authorization = %q, want the real header", got)
	}
	if st, _ := admin("DELETE", "/__sandbox/requests", ""); st != 204 || len(e.srv.Requests()) != 0 {
		t.Errorf("DELETE requests: %d", st)
	}
	if st, _ := admin("POST", "/__sandbox/reset", ""); st != 204 {
		t.Errorf("reset: %d", st)
	}
	if strings.Contains(string(e.mustOK("GET", "/tags", "2.11", nil).body), "Temporary") {
		t.Error("reset kept a created tag")
	}
}

func TestListenAndServe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := sandbox.New()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/ticket_types", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:bad"); err == nil {
		t.Error("ListenAndServe on a bad address succeeded")
	}
}

// TestDotSegmentsAreUnknownPaths: a path with a dot segment, or an empty one, names no operation.
// ServeMux would match its cleaned form (GET /contacts/../tags as listTags); Intercom routes what it
// is sent, so these get the unknown-path 404 and change nothing.
func TestDotSegmentsAreUnknownPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct{ method, path, version string }{
		{"GET", "/contacts/../tags", ""},
		{"GET", "/contacts/%2e%2e/tags", ""},
		{"GET", "/contacts/a%2F..%2Ftags", ""},
		{"DELETE", "/tickets/../tags/" + sandbox.SeedTagVIP, ""},
		{"DELETE", "/tickets/" + sandbox.SeedTicketExport + "/tags/..", "Preview"},
		{"PUT", "/ticket_types/1/attributes/..", ""},
		{"GET", "/tags/./" + sandbox.SeedTagVIP, ""},
		{"GET", "//tags", ""},
		{"GET", "/tickets/" + sandbox.SeedTicketLogin + "/", ""},
	} {
		var body any
		if tt.method == "PUT" {
			body = map[string]any{"archived": true}
		}
		r := e.do(tt.method, tt.path, tt.version, body)
		if r.status != http.StatusNotFound || r.errorCode(t) != "not_found" {
			t.Errorf("%s %s: status %d %s, want 404 not_found", tt.method, tt.path, r.status, r.body)
		}
	}
	for _, rec := range e.srv.Requests() {
		if rec.Route != "" {
			t.Errorf("%s %s was routed as %s", rec.Method, rec.Path, rec.Route)
		}
	}
	// Nothing was deleted or archived.
	e.mustOK("GET", "/tags/"+sandbox.SeedTagVIP, "", nil)
	e.mustOK("GET", "/tickets/"+sandbox.SeedTicketExport, "", nil)
	var typ struct {
		Archived bool `json:"archived"`
	}
	e.mustOK("GET", "/ticket_types/1", "", nil).decode(t, &typ)
	if typ.Archived {
		t.Error("ticket type 1 was archived")
	}
}
