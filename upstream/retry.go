package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
)

// RetryPolicy decides which failed attempts are sent again and how long to wait in between. It is
// applied by the RoundTripper from NewRetryTransport, which New places between the middleware (tracing)
// and the limiter (WithLimiter), which it asks before every attempt; a refusal (ratelimit.ErrNotSent) ends
// the loop at once, since nothing was sent.
//
// The rules, and why:
//
//   - 429 Too Many Requests is retried for every method, POST included: Intercom rejected the request
//     before processing it, so sending it again cannot create a duplicate. The wait is Retry-After
//     when present (Intercom does not document it), else until X-RateLimit-Reset (Intercom's rate
//     limiting page: back off until the reset) plus up to ResetJitter so that many clients waiting
//     for the same window do not all arrive in its first millisecond, else (no hint, or a reset
//     already past) exponential backoff. If the wait is longer than MaxRateLimitWait or does not fit
//     before the context's deadline, a retry could only meet the same refusal: the 429 is returned
//     at once (as an *Error with RetryAfter set) instead of spending attempts or sleeping into a
//     timeout. MaxRateLimitWait 0 never retries a 429.
//   - 500, 502, 503 and 504 and transport errors (connection reset, EOF, a transport timeout) are
//     retried only for idempotent requests: GET, HEAD, PUT, DELETE and OPTIONS, plus requests the
//     client marks idempotent (POST /tickets/search, a read without side effects). A POST such as
//     create ticket or reply may have reached Intercom, which has no idempotency key
//     (INTERCOM-API.md §4), so it is never retried after it may have been sent.
//   - A connection that could not be established (a dial error) is retried for every method: the
//     request never left this process.
//   - Nothing is retried once the context is done, or when a request body cannot be replayed
//     (req.GetBody is nil).
//   - Backoff between attempts n and n+1 is min(MaxBackoff, BaseBackoff·2^(n-1)) plus a random
//     0..Jitter fraction of it. It too must fit before the context's deadline, or the last result
//     is returned.
//
// MaxAttempts counts every attempt, the first included; 1 disables retries.
type RetryPolicy struct {
	MaxAttempts      int
	BaseBackoff      time.Duration
	MaxBackoff       time.Duration
	MaxRateLimitWait time.Duration
	Jitter           float64
	ResetJitter      time.Duration
}

// DefaultRetryPolicy is the policy a Client uses unless WithRetryPolicy says otherwise. Intercom's
// rate-limit windows are 10 seconds long (INTERCOM-API.md §9), so a wait for the next window is at most
// about 10 s; MaxRateLimitWait leaves room for clock skew.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:      3,
		BaseBackoff:      250 * time.Millisecond,
		MaxBackoff:       5 * time.Second,
		MaxRateLimitWait: 15 * time.Second,
		Jitter:           0.2,
		ResetJitter:      500 * time.Millisecond,
	}
}

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("upstream: RetryPolicy.MaxAttempts must be at least 1, got %d", p.MaxAttempts)
	case p.BaseBackoff < 0 || p.MaxBackoff < p.BaseBackoff:
		return fmt.Errorf("upstream: RetryPolicy needs 0 <= BaseBackoff (%v) <= MaxBackoff (%v)", p.BaseBackoff, p.MaxBackoff)
	case p.MaxRateLimitWait < 0 || p.ResetJitter < 0:
		return errors.New("upstream: RetryPolicy.MaxRateLimitWait and ResetJitter must not be negative")
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("upstream: RetryPolicy.Jitter must be within [0, 1], got %v", p.Jitter)
	}
	return nil
}

// backoff is the wait after the given failed attempt (1-based).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	d := p.BaseBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d + time.Duration(rand.Float64()*p.Jitter*float64(d))
}

// NewRetryTransport wraps base with the retry policy p (see RetryPolicy). An invalid policy falls back
// to DefaultRetryPolicy.
func NewRetryTransport(base http.RoundTripper, p RetryPolicy) http.RoundTripper {
	if p.validate() != nil {
		p = DefaultRetryPolicy()
	}
	return &retryTransport{base: base, policy: p}
}

type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := isIdempotent(req)
	attemptReq := req
	for attempt := 1; ; attempt++ {
		resp, err := t.base.RoundTrip(attemptReq.WithContext(withAttempt(ctx, attempt)))
		if errors.Is(err, ratelimit.ErrNotSent) {
			// The limiter refused the attempt: nothing was sent, and waiting
			// longer is what it already declined to do.
			return nil, err
		}
		wait, retry := t.decide(ctx, idempotent, attempt, resp, err)
		if !retry || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, err
		}
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Add(wait).Before(deadline) {
			return resp, err
		}
		next := req.Clone(ctx)
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return resp, err
			}
			next.Body = body
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then release it.
			_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
			resp.Body.Close()
		}
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("upstream: waiting to retry %s %s: %w", req.Method, req.URL.Path, serr)
		}
		attemptReq = next
	}
}

// decide reports whether the result of an attempt is retried and after how long.
func (t *retryTransport) decide(ctx context.Context, idempotent bool, attempt int, resp *http.Response, err error) (time.Duration, bool) {
	if attempt >= t.policy.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	if err != nil {
		var opErr *net.OpError
		notSent := errors.As(err, &opErr) && opErr.Op == "dial"
		return t.policy.backoff(attempt), idempotent || notSent
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		// A retry can pass only once the window has reset. Without a
		// reset still ahead (no hint, or one already past: skewed clocks)
		// the backoff is the guess. When that wait is more than the call
		// may spend waiting for a 429, retrying would only spend attempts
		// on the same refusal: the 429 goes back at once, and the caller
		// gets RESOURCE_EXHAUSTED with RetryInfo.
		wait, ok := retryAfter(resp.Header, time.Now())
		if !ok || wait <= 0 {
			wait = t.policy.backoff(attempt)
		}
		if wait > t.policy.MaxRateLimitWait {
			return 0, false
		}
		jitter := min(t.policy.ResetJitter, t.policy.MaxRateLimitWait-wait)
		return wait + time.Duration(rand.Int64N(int64(jitter)+1)), true
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return t.policy.backoff(attempt), idempotent
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

type callInfoKey struct{}

// callInfo travels in the request context from the Client to the transport chain.
type callInfo struct {
	op         Operation
	idempotent bool
}

// OperationFromContext returns the Operation of an outgoing request, for transport middleware such as
// tracing or per-operation rate limiting.
func OperationFromContext(ctx context.Context) (Operation, bool) {
	ci, ok := ctx.Value(callInfoKey{}).(callInfo)
	return ci.op, ok
}

func withCallInfo(ctx context.Context, op Operation, idempotent bool) context.Context {
	return context.WithValue(ctx, callInfoKey{}, callInfo{op: op, idempotent: idempotent})
}

// isIdempotent uses the client's per-operation flag when present, else the HTTP method's semantics
// (RFC 9110 §9.2.2).
func isIdempotent(req *http.Request) bool {
	if ci, ok := req.Context().Value(callInfoKey{}).(callInfo); ok {
		return ci.idempotent
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}
