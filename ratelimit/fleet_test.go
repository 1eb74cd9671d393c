//go:build !race

package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/internal/testsupport"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// These tests run a fleet of replicas in one process: each replica is a real
// upstream client with its own ratelimit.Shared and its own Redis
// connection, all sending real HTTP to one sandbox and sharing one real
// redis-server. Windows are 1 s instead of Intercom's 10 s (the sandbox and
// the limiter both take the window length), so that a run of many windows
// fits in a test; the budget is per window, so every ratio below is the same
// as with 10 s windows. They hold real-time targets (a share of each
// window), which the race detector's 5-10x slowdown makes meaningless, so
// they are built without -race and run only when RATELIMIT_FLEET is set:
// `make test` runs them in a step of their own after the -race run (one
// test at a time, about a minute), and `make ratelimit-fleet` runs them for
// longer (RATELIMIT_FLEET_SECONDS). The algorithm itself is tested under
// -race in shared_test.go, on virtual time.
//
// Their assertions hold by design, not by slack: a grant belongs to the
// window it was leased from and is not used within Config.Guard of its end;
// grants are paced through the window, so the last ones are leased just
// before the guard; and an answer that Intercom counted in the next window
// anyway (X-RateLimit-Reset says which) is charged to that window before
// its paced grants run out. The sandbox and the replicas share the clock.

// fleetWindow is the window of the fleet runs unless fleetOpts.window says
// otherwise.
const fleetWindow = time.Second

// rtCounter counts Redis round trips: one per command, one per pipeline.
type rtCounter struct{ n atomic.Int64 }

func (c *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// windowStats counts what the sandbox answered, per window.
type windowStats struct {
	window   time.Duration
	mu       sync.Mutex
	ok       map[int64]int
	limit    map[int64]int
	fleet429 map[int64]int
	fleetOK  map[int64]int
	byTok    map[string]int
	total    int
	total4   int
}

func (w *windowStats) record(token string, status int, at time.Time) {
	idx := at.UnixNano() / int64(w.window)
	w.mu.Lock()
	defer w.mu.Unlock()
	if token == "fleet" {
		if status == http.StatusTooManyRequests {
			w.fleet429[idx]++
		} else {
			w.fleetOK[idx]++
		}
	}
	if status == http.StatusTooManyRequests {
		w.limit[idx]++
		w.total4++
		return
	}
	w.ok[idx]++
	w.byTok[token]++
	w.total++
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

type fleetOpts struct {
	replicas int
	budget   int
	// seconds is the run's length in windows (seconds with fleetWindow).
	seconds int
	// callers per replica index, with the calls each asks for per window.
	load func(replica int) map[string]int
	// other spends this many calls per window directly against the sandbox.
	other int
	// outage kills Redis during these seconds of the run.
	outageFrom, outageTo int
	weights              map[string]float64
	// window is the rate window of the sandbox and the limiters (fleetWindow).
	window time.Duration
}

type fleetResult struct {
	stats                 *windowStats
	refusedBy, servedBy   map[string]int
	upstreamCalls         int64
	roundTrips            int64
	maxOutageCall         time.Duration
	outage429, outageCall int
	lightRefusedLate      int
	logs                  *syncBuf
	start                 time.Time
}

type syncBuf = testsupport.SyncBuffer

func runFleet(t *testing.T, o fleetOpts) fleetResult {
	t.Helper()
	red := redistest.Start(t)
	if o.window == 0 {
		o.window = fleetWindow
	}
	fleetWindow := o.window
	sb := sandbox.New(sandbox.WithRateLimit(o.budget, fleetWindow))
	stats := &windowStats{window: fleetWindow, ok: map[int64]int{}, limit: map[int64]int{}, byTok: map[string]int{}, fleet429: map[int64]int{}, fleetOK: map[int64]int{}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		// Counted in the window it arrived in, as the sandbox counts it.
		arrived := time.Now()
		sb.ServeHTTP(sw, r)
		who := "fleet"
		if r.Header.Get("X-Other-App") != "" {
			who = "other"
		}
		stats.record(who, sw.status, arrived)
	}))
	t.Cleanup(hs.Close)

	logs := &syncBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cfg := ratelimit.Config{Window: fleetWindow, MaxWait: 300 * time.Millisecond, RedisTimeout: 100 * time.Millisecond,
		Heartbeat: fleetWindow / 4, Guard: 50 * time.Millisecond, ReleaseSpread: 50 * time.Millisecond, CallerWeights: o.weights}
	var rts rtCounter
	type replica struct {
		client *upstream.Client
	}
	reps := make([]replica, o.replicas)
	retry := upstream.DefaultRetryPolicy()
	retry.MaxAttempts = 1 // every 429 reaches the test, none is retried
	for i := range reps {
		rdb := redis.NewClient(&redis.Options{Addr: red.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1,
			DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
		rdb.AddHook(&rts)
		t.Cleanup(func() { rdb.Close() })
		s := ratelimit.NewShared(rdb, cfg, log.With("replica", i))
		t.Cleanup(s.Close)
		c, err := upstream.New(upstream.WithToken("fleet"), upstream.WithBaseURL(hs.URL), upstream.WithRetryPolicy(retry),
			upstream.WithLimiter(s.For("default", ratelimit.Budget{Limit: o.budget})))
		if err != nil {
			t.Fatal(err)
		}
		reps[i] = replica{client: c}
	}
	// Start on a window boundary, after the heartbeats counted the fleet.
	time.Sleep(2 * cfg.Heartbeat)
	now := time.Now()
	time.Sleep(now.Truncate(fleetWindow).Add(fleetWindow).Sub(now))
	start := time.Now()
	rtStart := rts.n.Load()
	end := start.Add(time.Duration(o.seconds) * fleetWindow)

	res := fleetResult{stats: stats, refusedBy: map[string]int{}, servedBy: map[string]int{}, logs: logs, start: start}
	var mu sync.Mutex
	var calls atomic.Int64
	var wg sync.WaitGroup
	for i, r := range reps {
		for caller, perWindow := range o.load(i) {
			// Open-loop load: one call every window/perWindow, each in its
			// own goroutine, as independent clients would send them.
			wg.Go(func() {
				tick := time.NewTicker(fleetWindow / time.Duration(perWindow))
				defer tick.Stop()
				var inner sync.WaitGroup
				defer inner.Wait()
				for time.Now().Before(end) {
					<-tick.C
					inner.Go(func() {
						ctx := auth.NewContext(context.Background(), auth.Identity{Caller: caller, Workspace: "default"})
						ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
						defer cancel()
						t0 := time.Now()
						_, err := r.client.GetTicket(ctx, sandbox.SeedTicketLogin)
						d := time.Since(t0)
						sec := int(t0.Sub(start) / time.Second)
						var ref *ratelimit.Refusal
						var uerr *upstream.Error
						mu.Lock()
						defer mu.Unlock()
						inOutage := o.outageTo > 0 && sec >= o.outageFrom && sec < o.outageTo
						switch {
						case errors.As(err, &ref):
							res.refusedBy[caller]++
							if caller == "light" && sec >= 1 {
								res.lightRefusedLate++
							}
						case errors.As(err, &uerr) && uerr.StatusCode == 429:
							calls.Add(1)
							if inOutage {
								res.outage429++
							}
						case err != nil:
							t.Errorf("call: %v", err)
						default:
							calls.Add(1)
							res.servedBy[caller]++
						}
						if inOutage {
							res.outageCall++
							res.maxOutageCall = max(res.maxOutageCall, d)
						}
					})
				}
			})
		}
	}
	if o.other > 0 {
		wg.Go(func() {
			tick := time.NewTicker(fleetWindow / time.Duration(o.other))
			defer tick.Stop()
			for time.Now().Before(end) {
				<-tick.C
				req, _ := http.NewRequest(http.MethodGet, hs.URL+"/tickets/"+sandbox.SeedTicketLogin, nil)
				req.Header.Set("Authorization", "Bearer fleet")
				req.Header.Set("X-Other-App", "1")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		})
	}
	if o.outageTo > 0 {
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(time.Duration(o.outageFrom) * time.Second)))
			red.Stop()
			time.Sleep(time.Until(start.Add(time.Duration(o.outageTo) * time.Second)))
			red.Restart()
		})
	}
	wg.Wait()
	res.upstreamCalls = calls.Load()
	res.roundTrips = rts.n.Load() - rtStart
	return res
}

// served returns, per full window of the run, what the sandbox served.
func (r fleetResult) windows(skipFirst int) (ok, limited []int) {
	first := r.start.UnixNano()/int64(r.stats.window) + int64(skipFirst)
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	for idx := first; ; idx++ {
		if _, has := r.stats.ok[idx]; !has {
			if _, has4 := r.stats.limit[idx]; !has4 {
				break
			}
		}
		ok = append(ok, r.stats.ok[idx])
		limited = append(limited, r.stats.limit[idx])
	}
	// The last window is cut by the end of the run.
	if len(ok) > 0 {
		ok, limited = ok[:len(ok)-1], limited[:len(limited)-1]
	}
	return ok, limited
}

// skipUnlessFleet runs the fleet tests only when asked (make
// ratelimit-fleet sets RATELIMIT_FLEET=1): they load the machine for many
// seconds and hold real-time targets.
func skipUnlessFleet(t *testing.T) {
	t.Helper()
	if os.Getenv("RATELIMIT_FLEET") == "" {
		t.Skip("fleet test: run it with make ratelimit-fleet (RATELIMIT_FLEET=1): real Redis and real HTTP for many seconds")
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestFleetSharesOneBudget: replicas driven at 3× the budget between them:
// the sandbox answers no 429, serves at least 95% of the budget in every
// window, and the fleet makes at most 0.2 Redis round trips per upstream
// call; with 3 replicas (the Done-when test) and 20 (the scale simulation).
//
// The round trips per call are about the leases per window (4 to 8 per
// busy replica, and no heartbeats while it leases) divided by the budget
// per replica: 200 per 1 s window for 3 replicas, and Intercom's own 1,667
// per window (10,000 calls a minute) for 20, so that each replica's part
// (83) is what it would be in front of Intercom. That run's windows are 2 s
// so that 3× the budget (2,500 calls a second) stays within what two cores
// generate and serve next to the fleet.
func TestFleetSharesOneBudget(t *testing.T) {
	skipUnlessFleet(t)
	seconds := envInt("RATELIMIT_FLEET_SECONDS", 6)
	for _, tc := range []struct {
		replicas, budget int
		window           time.Duration
	}{
		{3, 200, fleetWindow},
		{20, 1667, 2 * fleetWindow},
	} {
		t.Run(fmt.Sprintf("%d replicas", tc.replicas), func(t *testing.T) {
			replicas, budget := tc.replicas, tc.budget
			res := runFleet(t, fleetOpts{replicas: replicas, budget: budget, seconds: seconds, window: tc.window,
				load: func(int) map[string]int { return map[string]int{"a": 3 * budget / replicas} }})
			ok, limited := res.windows(0)
			total429 := 0
			for i := range ok {
				total429 += limited[i]
				if limited[i] > 0 {
					t.Errorf("window %d: the sandbox answered %d 429s", i, limited[i])
				}
				if ok[i] < budget*95/100 {
					t.Errorf("window %d: served %d of the budget %d, want at least 95%%", i, ok[i], budget)
				}
			}
			rt := float64(res.roundTrips) / float64(max(1, res.upstreamCalls))
			t.Logf("FLEET replicas=%d window=%v windows=%d budget=%d served/window=%v 429s=%d upstream_calls=%d redis_round_trips=%d per_call=%.3f refused=%d",
				replicas, tc.window, len(ok), budget, ok, total429, res.upstreamCalls, res.roundTrips, rt, res.refusedBy["a"])
			if rt > 0.2 {
				t.Errorf("%.3f Redis round trips per upstream call, want at most 0.2", rt)
			}
		})
	}
}

// TestFleetFairShare: callers with weights 1 and 3 on different replicas,
// both saturating, are served 25% / 75% (±5 points); a light caller under
// its share is never refused while a heavy one saturates.
func TestFleetFairShare(t *testing.T) {
	skipUnlessFleet(t)
	const budget = 80
	seconds := envInt("RATELIMIT_FLEET_SECONDS", 6)
	weights := map[string]float64{"w1": 1, "w3": 3, "light": 3, "heavy": 1}
	t.Run("weights 1 and 3 saturating", func(t *testing.T) {
		res := runFleet(t, fleetOpts{replicas: 2, budget: budget, seconds: seconds, weights: weights,
			load: func(i int) map[string]int {
				if i == 0 {
					return map[string]int{"w1": 2 * budget}
				}
				return map[string]int{"w3": 2 * budget}
			}})
		share := float64(res.servedBy["w1"]) / float64(res.servedBy["w1"]+res.servedBy["w3"])
		t.Logf("FAIR weight1=%d weight3=%d share1=%.1f%% refused=%v", res.servedBy["w1"], res.servedBy["w3"], 100*share, res.refusedBy)
		if share < 0.20 || share > 0.30 {
			t.Errorf("weight-1 caller got %.1f%% of the served calls, want 25%% ± 5", 100*share)
		}
	})
	t.Run("light caller under its share", func(t *testing.T) {
		res := runFleet(t, fleetOpts{replicas: 2, budget: budget, seconds: seconds, weights: weights,
			load: func(i int) map[string]int {
				if i == 0 {
					return map[string]int{"heavy": 3 * budget}
				}
				return map[string]int{"light": budget / 8}
			}})
		t.Logf("LIGHT served=%v refused=%v refused_after_first_window=%d", res.servedBy, res.refusedBy, res.lightRefusedLate)
		// From the first window on: a caller without history is held to
		// no less than its weighted share, and grants are paced, so the
		// heavy caller's early leases cannot take the light one's part.
		if n := res.refusedBy["light"]; n > 0 {
			t.Errorf("the light caller was refused %d times while under its share", n)
		}
		if res.servedBy["heavy"] == 0 {
			t.Error("the heavy caller was never served")
		}
	})
}

// TestFleetLearnsFromIntercom: another app spends half the budget directly
// against the sandbox; after the first window the fleet shrinks to the rest
// and sees no 429.
func TestFleetLearnsFromIntercom(t *testing.T) {
	skipUnlessFleet(t)
	const budget = 80
	seconds := envInt("RATELIMIT_FLEET_SECONDS", 6)
	res := runFleet(t, fleetOpts{replicas: 3, budget: budget, seconds: seconds, other: budget / 2,
		load: func(int) map[string]int { return map[string]int{"a": budget} }})
	ok, limited := res.windows(0)
	res.stats.mu.Lock()
	var fleetOK, fleet429 []int
	first := res.start.UnixNano() / int64(res.stats.window)
	for i := range ok {
		fleetOK = append(fleetOK, res.stats.fleetOK[first+int64(i)])
		fleet429 = append(fleet429, res.stats.fleet429[first+int64(i)])
	}
	res.stats.mu.Unlock()
	t.Logf("LEARN budget=%d other_app=%d/window served/window=%v fleet_served/window=%v fleet_429/window=%v all_429/window=%v",
		budget, budget/2, ok, fleetOK, fleet429, limited)
	for i := 1; i < len(fleet429); i++ {
		if fleet429[i] > 0 {
			t.Errorf("window %d: the fleet got %d 429s after it had a window to learn", i, fleet429[i])
		}
	}
}

// TestFleetSurvivesRedisOutage: Redis is killed mid-load and restarted: no
// call waits on Redis longer than its timeout (calls stay within MaxWait
// plus the Redis timeout plus the upstream call), the 429s during the
// outage are counted, the fleet returns to shared mode by itself, and each
// replica logs each transition once.
func TestFleetSurvivesRedisOutage(t *testing.T) {
	skipUnlessFleet(t)
	const budget = 60
	seconds := envInt("RATELIMIT_FLEET_SECONDS", 8)
	res := runFleet(t, fleetOpts{replicas: 3, budget: budget, seconds: max(seconds, 8), outageFrom: 2, outageTo: 5,
		load: func(int) map[string]int { return map[string]int{"a": budget} }})
	ok, limited := res.windows(0)
	pct := 100 * float64(res.outage429) / float64(max(1, res.outageCall))
	t.Logf("OUTAGE served/window=%v 429/window=%v outage_calls=%d outage_429=%d (%.1f%%) max_call_during_outage=%v",
		ok, limited, res.outageCall, res.outage429, pct, res.maxOutageCall)
	logs := res.logs.String()
	if n := strings.Count(logs, "degraded mode"); n != 3 {
		t.Errorf("%d degraded-mode log lines for 3 replicas, want 3:\n%s", n, logs)
	}
	if n := strings.Count(logs, "shared mode"); n != 3 {
		t.Errorf("%d back-to-shared log lines for 3 replicas, want 3 (recovery is automatic):\n%s", n, logs)
	}
	// MaxWait 300 ms + Redis timeout 100 ms + the sandbox call, with slack
	// for a shared 2-core machine.
	if res.maxOutageCall > 1500*time.Millisecond {
		t.Errorf("a call took %v during the outage", res.maxOutageCall)
	}
}
