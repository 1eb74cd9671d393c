package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

const token = "test-token"

// env is a sandbox served on loopback.
type env struct {
	t   *testing.T
	srv *sandbox.Server
	ts  *httptest.Server
}

func newEnv(t *testing.T, opts ...sandbox.Option) *env {
	t.Helper()
	s := sandbox.New(opts...)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{t: t, srv: s, ts: ts}
}

type response struct {
	status int
	header http.Header
	body   []byte
	req    *http.Request
	sent   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode: %v\n%s", err, r.body)
	}
}

// errorCode returns errors[0].code of an error.list body, checking its shape.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
		Errors    []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	r.decode(t, &e)
	if e.Type != "error.list" || e.RequestID == "" || len(e.Errors) != 1 || e.Errors[0].Code == "" {
		t.Fatalf("not an error.list with request_id: %s", r.body)
	}
	return e.Errors[0].Code
}

// do sends an API request with a bearer token and the given Intercom-Version
// ("" sends none). body may be nil, a string (sent as is) or a value to marshal.
func (e *env) do(method, path, version string, body any) response {
	e.t.Helper()
	return e.doWith(method, path, version, body, map[string]string{"Authorization": "Bearer " + token})
}

func (e *env) doWith(method, path, version string, body any, headers map[string]string) response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if version != "" {
		req.Header.Set("Intercom-Version", version)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b, req: req, sent: raw}
}

func (e *env) mustOK(method, path, version string, body any) response {
	e.t.Helper()
	r := e.do(method, path, version, body)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s %s (%s): status %d: %s", method, path, version, r.status, r.body)
	}
	return r
}
