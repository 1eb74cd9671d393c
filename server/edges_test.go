package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"

	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// startOnSandboxWith is startOnSandbox with a server configuration.
func startOnSandboxWith(t *testing.T, cfg server.Config, sb *sandbox.Server) *gateway {
	t.Helper()
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	b := service.Single("default", client)
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	return startGatewayWith(t, cfg, server.Services{
		Tickets:     service.NewTicketService(b, discard),
		TicketTypes: service.NewTicketTypeService(b, discard),
		Tags:        service.NewTagService(b, discard),
	})
}

// edgeStatus is a REST error body with the parts these tests read.
type edgeStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		Reason          string `json:"reason"`
		FieldViolations []struct {
			Field string `json:"field"`
		} `json:"field_violations"`
	} `json:"details"`
}

func (s edgeStatus) reason() string {
	for _, d := range s.Details {
		if d.Reason != "" {
			return d.Reason
		}
	}
	return ""
}

func (s edgeStatus) fields() []string {
	var out []string
	for _, d := range s.Details {
		for _, v := range d.FieldViolations {
			out = append(out, v.Field)
		}
	}
	return out
}

// TestRESTEdges: what the REST API will not use is refused with the right
// HTTP status and a google.rpc.Status body, and never reaches Intercom.
func TestRESTEdges(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	g := startOnSandboxWith(t, server.Config{MaxRequestBytes: 1 << 20}, sb)
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	create := `{"ticket_type_id":"1","contacts":[{"email":"a@example.com"}],"ticket_attributes":{"_default_title_":"t"}}`
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	deepGroup := strings.Repeat(`{"group":{"operator":"GROUP_OPERATOR_AND","queries":[`, 2500) + strings.Repeat("]}}", 2500)
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
		wantHTTP                 int
		wantCode                 codes.Code
		wantReason, wantField    string
		wantAllow                string
	}{
		{"text/plain body", "POST", "/v1/tickets", create, http.Header{"Content-Type": {"text/plain"}}, 415, codes.InvalidArgument, server.ReasonUnsupportedMediaType, "", ""},
		{"no Content-Type", "POST", "/v1/tickets", create, nil, 415, codes.InvalidArgument, server.ReasonUnsupportedMediaType, "", ""},
		{"form body", "PATCH", "/v1/tags/9001", "name=x", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, codes.InvalidArgument, server.ReasonUnsupportedMediaType, "", ""},
		{"wrong method", "PUT", "/v1/tickets/4001", "{}", jsonCT, 405, codes.Unimplemented, server.ReasonMethodNotAllowed, "", "DELETE, GET, PATCH"},
		{"wrong method on a custom verb", "GET", "/v1/tickets:search", "", nil, 405, codes.Unimplemented, server.ReasonMethodNotAllowed, "", "POST"},
		{"wrong method on a collection", "DELETE", "/v1/tags", "", nil, 405, codes.Unimplemented, server.ReasonMethodNotAllowed, "", "GET, POST"},
		{"page_token in the query of a POST", "POST", "/v1/tickets:search?page_token=abc",
			`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_OPEN","operator":"FILTER_OPERATOR_EQUALS","value":{"bool_value":true}}}}`,
			jsonCT, 400, codes.InvalidArgument, server.ReasonUnknownParameter, "page_token", ""},
		{"unknown query parameter on a GET", "GET", "/v1/tickets/4001?expand=parts", "", nil, 400, codes.InvalidArgument, server.ReasonUnknownParameter, "expand", ""},
		{"path field repeated in the query", "DELETE", "/v1/tickets/4001/tags/9001?admin_id=991267001&tag_id=9002", "", nil, 400, codes.InvalidArgument, server.ReasonUnknownParameter, "tag_id", ""},
		{"malformed JSON", "POST", "/v1/tags", `{"name":`, jsonCT, 400, codes.InvalidArgument, server.ReasonMalformedJSON, "", ""},
		{"wrong JSON type names the field", "POST", "/v1/tags", `{"name": 5}`, jsonCT, 400, codes.InvalidArgument, server.ReasonMalformedJSON, "name", ""},
		{"unknown body field names the field", "POST", "/v1/tags", `{"name":"x","colour":"red"}`, jsonCT, 400, codes.InvalidArgument, server.ReasonMalformedJSON, "colour", ""},
		{"attributes nested 5,000 levels", "POST", "/v1/tickets",
			`{"ticket_type_id":"1","contacts":[{"email":"a@example.com"}],"ticket_attributes":{"x":` + deep + `}}`,
			jsonCT, 400, codes.InvalidArgument, server.ReasonMalformedJSON, "", ""},
		{"search groups nested 2,500 levels", "POST", "/v1/tickets:search", `{"query":` + deepGroup + `}`, jsonCT, 400, codes.InvalidArgument, server.ReasonMalformedJSON, "", ""},
		{"body over the limit by Content-Length", "POST", "/v1/tags", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, jsonCT, 413, codes.InvalidArgument, server.ReasonRequestTooLarge, "", ""},
		{"dot segment", "DELETE", "/v1/tickets/4002/tags/..?admin_id=991267001", "", nil, 400, codes.InvalidArgument, server.ReasonNonPlainPath, "", ""},
		{"escaped dot segment", "DELETE", "/v1/tickets/4002/tags/%2E%2E?admin_id=991267001", "", nil, 400, codes.InvalidArgument, server.ReasonNonPlainPath, "", ""},
		{"climbing out of a ticket", "DELETE", "/v1/tickets/4002/tags/../../4003", "", nil, 400, codes.InvalidArgument, server.ReasonNonPlainPath, "", ""},
		{"empty segment", "GET", "/v1//tags", "", nil, 400, codes.InvalidArgument, server.ReasonNonPlainPath, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sb.Requests())
			resp, body := g.do(t, tc.method, tc.path, tc.body, tc.header)
			if resp.StatusCode != tc.wantHTTP {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tc.wantHTTP, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var st edgeStatus
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("body is not google.rpc.Status JSON: %v: %s", err, body)
			}
			if st.Code != int(tc.wantCode) || st.reason() != tc.wantReason || st.Message == "" {
				t.Errorf("code %d reason %q message %q, want code %d reason %q", st.Code, st.reason(), st.Message, tc.wantCode, tc.wantReason)
			}
			if tc.wantField != "" && !strings.Contains(strings.Join(st.fields(), ","), tc.wantField) {
				t.Errorf("field violations %v, want %q", st.fields(), tc.wantField)
			}
			if strings.Contains(st.Message, "proto:") || strings.Contains(st.Message, "grpc:") {
				t.Errorf("message shows internal text: %q", st.Message)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow %q, want %q", got, tc.wantAllow)
			}
			if n := len(sb.Requests()) - before; n != 0 {
				t.Errorf("Intercom received %d requests", n)
			}
		})
	}
}

// TestRESTAnswersCarryNoGRPCMetadata: a successful answer has no
// Grpc-Metadata-* header, JSON with a charset is accepted, the query
// parameters an operation reads (proto or JSON name) work, and a stream is
// application/x-ndjson.
func TestRESTAnswersCarryNoGRPCMetadata(t *testing.T) {
	t.Parallel()
	g := startOnSandboxWith(t, server.Config{}, sandbox.New())
	check := func(resp *http.Response, body []byte, wantCT string) {
		t.Helper()
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
		}
		for k := range resp.Header {
			if strings.HasPrefix(strings.ToLower(k), "grpc-") {
				t.Errorf("answer carries %s: %v", k, resp.Header[k])
			}
		}
		if ct := resp.Header.Get("Content-Type"); ct != wantCT {
			t.Errorf("Content-Type %q, want %q", ct, wantCT)
		}
	}
	resp, body := g.do(t, "POST", "/v1/tickets", `{"ticket_type_id":"1","contacts":[{"email":"a@example.com"}],"ticket_attributes":{"_default_title_":"t"}}`,
		http.Header{"Content-Type": {"application/json; charset=utf-8"}})
	check(resp, body, "application/json")
	resp, body = g.do(t, "DELETE", "/v1/tickets/4002/tags/9002?adminId="+sandbox.SeedAdminAda, "", nil)
	check(resp, body, "application/json")

	resp, body = g.do(t, "POST", "/v1/tickets:streamSearch",
		`{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_OPEN","operator":"FILTER_OPERATOR_EQUALS","value":{"bool_value":true}}}}`,
		http.Header{"Content-Type": {"application/json"}})
	check(resp, body, "application/x-ndjson")
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	lines := 0
	for sc.Scan() {
		var line map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line["result"] == nil {
			t.Errorf("line %d is not {\"result\": …}: %s", lines, sc.Text())
		}
		lines++
	}
	if lines == 0 {
		t.Error("the stream sent no lines")
	}
}

// endlessBody is an io.Reader of n bytes of a JSON string, made on the fly.
type endlessBody struct{ n int64 }

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	b.n -= int64(len(p))
	return len(p), nil
}

// TestRESTBodyLimitWhileReading: a chunked body (no Content-Length) over the
// limit is refused with 413 once the limit is read, not after the whole
// 100 MB arrived, and never as 429.
func TestRESTBodyLimitWhileReading(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	g := startOnSandboxWith(t, server.Config{MaxRequestBytes: 64 << 10}, sb)
	body := &countingReader{r: io.MultiReader(strings.NewReader(`{"name":"`), &endlessBody{n: 100 << 20})}
	req, err := http.NewRequest("POST", g.httpURL+"/v1/tags", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %d, want 413: %s", resp.StatusCode, b)
	}
	var st edgeStatus
	if err := json.Unmarshal(b, &st); err != nil || st.reason() != server.ReasonRequestTooLarge || st.Code != int(codes.InvalidArgument) {
		t.Errorf("body %s (%v)", b, err)
	}
	if sent := body.n.Load(); sent > 32<<20 {
		t.Errorf("the client could send %d MB before the refusal", sent>>20)
	}
	if n := len(sb.Requests()); n != 0 {
		t.Errorf("Intercom received %d requests", n)
	}
}

// TestSlowClientsAreCut: a REST request that trickles in, and a gRPC
// connection that never sends the HTTP/2 preface, are closed by the
// server's read and handshake timeouts.
func TestSlowClientsAreCut(t *testing.T) {
	t.Parallel()
	g := startOnSandboxWith(t, server.Config{ReadTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 300 * time.Millisecond,
		HandshakeTimeout: 300 * time.Millisecond}, sandbox.New())
	closedWithin := func(addr string, send func(net.Conn)) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		send(c)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.Copy(io.Discard, c) // returns when the server closes
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errors.New("still open after 10 s")
		}
		return nil
	}
	rest := strings.TrimPrefix(g.httpURL, "http://")
	if err := closedWithin(rest, func(c net.Conn) {
		_, _ = io.WriteString(c, "POST /v1/tags HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	}); err != nil {
		t.Errorf("REST request sending its body slowly: %v", err)
	}
	if err := closedWithin(g.grpcURL, func(net.Conn) {}); err != nil {
		t.Errorf("gRPC connection without a preface: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestIntercomRefusingTheGatewaysToken: Intercom's 401 to the gateway's own
// token reaches callers as UNAVAILABLE / 503 with reason
// INTERCOM_CREDENTIALS_REJECTED, never UNAUTHENTICATED / 401 (a client that
// re-authenticates on that would loop), and the operator gets a log line.
func TestIntercomRefusingTheGatewaysToken(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(sandbox.WithTokens("the-right-token"))
	g := startOnSandboxWith(t, server.Config{}, sb) // sends "test-token"
	_, err := gatewayv1.NewTagServiceClient(g.conn).ListTags(context.Background(), &gatewayv1.ListTagsRequest{})
	st := status.Convert(err)
	var reason string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if st.Code() != codes.Unavailable || reason != service.ReasonUpstreamCredentials {
		t.Errorf("gRPC: %v (reason %q), want UNAVAILABLE %s", err, reason, service.ReasonUpstreamCredentials)
	}
	resp, body := g.do(t, "GET", "/v1/tags", "", nil)
	var es edgeStatus
	_ = json.Unmarshal(body, &es)
	if resp.StatusCode != http.StatusServiceUnavailable || es.reason() != service.ReasonUpstreamCredentials {
		t.Errorf("REST: HTTP %d %s, want 503 %s", resp.StatusCode, body, service.ReasonUpstreamCredentials)
	}
	if resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("REST answer asks the caller to authenticate: %q", resp.Header.Get("WWW-Authenticate"))
	}
	if n := len(g.logs.records(t, "Intercom refused the gateway's access token; check the workspace's token")); n != 2 {
		t.Errorf("%d operator log lines, want 2:\n%s", n, g.logs)
	}
	if strings.Contains(g.logs.String(), "test-token") {
		t.Error("the token appears in the log")
	}
}
