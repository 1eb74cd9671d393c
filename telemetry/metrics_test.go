package telemetry_test

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
	"github.com/redis/go-redis/v9"
)

// A scripted run, then one scrape of /metrics: every series the issue
// lists that has landed, with the values this run must produce.
func TestMetricsAfterScriptedRun(t *testing.T) {
	s := startStack(t, stackConfig{sandbox: []sandbox.Option{sandbox.WithRateLimit(100, 0)}})
	s.sb.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable, Remaining: 1})

	// 1. REST GET ticket: 503, retried, 200.
	if code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, nil); code != http.StatusOK {
		t.Fatalf("REST GetTicket: HTTP %d %s", code, body)
	}
	tickets := gatewayv1.NewTicketServiceClient(s.conn)
	// 2. gRPC GetTicket: 200.
	if _, err := tickets.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin}); err != nil {
		t.Fatal(err)
	}
	// 3. gRPC GetTicket of a ticket Intercom does not have: 404.
	if _, err := tickets.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: "999999"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetTicket 999999: %v, want NOT_FOUND", err)
	}
	// 4. REST list ticket types: 200.
	if code, body := s.get(t, "/v1/ticket-types", nil); code != http.StatusOK {
		t.Fatalf("REST ListTicketTypes: HTTP %d %s", code, body)
	}
	// 5. Again: the schema cache answers, Intercom is not asked.
	if code, body := s.get(t, "/v1/ticket-types", nil); code != http.StatusOK {
		t.Fatalf("REST ListTicketTypes: HTTP %d %s", code, body)
	}
	// 6. A call refused by validation never reaches Intercom.
	if _, err := tickets.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetTicket without id: %v, want INVALID_ARGUMENT", err)
	}
	s.stop()
	m := parseMetrics(t, s.scrape(t))

	const getTicket = "intercom.gateway.v1.TicketService/GetTicket"
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		// RPC rate, latency and codes (REST calls included: they are RPCs too).
		{"rpc_server_call_duration_seconds_count", map[string]string{"rpc_method": getTicket, "rpc_response_status_code": "OK"}, 2},
		{"rpc_server_call_duration_seconds_count", map[string]string{"rpc_method": getTicket, "rpc_response_status_code": "NOT_FOUND"}, 1},
		{"rpc_server_call_duration_seconds_count", map[string]string{"rpc_method": getTicket, "rpc_response_status_code": "INVALID_ARGUMENT"}, 1},
		{"rpc_server_call_duration_seconds_count", map[string]string{"rpc_method": "intercom.gateway.v1.TicketTypeService/ListTicketTypes", "rpc_response_status_code": "OK"}, 2},
		// REST by route pattern.
		{"http_server_request_duration_seconds_count", map[string]string{"http_route": "/v1/tickets/{ticket_id}", "http_response_status_code": "200"}, 1},
		{"http_server_request_duration_seconds_count", map[string]string{"http_route": "/v1/ticket-types", "http_response_status_code": "200"}, 2},
		// Upstream requests by operation, status and workspace: every attempt.
		{"gateway_upstream_requests_total", map[string]string{"operation": "getTicket", "status": "503", "workspace": "acme"}, 1},
		{"gateway_upstream_requests_total", map[string]string{"operation": "getTicket", "status": "200", "workspace": "acme"}, 2},
		{"gateway_upstream_requests_total", map[string]string{"operation": "getTicket", "status": "404", "workspace": "acme"}, 1},
		{"gateway_upstream_requests_total", map[string]string{"operation": "listTicketTypes", "status": "200", "workspace": "acme"}, 1},
		{"gateway_upstream_duration_seconds_count", map[string]string{"operation": "getTicket", "status": "200", "workspace": "acme"}, 2},
		// Intercom's rate limit per workspace: the sandbox counts the 4
		// requests it answered (the injected 503 spends no budget).
		{"gateway_upstream_ratelimit_limit", map[string]string{"workspace": "acme"}, 100},
		{"gateway_upstream_ratelimit_remaining", map[string]string{"workspace": "acme"}, 96},
		// The schema cache: the first list missed and loaded, the second hit.
		{"gateway_schemacache_misses_total", map[string]string{"workspace": "acme"}, 1},
		{"gateway_schemacache_hits_total", map[string]string{"workspace": "acme"}, 1},
		{"gateway_schemacache_refreshes_total", map[string]string{"workspace": "acme", "outcome": "ok"}, 1},
		// The gateway's limiter: asked before each of the 5 attempts, none refused.
		{"gateway_ratelimit_wait_seconds_count", map[string]string{"workspace": "acme", "outcome": "granted", "degraded": "false"}, 5},
	} {
		if got := m.value(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := m.count("gateway_ratelimit_refusals_total"); n != 0 {
		t.Errorf("%d gateway_ratelimit_refusals_total series, want none (nothing was refused)", n)
	}
	if n := m.count("gateway_upstream_requests_total"); n != 4 {
		t.Errorf("%d gateway_upstream_requests_total series, want 4 (the validation failure sent nothing)", n)
	}
	// Bounded labels: no ticket id and no raw path in any label.
	for _, sr := range m {
		for k, v := range sr.labels {
			if strings.Contains(v, "4001") || strings.Contains(v, "999999") {
				t.Errorf("%s: label %s=%q holds an id", sr.name, k, v)
			}
		}
	}
}

// When Intercom fails after the TTL, the cache answers with its stale
// entry, and says so in gateway.schemacache.stale_serves.
func TestStaleServesAreCounted(t *testing.T) {
	var now atomic.Int64
	now.Store(fixedNow.UnixNano())
	s := startStack(t, stackConfig{cacheOpts: []schemacache.Option{
		schemacache.WithClock(func() time.Time { return time.Unix(0, now.Load()) }),
	}})
	if code, body := s.get(t, "/v1/ticket-types", nil); code != http.StatusOK {
		t.Fatalf("first read: HTTP %d %s", code, body)
	}
	now.Add(int64(6 * time.Minute)) // past the 5-minute TTL, within the stale bound
	s.sb.SetFault("listTicketTypes", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	if code, body := s.get(t, "/v1/ticket-types", nil); code != http.StatusOK {
		t.Fatalf("read with Intercom down: HTTP %d %s, want the stale answer", code, body)
	}
	s.stop()
	m := parseMetrics(t, s.scrape(t))
	if got := m.value(t, "gateway_schemacache_stale_serves_total", map[string]string{"workspace": "acme"}); got != 1 {
		t.Errorf("stale serves = %v, want 1", got)
	}
	if got := m.value(t, "gateway_schemacache_refreshes_total", map[string]string{"workspace": "acme", "outcome": "error"}); got < 1 {
		t.Errorf("failed refreshes = %v, want at least 1", got)
	}
}

// series is one sample line of the Prometheus text format.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

type metricSet []series

// parseMetrics reads the text format well enough for these tests: one
// sample per line, label values without escaped quotes.
func parseMetrics(t *testing.T, text string) metricSet {
	t.Helper()
	var out metricSet
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sr := series{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			sr.name = line[:i]
			j := strings.LastIndexByte(line, '}')
			for _, kv := range splitLabels(line[i+1 : j]) {
				k, v, _ := strings.Cut(kv, "=")
				sr.labels[k] = strings.Trim(v, `"`)
			}
			rest = line[j+1:]
		} else {
			sr.name, rest, _ = strings.Cut(line, " ")
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sr.value = v
		out = append(out, sr)
	}
	return out
}

func splitLabels(s string) []string {
	var out []string
	inQuote, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// value is the sample of name whose labels include labels; exactly one
// must match.
func (m metricSet) value(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	var found []series
	for _, sr := range m {
		if sr.name != name {
			continue
		}
		match := true
		for k, v := range labels {
			if sr.labels[k] != v {
				match = false
			}
		}
		if match {
			found = append(found, sr)
		}
	}
	if len(found) != 1 {
		t.Errorf("%d series %s%v, want 1; %s has: %s", len(found), name, labels, name, m.describe(name))
		return -1
	}
	return found[0].value
}

func (m metricSet) count(name string) int {
	n := 0
	for _, sr := range m {
		if sr.name == name {
			n++
		}
	}
	return n
}

func (m metricSet) describe(name string) string {
	var out []string
	for _, sr := range m {
		if sr.name == name {
			out = append(out, strconv.Quote(strings.TrimSpace(strings.Join(labelList(sr.labels), ","))))
		}
	}
	return strings.Join(out, " ")
}

func labelList(l map[string]string) []string {
	var out []string
	for k, v := range l {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// The limiter's refusals and degraded mode, scripted, then scraped:
//
//   - a local limiter with a budget of 2 per hour (a burst of 1, then one
//     token an hour) and no waiting: the first call is granted, the second
//     refused for budget (REST 429, nothing sent to Intercom);
//   - a shared limiter on a real redis-server: one call in shared mode,
//     Redis stops, the heartbeats trip the breaker (degraded), two calls
//     are granted from the local fallback budget, Redis returns and the
//     limiter goes back to shared mode.
func TestLimiterRefusalsAndDegradedModeAreCounted(t *testing.T) {
	t.Run("refusals", func(t *testing.T) {
		s := startStack(t, stackConfig{limiter: func() *ratelimit.Limiter {
			return ratelimit.NewLocal(ratelimit.Config{Window: time.Hour, MaxWait: time.Millisecond}).
				For("acme", ratelimit.Budget{Limit: 2})
		}})
		if code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, nil); code != http.StatusOK {
			t.Fatalf("first call: HTTP %d %s", code, body)
		}
		if code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, nil); code != http.StatusTooManyRequests {
			t.Fatalf("second call: HTTP %d %s, want 429 (budget spent)", code, body)
		}
		s.stop()
		m := parseMetrics(t, s.scrape(t))
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"gateway_ratelimit_wait_seconds_count", map[string]string{"workspace": "acme", "outcome": "granted", "degraded": "false"}, 1},
			{"gateway_ratelimit_wait_seconds_count", map[string]string{"workspace": "acme", "outcome": "refused", "degraded": "false"}, 1},
			{"gateway_ratelimit_refusals_total", map[string]string{"workspace": "acme", "outcome": "budget"}, 1},
			{"gateway_upstream_requests_total", map[string]string{"workspace": "acme", "operation": "getTicket", "status": "200"}, 1},
			{"rpc_server_call_duration_seconds_count", map[string]string{"rpc_response_status_code": "RESOURCE_EXHAUSTED"}, 1},
		} {
			if got := m.value(t, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		if n := m.count("gateway_ratelimit_refusals_total"); n != 1 {
			t.Errorf("%d refusal series, want 1: %s", n, m.describe("gateway_ratelimit_refusals_total"))
		}
	})

	t.Run("degraded", func(t *testing.T) {
		rs := redistest.Start(t)
		rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
		t.Cleanup(func() { _ = rdb.Close() })
		// Heartbeats every 100 ms: three failed ones trip the breaker soon
		// after Redis stops, with no call needed.
		var shared *ratelimit.Shared
		s := startStack(t, stackConfig{limiter: func() *ratelimit.Limiter {
			shared = ratelimit.NewShared(rdb, ratelimit.Config{Heartbeat: 100 * time.Millisecond, RedisTimeout: 200 * time.Millisecond}, nil)
			t.Cleanup(shared.Close)
			return shared.For("acme", ratelimit.Budget{Limit: 1000})
		}})
		call := func(what string) {
			t.Helper()
			if code, body := s.get(t, "/v1/tickets/"+sandbox.SeedTicketLogin, nil); code != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", what, code, body)
			}
		}
		waitFor := func(what string, ok func() bool) {
			t.Helper()
			for deadline := time.Now().Add(20 * time.Second); !ok(); {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not within 20 s", what)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		call("shared mode")
		rs.Stop()
		waitFor("degraded mode after Redis stopped", shared.Degraded)
		m := parseMetrics(t, s.scrape(t))
		if got := m.value(t, "gateway_ratelimit_degraded", map[string]string{"workspace": "acme"}); got != 1 {
			t.Errorf("gateway_ratelimit_degraded while Redis is down = %v, want 1", got)
		}
		call("degraded 1")
		call("degraded 2")
		rs.Restart()
		waitFor("shared mode after Redis came back", func() bool { return !shared.Degraded() })
		s.stop()

		m = parseMetrics(t, s.scrape(t))
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"gateway_ratelimit_wait_seconds_count", map[string]string{"workspace": "acme", "outcome": "granted", "degraded": "false"}, 1},
			{"gateway_ratelimit_wait_seconds_count", map[string]string{"workspace": "acme", "outcome": "granted", "degraded": "true"}, 2},
			{"gateway_ratelimit_degraded", map[string]string{"workspace": "acme"}, 0},
			{"gateway_ratelimit_mode_transitions_total", map[string]string{"outcome": "degraded"}, 1},
			{"gateway_ratelimit_mode_transitions_total", map[string]string{"outcome": "shared"}, 1},
		} {
			if got := m.value(t, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		}
		if n := m.count("gateway_ratelimit_refusals_total"); n != 0 {
			t.Errorf("%d refusal series, want none: %s", n, m.describe("gateway_ratelimit_refusals_total"))
		}
		// Round trips: failures while Redis was down, and the heartbeats on
		// either side (whether the first call leased in a round trip of its
		// own or from a heartbeat's grant depends on timing).
		for _, outcome := range []string{"error", "heartbeat"} {
			if got := m.value(t, "gateway_ratelimit_redis_round_trips_total", map[string]string{"outcome": outcome}); got < 1 {
				t.Errorf("redis round trips %s = %v, want at least 1", outcome, got)
			}
		}
	})
}
