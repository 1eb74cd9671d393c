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

// handlerTransport serves requests with an http.Handler in process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	in := r.Clone(r.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = r.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
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

func startFuzzStack(f testing.TB) *fuzzStack {
	// No rate limit: a fuzzer sends more than Intercom's 1,000 requests in
	// 10 s, and a 429 would be reported as the grammar refusing a query.
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	// The sandbox is called in process (no loopback hop): the fuzzer's
	// time goes to the gateway and the sandbox's grammar, not to TCP.
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL("http://sandbox.invalid"),
		upstream.WithTransport(handlerTransport{sb}), upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1}))
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
func (s *fuzzStack) post(t testing.TB, method, path string, body []byte) (int, []byte) {
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
			`{"ticket_attributes":{"_default_title_":"x"}}`, validSearchSeeds[2],
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

// validSearchSeeds are queries the gateway passes and the sandbox answers:
// the fuzzer mutates from inside the grammar, not only from refusals.
// TestSearchSeedsReachIntercom keeps them valid.
var validSearchSeeds = []string{
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_DEFAULT_TITLE","operator":"FILTER_OPERATOR_EQUALS","value":{"string_value":"login"}}}}`,
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_CREATED_AT","operator":"FILTER_OPERATOR_GREATER_THAN","value":{"int_value":"1700000000"}}}}`,
	`{"query":{"group":{"operator":"LOGICAL_OPERATOR_AND","queries":[{"filter":{"field":"TICKET_SEARCH_FIELD_STATE","operator":"FILTER_OPERATOR_EQUALS","value":{"string_value":"submitted"}}},{"filter":{"field":"TICKET_SEARCH_FIELD_DEFAULT_TITLE","operator":"FILTER_OPERATOR_CONTAINS","value":{"string_value":"a"}}}]}}}`,
	`{"query":{"group":{"operator":"LOGICAL_OPERATOR_OR","queries":[{"group":{"operator":"LOGICAL_OPERATOR_AND","queries":[{"filter":{"field":"TICKET_SEARCH_FIELD_OPEN","operator":"FILTER_OPERATOR_EQUALS","value":{"bool_value":true}}}]}}]}}}`,
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_ID","operator":"FILTER_OPERATOR_IN","value":{"string_list":{"values":["1","2"]}}}}}`,
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_DEFAULT_TITLE","operator":"FILTER_OPERATOR_STARTS_WITH","value":{"string_value":"x"}}},"page_size":150}`,
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_CREATED_AT","operator":"FILTER_OPERATOR_LESS_THAN_OR_EQUAL","value":{"timestamp_value":"2026-01-02T03:04:05Z"}}}}`,
	`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_CONTACT_IDS","operator":"FILTER_OPERATOR_NOT_IN","value":{"string_list":{"values":["` + sandbox.SeedContactAlice + `"]}}}}}`,
}

// TestSearchSeedsReachIntercom: every valid seed of FuzzSearchQuery passes
// the gateway's validation and is answered 200 by the sandbox, so the
// fuzzer's property is exercised from its first input.
func TestSearchSeedsReachIntercom(t *testing.T) {
	t.Parallel()
	s := startFuzzStack(t)
	for _, q := range validSearchSeeds {
		s.sb.ResetRequests()
		code, out := s.post(t, http.MethodPost, "/v1/tickets:search", []byte(q))
		if code != http.StatusOK {
			t.Errorf("%s: HTTP %d %s", q, code, out)
			continue
		}
		reqs := s.sb.Requests()
		if len(reqs) != 1 || reqs[0].Route != "searchTickets" || reqs[0].Status != http.StatusOK {
			t.Errorf("%s: Intercom saw %+v, want one searchTickets answered 200", q, reqs)
		}
	}
}

// FuzzSearchQuery: whatever search the gateway's validation lets through
// to Intercom, the sandbox's implementation of Intercom's search grammar
// accepts. A query the gateway refuses itself never reaches the sandbox.
func FuzzSearchQuery(f *testing.F) {
	for _, q := range validSearchSeeds {
		f.Add([]byte(q))
	}
	// Refusals of every kind, to mutate from.
	for _, q := range []string{
		`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_OPEN","operator":"FILTER_OPERATOR_CONTAINS","value":{"bool_value":true}}}}`,
		`{"query":{"group":{"operator":"LOGICAL_OPERATOR_AND","queries":[]}}}`,
		`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_CREATED_AT","operator":"FILTER_OPERATOR_GREATER_THAN","value":{"string_value":"yesterday"}}}}`,
		`{"query":{"filter":{"field":"title","operator":"=","value":{"string_value":"x"}}}}`,
	} {
		f.Add([]byte(q))
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
