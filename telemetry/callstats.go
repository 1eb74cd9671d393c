package telemetry

import (
	"context"
	"sync/atomic"
)

// CallStats collects what the access log reports about one gateway call
// besides its method, code and duration. The server puts one in the call's
// context; the upstream client counts its attempts into it.
type CallStats struct {
	attempts atomic.Int64
	who      atomic.Pointer[callIdentity]
}

type callIdentity struct{ caller, workspace string }

// SetIdentity records the caller and the workspace the call runs against,
// once they are known (an inner stage decides them; the access log, which
// is outer, reads them here).
func (s *CallStats) SetIdentity(caller, workspace string) {
	s.who.Store(&callIdentity{caller, workspace})
}

// Identity returns what SetIdentity recorded ("" and "" before).
func (s *CallStats) Identity() (caller, workspace string) {
	if id := s.who.Load(); id != nil {
		return id.caller, id.workspace
	}
	return "", ""
}

// AddAttempt counts one HTTP attempt sent to Intercom.
func (s *CallStats) AddAttempt() { s.attempts.Add(1) }

// Attempts is the number of HTTP attempts sent to Intercom so far.
func (s *CallStats) Attempts() int64 { return s.attempts.Load() }

type callStatsKey struct{}

// WithCallStats returns a context carrying a fresh CallStats.
func WithCallStats(ctx context.Context) (context.Context, *CallStats) {
	s := &CallStats{}
	return context.WithValue(ctx, callStatsKey{}, s), s
}

// CallStatsFrom returns the context's CallStats, or nil (whose methods are
// not safe to call) when there is none.
func CallStatsFrom(ctx context.Context) *CallStats {
	s, _ := ctx.Value(callStatsKey{}).(*CallStats)
	return s
}
