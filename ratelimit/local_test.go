package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/auth"
)

// epoch is the start of a 10 s window.
var epoch = time.Unix(1_800_000_000, 0)

func refusal(t *testing.T, err error) *Refusal {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *Refusal", err)
	}
	return r
}

// TestLocalNeverExceedsTheWindow drives a local limiter for 30 windows of
// virtual time with a caller that never stops asking, and counts the grants
// in each of Intercom's fixed windows: never more than the budget, and at
// least 90% of it once the bucket is in its steady state.
func TestLocalNeverExceedsTheWindow(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(epoch.Add(3 * time.Second)) // any phase
	cfg := Config{Window: 10 * time.Second, MaxWait: time.Minute}
	l := NewLocal(cfg, withClock(clk)).For("w", Budget{Limit: 100})
	perWindow := map[int64]int{}
	for clk.Now().Before(epoch.Add(300 * time.Second)) {
		release, err := l.Acquire(context.Background(), "getTicket")
		if err != nil {
			t.Fatal(err)
		}
		release()
		idx, _, _ := windowOf(clk.Now(), cfg.Window)
		perWindow[idx]++
	}
	for idx, n := range perWindow {
		if n > 100 {
			t.Errorf("window %d: %d grants, budget 100", idx, n)
		}
		if full := idx > perWindowMin(perWindow) && idx < perWindowMax(perWindow); full && n < 90 {
			t.Errorf("window %d: only %d grants of 100", idx, n)
		}
	}
}

func perWindowMin(m map[int64]int) int64 {
	first := true
	var v int64
	for k := range m {
		if first || k < v {
			v, first = k, false
		}
	}
	return v
}

func perWindowMax(m map[int64]int) int64 {
	var v int64
	for k := range m {
		v = max(v, k)
	}
	return v
}

// TestWaitOrRefuse: a call waits when capacity comes before its deadline and
// MaxWait, and is refused at once otherwise, with a retry hint that is when
// capacity comes back.
func TestWaitOrRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		maxWait   time.Duration
		deadline  time.Duration // 0: none
		wantWait  bool
		wantRetry time.Duration // for refusals, at least this
	}{
		{"capacity within MaxWait", 5 * time.Second, 0, true, 0},
		{"MaxWait too short", 100 * time.Millisecond, 0, false, 150 * time.Millisecond},
		{"deadline too short", 5 * time.Second, 100 * time.Millisecond, false, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(epoch)
			// 20 per 10 s: burst 1, one token every 10/19 s.
			l := NewLocal(Config{Window: 10 * time.Second, MaxWait: tt.maxWait}, withClock(clk)).For("w", Budget{Limit: 20})
			ctx := context.Background()
			if _, err := l.Acquire(ctx, "op"); err != nil {
				t.Fatal(err)
			}
			// Drain what the bucket holds.
			for {
				r, err := l.Acquire(ctx, "op")
				if err != nil {
					break
				}
				r()
				if clk.Now().After(epoch) {
					break
				}
			}
			start := clk.Now()
			if tt.deadline > 0 {
				// Relative to the limiter's clock, which is what Acquire
				// compares the deadline with (it is later than the wall
				// clock, so the context itself does not expire).
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, clk.Now().Add(tt.deadline))
				defer cancel()
			}
			_, err := l.Acquire(ctx, "op")
			if tt.wantWait {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !clk.Now().After(start) {
					t.Error("granted without waiting although the bucket was empty")
				}
				return
			}
			r := refusal(t, err)
			if r.Reason != ReasonBudget || r.RetryAfter <= tt.wantRetry || r.RetryAfter > time.Second {
				t.Errorf("refusal %+v, want reason budget and a retry hint of about 10/19 s", r)
			}
			if clk.Now() != start {
				t.Errorf("a refused call waited %v", clk.Now().Sub(start))
			}
		})
	}
}

// TestConcurrencyCap: with MaxInFlight 2, a third attempt waits for a slot
// and is refused with a hint when none frees in time; released slots are
// reused.
func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(epoch)
	l := NewLocal(Config{MaxWait: 50 * time.Millisecond}, withClock(clk)).For("w", Budget{Limit: 1000, MaxInFlight: 2})
	ctx := context.Background()
	r1, err := l.Acquire(ctx, "op")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, "op"); err != nil {
		t.Fatal(err)
	}
	// The semaphore waits in real time, bounded by MaxWait (50 ms).
	_, err = l.Acquire(ctx, "op")
	if r := refusal(t, err); r.Reason != ReasonConcurrency || r.RetryAfter <= 0 {
		t.Errorf("refusal %+v, want reason concurrency with a retry hint", r)
	}
	r1()
	r1() // releasing twice must not free two slots
	if _, err := l.Acquire(ctx, "op"); err != nil {
		t.Fatalf("slot not reused: %v", err)
	}
	if _, err := l.Acquire(ctx, "op"); err == nil {
		t.Fatal("a double release freed a second slot")
	}
}

// TestObserve429Pauses: after a 429 with X-RateLimit-Reset, calls wait for
// the reset (spread over ReleaseSpread) or are refused as paused.
func TestObserve429Pauses(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(epoch.Add(2 * time.Second))
	l := NewLocal(Config{MaxWait: time.Second, ReleaseSpread: 500 * time.Millisecond}, withClock(clk)).For("w", Budget{Limit: 1000})
	ctx := auth.NewContext(context.Background(), auth.Identity{Caller: "a", Workspace: "w"})
	reset := epoch.Add(10 * time.Second)
	l.Observe(ctx, "getTicket", Observation{StatusCode: 429, HasHeaders: true, Limit: 1000, Remaining: 0, Reset: reset})
	_, err := l.Acquire(ctx, "getTicket")
	r := refusal(t, err)
	if r.Reason != ReasonPaused || r.RetryAfter < 8*time.Second || r.RetryAfter > 8500*time.Millisecond {
		t.Errorf("refusal %+v, want paused until the reset (8 s, plus at most 0.5 s spread)", r)
	}
	clk.Advance(7500 * time.Millisecond)
	if _, err := l.Acquire(ctx, "getTicket"); err != nil {
		t.Fatalf("a call 0.5 s before the reset should wait, not fail: %v", err)
	}
	if !clk.Now().After(reset.Add(-time.Nanosecond)) {
		t.Errorf("granted at %v, before the reset %v", clk.Now(), reset)
	}
}

// TestLearnsFromHeaders: a smaller X-RateLimit-Limit than configured shrinks
// the budget, and Remaining drains what the bucket holds beyond it.
func TestLearnsFromHeaders(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(epoch)
	l := NewLocal(Config{Window: 10 * time.Second, MaxWait: time.Millisecond}, withClock(clk)).For("w", Budget{Limit: 1000})
	ctx := context.Background()
	l.Observe(ctx, "op", Observation{StatusCode: 200, HasHeaders: true, Limit: 1000, Remaining: 3, Reset: epoch.Add(10 * time.Second)})
	granted := 0
	for range 10 {
		if _, err := l.Acquire(ctx, "op"); err == nil {
			granted++
		}
	}
	if granted > 3 {
		t.Errorf("granted %d after Intercom said 3 remain", granted)
	}
}

// TestLocalFairShare: one replica without Redis shares its budget by the
// same weighted max-min rule: weights 1 and 3 both saturating split the
// grants 25% / 75% (±5 points), and a light caller under its share is never
// refused while a heavy one saturates, from the first window on.
func TestLocalFairShare(t *testing.T) {
	t.Parallel()
	weights := map[string]float64{"heavy": 1, "light": 3}
	drive := func(t *testing.T, asks map[string]int, maxWait time.Duration) (granted, refused map[string]int) {
		clk := newFakeClock(epoch)
		l := NewLocal(Config{Window: 10 * time.Second, MaxWait: maxWait, CallerWeights: weights}, withClock(clk)).For("w", Budget{Limit: 400})
		granted, refused = map[string]int{}, map[string]int{}
		for clk.Now().Before(epoch.Add(60 * time.Second)) {
			for _, caller := range []string{"heavy", "light"} { // heavy asks first
				for range asks[caller] {
					release, err := l.Acquire(callerCtx(caller), "getTicket")
					if err != nil {
						refusal(t, err)
						refused[caller]++
						continue
					}
					release()
					granted[caller]++
				}
			}
			clk.Advance(100 * time.Millisecond)
		}
		return granted, refused
	}
	t.Run("weights 1 and 3 saturating", func(t *testing.T) {
		t.Parallel()
		got, _ := drive(t, map[string]int{"heavy": 10, "light": 10}, time.Nanosecond)
		share := float64(got["heavy"]) / float64(got["heavy"]+got["light"])
		if share < 0.20 || share > 0.30 {
			t.Errorf("weight-1 caller got %.1f%% (%v), want 25%% ± 5", 100*share, got)
		}
	})
	t.Run("light under its share", func(t *testing.T) {
		t.Parallel()
		// light: 1 per 100 ms = 100 per window, far under its 75% of 400;
		// it may wait (up to a second), never be refused.
		got, refused := drive(t, map[string]int{"heavy": 20, "light": 1}, time.Second)
		if refused["light"] > 0 || got["heavy"] == 0 {
			t.Errorf("granted %v, refused %v: want the light caller never refused and the heavy one served", got, refused)
		}
	})
}
