package upstream_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// testToken is a recognisable fake secret; tests check it never leaks into errors.
const testToken = "tok_SECRET_do_not_leak_42"

// recorded is one request as it reached the test server.
type recorded struct {
	Method string
	Path   string // escaped path
	Header http.Header
	Body   []byte
	// Req is a copy of the request with an absolute URL, for spec validation.
	Req *http.Request
}

// recorder is an httptest server that records every request and answers with respond.
type recorder struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(w http.ResponseWriter, r *http.Request, attempt int)
}

func newRecorder(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, attempt int)) *recorder {
	t.Helper()
	rec := &recorder{respond: respond}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		clone := r.Clone(r.Context())
		clone.URL.Scheme, clone.URL.Host = "http", r.Host
		clone.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{Method: r.Method, Path: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body, Req: clone})
		n := len(rec.reqs)
		rec.mu.Unlock()
		rec.respond(w, r, n)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// fixed answers every request with the same status and body.
func fixed(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// fastRetry keeps backoff waits short in tests; rate-limit waits still follow X-RateLimit-Reset.
func fastRetry() upstream.RetryPolicy {
	p := upstream.DefaultRetryPolicy()
	p.BaseBackoff = time.Millisecond
	p.MaxBackoff = 5 * time.Millisecond
	p.ResetJitter = 10 * time.Millisecond
	return p
}

func newClient(t *testing.T, baseURL string, opts ...upstream.Option) *upstream.Client {
	t.Helper()
	all := append([]upstream.Option{
		upstream.WithToken(testToken),
		upstream.WithBaseURL(baseURL),
		upstream.WithRetryPolicy(fastRetry()),
	}, opts...)
	c, err := upstream.New(all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }
