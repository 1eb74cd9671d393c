package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []upstream.Option
		is   error // optional sentinel the error must wrap
	}{
		{"no token", []upstream.Option{upstream.WithBaseURL("http://127.0.0.1:1")}, nil},
		{"relative base URL", []upstream.Option{upstream.WithToken("t"), upstream.WithBaseURL("/intercom")}, nil},
		{"unknown version", []upstream.Option{upstream.WithToken("t"), upstream.WithVersion("latest")}, nil},
		{"zero timeout", []upstream.Option{upstream.WithToken("t"), upstream.WithTimeout(0)}, nil},
		{"no attempts", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{})}, nil},
		{"backoff cap below the base", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{
			MaxAttempts: 2, BaseBackoff: time.Second, MaxBackoff: time.Millisecond})}, nil},
		{"negative rate-limit wait", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{
			MaxAttempts: 2, MaxRateLimitWait: -time.Second})}, nil},
		{"negative reset jitter", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{
			MaxAttempts: 2, ResetJitter: -time.Second})}, nil},
		{"jitter above 1", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{
			MaxAttempts: 2, Jitter: 1.5})}, nil},
		{"negative jitter", []upstream.Option{upstream.WithToken("t"), upstream.WithRetryPolicy(upstream.RetryPolicy{
			MaxAttempts: 2, Jitter: -0.1})}, nil},
		{"delete ticket pinned to 2.11", []upstream.Option{upstream.WithToken("t"),
			upstream.WithOperationVersion(upstream.OpDeleteTicket, upstream.Version211)}, upstream.ErrUnsupported},
		{"whole client on 2.9 has no ticket search", []upstream.Option{upstream.WithToken("t"), upstream.WithVersion("2.9")}, upstream.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := upstream.New(tt.opts...)
			if err == nil {
				t.Fatalf("New succeeded (%v), want an error", c)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want one wrapping %v", err, tt.is)
			}
		})
	}
}

// TestVersionTable checks the per-operation Intercom-Version for several configurations.
func TestVersionTable(t *testing.T) {
	t.Parallel()
	all := func(v upstream.Version, except map[upstream.Operation]upstream.Version) map[upstream.Operation]upstream.Version {
		m := map[upstream.Operation]upstream.Version{}
		for _, op := range upstream.Operations() {
			m[op] = v
		}
		for op, ev := range except {
			m[op] = ev
		}
		return m
	}
	tests := []struct {
		name string
		opts []upstream.Option
		want map[upstream.Operation]upstream.Version
	}{
		{"default: 2.11, Preview where 2.11 lacks the operation", nil, all(v211, map[upstream.Operation]upstream.Version{
			upstream.OpDeleteTicket: preview, upstream.OpListTicketStates: preview})},
		{"2.14 has delete and states itself", []upstream.Option{upstream.WithVersion("2.14")}, all("2.14", nil)},
		{"Unstable is an alias of Preview", []upstream.Option{upstream.WithVersion("Unstable")}, all(preview, nil)},
		{"per-operation override", []upstream.Option{upstream.WithOperationVersion(upstream.OpSearchTickets, "unstable")},
			all(v211, map[upstream.Operation]upstream.Version{
				upstream.OpDeleteTicket: preview, upstream.OpListTicketStates: preview, upstream.OpSearchTickets: preview})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := upstream.New(append([]upstream.Option{upstream.WithToken("t")}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[upstream.Operation]upstream.Version{}
			for _, op := range upstream.Operations() {
				got[op] = c.Version(op)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

// hostTransport records the host each request is addressed to and answers 200 itself; it stands in for
// the network so region hosts can be checked without reaching Intercom.
type hostTransport struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Scheme+"://"+r.URL.Host)
	h.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(listBody)), Request: r}, nil
}

func TestRegionsAndBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []upstream.Option
		want string
	}{
		{"default is US", nil, "https://api.intercom.io"},
		{"EU", []upstream.Option{upstream.WithRegion(upstream.RegionEU)}, "https://api.eu.intercom.io"},
		{"AU", []upstream.Option{upstream.WithRegion(upstream.RegionAU)}, "https://api.au.intercom.io"},
		{"base URL wins over a later region", []upstream.Option{upstream.WithBaseURL("http://sandbox.local:8081"), upstream.WithRegion(upstream.RegionEU)}, "http://sandbox.local:8081"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := &hostTransport{}
			c, err := upstream.New(append([]upstream.Option{upstream.WithToken("t"), upstream.WithTransport(rt)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListTags(t.Context()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tt.want}, rt.hosts); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenNeverLeaks formats the client and the errors of several failure paths and looks for the token.
func TestTokenNeverLeaks(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, fixed(http.StatusUnauthorized, `{"type":"error.list","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}`))
	c := newClient(t, rec.srv.URL)
	var texts []string
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s", c, c, c, c))
	_, err := c.GetTicket(t.Context(), "7")
	texts = append(texts, fmt.Sprintf("%v %+v", err, err))
	dead := newClient(t, "http://127.0.0.1:1")
	_, err = dead.GetTicket(t.Context(), "7")
	texts = append(texts, fmt.Sprintf("%v %+v", err, err))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.ListTags(ctx)
	texts = append(texts, fmt.Sprintf("%v", err))
	// A secret in the base URL's userinfo (a proxy's credentials, or a token pasted there by mistake)
	// is a credential too: neither the client's formatting nor New's errors print it.
	inURL := newClient(t, "http://user:"+testToken+"@127.0.0.1:1")
	texts = append(texts, fmt.Sprintf("%v %+v %#v %s", inURL, inURL, inURL, inURL))
	_, err = upstream.New(upstream.WithToken("t"), upstream.WithBaseURL("ftp://user:"+testToken+"@example.com"))
	texts = append(texts, fmt.Sprintf("%v", err))
	for _, s := range texts {
		if strings.Contains(s, testToken) {
			t.Errorf("token leaked in %q", s)
		}
	}
}

// TestMiddlewareOrder: middleware wraps the retry transport, outermost first, and sees the operation.
func TestMiddlewareOrder(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, script(step{status: 503}, step{status: 200}))
	var mu sync.Mutex
	var trace []string
	mw := func(name string) upstream.Middleware {
		return func(next http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				op, _ := upstream.OperationFromContext(r.Context())
				mu.Lock()
				trace = append(trace, name+":"+string(op))
				mu.Unlock()
				return next.RoundTrip(r)
			})
		}
	}
	c := newClient(t, rec.srv.URL, upstream.WithMiddleware(mw("outer"), mw("inner")))
	if _, err := c.GetTicket(t.Context(), "7"); err != nil {
		t.Fatal(err)
	}
	// One pass through the middleware although the retry transport below it sent two attempts.
	if diff := cmp.Diff([]string{"outer:getTicket", "inner:getTicket"}, trace); diff != "" {
		t.Errorf("middleware calls (-want +got):\n%s", diff)
	}
	if n := len(rec.requests()); n != 2 {
		t.Errorf("attempts = %d, want 2", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithHTTPClientUsesItsTransport(t *testing.T) {
	t.Parallel()
	rt := &hostTransport{}
	c, err := upstream.New(upstream.WithToken("t"), upstream.WithHTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTags(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(rt.hosts) != 1 {
		t.Errorf("the http.Client's transport saw %d requests, want 1", len(rt.hosts))
	}
}

func TestTokenSourceIsReadPerCall(t *testing.T) {
	t.Parallel()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"type":"list","data":[]}`)
	}))
	defer srv.Close()
	var tok atomic.Value
	tok.Store("first")
	c, err := upstream.New(upstream.WithBaseURL(srv.URL), upstream.WithTokenSource(func() string { return tok.Load().(string) }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListTags(ctx); err != nil {
		t.Fatal(err)
	}
	tok.Store("second")
	if _, err := c.ListTags(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bearer first", "Bearer second"}; !slices.Equal(seen, want) {
		t.Errorf("Authorization headers = %q, want %q", seen, want)
	}
	if _, err := upstream.New(upstream.WithTokenSource(func() string { return "" })); err == nil {
		t.Error("New with a token source that gives no token: no error")
	}
}
