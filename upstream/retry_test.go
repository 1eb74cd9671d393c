package upstream_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// step is how the test server answers one attempt: a status (with headers), or, when hangUp is set,
// closing the connection without any response, as a reset or a crashed proxy would.
type step struct {
	status  int
	headers []string
	hangUp  bool
}

func script(steps ...step) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, attempt int) {
		s := steps[min(attempt, len(steps))-1]
		if s.hangUp {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		body := `{"type":"error.list","request_id":"r-` + strconv.Itoa(attempt) + `","errors":[{"code":"server_error","message":"boom"}]}`
		if s.status < 400 {
			switch {
			case r.URL.Path == "/tickets/search":
				body = searchBody
			case r.Method == http.MethodDelete && r.URL.Path == "/tickets/7/tags/t1":
				body = tagBody
			default:
				body = ticketBody
			}
		}
		fixed(s.status, body, s.headers...)(w, r, attempt)
	}
}

// TestRetryPolicy is the retry table: which failures are sent again, per method, and with what result.
func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	create := func(ctx context.Context, c *upstream.Client) error {
		return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1", Contacts: []upstream.ContactIdentifier{{ID: "c"}}}))
	}
	get := func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTicket(ctx, "7")) }
	update := func(ctx context.Context, c *upstream.Client) error {
		return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{Open: ptr(false)}))
	}
	detach := func(ctx context.Context, c *upstream.Client) error {
		return ignore(c.DetachTagFromTicket(ctx, "7", "t1", adminID))
	}
	search := func(ctx context.Context, c *upstream.Client) error {
		return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "open", Operator: "=", Value: true}}))
	}
	ok := step{status: http.StatusOK}
	tests := []struct {
		name         string
		call         func(context.Context, *upstream.Client) error
		steps        []step
		wantAttempts int
		// wantStatus is the *Error status expected; 0 means success, -1 a transport error.
		wantStatus int
	}{
		{"POST create on 502 is sent once", create, []step{{status: 502}, ok}, 1, 502},
		{"POST create on 503 is sent once", create, []step{{status: 503}, ok}, 1, 503},
		{"POST create on a reset is sent once", create, []step{{hangUp: true}, ok}, 1, -1},
		{"POST create on 429 is retried", create, []step{{status: 429}, ok}, 2, 0},
		{"GET on 503 is retried and succeeds", get, []step{{status: 503}, ok}, 2, 0},
		{"GET on a reset is retried and succeeds", get, []step{{hangUp: true}, ok}, 2, 0},
		{"GET gives up after MaxAttempts", get, []step{{status: 500}, {status: 502}, {status: 504}, ok}, 3, 504},
		{"GET on 404 is not retried", get, []step{{status: 404}, ok}, 1, 404},
		{"GET on 501 is not retried", get, []step{{status: 501}, ok}, 1, 501},
		{"PUT on 502 is retried with its body", update, []step{{status: 502}, ok}, 2, 0},
		{"DELETE with a body on 500 is retried with its body", detach, []step{{status: 500}, ok}, 2, 0},
		{"POST search is marked idempotent and retried on 502", search, []step{{status: 502}, ok}, 2, 0},
		{"POST on 400 is not retried", create, []step{{status: 400}, ok}, 1, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, script(tt.steps...))
			// A transport of its own, so no connection is shared with other tests (net/http itself
			// replays idempotent requests that fail on a reused connection).
			c := newClient(t, rec.srv.URL, upstream.WithTransport(&http.Transport{}))
			err := tt.call(t.Context(), c)
			reqs := rec.requests()
			if len(reqs) != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", len(reqs), tt.wantAttempts)
			}
			for i := 1; i < len(reqs); i++ {
				if string(reqs[i].Body) != string(reqs[0].Body) {
					t.Errorf("attempt %d body %q differs from the first %q", i+1, reqs[i].Body, reqs[0].Body)
				}
			}
			var apiErr *upstream.Error
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Errorf("err = %v, want success", err)
			case tt.wantStatus == -1 && (err == nil || errors.As(err, &apiErr)):
				t.Errorf("err = %v, want a transport error", err)
			case tt.wantStatus > 0 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.wantStatus):
				t.Errorf("err = %v, want *upstream.Error with status %d", err, tt.wantStatus)
			}
		})
	}
}

// TestRetry429WaitsForReset: a 429 whose X-RateLimit-Reset lies within the deadline is retried no
// earlier than the reset, and then succeeds.
func TestRetry429WaitsForReset(t *testing.T) {
	t.Parallel()
	reset := time.Now().Truncate(time.Second).Add(2 * time.Second)
	var mu sync.Mutex
	var arrivals []time.Time
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, attempt int) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		script(step{status: 429, headers: []string{
			"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10),
		}}, step{status: 200})(w, r, attempt)
	})
	c := newClient(t, rec.srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1", Contacts: []upstream.ContactIdentifier{{ID: "c"}}}); err != nil {
		t.Fatalf("err = %v, want success after the reset", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2 {
		t.Fatalf("attempts = %d, want 2", len(arrivals))
	}
	if arrivals[1].Before(reset) {
		t.Errorf("retried at %v, before X-RateLimit-Reset %v", arrivals[1], reset)
	}
}

// TestRetry429BeyondDeadline: when the reset does not fit in the caller's deadline the 429 comes back
// at once as an *Error carrying the rate-limit state, instead of sleeping into a timeout. The reset
// (about 10 s away) is within MaxRateLimitWait (15 s by default), so only the deadline (3 s) can be
// the reason not to wait.
func TestRetry429BeyondDeadline(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(10 * time.Second).Unix()
	rec := newRecorder(t, script(step{status: 429, headers: []string{
		"X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(reset, 10),
	}}, step{status: 200}))
	if p := fastRetry(); p.MaxRateLimitWait < 12*time.Second {
		t.Fatalf("MaxRateLimitWait %v would refuse the wait by itself; this test needs it above the reset", p.MaxRateLimitWait)
	}
	c := newClient(t, rec.srv.URL)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := c.GetTicket(ctx, "7")
	var apiErr *upstream.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want *upstream.Error 429", err)
	}
	if ctx.Err() != nil {
		t.Errorf("returned only after the deadline; want an immediate 429")
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
	if apiErr.RetryAfter < 7*time.Second || apiErr.RetryAfter > 11*time.Second {
		t.Errorf("RetryAfter = %v, want about 10s (until X-RateLimit-Reset)", apiErr.RetryAfter)
	}
	want := upstream.RateLimit{Limit: 100, Remaining: 0, Reset: time.Unix(reset, 0), Present: true}
	if diff := cmp.Diff(want, apiErr.RateLimit); diff != "" {
		t.Errorf("RateLimit (-want +got):\n%s", diff)
	}
}

// TestRetry429FailsFastWhenNoRetryCanHelp: when the wait a 429 needs (until
// the reset, or the backoff when nothing says when the window resets) is
// more than MaxRateLimitWait, the 429 goes back after one attempt instead
// of spending the others on the same refusal, even when the call has no
// deadline of its own; within it, it is retried.
func TestRetry429FailsFastWhenNoRetryCanHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		resetIn      time.Duration // 0: no X-RateLimit-Reset header
		maxWait      time.Duration
		wantAttempts int
	}{
		{"reset in 8 s, beyond MaxRateLimitWait 1 s", 8 * time.Second, time.Second, 1},
		{"no hint, MaxRateLimitWait 0", 0, 0, 1},
		{"reset already past (skewed clock), MaxRateLimitWait 0", -time.Hour, 0, 1},
		{"no hint, the backoff fits", 0, time.Second, 3},
		{"reset already past, the backoff fits", -time.Hour, time.Second, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The reset is taken here, not before the loop: a parallel
			// subtest can wait for a free slot (-parallel is GOMAXPROCS, 2
			// on CI) while the package's other tests run for seconds, and a
			// reset taken before that wait can be past when the subtest
			// starts, which turns "reset ahead" into "no hint".
			var headers []string
			if tc.resetIn != 0 {
				headers = []string{"X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(tc.resetIn).Unix(), 10)}
			}
			rec := newRecorder(t, script(step{status: 429, headers: headers}, step{status: 429, headers: headers}, step{status: 429, headers: headers}))
			p := fastRetry()
			p.MaxRateLimitWait = tc.maxWait
			c := newClient(t, rec.srv.URL, upstream.WithRetryPolicy(p), upstream.WithTimeout(time.Minute))
			_, err := c.GetTicket(t.Context(), "7")
			var apiErr *upstream.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("err = %v, want *upstream.Error 429", err)
			}
			if n := len(rec.requests()); n != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", n, tc.wantAttempts)
			}
		})
	}
}

// countingTransport counts the attempts that reach the base transport.
type countingTransport struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestRetryDialErrorEvenForPOST: a connection that was never established cannot have delivered the
// request, so even a create is tried again.
func TestRetryDialErrorEvenForPOST(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: every dial is refused
	counter := &countingTransport{base: &http.Transport{}}
	c := newClient(t, "http://"+addr, upstream.WithTransport(counter))
	_, err = c.CreateTicket(t.Context(), upstream.CreateTicketParams{TicketTypeID: "1", Contacts: []upstream.ContactIdentifier{{ID: "c"}}})
	if err == nil {
		t.Fatal("want an error from a refused connection")
	}
	if n := counter.n.Load(); n != 3 {
		t.Errorf("attempts = %d, want MaxAttempts (3)", n)
	}
}

// TestRateLimitObserverSeesEveryAttempt: the observer gets the headers of the 429 and of the success.
func TestRateLimitObserverSeesEveryAttempt(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, script(
		step{status: 429, headers: []string{"X-RateLimit-Limit", "166", "X-RateLimit-Remaining", "0"}},
		step{status: 200, headers: []string{"X-RateLimit-Limit", "166", "X-RateLimit-Remaining", "165", "X-RateLimit-Reset", "1700000010"}},
	))
	var mu sync.Mutex
	var seen []upstream.RateLimit
	c := newClient(t, rec.srv.URL, upstream.WithRateLimitObserver(func(rl upstream.RateLimit) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, rl)
	}))
	if _, err := c.GetTicket(t.Context(), "7"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []upstream.RateLimit{
		{Limit: 166, Remaining: 0, Present: true},
		{Limit: 166, Remaining: 165, Reset: time.Unix(1700000010, 0), Present: true},
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

// hang answers only when the client goes away.
func hang(w http.ResponseWriter, r *http.Request, _ int) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
	_, _ = io.WriteString(w, "{}")
}

// TestDeadlines: the caller's deadline bounds a call, and a default timeout applies when it has none;
// both surface as context.DeadlineExceeded.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout time.Duration // WithTimeout
		ctx     func(context.Context) (context.Context, context.CancelFunc)
	}{
		{"caller deadline", time.Minute, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 100*time.Millisecond)
		}},
		{"default timeout without a caller deadline", 100 * time.Millisecond, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, hang)
			c := newClient(t, rec.srv.URL, upstream.WithTimeout(tt.timeout))
			ctx, cancel := tt.ctx(t.Context())
			defer cancel()
			_, err := c.GetTicket(ctx, "7")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
			}
		})
	}
}

// TestRetryTransportOnItsOwn: NewRetryTransport used without the Client (no per-call idempotency flag)
// follows the method's semantics (RFC 9110 §9.2.2), and never resends a body it cannot replay.
func TestRetryTransportOnItsOwn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method       string
		body         func() io.Reader
		wantAttempts int
		wantStatus   int
	}{
		{"GET", http.MethodGet, nil, 2, http.StatusOK},
		{"HEAD", http.MethodHead, nil, 2, http.StatusOK},
		{"PUT with a replayable body", http.MethodPut, func() io.Reader { return strings.NewReader(`{"open":false}`) }, 2, http.StatusOK},
		{"DELETE", http.MethodDelete, nil, 2, http.StatusOK},
		{"OPTIONS", http.MethodOptions, nil, 2, http.StatusOK},
		{"POST", http.MethodPost, func() io.Reader { return strings.NewReader(`{}`) }, 1, http.StatusServiceUnavailable},
		{"PATCH", http.MethodPatch, func() io.Reader { return strings.NewReader(`{}`) }, 1, http.StatusServiceUnavailable},
		// http.NewRequest cannot rewind a plain io.Reader, so GetBody is nil.
		{"PUT with a body that cannot be replayed", http.MethodPut, func() io.Reader { return io.MultiReader(strings.NewReader(`{"open":false}`)) }, 1, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, script(step{status: http.StatusServiceUnavailable}, step{status: http.StatusOK}))
			rt := upstream.NewRetryTransport(&http.Transport{}, fastRetry())
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, rec.srv.URL+"/tickets/7", body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			reqs := rec.requests()
			if len(reqs) != tt.wantAttempts {
				t.Fatalf("attempts = %d, want %d", len(reqs), tt.wantAttempts)
			}
			for i := 1; i < len(reqs); i++ {
				if string(reqs[i].Body) != string(reqs[0].Body) {
					t.Errorf("attempt %d body %q differs from the first %q", i+1, reqs[i].Body, reqs[0].Body)
				}
			}
		})
	}
}
