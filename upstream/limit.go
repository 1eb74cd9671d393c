package upstream

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
)

// Limiter keeps the client inside Intercom's rate budget. It is asked before
// every attempt, retries included, so that a retry spends budget like any
// request; *ratelimit.Limiter implements it.
type Limiter interface {
	// Acquire returns when the attempt may be sent, or an error that wraps
	// ratelimit.ErrNotSent when it may not. release is called once the
	// attempt's answer has been read or has failed.
	Acquire(ctx context.Context, op string) (release func(), err error)
	// Observe reports what Intercom answered to an attempt.
	Observe(ctx context.Context, op string, o ratelimit.Observation)
}

// WithLimiter consults l before every attempt and reports every answer to it.
func WithLimiter(l Limiter) Option { return func(o *options) { o.limiter = l } }

// limitTransport asks the limiter before each attempt and tells it about each
// answer. It sits inside the retry transport, so every attempt passes it.
type limitTransport struct {
	base    http.RoundTripper
	limiter Limiter
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// One record per attempt: the limiter notes the window of its grant
	// and compares it with the window Intercom counted the request in.
	ctx := ratelimit.WithAttempt(req.Context())
	op, _ := OperationFromContext(ctx)
	release, err := t.limiter.Acquire(ctx, string(op))
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	rl := ParseRateLimit(resp.Header)
	o := ratelimit.Observation{StatusCode: resp.StatusCode, HasHeaders: rl.Present, Limit: rl.Limit, Remaining: rl.Remaining, Reset: rl.Reset}
	if !rl.Present {
		o.Limit, o.Remaining = -1, -1
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := retryAfter(resp.Header, time.Now()); ok {
			o.RetryAfter = d
		}
	}
	t.limiter.Observe(ctx, string(op), o)
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody gives the attempt's concurrency slot back when its body is
// closed: until then the connection is still busy with it.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
