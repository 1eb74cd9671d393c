package sandbox

import (
	"net/http"
	"strconv"
	"time"
)

// rateWindow counts requests of one token in one fixed window.
type rateWindow struct {
	start int64 // window start, Unix nanoseconds
	count int
}

// windowStart aligns windows to the Unix epoch, so that every token's window
// ends at the same instant, as Intercom's examples show X-RateLimit-Reset
// moving 10 seconds at a time.
func (s *Server) windowStart(now time.Time) int64 {
	w := s.opts.rateWindow.Nanoseconds()
	n := now.UnixNano()
	return n - ((n%w)+w)%w
}

// windowEnd is X-RateLimit-Reset: the Unix second at which the window ends.
func (s *Server) windowEnd(now time.Time) int64 {
	end := s.windowStart(now) + s.opts.rateWindow.Nanoseconds()
	return (end + int64(time.Second) - 1) / int64(time.Second)
}

// spendRate counts one request against token's budget and sets the
// X-RateLimit-Limit/-Remaining/-Reset headers (developers.intercom.com, rate
// limiting). It reports false when the budget is spent.
func (s *Server) spendRate(w http.ResponseWriter, token string) bool {
	if s.opts.rateLimit <= 0 {
		return true
	}
	now := s.opts.clock()
	start := s.windowStart(now)
	s.lock()
	rw := s.rateCount[token]
	if rw == nil || rw.start != start {
		rw = &rateWindow{start: start}
		s.rateCount[token] = rw
	}
	allowed := rw.count < s.opts.rateLimit
	if allowed {
		rw.count++
	}
	remaining := s.opts.rateLimit - rw.count
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.opts.rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.windowEnd(now), 10))
	return allowed
}
