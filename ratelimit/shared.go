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

	live       atomic.Int64
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
	s.live.Store(1)
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

// LiveReplicas is the last count of live replicas seen in Redis.
func (s *Shared) LiveReplicas() int { return int(s.live.Load()) }

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
				"replica", s.id, "live_replicas", s.live.Load(), "safety", s.cfg.Safety)
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
		served: map[int64]int{}, seen: map[int64]seenRemaining{}}
	src.fallback.Store(newLocalSource(b, s.cfg, s.cfg.Safety/float64(max(1, s.live.Load()))))
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
	liveSeen int64 // the live count the fallback was built for

	mu      sync.Mutex
	callers map[string]*callerState
	// served counts non-429 answers by window, not yet reported.
	served map[int64]int
	// seen is the lowest X-RateLimit-Remaining per window.
	seen map[int64]seenRemaining
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
	// blocked caches a refusal until blockedUntil, so that calls that
	// arrive meanwhile cost no round trip; their demand reaches Redis with
	// the heartbeat, for the fair share of the next window.
	blocked      grantResult
	blockedUntil time.Time
}

func (s *sharedSource) degraded() bool { return s.s.Degraded() }

func (s *sharedSource) key(idx int64) string {
	return s.prefix + s.b.App + ":" + strconv.FormatInt(idx, 10)
}

func (s *sharedSource) wsKey(idx int64) string { return s.prefix + "ws:" + strconv.FormatInt(idx, 10) }

// state returns caller's state, rolled forward to window idx. s.mu is held.
func (s *sharedSource) state(caller string, idx int64) *callerState {
	cs := s.callers[caller]
	if cs == nil {
		cs = &callerState{idx: idx}
		s.callers[caller] = cs
	}
	if cs.idx != idx {
		if cs.idx == idx-1 {
			cs.demandPrev, cs.unreportedPrev = cs.demand, cs.unreported
		} else {
			cs.demandPrev, cs.unreportedPrev = 0, 0
		}
		cs.idx, cs.pool, cs.demand, cs.unreported = idx, 0, 0, 0
	}
	return cs
}

func (s *sharedSource) take(ctx context.Context, caller string, weight float64, now time.Time, first bool) grantResult {
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
			return grantResult{ok: true}
		}
		if cs.blockedUntil.After(now) {
			r := cs.blocked
			s.mu.Unlock()
			return r
		}
		s.mu.Unlock()
		if s.s.Degraded() {
			return s.fallback.Load().take(ctx, caller, weight, now, false)
		}
		v, err, _ := s.sf.Do(caller, func() (any, error) {
			return s.lease(ctx, caller, weight, now, idx, start)
		})
		if err != nil {
			// This call must not wait on Redis any longer: the fallback
			// decides, and the breaker counts the failure.
			return s.fallback.Load().take(ctx, caller, weight, now, false)
		}
		if r := v.(grantResult); !r.ok {
			return r
		}
	}
	return grantResult{retryAt: now.Add(w / 50), reason: ReasonBudget, limit: s.b.Limit, reset: end}
}

// lease asks Redis for a chunk for caller and adds it to the caller's pool.
// It returns a grantResult with ok when the pool was refilled.
func (s *sharedSource) lease(ctx context.Context, caller string, weight float64, now time.Time, idx int64, start time.Time) (grantResult, error) {
	w := s.s.cfg.Window
	end := start.Add(w)
	frac := float64(now.Sub(start)) / float64(w)

	s.mu.Lock()
	cs := s.state(caller, idx)
	// Chunk size follows the caller's recent demand on this replica: about
	// an eighth of its sliding-window rate, so a busy caller needs about
	// eight leases a window and an idle one holds little.
	est := float64(cs.demandPrev)*(1-frac) + float64(cs.demand)
	want := max(1, min(512, int(math.Ceil(est/8))))
	dCur, dPrev := cs.unreported, cs.unreportedPrev
	cs.unreported, cs.unreportedPrev = 0, 0
	rep := s.takeReports(idx)
	s.mu.Unlock()

	args := []any{caller, want, weight, dCur, dPrev, s.b.Limit, s.b.WorkspaceLimit, frac,
		(3 * w).Milliseconds(), s.s.live.Load(), rep.servedCur, rep.servedPrev,
		rep.remCur.remaining, rep.remCur.frac, rep.remPrev.remaining, rep.remPrev.frac, rep.limit, safetyMargin}
	v, err := s.s.redisDo(ctx, "lease", func(ctx context.Context) (any, error) {
		return leaseScript.Run(ctx, s.s.rdb, []string{s.key(idx), s.key(idx - 1), s.wsKey(idx), s.prefix + "pause"}, args...).Int64Slice()
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
	granted, code, pauseMs, limit, left := res[0], res[1], res[2], int(res[3]), int(res[4])
	s.mu.Lock()
	defer s.mu.Unlock()
	cs = s.state(caller, idx)
	switch {
	case granted > 0:
		cs.pool += int(granted)
		cs.blockedUntil = time.Time{}
		return grantResult{ok: true}, nil
	case code == 1:
		until := now.Add(time.Duration(pauseMs) * time.Millisecond)
		return grantResult{retryAt: until, reason: ReasonPaused, limit: limit, reset: until}, nil
	default:
		// The window (or the caller's share of it) is spent: the next
		// capacity comes with the next window.
		r := grantResult{retryAt: end, reason: ReasonBudget, limit: limit, left: left, reset: end}
		// Until the window ends, calls of this caller are refused here at no
		// cost; the heartbeat still reports their demand.
		cs.blocked, cs.blockedUntil = r, end
		return r, nil
	}
}

// safetyMargin is the part of Intercom's limit kept free while other apps
// are seen spending the workspace's budget, for their variation.
const safetyMargin = 0.05

// errScriptsReloaded fails a heartbeat whose scripts Redis had forgotten;
// its reports are kept for the next one.
var errScriptsReloaded = errors.New("ratelimit: Redis had lost the scripts; reloaded")

type reports struct {
	servedCur, servedPrev int
	remCur, remPrev       seenRemaining
	limit                 int
}

// takeReports collects what is to be reported for windows idx and idx-1
// and forgets older windows. s.mu is held.
func (s *sharedSource) takeReports(idx int64) reports {
	r := reports{servedCur: s.served[idx], servedPrev: s.served[idx-1],
		remCur: seenRemaining{-1, 0}, remPrev: seenRemaining{-1, 0}, limit: -1}
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
	s.mu.Lock()
	if o.StatusCode != 429 {
		s.served[idx]++
	}
	if o.HasHeaders {
		frac := float64(now.Sub(start)) / float64(w)
		if v, ok := s.seen[idx]; !ok || o.Remaining < v.remaining {
			s.seen[idx] = seenRemaining{remaining: o.Remaining, frac: frac}
		} else if o.Remaining == v.remaining {
			s.seen[idx] = seenRemaining{remaining: v.remaining, frac: frac}
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

// heartbeatLoop announces the replica, counts the live ones, reports what
// was served and gives back grants that sit unused.
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

func (s *Shared) heartbeat() {
	ctx := context.Background()
	now := s.clock.Now()
	key := s.cfg.KeyPrefix + "replicas"
	s.mu.Lock()
	wss := append([]*sharedSource(nil), s.wss...)
	s.mu.Unlock()
	// Everything a heartbeat says goes in one pipeline: one round trip.
	var pending []func(error)
	v, err := s.redisDo(ctx, "heartbeat", func(ctx context.Context) (any, error) {
		var card *redis.IntCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: s.id})
			p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-3*s.cfg.Heartbeat).UnixMilli(), 10))
			p.PExpire(ctx, key, 10*s.cfg.Heartbeat)
			card = p.ZCard(ctx, key)
			for _, w := range wss {
				pending = append(pending, w.queueReports(ctx, p, now)...)
			}
			return nil
		})
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			// A restarted Redis has forgotten the scripts: load them for
			// the next heartbeat, and keep this one's reports.
			for _, sc := range []*redis.Script{leaseScript, givebackScript} {
				if lerr := sc.Load(ctx, s.rdb).Err(); lerr != nil {
					return nil, lerr
				}
			}
			if card.Err() == nil {
				s.live.Store(max(1, card.Val()))
			}
			return nil, errScriptsReloaded
		}
		if err != nil {
			return nil, err
		}
		return card.Val(), nil
	})
	for _, undo := range pending {
		undo(err)
	}
	if err == nil {
		// Kept as is while Redis is away: the last count is the best guess.
		s.live.Store(max(1, v.(int64)))
	}
	for _, w := range wss {
		w.refreshFallback()
	}
}

// refreshFallback rebuilds the degraded-mode budget when the live count
// changed: budget × safety ÷ live replicas.
func (s *sharedSource) refreshFallback() {
	live := s.s.live.Load()
	if live == s.liveSeen {
		return
	}
	s.liveSeen = live
	s.fallback.Store(newLocalSource(s.b, s.s.cfg, s.s.cfg.Safety/float64(live)))
}

// queueReports adds to the heartbeat's pipeline what this workspace has to
// report (demand per caller, served counts, the lowest remaining seen) and
// the grants that sat unused for a heartbeat, which go back to the window.
// The functions it returns put the reports back when the pipeline failed.
func (s *sharedSource) queueReports(ctx context.Context, p redis.Pipeliner, now time.Time) []func(error) {
	w := s.s.cfg.Window
	idx, start, _ := windowOf(now, w)
	frac := float64(now.Sub(start)) / float64(w)
	keys := []string{s.key(idx), s.key(idx - 1), s.wsKey(idx), s.prefix + "pause"}
	wsFlag := "0"
	if s.b.WorkspaceLimit > 0 {
		wsFlag = "1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var undo []func(error)
	rep := s.takeReports(idx)
	if rep.servedCur > 0 || rep.servedPrev > 0 || rep.remCur.remaining >= 0 || rep.remPrev.remaining >= 0 {
		p.EvalSha(ctx, leaseScript.Hash(), keys, "", 0, 1, 0, 0, s.b.Limit, s.b.WorkspaceLimit, frac, (3 * w).Milliseconds(),
			s.s.live.Load(), rep.servedCur, rep.servedPrev, rep.remCur.remaining, rep.remCur.frac, rep.remPrev.remaining,
			rep.remPrev.frac, rep.limit, safetyMargin)
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
			p.EvalSha(ctx, leaseScript.Hash(), keys, c, 0, 1, dCur, dPrev, s.b.Limit, s.b.WorkspaceLimit, frac, (3 * w).Milliseconds(),
				s.s.live.Load(), 0, 0, -1, 0, -1, 0, -1, safetyMargin)
			undo = append(undo, func(err error) {
				if err != nil {
					s.mu.Lock()
					cs.unreported += dCur
					cs.unreportedPrev += dPrev
					s.mu.Unlock()
				}
			})
		}
		if cs.pool > 0 && now.Sub(cs.lastUse) >= s.s.cfg.Heartbeat {
			p.EvalSha(ctx, givebackScript.Hash(), []string{s.key(idx), s.wsKey(idx)}, c, cs.pool, wsFlag)
			cs.pool = 0
		}
	}
	return undo
}
