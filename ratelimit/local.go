package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Option configures NewLocal and NewShared.
type Option func(*options)

type options struct {
	clock clock
}

// withClock replaces the wall clock; tests use it so that waits take no time.
func withClock(c clock) Option { return func(o *options) { o.clock = c } }

func buildOptions(opts []Option) options {
	o := options{clock: realClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Local keeps each workspace's budget in this process: right for a single
// replica, and the fallback of Shared while Redis is unreachable. Callers
// share it by the same weighted max-min fair share as in Redis (fair.go).
type Local struct {
	cfg     Config
	clock   clock
	metrics *metrics
}

// NewLocal returns a provider of in-memory limiters.
func NewLocal(cfg Config, opts ...Option) *Local {
	o := buildOptions(opts)
	return &Local{cfg: cfg.withDefaults(), clock: o.clock, metrics: newMetrics()}
}

// For returns the limiter of one workspace. Call it once per workspace and
// keep the result: each call starts a fresh budget.
func (p *Local) For(workspace string, b Budget) *Limiter {
	return newLimiter(workspace, b, p.cfg, p.clock, newLocalSource(b, p.cfg, 1), p.metrics)
}

// burstShare is the part of a window's budget a token bucket may hold. A
// bucket of rate r and burst b serves at most b + r·W in any window of length
// W, so b = f·B and r = (1-f)·B/W never exceed B in one of Intercom's fixed
// windows, whatever the phase, and sustain (1-f)·B.
const burstShare = 0.05

// localSource is a budget in memory: one x/time/rate token bucket for the
// app's budget and one for the workspace's.
type localSource struct {
	window time.Duration
	limit  int

	mu   sync.Mutex
	app  *rate.Limiter
	ws   *rate.Limiter
	base int // the configured limit, before learning
	// pace holds each caller to its weighted fair share of every window,
	// the rule the shared limiter applies in Redis.
	pace *pacer
}

// newLocalSource returns a source for budget b scaled by share (1, or
// safety ÷ live replicas in degraded mode).
func newLocalSource(b Budget, cfg Config, share float64) *localSource {
	s := &localSource{window: cfg.Window, base: b.Limit, pace: newPacer(cfg.Window, burstShare)}
	s.app = bucket(scaled(b.Limit, share), cfg.Window)
	if b.WorkspaceLimit > 0 {
		s.ws = bucket(scaled(b.WorkspaceLimit, share), cfg.Window)
	}
	s.limit = scaled(b.Limit, share)
	return s
}

func scaled(n int, share float64) int {
	if n <= 0 {
		return 0
	}
	return max(1, int(math.Floor(float64(n)*share)))
}

func bucket(perWindow int, w time.Duration) *rate.Limiter {
	if perWindow <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	burst := max(1, int(math.Floor(burstShare*float64(perWindow))))
	r := rate.Limit(float64(perWindow-burst) / w.Seconds())
	if r <= 0 {
		r = rate.Limit(1 / w.Seconds())
	}
	l := rate.NewLimiter(r, burst)
	return l
}

func (s *localSource) take(_ context.Context, caller string, weight float64, now time.Time, first bool) grantResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _, end := windowOf(now, s.window)
	if s.limit > 0 {
		if ok, at := s.pace.allow(caller, weight, s.limit, now, first); !ok {
			return grantResult{retryAt: at, reason: ReasonBudget, limit: s.limit, left: int(s.app.TokensAt(now)), reset: end}
		}
	}
	ra := s.app.ReserveN(now, 1)
	d := ra.DelayFrom(now)
	if s.ws != nil {
		rw := s.ws.ReserveN(now, 1)
		d = max(d, rw.DelayFrom(now))
		if d > 0 {
			rw.CancelAt(now)
		}
	}
	if d > 0 {
		ra.CancelAt(now)
		return grantResult{retryAt: now.Add(d), reason: ReasonBudget, limit: s.limit, left: int(s.app.TokensAt(now)), reset: end}
	}
	s.pace.granted(caller)
	return grantResult{ok: true}
}

func (s *localSource) observe(_ context.Context, o Observation, now time.Time) {
	if !o.HasHeaders {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Limit > 0 && o.Limit < s.limit {
		// Intercom grants less than configured: follow it.
		nb := bucket(o.Limit, s.window)
		s.app.SetLimitAt(now, nb.Limit())
		s.app.SetBurstAt(now, nb.Burst())
		s.limit = o.Limit
	}
	// Other apps spend the same budget: never hold more than Intercom says
	// is left.
	if tokens := s.app.TokensAt(now); o.Remaining >= 0 && tokens > float64(o.Remaining) {
		s.app.ReserveN(now, int(math.Ceil(tokens-float64(o.Remaining))))
	}
}

func (s *localSource) degraded() bool { return false }

// unTake is a no-op: a token bucket cannot take a token back, and a call
// refused for concurrency leaves its token spent, which errs on the safe side.
func (s *localSource) unTake(string) {}
