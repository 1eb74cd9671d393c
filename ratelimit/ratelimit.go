package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/intercom-gateway/intercom-gateway/auth"
)

// Budget is one workspace's rate budget per window. The config package maps
// each workspace's YAML onto it.
type Budget struct {
	// Limit is the app's budget per window: Intercom's 10,000 calls per
	// minute for an app are 1,666 per 10-second window. 0 means unlimited.
	Limit int
	// WorkspaceLimit is the budget per window of the whole Intercom
	// workspace, shared by all of its private apps (25,000 per minute, 4,166
	// per window). 0 means only Limit applies.
	WorkspaceLimit int
	// App names the Intercom app whose token the gateway uses for this
	// workspace. Two gateway workspaces with the same App and workspace id
	// share one counter. Default "default".
	App string
	// MaxInFlight caps the upstream attempts in flight at once for this
	// workspace on this replica. 0 means no cap.
	MaxInFlight int
}

// Config holds the settings common to every workspace.
type Config struct {
	// Window is the length of Intercom's rate windows (10 s). Tests shorten
	// it; the windows are aligned to the Unix epoch, as Intercom's
	// X-RateLimit-Reset values are.
	Window time.Duration
	// MaxWait caps how long a call waits for capacity; a call that would wait
	// longer (or past its deadline) is refused at once.
	MaxWait time.Duration
	// CallerWeights are the weights of the weighted max-min fair share
	// between callers. Callers not listed have DefaultWeight.
	CallerWeights map[string]float64
	// DefaultWeight is the weight of callers without an entry (1).
	DefaultWeight float64
	// Safety is the fraction of budget ÷ live replicas that each replica
	// spends on its own while Redis is unreachable (0.8).
	Safety float64
	// RedisTimeout bounds every Redis command; no call waits on Redis longer
	// (envoyproxy/ratelimit #462 stalled every request for 10 s).
	RedisTimeout time.Duration
	// Heartbeat is how often a replica announces itself in Redis, reports
	// what it spent and returns grants it no longer needs.
	Heartbeat time.Duration
	// Guard is the end of each window in which nothing is sent, so that a
	// request granted in one window does not arrive in the next.
	Guard time.Duration
	// ReleaseSpread spreads the waiters released after a 429 pause over this
	// long instead of releasing them all at the reset instant.
	ReleaseSpread time.Duration
	// KeyPrefix is prepended to every Redis key ("igw:rl:").
	KeyPrefix string
}

// DefaultConfig returns the defaults: Intercom's 10 s windows, waits of at
// most 5 s, Redis commands of at most 50 ms.
func DefaultConfig() Config {
	return Config{
		Window:        10 * time.Second,
		MaxWait:       5 * time.Second,
		DefaultWeight: 1,
		Safety:        0.8,
		RedisTimeout:  50 * time.Millisecond,
		Heartbeat:     time.Second,
		Guard:         50 * time.Millisecond,
		ReleaseSpread: time.Second,
		KeyPrefix:     "igw:rl:",
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxWait <= 0 {
		c.MaxWait = d.MaxWait
	}
	if c.DefaultWeight <= 0 {
		c.DefaultWeight = d.DefaultWeight
	}
	if c.Safety <= 0 || c.Safety > 1 {
		c.Safety = d.Safety
	}
	if c.RedisTimeout <= 0 {
		c.RedisTimeout = d.RedisTimeout
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = d.Heartbeat
	}
	if c.Guard < 0 {
		c.Guard = 0
	}
	if c.ReleaseSpread <= 0 {
		c.ReleaseSpread = min(d.ReleaseSpread, c.Window/4)
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = d.KeyPrefix
	}
	return c
}

func (c Config) weight(caller string) float64 {
	if w, ok := c.CallerWeights[caller]; ok && w > 0 {
		return w
	}
	return c.DefaultWeight
}

// Observation is what one Intercom answer said about the budget.
type Observation struct {
	// StatusCode is the HTTP status; 429 pauses the workspace.
	StatusCode int
	// HasHeaders is false for answers without X-RateLimit-* headers
	// (Intercom leaves them out of unauthenticated answers).
	HasHeaders bool
	Limit      int
	Remaining  int
	// Reset is when the window ends (X-RateLimit-Reset, Unix seconds).
	Reset time.Time
	// RetryAfter is Retry-After, when Intercom sends it.
	RetryAfter time.Duration
}

// Reason says why a call was refused.
type Reason string

// Reasons of a Refusal.
const (
	// ReasonBudget: the caller's share of the window's budget is spent.
	ReasonBudget Reason = "budget"
	// ReasonPaused: Intercom answered 429 and every replica waits for its reset.
	ReasonPaused Reason = "paused"
	// ReasonConcurrency: too many upstream calls in flight for the workspace.
	ReasonConcurrency Reason = "concurrency"
)

// Refusal is the error of a call the limiter did not let through. Nothing was
// sent to Intercom, so the call can be retried as is after RetryAfter.
type Refusal struct {
	Workspace string
	Reason    Reason
	// RetryAfter is when the caller's share will next have capacity.
	RetryAfter time.Duration
	// Limit, Remaining and Reset describe the window as the limiter sees it,
	// for the RateLimit-* response headers.
	Limit     int
	Remaining int
	Reset     time.Time
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("ratelimit: workspace %q: call not sent (%s), retry after %v", r.Workspace, r.Reason, r.RetryAfter.Round(time.Millisecond))
}

// ErrNotSent reports that the attempt was never sent; errors.Is(refusal,
// ErrNotSent) is true.
var ErrNotSent = errors.New("ratelimit: not sent")

// Is makes errors.Is(r, ErrNotSent) true.
func (r *Refusal) Is(target error) bool { return target == ErrNotSent }

// clock is time, injected so that tests do not sleep.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// windowOf returns the index of the window that holds t and its bounds.
func windowOf(t time.Time, w time.Duration) (idx int64, start, end time.Time) {
	n := t.UnixNano()
	idx = n / int64(w)
	if n < 0 && n%int64(w) != 0 {
		idx--
	}
	start = time.Unix(0, idx*int64(w))
	return idx, start, start.Add(w)
}

// grantResult is what a source says about one request.
type grantResult struct {
	ok bool
	// retryAt is when to ask again when !ok.
	retryAt time.Time
	reason  Reason
	limit   int
	left    int
	reset   time.Time
}

// source hands out the budget: in memory (Local) or leased from Redis (Shared).
type source interface {
	// take asks for one request for caller at now; first is true on the
	// call's first ask, so that demand is counted once per call.
	take(ctx context.Context, caller string, weight float64, now time.Time, first bool) grantResult
	// observe learns from an Intercom answer.
	observe(ctx context.Context, o Observation, now time.Time)
	// unTake gives back a grant that take gave but that was not used (the
	// call was then refused for concurrency).
	unTake(caller string)
	// degraded reports whether the source runs on its fallback.
	degraded() bool
}

// attempt is one upstream attempt's record in its context: Acquire notes
// the window its grant was leased from, Observe reads it.
type attempt struct {
	window atomic.Int64 // window index + 1; 0: none noted
}

type attemptKey struct{}

// WithAttempt returns a context for one upstream attempt, to be passed to
// both Acquire and Observe: the limiter notes in it which window the
// attempt's grant belongs to, so that an answer Intercom counted in a later
// window (the request crossed the window's end on its way) is charged to
// that window. The upstream client wraps every attempt's context with it.
func WithAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, attemptKey{}, &attempt{})
}

func noteGrant(ctx context.Context, idx int64) {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		a.window.Store(idx + 1)
	}
}

func grantWindow(ctx context.Context) (int64, bool) {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		if v := a.window.Load(); v != 0 {
			return v - 1, true
		}
	}
	return 0, false
}

// Limiter is one workspace's limiter on this replica. The upstream client of
// that workspace calls Acquire before every attempt and Observe after every
// answer. It is safe for concurrent use.
type Limiter struct {
	workspace string
	budget    Budget
	cfg       Config
	clock     clock
	src       source
	sem       *semaphore.Weighted
	metrics   *metrics

	// pausedUntil is Unix nanoseconds; set by a 429 (ours or, through Redis,
	// another replica's).
	pausedUntil atomic.Int64
	// holdNanos is an average of how long an attempt holds a concurrency
	// slot: the retry hint of a concurrency refusal.
	holdNanos atomic.Int64

	mu  sync.Mutex
	rnd *rand.Rand
}

func newLimiter(workspace string, b Budget, cfg Config, clk clock, src source, m *metrics) *Limiter {
	l := &Limiter{workspace: workspace, budget: b, cfg: cfg, clock: clk, src: src, metrics: m,
		rnd: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	if b.MaxInFlight > 0 {
		l.sem = semaphore.NewWeighted(int64(b.MaxInFlight))
	}
	l.holdNanos.Store(int64(100 * time.Millisecond))
	return l
}

// Workspace returns the name of the workspace l limits.
func (l *Limiter) Workspace() string { return l.workspace }

func (l *Limiter) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Duration(l.rnd.Int64N(int64(d)))
}

// Acquire waits until one attempt of the call in ctx may be sent to Intercom,
// or refuses it with a *Refusal. op names the Intercom operation. The caller
// must call release once the attempt's answer has been read (or the attempt
// failed).
func (l *Limiter) Acquire(ctx context.Context, op string) (release func(), err error) {
	start := l.clock.Now()
	ctx, span := l.metrics.start(ctx, l.workspace)
	outcome, reason := "granted", Reason("")
	defer func() {
		if err != nil && outcome == "granted" {
			outcome = "canceled"
		}
		l.metrics.done(ctx, span, l.workspace, outcome, reason, l.src.degraded(), l.clock.Now().Sub(start))
	}()
	refuse := func(r *Refusal) (func(), error) {
		outcome, reason = "refused", r.Reason
		return nil, r
	}

	// The call waits up to its deadline, capped by MaxWait.
	limit := start.Add(l.cfg.MaxWait)
	if d, ok := ctx.Deadline(); ok && d.Before(limit) {
		limit = d
	}
	id, _ := auth.FromContext(ctx)
	caller := id.Caller
	weight := l.cfg.weight(caller)

	first := true
	for {
		now := l.clock.Now()
		var res grantResult
		if p := l.pausedUntil.Load(); p > now.UnixNano() {
			// After a pause the waiters are released over ReleaseSpread,
			// not all at the reset instant.
			res = grantResult{retryAt: time.Unix(0, p).Add(l.jitter(l.cfg.ReleaseSpread)), reason: ReasonPaused, reset: time.Unix(0, p)}
		} else {
			res = l.src.take(ctx, caller, weight, now, first)
			first = false
			if res.ok {
				break
			}
			if res.reason == ReasonPaused && res.retryAt.After(now) {
				// Learned from Redis: another replica saw a 429.
				l.pause(res.retryAt)
				continue
			}
		}
		if !res.retryAt.Before(limit) {
			return refuse(&Refusal{Workspace: l.workspace, Reason: res.reason, RetryAfter: max(res.retryAt.Sub(now), 0),
				Limit: res.limit, Remaining: max(res.left, 0), Reset: res.reset})
		}
		if err := l.clock.Sleep(ctx, res.retryAt.Sub(now)); err != nil {
			return nil, err
		}
	}
	if l.sem == nil {
		return func() {}, nil
	}
	if !l.sem.TryAcquire(1) {
		// A slot frees when another attempt finishes, in real time.
		wctx, cancel := context.WithTimeout(ctx, limit.Sub(l.clock.Now()))
		err := l.sem.Acquire(wctx, 1)
		cancel()
		if err != nil {
			if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
			l.src.unTake(caller)
			return refuse(&Refusal{Workspace: l.workspace, Reason: ReasonConcurrency, RetryAfter: time.Duration(l.holdNanos.Load())})
		}
	}
	held := l.clock.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			d := l.clock.Now().Sub(held)
			// An exponential average with weight 1/8 for the newest sample.
			old := l.holdNanos.Load()
			l.holdNanos.Store(old + (int64(d)-old)/8)
			l.sem.Release(1)
		})
	}, nil
}

// Observe learns from one Intercom answer: a 429 pauses the workspace until
// X-RateLimit-Reset (every replica, through Redis), and the headers tighten
// the budget to what Intercom says is left, because other apps spend the same
// workspace budget.
func (l *Limiter) Observe(ctx context.Context, op string, o Observation) {
	now := l.clock.Now()
	if o.StatusCode == 429 {
		until := o.Reset
		if o.RetryAfter > 0 {
			until = now.Add(o.RetryAfter)
		}
		if !until.After(now) {
			_, _, until = windowOf(now, l.cfg.Window)
		}
		l.pause(until)
		l.metrics.upstream429Seen(ctx, l.workspace, op)
	} else if o.HasHeaders && o.Remaining <= 0 && o.Reset.After(now) {
		// Nothing is left in this window: the next request would be a 429.
		l.pause(o.Reset)
	}
	l.src.observe(ctx, o, now)
}

func (l *Limiter) pause(until time.Time) {
	for {
		old := l.pausedUntil.Load()
		if until.UnixNano() <= old || l.pausedUntil.CompareAndSwap(old, until.UnixNano()) {
			return
		}
	}
}
