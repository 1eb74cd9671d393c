package ratelimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/singleflight"
)

var (
	//go:embed lease.lua
	leaseLua    string
	leaseScript = redis.NewScript(leaseLua)
	//go:embed giveback.lua
	givebackLua    string
	givebackScript = redis.NewScript(givebackLua)
)

// Shared keeps the budgets of all replicas in Redis. Each replica leases
// chunks of the current window from one counter per (workspace, app) and per
// workspace, so most calls cost no Redis round trip; the Lua script that
// grants them never grants more than the window holds.
//
// Redis trouble is a degraded mode, not an outage: every command has
// Config.RedisTimeout, a circuit breaker stops asking after repeated
// failures, and meanwhile each replica spends budget × Safety ÷ live
// replicas on its own (the live count is the last one its heartbeats saw).
// The breaker probes again on its own and shared mode resumes.
type Shared struct {
	cfg     Config
	rdb     redis.UniversalClient
	clock   clock
	metrics *metrics
	log     *slog.Logger
	id      string
	cb      *gobreaker.CircuitBreaker[any]

	isDegraded atomic.Bool
	roundTrips atomic.Int64

	mu  sync.Mutex
	wss []*sharedSource

	stop chan struct{}
	done chan struct{}
}

// NewShared returns a provider of limiters that share their budgets
// through rdb (a single node, Sentinel or Cluster client). The client should
// have ContextTimeoutEnabled so that Config.RedisTimeout bounds every
// command. It starts the replica's heartbeat; Close stops it.
func NewShared(rdb redis.UniversalClient, cfg Config, log *slog.Logger, opts ...Option) *Shared {
	o := buildOptions(opts)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	s := &Shared{cfg: cfg.withDefaults(), rdb: rdb, clock: o.clock, metrics: newMetrics(), log: log,
		id: hex.EncodeToString(idb[:]), stop: make(chan struct{}), done: make(chan struct{})}
	s.cb = gobreaker.NewCircuitBreaker[any](gobreaker.Settings{
		Name:        "ratelimit-redis",
		MaxRequests: 1,
		// Probe again after a heartbeat or two: recovery is automatic and quick.
		Timeout:     max(2*s.cfg.Heartbeat, 500*time.Millisecond),
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 3 },
		IsExcluded: func(err error) bool {
			return errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, errScriptsReloaded)
		},
		OnStateChange: func(_ string, _, to gobreaker.State) { s.modeChanged(to) },
	})
	go s.heartbeatLoop()
	return s
}

// ReplicaID identifies this replica in Redis (heartbeats).
func (s *Shared) ReplicaID() string { return s.id }

// Degraded reports whether the limiter runs on its local fallback budgets.
// Health shows it without failing readiness: the gateway still serves.
func (s *Shared) Degraded() bool { return s.isDegraded.Load() }

// LiveReplicas is the largest count of live replicas that Redis reported
// for one of this replica's workspaces (the last one seen while Redis is
// away).
func (s *Shared) LiveReplicas() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := int64(1)
	for _, w := range s.wss {
		n = max(n, w.live.Load())
	}
	return int(n)
}

// RoundTrips counts the Redis commands and pipelines this replica sent.
func (s *Shared) RoundTrips() int64 { return s.roundTrips.Load() }

// Close stops the heartbeat. It does not close the Redis client.
func (s *Shared) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

func (s *Shared) modeChanged(to gobreaker.State) {
	ctx := context.Background()
	switch to {
	case gobreaker.StateOpen:
		if s.isDegraded.CompareAndSwap(false, true) {
			s.log.Warn("ratelimit: Redis unreachable, degraded mode: each replica spends its share of the budget on its own",
				"replica", s.id, "live_replicas", s.LiveReplicas(), "safety", s.cfg.Safety)
			s.metrics.transition(ctx, s.workspaces(), "degraded")
		}
	case gobreaker.StateClosed:
		if s.isDegraded.CompareAndSwap(true, false) {
			s.log.Info("ratelimit: Redis reachable again, shared mode", "replica", s.id)
			s.metrics.transition(ctx, s.workspaces(), "shared")
		}
	}
}

func (s *Shared) workspaces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.wss))
	for _, w := range s.wss {
		out = append(out, w.ws)
	}
	return out
}

// redisDo runs f with the Redis timeout, through the breaker. kind labels
// the round trip metric.
func (s *Shared) redisDo(ctx context.Context, kind string, f func(ctx context.Context) (any, error)) (any, error) {
	return s.cb.Execute(func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RedisTimeout)
		defer cancel()
		s.roundTrips.Add(1)
		v, err := f(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			kind = "error"
		}
		s.metrics.roundTrip(ctx, kind)
		return v, err
	})
}

// For returns the limiter of one workspace. Call it once per workspace.
func (s *Shared) For(workspace string, b Budget) *Limiter {
	if b.App == "" {
		b.App = "default"
	}
	src := &sharedSource{s: s, ws: workspace, b: b, callers: map[string]*callerState{},
		served: map[int64]int{}, seen: map[int64]seenRemaining{}, charge: map[int64]int{}}
	src.live.Store(1)
	src.liveSeen.Store(1)
	src.fallback.Store(newLocalSource(b, s.cfg, s.cfg.Safety))
	// Keys of one workspace share a Redis Cluster hash tag, so the script
	// can touch them together; workspaces spread over the cluster's slots.
	tag := workspace
	if strings.ContainsAny(tag, "{}") {
		tag = hex.EncodeToString([]byte(tag))
	}
	src.prefix = s.cfg.KeyPrefix + "{" + tag + "}:"
	s.mu.Lock()
	s.wss = append(s.wss, src)
	s.mu.Unlock()
	return newLimiter(workspace, b, s.cfg, s.clock, src, s.metrics)
}

// sharedSource is one workspace's budget on this replica: per caller, a pool
// of leased grants for the current window.
type sharedSource struct {
	s      *Shared
	ws     string
	b      Budget
	prefix string
	sf     singleflight.Group

	fallback atomic.Pointer[localSource]
	// live is the count of replicas live in this workspace, as the last
	// lease or report said; liveSeen is the count the fallback was built
	// for.
	live, liveSeen atomic.Int64
	// contact is when a lease or report of this workspace last reached
	// Redis (Unix nanoseconds): each one is also the replica's heartbeat.
	contact atomic.Int64

	mu      sync.Mutex
	callers map[string]*callerState
	// served counts non-429 answers by the window Intercom counted them in,
	// not yet reported.
	served map[int64]int
	// seen is the lowest X-RateLimit-Remaining per window.
	seen map[int64]seenRemaining
	// charge counts, by window, requests sent in it that the shared count
	// does not know of, not yet reported: answers Intercom counted in a
	// later window than the one their grant was leased from, and grants of
	// the degraded-mode fallback.
	charge map[int64]int
	// seenLimit is the last X-RateLimit-Limit, -1 when none.
	seenLimit int
}

type seenRemaining struct {
	remaining int
	frac      float64
}

// callerState is one caller's pool on this replica.
type callerState struct {
	idx     int64
	pool    int
	lastUse time.Time
	// demand counts the caller's calls in window idx and idx-1 (for the
	// chunk size), unreported the part not yet sent to Redis.
	demand, demandPrev         int
	unreported, unreportedPrev int
	// got counts the grants leased in window idx and idx-1: the lease
	// cadence follows it.
	got, gotPrev int
	// blocked caches a refusal until blockedUntil, so that calls that
	// arrive meanwhile cost no round trip: after a lease that was paced or
	// short (the next one comes a slice of the window later) or a window
	// that is spent. Their demand reaches Redis with the next lease or
	// report.
	blocked      grantResult
	blockedUntil time.Time
}

func (s *sharedSource) degraded() bool { return s.s.Degraded() }

func (s *sharedSource) key(idx int64) string {
	return s.prefix + s.b.App + ":" + strconv.FormatInt(idx, 10)
}

func (s *sharedSource) wsKey(idx int64) string { return s.prefix + "ws:" + strconv.FormatInt(idx, 10) }

func (s *sharedSource) keys(idx int64) []string {
	return []string{s.key(idx), s.key(idx - 1), s.wsKey(idx), s.prefix + "pause", s.prefix + "replicas"}
}

// state returns caller's state, rolled forward to window idx. s.mu is held.
func (s *sharedSource) state(caller string, idx int64) *callerState {
	cs := s.callers[caller]
	if cs == nil {
		cs = &callerState{idx: idx}
		s.callers[caller] = cs
	}
	if cs.idx != idx {
		if cs.idx == idx-1 {
			cs.demandPrev, cs.unreportedPrev, cs.gotPrev = cs.demand, cs.unreported, cs.got
		} else {
			cs.demandPrev, cs.unreportedPrev, cs.gotPrev = 0, 0, 0
		}
		// A grant belongs to its window: what is left of the pool is not
		// spent in the next one, which was not leased for it.
		cs.idx, cs.pool, cs.demand, cs.unreported, cs.got = idx, 0, 0, 0, 0
		cs.blockedUntil = time.Time{}
	}
	return cs
}

// slices is how many leases a busy (replica, caller) makes per window: 8
// while it gets at least 8 × 20 grants a window, down to 4 for smaller
// parts, so that a lease carries about 20 grants or more where it can.
// A lease that comes back short is followed by the next one a slice later.
func slices(gotPrev int) int { return min(8, max(4, gotPrev/20)) }

func (s *sharedSource) take(ctx context.Context, caller string, weight float64, now time.Time, first bool) grantResult {
	firstAsk := first
	w := s.s.cfg.Window
	idx, start, end := windowOf(now, w)
	if now.After(end.Add(-s.s.cfg.Guard)) {
		// Too close to the end: a request sent now could arrive in the next
		// window, which was not leased for it.
		return grantResult{retryAt: end, reason: ReasonBudget, limit: s.b.Limit, reset: end}
	}
	for range 3 {
		s.mu.Lock()
		cs := s.state(caller, idx)
		if first {
			cs.demand++
			cs.unreported++
			first = false
		}
		if cs.pool > 0 {
			cs.pool--
			cs.lastUse = now
			s.mu.Unlock()
			noteGrant(ctx, idx)
			return grantResult{ok: true}
		}
		if cs.blockedUntil.After(now) {
			r := cs.blocked
			s.mu.Unlock()
			return r
		}
		s.mu.Unlock()
		if s.s.Degraded() {
			return s.fallbackTake(ctx, caller, weight, now, idx, firstAsk)
		}
		v, err, _ := s.sf.Do(caller, func() (any, error) {
			return s.lease(ctx, caller, weight, now, idx, start)
		})
		if err != nil {
			// This call must not wait on Redis any longer: the fallback
			// decides, and the breaker counts the failure.
			return s.fallbackTake(ctx, caller, weight, now, idx, firstAsk)
		}
		if r := v.(grantResult); !r.ok {
			return r
		}
	}
	return grantResult{retryAt: now.Add(w / 50), reason: ReasonBudget, limit: s.b.Limit, reset: end}
}

// fallbackTake decides locally while Redis is unreachable. What it grants
// is charged to the window's shared count once Redis is back, so a fleet
// that recovers mid-window does not spend the window twice.
func (s *sharedSource) fallbackTake(ctx context.Context, caller string, weight float64, now time.Time, idx int64, first bool) grantResult {
	r := s.fallback.Load().take(ctx, caller, weight, now, first)
	if r.ok {
		s.mu.Lock()
		s.charge[idx]++
		s.mu.Unlock()
		noteGrant(ctx, idx)
	}
	return r
}

// lease asks Redis for a chunk for caller and adds it to the caller's pool.
// It returns a grantResult with ok when the pool was refilled.
func (s *sharedSource) lease(ctx context.Context, caller string, weight float64, now time.Time, idx int64, start time.Time) (grantResult, error) {
	w := s.s.cfg.Window
	end := start.Add(w)
	frac := float64(now.Sub(start)) / float64(w)

	s.mu.Lock()
	cs := s.state(caller, idx)
	// Chunk size follows the caller's recent demand on this replica: a
	// slice of its sliding-window rate, so a busy caller needs a lease per
	// slice of the window and an idle one holds little.
	n := slices(cs.gotPrev)
	est := float64(cs.demandPrev)*(1-frac) + float64(cs.demand)
	want := max(1, min(1<<16, int(math.Ceil(est/float64(n)))))
	dCur, dPrev := cs.unreported, cs.unreportedPrev
	cs.unreported, cs.unreportedPrev = 0, 0
	rep := s.takeReports(idx)
	s.mu.Unlock()

	args := s.args(caller, want, weight, dCur, dPrev, now, frac, rep)
	v, err := s.s.redisDo(ctx, "lease", func(ctx context.Context) (any, error) {
		return leaseScript.Run(ctx, s.s.rdb, s.keys(idx), args...).Int64Slice()
	})
	if err != nil {
		s.mu.Lock()
		cs.unreported += dCur
		cs.unreportedPrev += dPrev
		s.restoreReports(idx, rep)
		s.mu.Unlock()
		return grantResult{}, err
	}
	res := v.([]int64)
	granted, code, waitMs, limit, left := res[0], res[1], res[2], int(res[3]), int(res[4])
	s.heard(now, res[5])
	s.mu.Lock()
	defer s.mu.Unlock()
	cs = s.state(caller, idx)
	// The next lease of a caller that got less than it wanted comes a
	// slice of the window later (or when the script says its share has
	// grown): meanwhile its calls wait or are refused here, at no cost.
	next := now.Add(w / time.Duration(n))
	// The last lease of a window comes just before its guard, when the
	// paced shares have reached the whole window, so none of it is left.
	last := end.Add(-s.s.cfg.Guard - w/100)
	if next.After(last) && now.Before(last) {
		next = last
	}
	blockUntil := func(t time.Time, reason Reason) grantResult {
		if t.After(end.Add(-s.s.cfg.Guard)) {
			t = end
		}
		r := grantResult{retryAt: t, reason: reason, limit: limit, left: left, reset: end}
		cs.blocked, cs.blockedUntil = r, t
		return r
	}
	switch {
	case granted > 0:
		cs.pool += int(granted)
		cs.got += int(granted)
		cs.blockedUntil = time.Time{}
		if int(granted) < want {
			blockUntil(next, ReasonBudget)
		}
		return grantResult{ok: true}, nil
	case code == 1:
		until := now.Add(time.Duration(waitMs) * time.Millisecond)
		return grantResult{retryAt: until, reason: ReasonPaused, limit: limit, reset: until}, nil
	case code == 4:
		// Paced: the caller's share grows through the window.
		return blockUntil(maxTime(next, now.Add(time.Duration(waitMs)*time.Millisecond)), ReasonBudget), nil
	case code == 3:
		// The caller's share is spent for now; shares move with demand.
		return blockUntil(next, ReasonBudget), nil
	default:
		// The window is spent: the next capacity comes with the next
		// window.
		return blockUntil(end, ReasonBudget), nil
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// args are the lease script's arguments (see lease.lua).
func (s *sharedSource) args(caller string, want int, weight float64, dCur, dPrev int, now time.Time, frac float64, rep reports) []any {
	cfg := s.s.cfg
	return []any{caller, want, weight, dCur, dPrev, s.b.Limit, s.b.WorkspaceLimit, frac,
		(3 * cfg.Window).Milliseconds(), s.s.id, now.UnixMilli(), cfg.presenceTTL().Milliseconds(),
		rep.servedCur, rep.servedPrev, rep.remCur.remaining, rep.remCur.frac, rep.remPrev.remaining, rep.remPrev.frac,
		rep.limit, safetyMargin, paceHead, rep.charge, cfg.Window.Milliseconds()}
}

// heard records a successful lease or report: the replica's heartbeat, and
// the workspace's live count.
func (s *sharedSource) heard(now time.Time, live int64) {
	s.contact.Store(now.UnixNano())
	s.live.Store(max(1, live))
}

// safetyMargin is the part of Intercom's limit kept free while other apps
// are seen spending the workspace's budget, for their variation.
const safetyMargin = 0.05

// paceHead is how far ahead of an even pace through the window a caller's
// grants may run, as a fraction of its share: enough for a lease per slice
// (1/8) plus the guard, so the whole share is granted before the window
// ends.
const paceHead = 0.2

// errScriptsReloaded fails a heartbeat whose scripts Redis had forgotten;
// its reports are kept for the next one.
var errScriptsReloaded = errors.New("ratelimit: Redis had lost the scripts; reloaded")

type reports struct {
	servedCur, servedPrev int
	remCur, remPrev       seenRemaining
	limit                 int
	charge                int
}

func (r reports) any() bool {
	return r.servedCur > 0 || r.servedPrev > 0 || r.remCur.remaining >= 0 || r.remPrev.remaining >= 0 || r.charge > 0
}

// takeReports collects what is to be reported for windows idx and idx-1
// and forgets older windows. s.mu is held.
func (s *sharedSource) takeReports(idx int64) reports {
	r := reports{servedCur: s.served[idx], servedPrev: s.served[idx-1], charge: s.charge[idx],
		remCur: seenRemaining{remaining: -1}, remPrev: seenRemaining{remaining: -1}, limit: -1}
	if v, ok := s.seen[idx]; ok {
		r.remCur = v
	}
	if v, ok := s.seen[idx-1]; ok {
		r.remPrev = v
	}
	if s.seenLimit > 0 {
		r.limit = s.seenLimit
	}
	clear(s.served)
	for k := range s.charge {
		if k <= idx {
			delete(s.charge, k)
		}
	}
	for k := range s.seen {
		if k < idx-1 {
			delete(s.seen, k)
		}
	}
	return r
}

// restoreReports puts back reports that could not be sent. s.mu is held.
func (s *sharedSource) restoreReports(idx int64, r reports) {
	s.served[idx] += r.servedCur
	s.served[idx-1] += r.servedPrev
	s.charge[idx] += r.charge
}

func (s *sharedSource) unTake(caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.callers[caller]; cs != nil {
		cs.pool++
	}
}

func (s *sharedSource) observe(ctx context.Context, o Observation, now time.Time) {
	s.fallback.Load().observe(ctx, o, now)
	w := s.s.cfg.Window
	idx, start, _ := windowOf(now, w)
	// The window Intercom counted the request in is the one X-RateLimit-
	// Reset ends; an answer that arrives just after a boundary still
	// belongs to the window before.
	counted := idx
	if o.HasHeaders && !o.Reset.IsZero() {
		if j, _, _ := windowOf(o.Reset.Add(-time.Nanosecond), w); j == idx-1 || j == idx {
			counted = j
			start = start.Add(time.Duration(j-idx) * w)
		}
	}
	s.mu.Lock()
	if o.StatusCode != 429 {
		s.served[counted]++
	}
	if g, ok := grantWindow(ctx); ok && counted > g && counted == idx && o.HasHeaders {
		// Granted near the end of one window, counted by Intercom in this
		// one, which the fleet did not lease it from: charge it here.
		s.charge[idx]++
	}
	if o.HasHeaders {
		frac := min(1, float64(now.Sub(start))/float64(w))
		if v, ok := s.seen[counted]; !ok || o.Remaining < v.remaining {
			s.seen[counted] = seenRemaining{remaining: o.Remaining, frac: frac}
		} else if o.Remaining == v.remaining {
			s.seen[counted] = seenRemaining{remaining: v.remaining, frac: frac}
		}
		if o.Limit > 0 {
			s.seenLimit = o.Limit
		}
	}
	if o.StatusCode == 429 {
		// Every replica pauses until the reset: the others learn it from
		// the pause key at their next lease.
		for _, cs := range s.callers {
			cs.pool = 0
		}
	}
	s.mu.Unlock()
	if o.StatusCode == 429 && !s.s.Degraded() {
		until := o.Reset
		if o.RetryAfter > 0 {
			until = now.Add(o.RetryAfter)
		}
		if d := until.Sub(now); d > 0 {
			_, _ = s.s.redisDo(ctx, "pause", func(ctx context.Context) (any, error) {
				return nil, s.s.rdb.Set(ctx, s.prefix+"pause", s.s.id, d).Err()
			})
		}
	}
}

// heartbeatLoop gives back grants that sit unused and, for each workspace
// whose leases have not reached Redis for a while, reports what this
// replica saw and says it is live. A busy replica's leases carry all of
// this, so it sends no heartbeat of its own.
func (s *Shared) heartbeatLoop() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	s.heartbeat()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.heartbeat()
		}
	}
}

// presenceTTL is how long a replica counts as live after Redis last heard
// of it; an idle replica reports every presenceTTL/3.
func (c Config) presenceTTL() time.Duration { return 15 * c.Heartbeat }

func (s *Shared) heartbeat() {
	ctx := context.Background()
	now := s.clock.Now()
	s.mu.Lock()
	wss := append([]*sharedSource(nil), s.wss...)
	s.mu.Unlock()
	defer func() {
		for _, w := range wss {
			w.refreshFallback()
		}
	}()
	// While degraded, the heartbeat is also the breaker's probe, so that
	// shared mode comes back without waiting for a call.
	force := s.Degraded()
	// Everything a heartbeat says goes in one pipeline: one round trip,
	// and none at all when every workspace's leases said it already.
	p := s.rdb.Pipeline()
	var pending []func(error)
	var sent []*sharedSource
	var cmds []*redis.Cmd
	for _, w := range wss {
		undo, cmd := w.queueReports(ctx, p, now, force)
		if cmd != nil {
			pending = append(pending, undo...)
			sent = append(sent, w)
			cmds = append(cmds, cmd)
		}
	}
	if len(cmds) == 0 {
		return
	}
	_, err := s.redisDo(ctx, "heartbeat", func(ctx context.Context) (any, error) {
		_, err := p.Exec(ctx)
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// A restarted Redis has forgotten the scripts: load them for
			// the next heartbeat, and keep this one's reports.
			for _, sc := range []*redis.Script{leaseScript, givebackScript} {
				if lerr := sc.Load(ctx, s.rdb).Err(); lerr != nil {
					return nil, lerr
				}
			}
			return nil, errScriptsReloaded
		}
		return nil, err
	})
	if err == nil {
		for i, w := range sent {
			if res, err := cmds[i].Int64Slice(); err == nil && len(res) == 7 {
				w.heard(now, res[5])
			}
		}
	}
	for _, undo := range pending {
		undo(err)
	}
}

// refreshFallback rebuilds the degraded-mode budget when the live count
// changed: budget × safety ÷ live replicas.
func (s *sharedSource) refreshFallback() {
	live := s.live.Load()
	if old := s.liveSeen.Load(); live == old || !s.liveSeen.CompareAndSwap(old, live) {
		return
	}
	s.fallback.Store(newLocalSource(s.b, s.s.cfg, s.s.cfg.Safety/float64(live)))
}

// queueReports adds to the heartbeat's pipeline what this workspace has to
// say, if its leases have not said it lately: the replica is live, demand
// per caller, served counts, the lowest remaining seen; and the grants that
// sat unused for a heartbeat, which go back to the window. It returns the
// report command (nil when nothing is due) and functions that put the
// reports back when the pipeline failed.
func (s *sharedSource) queueReports(ctx context.Context, p redis.Pipeliner, now time.Time, force bool) ([]func(error), *redis.Cmd) {
	cfg := s.s.cfg
	w := cfg.Window
	idx, start, _ := windowOf(now, w)
	frac := float64(now.Sub(start)) / float64(w)
	keys := s.keys(idx)
	wsFlag := "0"
	if s.b.WorkspaceLimit > 0 {
		wsFlag = "1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var givebacks []func()
	for c, cs := range s.callers {
		if cs.idx != idx || cs.pool <= 0 || now.Sub(cs.lastUse) < cfg.Heartbeat {
			continue
		}
		givebacks = append(givebacks, func() {
			p.EvalSha(ctx, givebackScript.Hash(), []string{s.key(idx), s.wsKey(idx)}, c, cs.pool, wsFlag)
			cs.pool = 0
		})
	}
	quiet := now.Sub(time.Unix(0, s.contact.Load()))
	// A replica whose leases reach Redis needs no heartbeat; one that went
	// quiet reports what it has after two heartbeats, and says it is live
	// every presenceTTL/3 even with nothing to report.
	due := force || quiet >= cfg.presenceTTL()/3 || len(givebacks) > 0
	if !due && quiet >= 2*cfg.Heartbeat {
		due = len(s.served) > 0 || len(s.charge) > 0 || len(s.seen) > 0
		for _, cs := range s.callers {
			due = due || cs.unreported > 0 || cs.unreportedPrev > 0
		}
	}
	if !due {
		return nil, nil
	}
	var undo []func(error)
	rep := s.takeReports(idx)
	cmd := p.EvalSha(ctx, leaseScript.Hash(), keys, s.args("", 0, 0, 0, 0, now, frac, rep)...)
	if rep.any() {
		undo = append(undo, func(err error) {
			if err != nil {
				s.mu.Lock()
				s.restoreReports(idx, rep)
				s.mu.Unlock()
			}
		})
	}
	for c, cs := range s.callers {
		if cs.idx < idx-1 {
			continue
		}
		cs = s.state(c, idx)
		// Demand not yet reported, so that the fair shares of the other
		// callers see it even while this one holds a pool or is refused.
		if dCur, dPrev := cs.unreported, cs.unreportedPrev; dCur > 0 || dPrev > 0 {
			cs.unreported, cs.unreportedPrev = 0, 0
			p.EvalSha(ctx, leaseScript.Hash(), keys, s.args(c, 0, 1, dCur, dPrev, now, frac, reports{remCur: seenRemaining{remaining: -1}, remPrev: seenRemaining{remaining: -1}, limit: -1})...)
			undo = append(undo, func(err error) {
				if err != nil {
					s.mu.Lock()
					cs.unreported += dCur
					cs.unreportedPrev += dPrev
					s.mu.Unlock()
				}
			})
		}
	}
	for _, g := range givebacks {
		g()
	}
	return undo, cmd
}
