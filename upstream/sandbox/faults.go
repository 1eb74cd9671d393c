package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Fault tells the server to misbehave on matching requests. Rates are
// fractions in [0, 1]: 0 never and 1 always apply; fractions draw from a
// seeded source (WithRandSeed), so a run is repeatable. When several rates are
// set, they are tried in this order and the first hit wins: reset, reset after
// applying, rate limit, error, malformed. Latency and SlowBody combine with any of them.
type Fault struct {
	// Latency is added before answering.
	Latency time.Duration
	// ErrorRate is the fraction answered with ErrorStatus (default 503) and an
	// error.list body. The request is not applied.
	ErrorRate   float64
	ErrorStatus int
	// RateLimitRate is the fraction answered 429 rate_limit_exceeded with
	// X-RateLimit-* headers (Remaining 0); 1.0 is a "429 storm".
	RateLimitRate float64
	// ResetRate is the fraction whose TCP connection is closed with a reset
	// and no response. The request is not applied.
	ResetRate float64
	// ResetAfterRate is the fraction that IS applied (a create makes its
	// ticket) and whose connection is then reset before the answer is sent:
	// the request was sent and acted on, and the client cannot know.
	ResetAfterRate float64
	// MalformedRate is the fraction answered 200 with a truncated JSON body.
	// The request IS applied (like a create whose answer could not be parsed).
	MalformedRate float64
	// SlowBody spreads the body over this duration in small chunks.
	SlowBody time.Duration
	// Remaining, if > 0, limits the fault to the next N matching requests,
	// after which it is removed.
	Remaining int
}

// faultJSON is the admin API form of Fault: durations as Go duration strings
// ("250ms").
type faultJSON struct {
	Latency       string  `json:"latency,omitempty"`
	ErrorRate     float64 `json:"error_rate,omitempty"`
	ErrorStatus   int     `json:"error_status,omitempty"`
	RateLimitRate float64 `json:"rate_limit_rate,omitempty"`
	ResetRate     float64 `json:"reset_rate,omitempty"`
	ResetAfter    float64 `json:"reset_after_rate,omitempty"`
	MalformedRate float64 `json:"malformed_rate,omitempty"`
	SlowBody      string  `json:"slow_body,omitempty"`
	Remaining     int     `json:"remaining,omitempty"`
}

// MarshalJSON writes durations as Go duration strings and snake_case keys.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus, RateLimitRate: f.RateLimitRate,
		ResetRate: f.ResetRate, ResetAfter: f.ResetAfterRate, MalformedRate: f.MalformedRate, Remaining: f.Remaining}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	if f.SlowBody != 0 {
		j.SlowBody = f.SlowBody.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form written by MarshalJSON.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Fault{ErrorRate: j.ErrorRate, ErrorStatus: j.ErrorStatus, RateLimitRate: j.RateLimitRate,
		ResetRate: j.ResetRate, ResetAfterRate: j.ResetAfter, MalformedRate: j.MalformedRate, Remaining: j.Remaining}
	var err error
	if j.Latency != "" {
		if out.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if j.SlowBody != "" {
		if out.SlowBody, err = time.ParseDuration(j.SlowBody); err != nil {
			return fmt.Errorf("slow_body: %w", err)
		}
	}
	*f = out
	return out.validate()
}

func (f Fault) validate() error {
	for name, r := range map[string]float64{"error_rate": f.ErrorRate, "rate_limit_rate": f.RateLimitRate,
		"reset_rate": f.ResetRate, "reset_after_rate": f.ResetAfterRate, "malformed_rate": f.MalformedRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s must be within [0, 1], got %v", name, r)
		}
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 400 || f.ErrorStatus > 599) {
		return fmt.Errorf("error_status must be a 4xx or 5xx status, got %d", f.ErrorStatus)
	}
	if f.Latency < 0 || f.SlowBody < 0 || f.Remaining < 0 {
		return fmt.Errorf("durations and remaining must not be negative")
	}
	return nil
}

// SetFault installs f for route: an Intercom operationId such as
// "createTicket" or "searchTickets", or "*" for every request. A fault for
// the operation takes precedence over "*".
func (s *Server) SetFault(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*Fault{}
}

// Faults returns a copy of the installed faults by route.
func (s *Server) Faults() map[string]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Fault, len(s.faults))
	for k, f := range s.faults {
		out[k] = *f
	}
	return out
}

// decision is what a fault does to one request, drawn under the lock.
type decision struct {
	fault      Fault
	reset      bool
	resetAfter bool
	rateLimit  bool
	fail       bool
	malformed  bool
}

func (s *Server) takeFault(op string) (decision, bool) {
	s.lock()
	defer s.mu.Unlock()
	key := op
	f := s.faults[key]
	if f == nil {
		key = "*"
		f = s.faults[key]
	}
	if f == nil {
		return decision{}, false
	}
	d := decision{fault: *f}
	if f.Remaining > 0 {
		f.Remaining--
		if f.Remaining == 0 {
			delete(s.faults, key)
		}
	}
	d.reset = s.draw(f.ResetRate)
	d.resetAfter = !d.reset && s.draw(f.ResetAfterRate)
	lost := d.reset || d.resetAfter
	d.rateLimit = !lost && s.draw(f.RateLimitRate)
	d.fail = !lost && !d.rateLimit && s.draw(f.ErrorRate)
	d.malformed = !lost && !d.rateLimit && !d.fail && s.draw(f.MalformedRate)
	return d, true
}

// draw reports whether an event of probability rate happens. 0 and 1 are
// exact and consume no randomness, so they do not shift later draws.
func (s *Server) draw(rate float64) bool {
	switch {
	case rate <= 0:
		return false
	case rate >= 1:
		return true
	}
	return s.rng.Float64() < rate
}

// applyFault answers r according to d and reports whether it did; false means
// the request should be served normally.
func (s *Server) applyFault(w *statusWriter, r *http.Request, c *call, d decision, rt route, known bool) bool {
	f := d.fault
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	switch {
	case d.reset:
		c.reset = true
		c.record()
		resetConnection(w)
		return true
	case d.resetAfter:
		// Applied: the request log shows the status Intercom decided on,
		// with Reset set because the client never got it.
		resp := s.buffered(c, rt, known)
		w.status, c.reset = resp.status, true
		c.record()
		resetConnection(w)
		return true
	case d.rateLimit:
		h := w.Header()
		limit := s.opts.rateLimit
		if limit <= 0 {
			limit = defaultOptions().rateLimit
		}
		h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(s.windowEnd(s.opts.clock()), 10))
		s.finish(w, c, f, errBody(c, apiErr(http.StatusTooManyRequests, "rate_limit_exceeded", "Exceeded rate limit")))
		return true
	case d.fail:
		status := f.ErrorStatus
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		s.finish(w, c, f, errBody(c, apiErr(status, errorCodeFor(status), http.StatusText(status))))
		return true
	case d.malformed:
		resp := s.buffered(c, rt, known)
		b := resp.body.Bytes()
		// Cut the JSON in half so that it cannot parse; an empty body becomes
		// an unterminated object.
		if len(b) < 4 {
			b = []byte(`{"type":`)
		} else {
			b = b[:len(b)/2]
		}
		resp.status, resp.body = http.StatusOK, bytes.NewBuffer(b)
		resp.header.Del("Content-Length")
		s.finish(w, c, f, resp)
		return true
	case f.SlowBody > 0:
		s.finish(w, c, f, s.buffered(c, rt, known))
		return true
	}
	return false
}

func errorCodeFor(status int) string {
	switch status {
	case http.StatusInternalServerError:
		return "server_error"
	case http.StatusBadGateway:
		return "bad_gateway"
	case http.StatusServiceUnavailable:
		return "service_unavailable"
	case http.StatusGatewayTimeout:
		return "gateway_timeout"
	}
	return "error"
}

// bufferedResponse is a response produced in memory so that a fault can
// mangle it or send it slowly.
type bufferedResponse struct {
	header http.Header
	status int
	body   *bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func newBuffered() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}, body: &bytes.Buffer{}}
}

func (s *Server) buffered(c *call, rt route, known bool) *bufferedResponse {
	b := newBuffered()
	s.serveAPI(b, c, rt, known)
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b
}

func errBody(c *call, err error) *bufferedResponse {
	b := newBuffered()
	writeError(b, c.requestID, err)
	return b
}

// finish writes resp to w, spreading the body over f.SlowBody if set.
func (s *Server) finish(w *statusWriter, c *call, f Fault, resp *bufferedResponse) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if f.SlowBody <= 0 {
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body.Bytes())
		return
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(resp.status)
	w.Flush()
	b := resp.body.Bytes()
	const chunks = 10
	size := max(1, (len(b)+chunks-1)/chunks)
	pause := f.SlowBody / chunks
	for len(b) > 0 {
		n := min(size, len(b))
		if _, err := w.Write(b[:n]); err != nil {
			return
		}
		w.Flush()
		b = b[n:]
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return
		}
	}
}

// resetConnection closes the client's TCP connection without answering. With
// SO_LINGER 0 the kernel sends an RST, which clients see as "connection reset
// by peer". Where the connection cannot be hijacked (HTTP/2, recorders),
// net/http's ErrAbortHandler aborts the response instead.
func resetConnection(w *statusWriter) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
