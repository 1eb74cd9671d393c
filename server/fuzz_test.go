package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// fuzzRoutes are the REST routes that take a body: every request message
// the contract decodes from JSON (proto/intercom/gateway/v1/*.proto).
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v1/tickets"},
	{http.MethodPatch, "/v1/tickets/" + sandbox.SeedTicketLogin},
	{http.MethodPost, "/v1/tickets/" + sandbox.SeedTicketLogin + ":reply"},
	{http.MethodPost, "/v1/tickets/" + sandbox.SeedTicketLogin + "/tags"},
	{http.MethodPost, "/v1/tickets:search"},
	{http.MethodPost, "/v1/tickets:streamSearch"},
	{http.MethodPost, "/v1/tags"},
	{http.MethodPatch, "/v1/tags/1"},
	{http.MethodPost, "/v1/contacts/" + sandbox.SeedContactAlice + "/tags"},
	{http.MethodPost, "/v1/conversations/1/tags"},
	{http.MethodPost, "/v1/tags:tagCompanies"},
	{http.MethodPost, "/v1/tags:untagCompanies"},
	{http.MethodPost, "/v1/ticket-types"},
	{http.MethodPatch, "/v1/ticket-types/" + sandbox.SeedTicketTypeBug},
	{http.MethodPost, "/v1/ticket-types/" + sandbox.SeedTicketTypeBug + "/attributes"},
	{http.MethodPatch, "/v1/ticket-types/" + sandbox.SeedTicketTypeBug + "/attributes/" + sandbox.SeedAttributePriority},
}

// fuzzStack is one gateway on one sandbox for the whole fuzz run (a stack
// per input would measure stack start-up, not the decoding).
type fuzzStack struct {
	sb     *sandbox.Server
	g      *gateway
	client *http.Client
	mu     sync.Mutex
	execs  int
}

func startFuzzStack(f *testing.F) *fuzzStack {
	sb := sandbox.New()
	hs := httptest.NewServer(sb)
	f.Cleanup(hs.Close)
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL),
		upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		f.Fatal(err)
	}
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	b := service.Single("default", client)
	g := startGatewayWith(f, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(b, discard),
		TicketTypes: service.NewTicketTypeService(b, discard),
		Tags:        service.NewTagService(b, discard),
	})
	return &fuzzStack{sb: sb, g: g, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
}

// post sends body to route and returns the status; every 2,000 inputs the
// sandbox is reset so that what the fuzzer creates does not pile up.
func (s *fuzzStack) post(t *testing.T, method, path string, body []byte) (int, []byte) {
	s.mu.Lock()
	if s.execs++; s.execs%2000 == 0 {
		s.sb.Reset()
	}
	s.mu.Unlock()
	req, err := http.NewRequest(method, s.g.httpURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// FuzzRESTBodies sends arbitrary JSON bodies to every REST route that
// takes one: whatever the body, the gateway answers a 2xx or a 4xx, never
// a 5xx (a bad body is the caller's error, and the sandbox is healthy).
func FuzzRESTBodies(f *testing.F) {
	for i := range fuzzRoutes {
		for _, s := range []string{
			`{}`, `{"name":"vip"}`, `null`, `[]`, `{"ticket_type_id":"1","contacts":[{"id":"` + sandbox.SeedContactAlice + `"}]}`,
			`{"ticket_attributes":{"_default_title_":"x"}}`, `{"query":{"filter":{"field":"title","operator":"=","value":{"string_value":"x"}}}}`,
			`{"tag_id":"1","admin_id":"` + sandbox.SeedAdminAda + `"}`, `{"body":"hi","message_type":"comment","admin_id":"` + sandbox.SeedAdminAda + `"}`,
			`{"name":"Bug2","description":"d"}`, `{"data_type":"string","name":"a","description":"d"}`, `{"companies":[{"id":"x"}],"name":"t"}`,
			"{\"name\":\"\\ud800\"}", `{"page_size":-1}`, `{"request_id":"` + strings.Repeat("x", 300) + `"}`,
		} {
			f.Add(uint8(i), []byte(s))
		}
	}
	s := startFuzzStack(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		code, out := s.post(t, r.method, r.path, body)
		if code >= 500 {
			t.Fatalf("%s %s %q: HTTP %d %s", r.method, r.path, body, code, out)
		}
	})
}

// FuzzSearchQuery: whatever search the gateway's validation lets through
// to Intercom, the sandbox's implementation of Intercom's search grammar
// accepts. A query the gateway refuses itself never reaches the sandbox.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{
		`{"query":{"filter":{"field":"title","operator":"=","value":{"string_value":"login"}}}}`,
		`{"query":{"filter":{"field":"created_at","operator":">","value":{"int_value":"1700000000"}}}}`,
		`{"query":{"group":{"operator":"AND","queries":[{"filter":{"field":"state","operator":"=","value":{"string_value":"submitted"}}},{"filter":{"field":"title","operator":"~","value":{"string_value":"a"}}}]}}}`,
		`{"query":{"group":{"operator":"OR","queries":[{"group":{"operator":"AND","queries":[{"filter":{"field":"open","operator":"=","value":{"bool_value":true}}}]}}]}}}`,
		`{"query":{"filter":{"field":"id","operator":"IN","value":{"list_value":{"values":["1","2"]}}}}}`,
		`{"query":{"filter":{"field":"title","operator":"^","value":{"string_value":"x"}}},"page_size":150}`,
	} {
		f.Add([]byte(s))
	}
	s := startFuzzStack(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		s.sb.ResetRequests() // inputs run one at a time in a fuzz worker process
		code, out := s.post(t, http.MethodPost, "/v1/tickets:search", body)
		if code >= 500 {
			t.Fatalf("%q: HTTP %d %s", body, code, out)
		}
		for _, r := range s.sb.Requests() {
			if r.Route == "searchTickets" && r.Status != http.StatusOK {
				t.Fatalf("validation passed %q but Intercom (the sandbox) answered %d to %s; gateway said HTTP %d %s",
					body, r.Status, r.Body, code, out)
			}
		}
	})
}
