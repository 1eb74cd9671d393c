package upstream_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// TestConnectionsAreReused: every response body, success or error, decoded or ignored, and every
// attempt the retry policy discards, is read to the end and closed, so that one keep-alive connection
// serves a whole sequence of calls.
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	// Each answer is served once, in order; the client makes its calls one after another.
	answers := []struct {
		status int
		body   string
	}{
		{http.StatusOK, ticketBody}, // GetTicket, decoded
		{http.StatusNotFound, `{"type":"error.list","errors":[{"code":"ticket_not_found","message":"Ticket not found"}]}`},
		{http.StatusOK, `{"ignored":true}`}, // DeleteTag, body not decoded
		{http.StatusServiceUnavailable, `{"type":"error.list","errors":[{"code":"service_unavailable"}]}`}, // retried
		{http.StatusOK, tagBody},
		{http.StatusTooManyRequests, `{"type":"error.list","errors":[{"code":"rate_limit_exceeded"}]}`}, // retried
		{http.StatusOK, listBody},
	}
	var (
		mu    sync.Mutex
		next  int
		conns atomic.Int32
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		a := answers[next%len(answers)]
		next++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if a.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	// A transport of its own, so that no other test's connections are counted or borrowed.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := newClient(t, srv.URL, upstream.WithTransport(tr))
	ctx := t.Context()

	if _, err := c.GetTicket(ctx, "7"); err != nil {
		t.Fatalf("GetTicket: %v", err)
	}
	var ue *upstream.Error
	if _, err := c.GetTicket(ctx, "8"); !errors.As(err, &ue) || ue.StatusCode != http.StatusNotFound {
		t.Fatalf("GetTicket of a missing ticket: %v, want a 404 *upstream.Error", err)
	}
	if err := c.DeleteTag(ctx, "t1"); err != nil {
		t.Fatalf("DeleteTag: %v", err)
	}
	if _, err := c.GetTag(ctx, "t1"); err != nil {
		t.Fatalf("GetTag after a 503: %v", err)
	}
	if _, err := c.ListTags(ctx); err != nil {
		t.Fatalf("ListTags after a 429: %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the calls opened %d connections, want 1 (a response body was not drained or not closed)", n)
	}
}

// TestHugeBodyIsRefused: a success body beyond the client's cap, here one that never ends, fails the
// call with a *DecodeError that says so, instead of being read into memory without bound or reported
// as mangled JSON.
func TestHugeBodyIsRefused(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"type":"ticket","id":"7","ticket_attributes":{"_default_title_":"`)
		chunk := []byte(strings.Repeat("a", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c := newClient(t, rec.srv.URL)
	_, err := c.GetTicket(t.Context(), "7")
	var de *upstream.DecodeError
	if !errors.As(err, &de) || de.StatusCode != http.StatusOK {
		t.Fatalf("err = %v (%T), want a *upstream.DecodeError for HTTP 200", err, err)
	}
	if !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want it to say the body is larger than the limit", err)
	}
}
