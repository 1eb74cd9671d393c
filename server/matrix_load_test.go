package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// The fault-matrix cases that make many calls: across replicas, under
// load while Redis flaps, and while the token file is replaced.

// check compares one call's outcome with what the case wants.
func (tc matrixCase) check(t *testing.T, transport, what string, got outcome) bool {
	t.Helper()
	ok := got.code == tc.wantCode && got.retryInfo == tc.wantRetryInfo && (transport != "rest" || got.http == tc.wantHTTP)
	if !ok {
		t.Errorf("%s: %v, want code=%v http=%d retryInfo=%v", what, got, tc.wantCode, tc.wantHTTP, tc.wantRetryInfo)
	}
	return ok
}

// setClock moves the case's clock (the sandbox's and the service's).
func (c *sharedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// addStormReplicas adds two replicas on the same sandbox and Redis, each
// with its own shared limiter (its own replica id), before the storm
// starts. The sandbox's clock is set 20 s ahead, so the X-RateLimit-Reset
// of its 429s is 20-30 s away: long enough that no pause ends during the
// case.
func addStormReplicas(t *testing.T, e *matrixEnv, _ string) {
	for range 2 {
		e.replicas = append(e.replicas, e.addReplica(t, stackSpec{redis: true, limiter: sharedLimiter, store: redisStore}))
	}
	e.clock.set(time.Now().Add(20 * time.Second))
	e.sb.ResetRequests()
}

// runStorm: Intercom answers every request 429. The first replica's read
// gets it (1 attempt: the reset is further away than the client waits);
// then a read, a create and a create with request_id through each other
// replica are refused by their limiters, which learned the pause through
// Redis: Intercom receives nothing more, and RetryInfo says to come back
// at the reset, not after a backoff.
func runStorm(t *testing.T, e *matrixEnv, transport string, tc matrixCase) {
	tc.check(t, transport, "first replica", e.call(transport, callOpts{}))
	if n := e.attempts("getTicket"); n != tc.wantAttempts {
		t.Errorf("the first replica's read reached Intercom %d times, want %d", n, tc.wantAttempts)
	}
	for i, r := range e.replicas {
		for _, o := range []callOpts{{}, {create: true, title: fmt.Sprintf("storm plain %d", i)},
			{create: true, title: fmt.Sprintf("storm keyed %d", i), rid: fmt.Sprintf("storm-%d-%s", i, transport)}} {
			what := fmt.Sprintf("replica %d, create=%v request_id=%q", i+2, o.create, o.rid)
			got := e.callOn(r, transport, o)
			if tc.check(t, transport, what, got) && got.retryDelay < 5*time.Second {
				t.Errorf("%s: RetryInfo %v, want the time until Intercom's reset (about 20 s): the pause was not shared", what, got.retryDelay)
			}
		}
	}
	if n := len(e.sb.Requests()); n != 1 {
		t.Errorf("Intercom received %d requests during the storm, want only the first replica's 1", n)
	}
	if n := len(e.appliedCreates()); n != 0 {
		t.Errorf("%d creates applied during the storm", n)
	}
}

// runFlapping: three callers keep making reads, creates with request_id
// and re-sends of earlier creates while Redis is killed and restarted
// (empty) three times. Every call succeeds, every read reaches Intercom
// once, and every create is applied exactly once: a re-send, during the
// outage or after it, answers the first create's ticket.
func runFlapping(t *testing.T, e *matrixEnv, transport string, tc matrixCase) {
	var mu sync.Mutex
	ids := map[string]string{} // request_id -> ticket id
	var rids []string
	var reads atomic.Int64
	send := func(rid string) {
		o := e.call(transport, callOpts{create: true, title: "flap " + rid, rid: rid})
		if !tc.check(t, transport, "create "+rid, o) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := ids[rid]; !ok {
			ids[rid] = o.ticketID
			rids = append(rids, rid)
		} else if prev != o.ticketID {
			t.Errorf("request_id %s answered ticket %s, then %s", rid, prev, o.ticketID)
		}
	}
	c := startCallers(3, func(n int64) {
		switch n % 3 {
		case 0:
			reads.Add(1)
			tc.check(t, transport, "read", e.call(transport, callOpts{}))
		case 1:
			send(fmt.Sprintf("flap-%s-%d", transport, n))
		case 2:
			mu.Lock()
			rid := ""
			if len(rids) > 0 {
				rid = rids[int(n)%len(rids)]
			}
			mu.Unlock()
			if rid != "" {
				send(rid)
			}
		}
	})
	// Each phase lasts until the callers made a few calls in it, so that
	// a slow machine still calls while Redis is down and while it is up.
	phase := func() { c.waitFor(c.calls.Load() + 6) }
	for range 3 {
		phase()
		e.redis.Stop()
		phase()
		e.redis.Restart()
	}
	phase()
	c.stopAll()
	// Every create once more, with Redis up.
	mu.Lock()
	all := append([]string(nil), rids...)
	mu.Unlock()
	for _, rid := range all {
		send(rid)
	}
	applied := e.appliedCreates()
	for _, rid := range all {
		if n := applied["flap "+rid]; n != 1 {
			t.Errorf("request_id %s: %d tickets created, want 1", rid, n)
		}
	}
	// Reads of the seed ticket only: a re-send answered from a replica's
	// own copy (Redis lost the record) reads its ticket again by id.
	seedReads := 0
	for _, r := range e.sb.Requests() {
		if r.Route == "getTicket" && strings.HasSuffix(r.Path, "/"+sandbox.SeedTicketLogin) {
			seedReads++
		}
	}
	if want := int(reads.Load()) * tc.wantAttempts; seedReads != want {
		t.Errorf("Intercom received %d reads of the seed ticket for %d calls, want %d", seedReads, reads.Load(), want)
	}
	if len(all) < 6 {
		t.Errorf("only %d creates were made under load; the case proves little", len(all))
	}
	t.Logf("%d calls (%d reads, %d distinct creates) across 3 Redis outages", c.calls.Load(), reads.Load(), len(all))
}

// runTokenRotation: two callers keep reading while the token file is
// replaced (a new file renamed over it, as secret managers do). No call
// fails, each reaches Intercom once, and the new token is in use within
// 5 s; after its first use, only calls already in flight carry the old.
func runTokenRotation(t *testing.T, e *matrixEnv, transport string, tc matrixCase) {
	c := startCallers(2, func(int64) { tc.check(t, transport, "read", e.call(transport, callOpts{})) })
	used := func(tok string) int {
		n := 0
		for _, r := range e.sb.Requests() {
			if r.Header.Get("Authorization") == "Bearer "+tok {
				n++
			}
		}
		return n
	}
	c.waitFor(20)
	e.token(newToken)
	switched := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if used(newToken) > 0 {
			switched = true
			break
		}
	}
	c.waitFor(c.calls.Load() + 20)
	c.stopAll()
	if !switched {
		t.Fatalf("the new token was not used within 5 s of the rotation (%d calls)", c.calls.Load())
	}
	if used(oldToken) == 0 {
		t.Error("the old token was never used; the case proves nothing")
	}
	late, seenNew := 0, false
	for _, r := range e.sb.Requests() {
		switch r.Header.Get("Authorization") {
		case "Bearer " + newToken:
			seenNew = true
		case "Bearer " + oldToken:
			if seenNew {
				late++
			}
		}
	}
	if late > 2 {
		t.Errorf("%d requests carried the old token after the new one was in use; want at most the 2 in flight", late)
	}
	if n, want := e.attempts("getTicket"), int(c.calls.Load())*tc.wantAttempts; n != want {
		t.Errorf("Intercom received %d getTicket requests for %d calls, want %d", n, c.calls.Load(), want)
	}
	if st := e.sb.Requests(); len(st) > 0 && st[0].Status == http.StatusUnauthorized {
		t.Error("Intercom refused a token")
	}
}

// callers keeps n goroutines making calls until stopAll, and counts the
// calls they complete; call gets a sequence number shared by all of them.
type callers struct {
	calls atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startCallers(n int, call func(seq int64)) *callers {
	c := &callers{stop: make(chan struct{})}
	var seq atomic.Int64
	for range n {
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				call(seq.Add(1))
				c.calls.Add(1)
			}
		})
	}
	return c
}

// waitFor returns once the callers have completed n calls in all, or after
// 10 s, so a slow machine shortens a phase instead of hanging the test.
func (c *callers) waitFor(n int64) {
	for deadline := time.Now().Add(10 * time.Second); c.calls.Load() < n && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
}

// stopAll ends the calls and waits for those in flight.
func (c *callers) stopAll() {
	close(c.stop)
	c.wg.Wait()
}
