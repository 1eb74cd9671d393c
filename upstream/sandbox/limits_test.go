package sandbox_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// endless is a request body that never ends; a server that reads it whole never answers.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestRequestBodyIsBounded: an API or admin request whose body is larger than the sandbox reads is
// answered 413 with an error.list (API) or a JSON error (admin), instead of being read into memory
// without bound.
func TestRequestBodyIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/tickets/search", "/__sandbox/faults/searchTickets"} {
		method := http.MethodPost
		if strings.HasPrefix(path, "/__sandbox/") {
			method = http.MethodPut
		}
		req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, io.MultiReader(strings.NewReader(`{"query":`), endless{}))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Intercom-Version", "2.11")
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s: status %d, want 413: %.200s", method, path, resp.StatusCode, body)
		}
		if path == "/tickets/search" {
			r := response{status: resp.StatusCode, body: body}
			if code := r.errorCode(t); code != "request_too_large" {
				t.Errorf("error code %q, want request_too_large", code)
			}
		}
	}
	reqs := e.srv.Requests()
	if len(reqs) != 1 || reqs[0].Status != http.StatusRequestEntityTooLarge || reqs[0].Route != "searchTickets" {
		t.Errorf("recorded %d requests, want the one API request with status 413: %+v", len(reqs), reqs)
	}
}

// TestRequestsReturnsCopies: what Requests returns can be changed freely without changing what the
// sandbox recorded.
func TestRequestsReturnsCopies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.mustOK("POST", "/tickets/search", "Preview", map[string]any{"query": f("open", "=", true)})
	first := e.srv.Requests()
	first[0].Header.Set("Authorization", "changed")
	first[0].Body[0] = 'X'
	again := e.srv.Requests()
	if got := again[0].Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("recorded Authorization = %q after changing a returned copy", got)
	}
	if again[0].Body[0] != '{' {
		t.Errorf("recorded body = %q after changing a returned copy", again[0].Body)
	}
}
