package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// startCachedOnSandbox is startOnSandbox with the workspace's schema cache.
func startCachedOnSandbox(t *testing.T, sb *sandbox.Server, opts ...schemacache.Option) *gateway {
	g, _ := startCachedOnSandboxURL(t, sb, opts...)
	return g
}

// startCachedOnSandboxURL also returns the sandbox's URL.
func startCachedOnSandboxURL(t *testing.T, sb *sandbox.Server, opts ...schemacache.Option) (*gateway, string) {
	t.Helper()
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := schemacache.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	backends := service.Single("default", cache)
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	return startGatewayWith(t, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(backends, discard),
		TicketTypes: service.NewTicketTypeService(backends, discard),
		Tags:        service.NewTagService(backends, discard),
	}), hs.URL
}

func TestCacheStatusHeaderAndNoCache(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	// MinReload 0: every no-cache read goes to Intercom, so each is a miss.
	g := startCachedOnSandbox(t, sb, schemacache.WithMinReload(0))
	types := gatewayv1.NewTicketTypeServiceClient(g.conn)
	gets := func() int {
		n := 0
		for _, r := range sb.Requests() {
			if r.Route == "getTicketType" {
				n++
			}
		}
		return n
	}

	steps := []struct {
		name     string
		noCache  bool
		rest     bool
		want     string
		wantGets int
	}{
		{"gRPC cold", false, false, "miss", 1},
		{"gRPC warm", false, false, "hit", 1},
		{"REST warm", false, true, "hit", 1},
		{"gRPC no-cache", true, false, "miss", 2},
		{"REST no-cache", true, true, "miss", 3},
		{"REST warm again", false, true, "hit", 3},
	}
	for _, s := range steps {
		var got string
		if s.rest {
			h := http.Header{}
			if s.noCache {
				h.Set("Cache-Control", "no-cache")
			}
			resp, body := g.do(t, http.MethodGet, "/v1/ticket-types/"+sandbox.SeedTicketTypeBug, "", h)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: HTTP %d %s", s.name, resp.StatusCode, body)
			}
			got = resp.Header.Get("X-Gateway-Cache")
			for k := range resp.Header {
				if strings.HasPrefix(k, "Grpc-Metadata-") {
					t.Errorf("%s: REST answer carries internal header %s", s.name, k)
				}
			}
		} else {
			ctx := t.Context()
			if s.noCache {
				ctx = metadata.AppendToOutgoingContext(ctx, "cache-control", "no-cache")
			}
			var header metadata.MD
			if _, err := types.GetTicketType(ctx, &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}, grpc.Header(&header)); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if v := header.Get(service.CacheHeader); len(v) == 1 {
				got = v[0]
			}
		}
		if got != s.want {
			t.Errorf("%s: cache header %q, want %q", s.name, got, s.want)
		}
		if n := gets(); n != s.wantGets {
			t.Errorf("%s: Intercom served %d GET /ticket_types/{id}, want %d", s.name, n, s.wantGets)
		}
	}

	// A call that reads no schema says nothing about the cache.
	resp, _ := g.do(t, http.MethodGet, "/v1/tags", "", nil)
	if v, ok := resp.Header["X-Gateway-Cache"]; ok {
		t.Errorf("GET /v1/tags carries X-Gateway-Cache %v", v)
	}
}

func TestTicketAttributesCheckedBeforeIntercom(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	g, url := startCachedOnSandboxURL(t, sb, schemacache.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	tickets := gatewayv1.NewTicketServiceClient(g.conn)
	ctx := t.Context()
	if _, err := gatewayv1.NewTicketTypeServiceClient(g.conn).GetTicketType(ctx, &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}); err != nil {
		t.Fatal(err)
	}
	create := func(attrs map[string]any) (*gatewayv1.CreateTicketResponse, metadata.MD, error) {
		s, err := structpb.NewStruct(attrs)
		if err != nil {
			t.Fatal(err)
		}
		var header metadata.MD
		resp, err := tickets.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{TicketTypeId: sandbox.SeedTicketTypeBug,
			Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: sandbox.SeedContactAlice}}},
			TicketAttributes: s.GetFields()}, grpc.Header(&header))
		return resp, header, err
	}
	routes := func() []string {
		var out []string
		for _, r := range sb.Requests() {
			out = append(out, r.Route)
		}
		return out
	}

	// A label is sent as the list item's id; the answer shows what Intercom
	// answers (the id).
	sb.ResetRequests()
	resp, header, err := create(map[string]any{"_default_title_": "Export fails", "Priority": "High", "Affected users": 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := routes(); !slices.Equal(got, []string{"createTicket"}) {
		t.Fatalf("Intercom saw %v, want only createTicket (the schema came from the cache)", got)
	}
	var body struct {
		Attributes map[string]any `json:"ticket_attributes"`
	}
	if err := json.Unmarshal(sb.Requests()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Attributes["Priority"] != sandbox.SeedPriorityHigh || body.Attributes["Affected users"] != float64(3) {
		t.Errorf("Intercom received ticket_attributes %v, want Priority %s (the id of High) and Affected users 3", body.Attributes, sandbox.SeedPriorityHigh)
	}
	other, err := upstream.New(upstream.WithToken("ui"), upstream.WithBaseURL(url))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := other.GetTicket(ctx, resp.GetTicket().GetId())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetTicket().GetTicketAttributes()["Priority"].GetStringValue(), direct.Attributes["Priority"]; got != want {
		t.Errorf("answer's Priority = %q, want it as Intercom gives it: %q", got, want)
	}
	if got := header.Get(service.CacheHeader); !slices.Equal(got, []string{"hit"}) {
		t.Errorf("x-gateway-cache %v on a create checked against the cached schema, want hit", got)
	}

	// Refused input reaches Intercom not at all: the schema was loaded
	// under a second ago (WithMinReload), so even the re-read is skipped.
	sb.ResetRequests()
	_, _, err = create(map[string]any{"_default_title_": "x", "Priority": "Urgent", "Affected users": 2.5, "Colour": "red"})
	want := []string{`ticket_attributes["Affected users"]`, `ticket_attributes["Colour"]`, `ticket_attributes["Priority"]`}
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if status.Code(err) != codes.InvalidArgument || !slices.Equal(fields, want) {
		t.Errorf("bad attributes: %v with violations %v; want INVALID_ARGUMENT on %v", err, fields, want)
	}
	if got := routes(); len(got) != 0 {
		t.Errorf("refused input reached Intercom: %v", got)
	}

	// An attribute added in Intercom (not through this gateway) after the
	// schema was cached: the refusal re-reads the schema, and the ticket
	// is created.
	if _, err := other.CreateTicketTypeAttribute(ctx, sandbox.SeedTicketTypeBug, upstream.CreateAttributeParams{
		Name: "Browser", Description: "Which browser", DataType: "string"}); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(2 * time.Second))
	sb.ResetRequests()
	if _, header, err = create(map[string]any{"_default_title_": "Layout broken", "Browser": "Firefox"}); err != nil {
		t.Fatalf("an attribute added in Intercom since the schema was cached was refused: %v", err)
	}
	if got := routes(); !slices.Equal(got, []string{"getTicketType", "createTicket"}) {
		t.Errorf("Intercom saw %v, want one schema re-read and the create", got)
	}
	if got := header.Get(service.CacheHeader); !slices.Equal(got, []string{"miss"}) {
		t.Errorf("x-gateway-cache %v after a re-read, want miss", got)
	}
}

// Ticket-type writes through the gateway show in its next reads at once,
// over gRPC and REST, answered from the cache: the answers the cache keeps
// ready-made (service.CachedAnswers) are rebuilt with each write, not left
// as they were when the type was first read.
func TestTicketTypeWritesShowAtOnceThroughTheGateway(t *testing.T) {
	t.Parallel()
	sb := sandbox.New()
	g := startCachedOnSandbox(t, sb)
	types := gatewayv1.NewTicketTypeServiceClient(g.conn)
	ctx := t.Context()
	bug := &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}
	if _, err := types.GetTicketType(ctx, bug); err != nil {
		t.Fatal(err)
	}
	if _, err := types.ListTicketTypes(ctx, &gatewayv1.ListTicketTypesRequest{}); err != nil {
		t.Fatal(err)
	}

	name, desc := "Defect", "Which browser and version"
	if _, err := types.UpdateTicketType(ctx, &gatewayv1.UpdateTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug, Name: &name}); err != nil {
		t.Fatal(err)
	}
	created, err := types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: sandbox.SeedTicketTypeBug,
		Name: "Browser", Description: "Which browser", DataType: gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_STRING})
	if err != nil {
		t.Fatal(err)
	}
	attrID := created.GetAttribute().GetId()
	if _, err := types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: sandbox.SeedTicketTypeBug,
		AttributeId: attrID, Description: &desc}); err != nil {
		t.Fatal(err)
	}
	sb.ResetRequests()

	hasBrowser := func(tt *gatewayv1.TicketType) bool {
		return slices.ContainsFunc(tt.GetAttributes(), func(a *gatewayv1.TicketTypeAttribute) bool {
			return a.GetId() == attrID && a.GetDescription() == desc
		})
	}
	var header metadata.MD
	got, err := types.GetTicketType(ctx, bug, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if tt := got.GetTicketType(); tt.GetName() != name || !hasBrowser(tt) {
		t.Errorf("GetTicketType after the writes: name %q, attributes %v; want %s with the updated Browser attribute", tt.GetName(), tt.GetAttributes(), name)
	}
	if v := header.Get(service.CacheHeader); !slices.Equal(v, []string{"hit"}) {
		t.Errorf("GetTicketType after the writes: x-gateway-cache %v, want hit", v)
	}
	list, err := types.ListTicketTypes(ctx, &gatewayv1.ListTicketTypesRequest{}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list.GetTicketTypes(), func(tt *gatewayv1.TicketType) bool { return tt.GetId() == sandbox.SeedTicketTypeBug })
	if i < 0 || list.GetTicketTypes()[i].GetName() != name || !hasBrowser(list.GetTicketTypes()[i]) {
		t.Errorf("ListTicketTypes after the writes does not show the updated type")
	}
	if v := header.Get(service.CacheHeader); !slices.Equal(v, []string{"hit"}) {
		t.Errorf("ListTicketTypes after the writes: x-gateway-cache %v, want hit", v)
	}
	resp, body := g.do(t, http.MethodGet, "/v1/ticket-types/"+sandbox.SeedTicketTypeBug, "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"Defect"`) || !strings.Contains(string(body), desc) {
		t.Errorf("REST GET after the writes: HTTP %d %s; want the updated type", resp.StatusCode, body)
	}
	if v := resp.Header.Get("X-Gateway-Cache"); v != "hit" {
		t.Errorf("REST GET after the writes: X-Gateway-Cache %q, want hit", v)
	}
	if r := sb.Requests(); len(r) != 0 {
		t.Errorf("reads after the writes reached Intercom %d times (first: %s %s), want 0", len(r), r[0].Method, r[0].Path)
	}
}

// Past the TTL with Intercom failing, callers get the stale schema and are
// told so (x-gateway-cache: stale over gRPC, X-Gateway-Cache over REST) for
// at most the stale bound; past it they get Intercom's failure.
func TestStaleSchemaIsSaidAndBounded(t *testing.T) {
	t.Parallel()
	const ttl, maxStale = time.Minute, 5 * time.Minute
	sb := sandbox.New()
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	// One attempt per read, so that the failure shows without backoff.
	client, err := upstream.New(upstream.WithToken("test-token"), upstream.WithBaseURL(hs.URL),
		upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1, MaxRateLimitWait: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	cache, err := schemacache.New(client, schemacache.WithTTL(ttl), schemacache.WithRefresh(ttl), schemacache.WithMaxStale(maxStale),
		schemacache.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
	if err != nil {
		t.Fatal(err)
	}
	g := startOnCache(t, cache)
	types := gatewayv1.NewTicketTypeServiceClient(g.conn)
	read := func() (string, string, error) {
		var header metadata.MD
		_, err := types.GetTicketType(t.Context(), &gatewayv1.GetTicketTypeRequest{TicketTypeId: sandbox.SeedTicketTypeBug}, grpc.Header(&header))
		resp, _ := g.do(t, http.MethodGet, "/v1/ticket-types/"+sandbox.SeedTicketTypeBug, "", nil)
		return strings.Join(header.Get(service.CacheHeader), ","), resp.Header.Get("X-Gateway-Cache"), err
	}
	if _, _, err := read(); err != nil {
		t.Fatal(err)
	}
	sb.SetFault("getTicketType", sandbox.Fault{ErrorRate: 1, ErrorStatus: http.StatusServiceUnavailable})
	now.Add(int64(ttl + time.Minute)) // past the TTL, within the stale bound
	if grpcGot, restGot, err := read(); err != nil || grpcGot != "stale" || restGot != "stale" {
		t.Errorf("past the TTL, Intercom failing: %v, gRPC x-gateway-cache %q, REST %q; want the stale answer said as stale", err, grpcGot, restGot)
	}
	now.Add(int64(maxStale)) // past TTL + stale bound
	if _, _, err := read(); status.Code(err) != codes.Unavailable {
		t.Errorf("past the stale bound, Intercom failing: %v; want UNAVAILABLE", err)
	}
	sb.ClearFaults()
	if grpcGot, _, err := read(); err != nil || grpcGot != "miss" {
		t.Errorf("Intercom back: %v, x-gateway-cache %q; want a fresh load (miss)", err, grpcGot)
	}
}
