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
