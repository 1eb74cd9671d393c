package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is the simulator. It implements http.Handler.
type Server struct {
	opts options
	mux  *http.ServeMux
	ops  map[string]route // by ServeMux pattern

	// Counted without the lock, so that measuring does not add contention.
	connections atomic.Int64
	served      atomic.Int64
	rateLimited atomic.Int64
	locks       atomic.Int64
	contended   atomic.Int64
	lockWait    atomic.Int64 // nanoseconds

	mu        sync.Mutex // guards everything below
	ws        *workspace
	requests  requestLog
	faults    map[string]*Fault
	rng       *rand.Rand
	rateCount map[string]*rateWindow
}

// maxRequestBytes bounds the request bodies the sandbox reads, so that a huge or endless body cannot
// exhaust its memory. Intercom documents no limit; the gateway's largest requests (a ticket with its
// attributes, a search) are a few kilobytes.
const maxRequestBytes = 4 << 20

// RecordedRequest is one request received by the simulated API (admin
// requests under /__sandbox/ are not recorded).
type RecordedRequest struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query,omitempty"`
	Header   http.Header `json:"header"`
	Body     []byte      `json:"body,omitempty"`
	// Version is the Intercom-Version header as sent ("" when absent).
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	// Route is the Intercom operationId (for example "createTicket"), or ""
	// when the path matched no operation.
	Route string `json:"route"`
	// Status is the HTTP status answered; 0 when the connection was reset
	// before the request was applied. With a ResetAfterRate fault it is the
	// status the request was applied with, although the client never got it.
	Status int `json:"status"`
	// Reset reports that the connection was reset instead of answered.
	Reset bool `json:"reset,omitempty"`
}

type route struct {
	op string
	// since is the behaviour (opListTicketStates, opDeleteTicket) that says from which version the
	// operation exists; a negative value means every version has it.
	since behaviour
	h     func(*call) (int, any, error)
}

// New returns a simulator with the given options applied over defaultOptions.
func New(opts ...Option) *Server {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{
		opts:      o,
		mux:       http.NewServeMux(),
		ops:       map[string]route{},
		faults:    map[string]*Fault{},
		rng:       rand.New(rand.NewPCG(o.randSeed, o.randSeed^0x9e3779b97f4a7c15)),
		rateCount: map[string]*rateWindow{},
		requests:  requestLog{max: o.requestLog},
	}
	s.ws = s.freshWorkspace()
	s.routes()
	return s
}

func (s *Server) freshWorkspace() *workspace {
	if s.opts.seed {
		return seedWorkspace()
	}
	return baseWorkspace()
}

// Reset restores the initial state (seed data or an empty workspace) and
// clears the rate budgets. Recorded requests and faults are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ws = s.freshWorkspace()
	s.rateCount = map[string]*rateWindow{}
}

// routes registers every operation. Paths are those of 2.11.yaml and
// unstable.yaml; only path parameter names differ between them.
func (s *Server) routes() {
	add := func(pattern, op string, versioned bool, h func(*call) (int, any, error)) {
		since := behaviour(-1)
		if versioned {
			since = opBehaviour[op]
		}
		s.ops[pattern] = route{op: op, since: since, h: h}
		s.mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
	}
	add("POST /tickets", "createTicket", false, s.createTicket)
	add("GET /tickets/{id}", "getTicket", false, s.getTicket)
	add("PUT /tickets/{id}", "updateTicket", false, s.updateTicket)
	add("DELETE /tickets/{id}", "deleteTicket", true, s.deleteTicket)
	add("POST /tickets/{id}/reply", "replyTicket", false, s.replyTicket)
	add("POST /tickets/search", "searchTickets", false, s.searchTickets)
	add("POST /tickets/{id}/tags", "attachTagToTicket", false, s.attachTagToTicket)
	add("DELETE /tickets/{id}/tags/{tag_id}", "detachTagFromTicket", false, s.detachTagFromTicket)

	add("GET /ticket_types", "listTicketTypes", false, s.listTicketTypes)
	add("POST /ticket_types", "createTicketType", false, s.createTicketType)
	add("GET /ticket_types/{id}", "getTicketType", false, s.getTicketType)
	add("PUT /ticket_types/{id}", "updateTicketType", false, s.updateTicketType)
	add("POST /ticket_types/{id}/attributes", "createTicketTypeAttribute", false, s.createAttribute)
	add("PUT /ticket_types/{id}/attributes/{attribute_id}", "updateTicketTypeAttribute", false, s.updateAttribute)
	add("GET /ticket_states", "listTicketStates", true, s.listTicketStates)

	add("GET /tags", "listTags", false, s.listTags)
	add("POST /tags", "createTag", false, s.createTag)
	add("GET /tags/{id}", "findTag", false, s.findTag)
	add("DELETE /tags/{id}", "deleteTag", false, s.deleteTag)
	add("GET /contacts/{id}/tags", "listTagsForAContact", false, s.listContactTags)
	add("POST /contacts/{id}/tags", "attachTagToContact", false, s.attachTagToContact)
	add("DELETE /contacts/{id}/tags/{tag_id}", "detachTagFromContact", false, s.detachTagFromContact)
	add("POST /conversations/{id}/tags", "attachTagToConversation", false, s.attachTagToConversation)
	add("DELETE /conversations/{id}/tags/{tag_id}", "detachTagFromConversation", false, s.detachTagFromConversation)
}

// call is one API request being handled.
type call struct {
	r         *http.Request
	body      []byte
	version   apiVersion
	now       int64
	requestID string
	record    func()
	reset     bool // the connection is reset instead of answered
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == adminPrefix[:len(adminPrefix)-1] || strings.HasPrefix(r.URL.Path, adminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	s.served.Add(1)
	start := s.opts.clock()
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	_ = r.Body.Close()
	// The ServeMux is used only to match: serving r through it sets r.Pattern
	// and the path values that handlers read. Its handlers do nothing.
	s.mux.ServeHTTP(discard{}, r)
	rt, known := s.ops[r.Pattern]
	if !plainPath(r.URL.Path) {
		// ServeMux matched the cleaned path (GET /contacts/../tags as
		// listTags). Intercom routes the path it was sent, so a dot segment
		// names no operation: it gets the unknown-path answer.
		rt, known = route{}, false
	}

	rec := RecordedRequest{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
		Body: body, Version: r.Header.Get("Intercom-Version"), Time: start, Route: rt.op,
	}
	sw := &statusWriter{ResponseWriter: w}
	c := &call{r: r, body: body, now: start.Unix(), requestID: newUUID()}
	// record runs once, before the client can see any outcome: when the
	// status is written, before a connection reset, or when the handler
	// returns without writing.
	var once sync.Once
	c.record = func() {
		once.Do(func() {
			rec.Status, rec.Reset = sw.status, c.reset
			if sw.status == http.StatusTooManyRequests {
				s.rateLimited.Add(1)
			}
			s.lock()
			s.requests.add(rec)
			s.mu.Unlock()
			s.opts.logger.Debug("sandbox request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("route", rt.op), slog.Int("status", sw.status))
		})
	}
	sw.onStatus = c.record
	defer c.record()

	sw.Header().Set("X-Request-Id", c.requestID)
	if readErr != nil {
		// After a MaxBytesError net/http closes the connection once this answer is sent.
		err := errInvalid("", "The request body could not be read")
		if _, ok := errors.AsType[*http.MaxBytesError](readErr); ok {
			err = apiErr(http.StatusRequestEntityTooLarge, "request_too_large",
				"The request body is larger than "+strconv.Itoa(maxRequestBytes>>20)+" MiB")
		}
		writeError(sw, c.requestID, err)
		return
	}

	if fault, ok := s.takeFault(rt.op); ok {
		if done := s.applyFault(sw, r, c, fault, rt, known); done {
			return
		}
	}
	s.serveAPI(sw, c, rt, known)
}

// serveAPI answers a request without faults: auth, rate limit, version, handler.
func (s *Server) serveAPI(w http.ResponseWriter, c *call, rt route, known bool) {
	status, v, err := s.answer(w, c, rt, known)
	if err != nil {
		writeError(w, c.requestID, err)
		return
	}
	writeJSON(w, status, v)
}

// answer runs the checks and the handler and returns what to write. It sets
// rate limit headers on w.
func (s *Server) answer(w http.ResponseWriter, c *call, rt route, known bool) (int, any, error) {
	token, ok := bearer(c.r)
	if !ok || (s.opts.tokens != nil && !s.opts.tokens[token]) {
		// 2.11.yaml: every operation documents 401 with code "unauthorized",
		// message "Access Token Invalid".
		return 0, nil, apiErr(http.StatusUnauthorized, "unauthorized", "Access Token Invalid")
	}
	if !s.spendRate(w, token) {
		return 0, nil, apiErr(http.StatusTooManyRequests, "rate_limit_exceeded", "Exceeded rate limit")
	}
	if !known {
		return 0, nil, apiErr(http.StatusNotFound, "not_found", "Resource Not Found")
	}
	v, err := parseVersion(c.r.Header.Get("Intercom-Version"))
	if err != nil {
		return 0, nil, err
	}
	c.version = v
	if rt.since >= 0 && !v.has(rt.since) {
		// DELETE /tickets/{id} is not in 2.11.yaml or 2.12.yaml, GET /ticket_states not in 2.11.yaml.
		return 0, nil, apiErr(http.StatusNotFound, "not_found", "Resource Not Found")
	}
	s.lock()
	defer s.mu.Unlock()
	return rt.h(c)
}

// lock takes mu on the request path and counts how often, and how long, a request waited for it:
// one lock serialises the whole simulated workspace, so it could be the ceiling of a benchmark that
// uses the sandbox as its upstream. Stats tells whether it is.
func (s *Server) lock() {
	s.locks.Add(1)
	if s.mu.TryLock() {
		return
	}
	t0 := time.Now()
	s.mu.Lock()
	s.contended.Add(1)
	s.lockWait.Add(int64(time.Since(t0)))
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(p):])
	return tok, tok != ""
}

// plainPath reports whether p (already percent-decoded, so %2e%2e counts as
// "..") has no empty, "." or ".." segment after its leading slash.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// discard lets the ServeMux fill in r's path values without writing anything.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

type statusWriter struct {
	http.ResponseWriter
	status int
	// onStatus runs once the status is known and before any of the response
	// reaches the client, so that a client that has its answer always finds
	// its request in Requests().
	onStatus func()
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.onStatus != nil {
			w.onStatus()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Requests returns a copy of the API requests received so far, oldest first: all of them, or the
// newest ones when there were more than WithRequestLog allows. Headers and bodies are copied too, so
// callers may change them.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests.all()
	for i := range out {
		out[i].Header = out[i].Header.Clone()
		out[i].Body = bytes.Clone(out[i].Body)
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests.reset()
}

// requestLog is a ring buffer of the newest max requests, so that a sandbox serving a long benchmark
// or a busy demo keeps a bounded amount of memory.
type requestLog struct {
	max  int
	buf  []RecordedRequest
	next int // where the next request goes once buf is full
}

func (l *requestLog) add(r RecordedRequest) {
	switch {
	case l.max <= 0:
	case len(l.buf) < l.max:
		l.buf = append(l.buf, r)
	default:
		l.buf[l.next] = r
		l.next = (l.next + 1) % l.max
	}
}

// all returns the kept requests, oldest first, in a new slice.
func (l *requestLog) all() []RecordedRequest {
	out := make([]RecordedRequest, 0, len(l.buf))
	out = append(out, l.buf[l.next:]...)
	return append(out, l.buf[:l.next]...)
}

func (l *requestLog) reset() { l.buf, l.next = nil, 0 }

// Stats are running totals since the server was created.
type Stats struct {
	// Connections counts the TCP connections accepted by Serve (or by a
	// server whose ConnState is the sandbox's ConnState).
	Connections int64 `json:"connections"`
	// Requests counts API requests (not admin requests), answered or not; unlike Requests() it
	// is never reset and never wraps.
	Requests int64 `json:"requests"`
	// RateLimited counts the requests answered 429 (the budget spent or a
	// fault); like Requests it is never reset, so a long soak can count
	// them beyond the request log's ring buffer.
	RateLimited int64 `json:"rate_limited"`
	// Locks counts acquisitions of the workspace lock on the request path; Contended those that
	// had to wait, and LockWaitNanos the total time they waited.
	Locks         int64 `json:"locks"`
	Contended     int64 `json:"lock_contended"`
	LockWaitNanos int64 `json:"lock_wait_ns"`
}

// Stats returns the running totals. Benchmarks use them to report upstream
// connections and requests per call, and tests to assert connection reuse.
func (s *Server) Stats() Stats {
	return Stats{Connections: s.connections.Load(), Requests: s.served.Load(), RateLimited: s.rateLimited.Load(),
		Locks: s.locks.Load(), Contended: s.contended.Load(), LockWaitNanos: s.lockWait.Load()}
}

// ConnState counts new connections into Stats. Serve installs it; set it as
// the ConnState of an httptest.Server to count there too.
func (s *Server) ConnState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		s.connections.Add(1)
	}
}

// ListenAndServe serves the simulator on addr until ctx is done, then shuts
// down gracefully (waiting up to 5 seconds for in-flight requests).
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ConnState: s.ConnState}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
