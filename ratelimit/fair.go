package ratelimit

import (
	"math"
	"sort"
	"time"
)

// fairShares splits limit between callers by weighted max-min fairness
// over their demand per window, the rule the Redis lease script applies
// (lease.lua) for a single process: a caller whose demand fits in its
// weighted part of what is left gets its demand (held to a little more than
// its estimate, which lags), the others split the rest by weight, and what
// nobody wants is shared by weight. A caller with unknown demand (no
// history yet, demand < 0) counts as unbounded: it is held to no less than
// its weighted share, so a newcomer is not starved by one that came first.
func fairShares(limit float64, demand, weight map[string]float64) map[string]float64 {
	ids := make([]string, 0, len(demand))
	for id := range demand {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	d := make(map[string]float64, len(ids))
	for _, id := range ids {
		if demand[id] < 0 {
			d[id] = math.Inf(1)
		} else {
			d[id] = demand[id]*1.1 + 2
		}
	}
	share := make(map[string]float64, len(ids))
	open := make(map[string]bool, len(ids))
	for _, id := range ids {
		open[id] = true
	}
	rem := limit
	for len(open) > 0 {
		tw := 0.0
		for id := range open {
			tw += weight[id]
		}
		var done []string
		for _, id := range ids {
			if open[id] && d[id] <= rem*weight[id]/tw {
				done = append(done, id)
			}
		}
		if len(done) == 0 {
			for id := range open {
				share[id] = rem * weight[id] / tw
			}
			rem = 0
			break
		}
		for _, id := range done {
			share[id] = d[id]
			rem -= d[id]
			delete(open, id)
		}
	}
	if rem > 0 {
		tw := 0.0
		for _, id := range ids {
			tw += weight[id]
		}
		for _, id := range ids {
			share[id] += rem * weight[id] / tw
		}
	}
	return share
}

// callerPace is one caller's demand and grants in this process, per
// window, for the fair share of a local budget.
type callerPace struct {
	idx                int64
	demand, demandPrev int
	granted            int
	weight             float64
}

// pacer holds each caller of a local budget to its fair share of every
// window, paced through it: by a fraction f of the window a caller has had
// at most share × (f + head).
type pacer struct {
	window  time.Duration
	head    float64
	callers map[string]*callerPace
}

func newPacer(window time.Duration, head float64) *pacer {
	return &pacer{window: window, head: head, callers: map[string]*callerPace{}}
}

func (p *pacer) state(caller string, weight float64, idx int64) *callerPace {
	c := p.callers[caller]
	if c == nil {
		c = &callerPace{idx: idx}
		p.callers[caller] = c
	}
	c.weight = weight
	p.roll(c, idx)
	return c
}

func (p *pacer) roll(c *callerPace, idx int64) {
	if c.idx == idx {
		return
	}
	if c.idx == idx-1 {
		c.demandPrev = c.demand
	} else {
		c.demandPrev = 0
	}
	c.idx, c.demand, c.granted = idx, 0, 0
}

// allow reports whether caller may have one more grant of limit at now,
// and if not, when its paced share will have grown by one.
func (p *pacer) allow(caller string, weight float64, limit int, now time.Time, first bool) (bool, time.Time) {
	idx, start, end := windowOf(now, p.window)
	frac := float64(now.Sub(start)) / float64(p.window)
	me := p.state(caller, weight, idx)
	if first {
		me.demand++
	}
	demand, weights := map[string]float64{}, map[string]float64{}
	for id, c := range p.callers {
		p.roll(c, idx)
		switch {
		case c.demand == 0 && c.demandPrev == 0:
			if id != caller {
				delete(p.callers, id)
				continue
			}
			demand[id] = -1
		case c.demandPrev == 0:
			demand[id] = -1 // no history yet
		default:
			demand[id] = float64(c.demand) + float64(c.demandPrev)*(1-frac)
		}
		weights[id] = c.weight
	}
	mine := fairShares(float64(limit), demand, weights)[caller]
	// (The small tolerance keeps float rounding from refusing a grant at
	// the very instant the refusal said to come back.)
	if float64(me.granted+1) <= mine*min(1, frac+p.head)+1e-9 || (me.granted == 0 && mine >= 1) {
		return true, time.Time{}
	}
	if mine <= 0 {
		return false, end
	}
	at := start.Add(time.Duration((float64(me.granted+1)/mine - p.head) * float64(p.window)))
	if at.Before(now.Add(time.Millisecond)) {
		at = now.Add(time.Millisecond)
	}
	if !at.Before(end) {
		at = end
	}
	return false, at
}

func (p *pacer) granted(caller string) {
	if c := p.callers[caller]; c != nil {
		c.granted++
	}
}
