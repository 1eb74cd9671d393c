package upstream_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// scriptedLimiter grants a fixed number of attempts, then refuses, and
// records what it is told.
type scriptedLimiter struct {
	mu       sync.Mutex
	grants   int
	acquired []string
	released int
	observed []ratelimit.Observation
	ops      []string
}

func (l *scriptedLimiter) Acquire(_ context.Context, op string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acquired = append(l.acquired, op)
	if l.grants == 0 {
		return nil, &ratelimit.Refusal{Workspace: "w", Reason: ratelimit.ReasonBudget, RetryAfter: 3 * time.Second}
	}
	l.grants--
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.released++
	}, nil
}

func (l *scriptedLimiter) Observe(_ context.Context, op string, o ratelimit.Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op)
	l.observed = append(l.observed, o)
}

// TestLimiterIsAskedForEveryAttempt: a 429 then a success are two attempts,
// so two grants; both answers are observed with their operation and headers,
// and both concurrency slots come back.
func TestLimiterIsAskedForEveryAttempt(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, script(
		step{status: 429, headers: []string{"X-RateLimit-Limit", "166", "X-RateLimit-Remaining", "0", "Retry-After", "0"}},
		step{status: 200, headers: []string{"X-RateLimit-Limit", "166", "X-RateLimit-Remaining", "165", "X-RateLimit-Reset", "1700000010"}},
	))
	lim := &scriptedLimiter{grants: 5}
	c := newClient(t, rec.srv.URL, upstream.WithLimiter(lim))
	if _, err := c.GetTicket(t.Context(), "7"); err != nil {
		t.Fatal(err)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if diff := cmp.Diff([]string{"getTicket", "getTicket"}, lim.acquired); diff != "" {
		t.Errorf("acquired (-want +got):\n%s", diff)
	}
	if lim.released != 2 {
		t.Errorf("released %d slots, want 2", lim.released)
	}
	want := []ratelimit.Observation{
		{StatusCode: 429, HasHeaders: true, Limit: 166, Remaining: 0},
		{StatusCode: 200, HasHeaders: true, Limit: 166, Remaining: 165, Reset: time.Unix(1700000010, 0)},
	}
	if diff := cmp.Diff(want, lim.observed); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"getTicket", "getTicket"}, lim.ops); diff != "" {
		t.Errorf("observed operations (-want +got):\n%s", diff)
	}
}

// TestRefusalIsNotSent: a refused attempt reaches nobody, is not retried
// (even for an idempotent read, which retries transport errors), and comes
// back as the limiter's *ratelimit.Refusal.
func TestRefusalIsNotSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		grants   int
		steps    []step
		wantSent int
	}{
		{"first attempt refused", 0, []step{{status: 200}}, 0},
		{"retry after a 503 refused", 1, []step{{status: 503}, {status: 200}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, script(tt.steps...))
			lim := &scriptedLimiter{grants: tt.grants}
			c := newClient(t, rec.srv.URL, upstream.WithLimiter(lim))
			_, err := c.GetTicket(t.Context(), "7")
			var r *ratelimit.Refusal
			if !errors.As(err, &r) || !errors.Is(err, ratelimit.ErrNotSent) {
				t.Fatalf("err = %v, want a *ratelimit.Refusal", err)
			}
			if r.RetryAfter != 3*time.Second {
				t.Errorf("RetryAfter = %v, want the limiter's 3s", r.RetryAfter)
			}
			if got := len(rec.requests()); got != tt.wantSent {
				t.Errorf("Intercom received %d requests, want %d", got, tt.wantSent)
			}
			lim.mu.Lock()
			defer lim.mu.Unlock()
			if len(lim.acquired) != tt.grants+1 {
				t.Errorf("limiter asked %d times, want %d", len(lim.acquired), tt.grants+1)
			}
			if lim.released != tt.grants {
				t.Errorf("released %d slots, want %d", lim.released, tt.grants)
			}
		})
	}
}
