package intercomspec_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/internal/intercomspec"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

func TestLoadVersions(t *testing.T) {
	t.Parallel()
	// 2.12 to 2.16 are loaded (with their patches) by the per-version tests in upstream and
	// upstream/sandbox; loading all eight here too would cost each of them again under -race.
	for _, version := range []string{"2.9", "2.11", "unstable"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			doc := intercomspec.Load(t, version)
			// Ticket search arrived in 2.10 (INTERCOM-API.md §1).
			if got, want := doc.Paths.Find("/tickets/search") != nil, version != "2.9"; got != want {
				t.Fatalf("%s: /tickets/search present = %v, want %v", version, got, want)
			}
			// The dangling ref must have been patched in and resolved.
			if doc.Components.Schemas["custom_attributes"] == nil {
				t.Fatalf("%s: custom_attributes schema missing", version)
			}
			// Caching: a second Load returns the same document.
			if again := intercomspec.Load(t, version); again != doc {
				t.Fatalf("%s: Load did not cache", version)
			}
		})
	}
}

func newReq(method, path, body string) *http.Request {
	req := httptest.NewRequest(method, "http://127.0.0.1:8081"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer test")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Intercom-Version", "2.11")
	return req
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version string
		method  string
		path    string
		body    string
		wantErr bool
	}{
		{"create ticket ok", "2.11", http.MethodPost, "/tickets", `{"ticket_type_id":"1","contacts":[{"id":"abc"}]}`, false},
		{"create ticket missing contacts", "2.11", http.MethodPost, "/tickets", `{"ticket_type_id":"1"}`, true},
		{"update state enum ok", "2.11", http.MethodPut, "/tickets/12", `{"state":"resolved"}`, false},
		{"update state submitted rejected", "2.11", http.MethodPut, "/tickets/12", `{"state":"submitted"}`, true},
		{"unstable ticket_state_id ok", "unstable", http.MethodPut, "/tickets/12", `{"ticket_state_id":"7"}`, false},
		{"unknown path", "2.11", http.MethodGet, "/nope", ``, true},
		{"delete ticket not in 2.11", "2.11", http.MethodDelete, "/tickets/12", ``, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := newReq(tt.method, tt.path, tt.body)
			err := intercomspec.ValidateRequest(t, tt.version, req, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateRequest error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr bool
	}{
		// GET /tags items omit applied_at/applied_by: allowed through KnownSpecErrors.
		{"real list shape", 200, `{"type":"list","data":[{"type":"tag","id":"1","name":"vip"}]}`, false},
		{"id must be a string", 200, `{"type":"list","data":[{"type":"tag","id":1,"name":"vip"}]}`, true},
		{"401 error list", 401, `{"type":"error.list","request_id":"3d8a1b2e-9f4b-4c1d-8a6e-2b7c9d0e1f2a","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}`, false},
		{"undocumented status", 418, `{}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := newReq(http.MethodGet, "/tags", "")
			h := http.Header{"Content-Type": {"application/json"}}
			err := intercomspec.ValidateResponse(t, "2.11", req, nil, tt.status, h, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateResponse error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestTicketTypeListKnownError(t *testing.T) {
	t.Parallel()
	req := newReq(http.MethodGet, "/ticket_types", "")
	h := http.Header{"Content-Type": {"application/json"}}
	real := `{"type":"list","data":[]}`
	if err := intercomspec.ValidateResponse(t, "2.11", req, nil, 200, h, []byte(real)); err != nil {
		t.Fatalf("real list shape rejected: %v", err)
	}
	if len(intercomspec.KnownSpecErrors) == 0 {
		t.Fatal("KnownSpecErrors is empty")
	}
	for _, e := range intercomspec.KnownSpecErrors {
		if e.Why == "" || e.Where == "" || len(e.Versions) == 0 {
			t.Errorf("incomplete entry %+v", e)
		}
	}
}

func TestSkipWhenAbsent(t *testing.T) {
	// Not parallel: it changes the environment. Dir must report the missing dir.
	t.Setenv(intercomspec.EnvSharedDir, t.TempDir())
	if _, err := intercomspec.Dir(); err == nil {
		t.Fatal("Dir succeeded for an empty shared dir")
	}
}

// TestOwnExamplesValidate: the 200 examples of the ticket and ticket type operations, which show what
// the API really answers, pass validation once KnownSpecErrors is applied (input_options: null; 2.11
// ticket parts without body).
func TestOwnExamplesValidate(t *testing.T) {
	t.Parallel()
	ops := []struct{ method, path string }{
		{http.MethodGet, "/ticket_types"},
		{http.MethodGet, "/ticket_types/1"},
		{http.MethodGet, "/tickets/1"},
		{http.MethodPost, "/tickets"},
	}
	for _, version := range []string{"2.11", "unstable"} {
		for _, op := range ops {
			route, _, err := intercomspec.FindRoute(t, version, newReq(op.method, op.path, ""))
			if err != nil {
				t.Fatalf("%s: %s %s: %v", version, op.method, op.path, err)
			}
			resp := route.Operation.Responses.Status(http.StatusOK)
			if resp == nil || resp.Value.Content.Get("application/json") == nil {
				t.Fatalf("%s: %s %s has no JSON 200 response", version, op.method, op.path)
			}
			examples := resp.Value.Content.Get("application/json").Examples
			if len(examples) == 0 {
				t.Fatalf("%s: %s %s has no 200 examples", version, op.method, op.path)
			}
			for name, ex := range examples {
				t.Run(version+" "+route.Operation.OperationID+" "+name, func(t *testing.T) {
					t.Parallel()
					body, err := json.Marshal(ex.Value.Value)
					if err != nil {
						t.Fatal(err)
					}
					h := http.Header{"Content-Type": {"application/json"}}
					if err := intercomspec.ValidateResponse(t, version, newReq(op.method, op.path, ""), nil, http.StatusOK, h, body); err != nil {
						t.Errorf("example %q does not validate: %v", name, err)
					}
				})
			}
		}
	}
}

// TestTrimKeepsTheGatewaysOperations: the loaded description keeps every operation the gateway's
// client calls (with everything they reference) and drops the rest of Intercom's API.
func TestTrimKeepsTheGatewaysOperations(t *testing.T) {
	t.Parallel()
	doc := intercomspec.Load(t, "unstable")
	have := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		if strings.HasPrefix(path, "/admins") || strings.HasPrefix(path, "/articles/{id}") {
			t.Errorf("%s was not trimmed", path)
		}
		for _, op := range item.Operations() {
			have[op.OperationID] = true
		}
	}
	for _, op := range upstream.Operations() {
		if !have[string(op)] {
			t.Errorf("operation %s missing after trimming", op)
		}
	}
}
