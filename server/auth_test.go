package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

var authSecret = []byte("server-test-secret-of-at-least-32-bytes")

// workspaceRoutes is the smallest service.Backends that routes by the
// identity the auth interceptor put in the context (the configuration's
// registry does the same with real workspaces).
type workspaceRoutes map[string]service.Client

func (w workspaceRoutes) Backend(ctx context.Context) (service.Backend, error) {
	id, ok := auth.FromContext(ctx)
	c := w[id.Workspace]
	if !ok || c == nil {
		return service.Backend{}, status.Error(codes.Internal, "test: no identity or workspace in the context")
	}
	return service.Backend{Workspace: id.Workspace, Caller: id.Caller, Tickets: c, TicketTypes: c, Tags: c}, nil
}

// swappable lets a test change the callers while the gateway runs, as a
// configuration reload would.
type swappable struct {
	p atomic.Pointer[auth.Authenticator]
}

func (s *swappable) Authenticate(r auth.Request) (auth.Identity, error) {
	return s.p.Load().Authenticate(r)
}
func (s *swappable) Identify(r auth.Request) (auth.Identity, error) { return s.p.Load().Identify(r) }

// authWorld is a gateway with caller auth in front of two workspaces, "us"
// and "eu", each on its own sandbox with its own token.
type authWorld struct {
	gw                        *gateway
	sandboxes                 map[string]*sandbox.Server
	auth                      *swappable
	oldKey, newKey, readerKey string
	unknownKey                string
	writer, reader, cert      auth.Caller
	httpClient                *http.Client
	httpBase                  string
	grpcConn                  *grpc.ClientConn
}

func newAuthWorld(t *testing.T, cfg server.Config, tlsClient func(*authWorld)) *authWorld {
	t.Helper()
	w := &authWorld{sandboxes: map[string]*sandbox.Server{}, auth: &swappable{}}
	routes := workspaceRoutes{}
	for _, name := range []string{"us", "eu"} {
		sb := sandbox.New()
		hs := httptest.NewServer(sb)
		t.Cleanup(hs.Close)
		c, err := upstream.New(upstream.WithToken(name+"-token"), upstream.WithBaseURL(hs.URL))
		if err != nil {
			t.Fatal(err)
		}
		w.sandboxes[name], routes[name] = sb, c
	}
	keys := make([]string, 4)
	for i := range keys {
		k, err := auth.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	w.oldKey, w.newKey, w.readerKey, w.unknownKey = keys[0], keys[1], keys[2], keys[3]
	w.writer = auth.Caller{
		ID:               "writer",
		KeyHashes:        []auth.KeyHash{auth.HashKey(authSecret, w.oldKey), auth.HashKey(authSecret, w.newKey)},
		Workspaces:       []string{"us", "eu"},
		DefaultWorkspace: "us",
		Permissions: auth.Permissions{
			Services: map[string]auth.Access{"*": auth.AccessWrite},
			Methods:  map[string]auth.Rule{"TicketService/DeleteTicket": auth.Deny},
		},
	}
	w.reader = auth.Caller{
		ID:         "reader",
		KeyHashes:  []auth.KeyHash{auth.HashKey(authSecret, w.readerKey)},
		Workspaces: []string{"us"},
		Permissions: auth.Permissions{
			Services: map[string]auth.Access{"*": auth.AccessRead},
			Methods:  map[string]auth.Rule{"TagService/CreateTag": auth.Allow},
		},
	}
	w.cert = auth.Caller{
		ID:             "mesh-reader",
		CertIdentities: []string{"uri:spiffe://test.example/mesh-reader"},
		Workspaces:     []string{"eu"},
		Permissions:    auth.Permissions{Services: map[string]auth.Access{"*": auth.AccessRead}},
	}
	w.setCallers(t, w.writer, w.reader, w.cert)

	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	w.gw = startGatewayWith(t, cfg, server.Services{
		Tickets:     service.NewTicketService(routes, discard),
		TicketTypes: service.NewTicketTypeService(routes, discard),
		Tags:        service.NewTagService(routes, discard),
	}, server.WithAuth(w.auth))
	w.grpcConn, w.httpClient, w.httpBase = w.gw.conn, http.DefaultClient, w.gw.httpURL
	if tlsClient != nil {
		tlsClient(w)
	}
	return w
}

func (w *authWorld) setCallers(t *testing.T, callers ...auth.Caller) {
	t.Helper()
	a, err := auth.New(auth.Config{Secret: authSecret, Callers: callers, Workspaces: []string{"us", "eu"}})
	if err != nil {
		t.Fatal(err)
	}
	w.auth.p.Store(a)
}

func (w *authWorld) resetRequests() {
	for _, sb := range w.sandboxes {
		sb.ResetRequests()
	}
}

// upstreamRequests counts what each sandbox received.
func (w *authWorld) upstreamRequests() map[string]int {
	out := map[string]int{}
	for name, sb := range w.sandboxes {
		if n := len(sb.Requests()); n > 0 {
			out[name] = n
		}
	}
	return out
}

// rpc is one gateway RPC, callable over gRPC and REST.
type rpc struct {
	name       string
	grpc       func(ctx context.Context, conn *grpc.ClientConn) error
	method     string
	path, body string
}

var (
	rpcListTicketTypes = rpc{name: "ListTicketTypes", method: http.MethodGet, path: "/v1/ticket-types",
		grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := gatewayv1.NewTicketTypeServiceClient(c).ListTicketTypes(ctx, &gatewayv1.ListTicketTypesRequest{})
			return err
		}}
	rpcCreateTicket = rpc{name: "CreateTicket", method: http.MethodPost, path: "/v1/tickets",
		body: `{"ticket_type_id":"1","contacts":[{"email":"alice@example.com"}],"ticket_attributes":{"_default_title_":"t"}}`,
		grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := gatewayv1.NewTicketServiceClient(c).CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
				TicketTypeId:     "1",
				Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "alice@example.com"}}},
				TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue("t")},
			})
			return err
		}}
	rpcDeleteTicket = rpc{name: "DeleteTicket", method: http.MethodDelete, path: "/v1/tickets/4001",
		grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := gatewayv1.NewTicketServiceClient(c).DeleteTicket(ctx, &gatewayv1.DeleteTicketRequest{TicketId: "4001"})
			return err
		}}
	rpcCreateTag = rpc{name: "CreateTag", method: http.MethodPost, path: "/v1/tags", body: `{"name":"auth-test"}`,
		grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			_, err := gatewayv1.NewTagServiceClient(c).CreateTag(ctx, &gatewayv1.CreateTagRequest{Name: "auth-test"})
			return err
		}}
	rpcStreamSearch = rpc{name: "StreamSearchTickets", method: http.MethodPost, path: "/v1/tickets:streamSearch",
		body: `{"query":{"filter":{"field":"TICKET_SEARCH_FIELD_DEFAULT_TITLE","operator":"FILTER_OPERATOR_CONTAINS","value":{"string_value":"x"}}}}`,
		grpc: func(ctx context.Context, c *grpc.ClientConn) error {
			st, err := gatewayv1.NewTicketServiceClient(c).StreamSearchTickets(ctx, &gatewayv1.StreamSearchTicketsRequest{
				Query: &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{Filter: &gatewayv1.TicketFilter{
					Field:    gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_DEFAULT_TITLE,
					Operator: gatewayv1.FilterOperator_FILTER_OPERATOR_CONTAINS,
					Value:    &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringValue{StringValue: "x"}},
				}}},
			})
			if err != nil {
				return err
			}
			for {
				if _, err := st.Recv(); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
		}}
)

// call is one way of presenting credentials.
type call struct {
	authorization []string // values of authorization / Authorization
	workspace     string
	extra         map[string]string // more gRPC metadata / HTTP headers
}

func bearer(k string) []string { return []string{"Bearer " + k} }

func (w *authWorld) viaGRPC(t *testing.T, r rpc, c call) error {
	t.Helper()
	md := metadata.MD{}
	for _, a := range c.authorization {
		md.Append("authorization", a)
	}
	if c.workspace != "" {
		md.Set("x-intercom-workspace", c.workspace)
	}
	for k, v := range c.extra {
		md.Set(k, v)
	}
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 10*time.Second)
	defer cancel()
	return r.grpc(ctx, w.grpcConn)
}

// viaREST returns the HTTP status and, for errors, the google.rpc.Status.
func (w *authWorld) viaREST(t *testing.T, r rpc, c call) (int, http.Header, *status.Status) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, w.httpBase+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, a := range c.authorization {
		req.Header.Add("Authorization", a)
	}
	if c.workspace != "" {
		req.Header.Set("X-Intercom-Workspace", c.workspace)
	}
	for k, v := range c.extra {
		req.Header.Set(k, v)
	}
	resp, err := w.httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		// The ndjson stream reports errors inside a 200 body.
		if strings.Contains(string(b), `"error"`) {
			t.Fatalf("%s %s: 200 with an error in the body: %s", r.method, r.path, b)
		}
		return resp.StatusCode, resp.Header, nil
	}
	st := &spb.Status{}
	if strings.HasPrefix(r.path, "/v1/tickets:stream") {
		// A stream refused before its first message: the runtime wraps the
		// status in {"error": ...}.
		var wrapped struct {
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(b, &wrapped) == nil && wrapped.Error != nil {
			b = wrapped.Error
		}
	}
	if err := protojson.Unmarshal(b, st); err != nil {
		t.Fatalf("%s %s: HTTP %d, body not google.rpc.Status: %s", r.method, r.path, resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, status.FromProto(st)
}

func errorReason(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

var httpStatusOf = map[codes.Code]int{
	codes.OK:               http.StatusOK,
	codes.Unauthenticated:  http.StatusUnauthorized,
	codes.PermissionDenied: http.StatusForbidden,
	codes.InvalidArgument:  http.StatusBadRequest,
}

// authCase is one authn/authz outcome, checked over gRPC and over REST.
type authCase struct {
	name   string
	rpc    rpc
	call   call
	code   codes.Code
	reason string
	// upstream is the workspace whose sandbox must see the call (OK only).
	upstream string
}

// check runs tc over both transports: the status (and REST HTTP status and
// body), the ErrorInfo reason, and which sandboxes saw requests: none at all
// for a refused call.
func (w *authWorld) check(t *testing.T, tc authCase) {
	t.Helper()
	for _, transport := range []string{"gRPC", "REST"} {
		w.resetRequests()
		var (
			code   codes.Code
			reason string
			header http.Header
		)
		if transport == "gRPC" {
			err := w.viaGRPC(t, tc.rpc, tc.call)
			code, reason = status.Code(err), errorReason(status.Convert(err))
			if code != tc.code {
				t.Errorf("%s via gRPC: %v, want %v", tc.name, err, tc.code)
			}
		} else {
			httpCode, h, st := w.viaREST(t, tc.rpc, tc.call)
			header = h
			if st != nil {
				code, reason = st.Code(), errorReason(st)
			}
			if httpCode != httpStatusOf[tc.code] || code != tc.code {
				t.Errorf("%s via REST: HTTP %d %v, want %d %v", tc.name, httpCode, st.Err(), httpStatusOf[tc.code], tc.code)
			}
		}
		if reason != tc.reason {
			t.Errorf("%s via %s: ErrorInfo reason %q, want %q", tc.name, transport, reason, tc.reason)
		}
		// (Streams answer through the runtime's stream error handler, which
		// does not add the header.)
		if transport == "REST" && tc.code == codes.Unauthenticated && tc.rpc.name != rpcStreamSearch.name && header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s via REST: 401 without WWW-Authenticate", tc.name)
		}
		got := w.upstreamRequests()
		switch {
		case tc.code != codes.OK && len(got) != 0:
			t.Errorf("%s via %s: refused, yet the sandboxes received requests %v; want none", tc.name, transport, got)
		case tc.code == codes.OK && (len(got) != 1 || got[tc.upstream] == 0):
			t.Errorf("%s via %s: sandboxes received %v, want requests on %q only", tc.name, transport, got, tc.upstream)
		}
		if tc.code == codes.OK {
			for _, r := range w.sandboxes[tc.upstream].Requests() {
				if got, want := r.Header.Get("Authorization"), "Bearer "+tc.upstream+"-token"; got != want {
					t.Errorf("%s via %s: workspace %s received token %q, want its own", tc.name, transport, tc.upstream, got)
				}
			}
		}
	}
}

func TestAuthOutcomesOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	w := newAuthWorld(t, server.Config{}, nil)
	badChecksum := w.oldKey[:len(w.oldKey)-1] + string("0Z"[map[bool]int{true: 1}[strings.HasSuffix(w.oldKey, "0")]])
	for _, tc := range []authCase{
		{name: "first active key", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.oldKey)}, upstream: "us"},
		{name: "second active key", rpc: rpcCreateTicket, call: call{authorization: bearer(w.newKey)}, upstream: "us"},
		{name: "workspace header routes", rpc: rpcCreateTicket, call: call{authorization: bearer(w.newKey), workspace: "eu"}, upstream: "eu"},
		{name: "stream with a key", rpc: rpcStreamSearch, call: call{authorization: bearer(w.oldKey), workspace: "eu"}, upstream: "eu"},
		{name: "reader reading", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.readerKey)}, upstream: "us"},
		{name: "per-method allow for a reader", rpc: rpcCreateTag, call: call{authorization: bearer(w.readerKey)}, upstream: "us"},

		{name: "missing key", rpc: rpcListTicketTypes, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
		{name: "missing key on a stream", rpc: rpcStreamSearch, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
		{name: "malformed: bad checksum", rpc: rpcListTicketTypes, call: call{authorization: bearer(badChecksum)}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "malformed: not Bearer", rpc: rpcListTicketTypes, call: call{authorization: []string{"Basic " + w.oldKey}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "malformed: an Intercom token", rpc: rpcListTicketTypes, call: call{authorization: bearer("us-token")}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "malformed: two keys", rpc: rpcListTicketTypes, call: call{authorization: []string{"Bearer " + w.oldKey, "Bearer " + w.newKey}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "unknown key", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.unknownKey)}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown},
		{name: "unknown key on a stream", rpc: rpcStreamSearch, call: call{authorization: bearer(w.unknownKey)}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown},
		{name: "wrong workspace", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.readerKey), workspace: "eu"}, code: codes.PermissionDenied, reason: auth.ReasonWorkspaceNotAllowed},
		{name: "workspace that does not exist", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.oldKey), workspace: "au"}, code: codes.PermissionDenied, reason: auth.ReasonWorkspaceNotAllowed},
		{name: "read-only caller writing", rpc: rpcCreateTicket, call: call{authorization: bearer(w.readerKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
		{name: "per-method deny for a writer", rpc: rpcDeleteTicket, call: call{authorization: bearer(w.newKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
		{name: "mTLS identity without TLS is not trusted", rpc: rpcListTicketTypes, call: call{extra: map[string]string{"x-igw-internal-rest-peer": "uri:spiffe://test.example/mesh-reader"}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
	} {
		t.Run(tc.name, func(t *testing.T) { w.check(t, tc) })
	}

	// Revocation: the writer rotates to the new key and the old hash is
	// removed from the configuration.
	writer := w.writer
	writer.KeyHashes = []auth.KeyHash{auth.HashKey(authSecret, w.newKey)}
	w.setCallers(t, writer, w.reader, w.cert)
	t.Run("revoked key", func(t *testing.T) {
		w.check(t, authCase{name: "revoked key", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.oldKey)}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown})
		w.check(t, authCase{name: "the kept key", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.newKey)}, upstream: "us"})
	})

	// The access log names the caller and workspace of every authenticated
	// call, and no key, key hash or token appears in it.
	logs := w.gw.logs.String()
	if !strings.Contains(logs, `"caller":"writer","workspace":"eu"`) || !strings.Contains(logs, `"caller":"reader","workspace":"us"`) ||
		!regexp.MustCompile(`"grpc.method":"/intercom.gateway.v1.TicketService/DeleteTicket","grpc.code":"PermissionDenied"[^\n]*"caller":"writer","workspace":"us"`).MatchString(logs) {
		t.Errorf("the access log does not name callers and workspaces:\n%s", logs)
	}
	for _, secret := range []string{w.oldKey, w.newKey, w.readerKey, w.unknownKey, w.oldKey[4:20], "us-token", "eu-token",
		strings.TrimPrefix(auth.HashKey(authSecret, w.oldKey).Reveal(), "hmac-sha256:"), string(authSecret)} {
		if strings.Contains(logs, secret) {
			t.Errorf("the gateway log contains a secret (%.8s…)", secret)
		}
	}
}

// TestRESTCannotForgeIdentity sends, over REST, every header that could
// reach the gRPC side under a name the auth interceptor reads, without a
// valid Authorization header. None may authenticate.
func TestRESTCannotForgeIdentity(t *testing.T) {
	t.Parallel()
	w := newAuthWorld(t, server.Config{}, nil)
	certID := url.QueryEscape("uri:spiffe://test.example/mesh-reader")
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"internal peer metadata", map[string]string{"X-Igw-Internal-Rest-Peer": "," + certID}},
		{"internal peer metadata via Grpc-Metadata", map[string]string{"Grpc-Metadata-X-Igw-Internal-Rest-Peer": "," + certID}},
		{"authorization via Grpc-Metadata", map[string]string{"Grpc-Metadata-Authorization": "Bearer " + w.oldKey}},
		{"authorization via a permanent-header prefix", map[string]string{"Grpcgateway-Authorization": "Bearer " + w.oldKey}},
		{"client certificate headers of proxies", map[string]string{"X-Forwarded-Client-Cert": "URI=spiffe://test.example/mesh-reader", "X-Client-Cert": "cn:mesh-reader"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.resetRequests()
			code, _, st := w.viaREST(t, rpcListTicketTypes, call{extra: tc.headers})
			if code != http.StatusUnauthorized || errorReason(st) != auth.ReasonKeyMissing {
				t.Errorf("HTTP %d %v; want 401 KEY_MISSING", code, st.Err())
			}
			if got := w.upstreamRequests(); len(got) != 0 {
				t.Errorf("upstream requests %v; want none", got)
			}
		})
	}
}

func TestHealthOpenAndReflectionModes(t *testing.T) {
	t.Parallel()
	listServices := func(conn *grpc.ClientConn, md metadata.MD) error {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 10*time.Second)
		defer cancel()
		st, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			return err
		}
		// io.EOF from Send means the server already ended the stream; its
		// status comes from Recv (grpc.ClientStream.SendMsg).
		if err := st.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err = st.Recv()
		return err
	}
	for _, tc := range []struct {
		mode      server.Reflection
		anonymous codes.Code
		withKey   codes.Code
	}{
		{server.ReflectionOn, codes.OK, codes.OK},
		{server.ReflectionOff, codes.Unimplemented, codes.Unimplemented},
		{server.ReflectionAuthenticated, codes.Unauthenticated, codes.OK},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			t.Parallel()
			w := newAuthWorld(t, server.Config{Reflection: tc.mode}, nil)
			if err := listServices(w.grpcConn, nil); status.Code(err) != tc.anonymous {
				t.Errorf("reflection without a key: %v, want %v", err, tc.anonymous)
			}
			// A reader with no reflection-specific permission: any caller
			// that authenticates may reflect.
			if err := listServices(w.grpcConn, metadata.Pairs("authorization", "Bearer "+w.readerKey)); status.Code(err) != tc.withKey {
				t.Errorf("reflection with a key: %v, want %v", err, tc.withKey)
			}
			resp, err := healthpb.NewHealthClient(w.grpcConn).Check(context.Background(), &healthpb.HealthCheckRequest{})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health without a key: %v, %v", resp, err)
			}
			hr, _ := w.gw.do(t, http.MethodGet, "/healthz", "", nil)
			if hr.StatusCode != http.StatusOK {
				t.Errorf("/healthz without a key: HTTP %d", hr.StatusCode)
			}
		})
	}
	if _, err := server.New(server.Config{Reflection: server.ReflectionAuthenticated}, server.Services{
		Tickets: gatewayv1.UnimplementedTicketServiceServer{}, TicketTypes: gatewayv1.UnimplementedTicketTypeServiceServer{}, Tags: gatewayv1.UnimplementedTagServiceServer{},
	}); err == nil {
		t.Error("authenticated reflection without an authenticator was accepted")
	}
}

// testPKI is a CA with certificates it signed, written to PEM files.
type testPKI struct {
	dir    string
	caPool *x509.CertPool
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), caPool: x509.NewCertPool(), ca: ca, caKey: key}
	p.caPool.AddCert(ca)
	p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue returns a certificate signed by the CA, for a server (IP SAN
// 127.0.0.1) or a client (the URIs and common name given).
func (p *testPKI) issue(t *testing.T, server bool, cn string, uris ...string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := p.write(t, cn+".pem", "CERTIFICATE", der)
	keyFile := p.write(t, cn+"-key.pem", "PRIVATE KEY", kder)
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c, certFile, keyFile
}

func TestTLSAndMTLSIdentity(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "test CA")
	_, certFile, keyFile := pki.issue(t, true, "gateway")
	meshCert, _, _ := pki.issue(t, false, "mesh-reader", "spiffe://test.example/mesh-reader")
	strangerCert, _, _ := pki.issue(t, false, "stranger", "spiffe://test.example/stranger")
	rogue := newTestPKI(t, "rogue CA")
	rogueCert, _, _ := rogue.issue(t, false, "mesh-reader", "spiffe://test.example/mesh-reader")

	serverTLS, err := server.LoadTLS(server.TLSFiles{CertFile: certFile, KeyFile: keyFile,
		ClientCAFile: filepath.Join(pki.dir, "ca.pem"), ClientAuth: server.ClientCertOptional})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{GRPCTLS: serverTLS, HTTPTLS: serverTLS}

	// One world per client certificate (or none): the gRPC connection and
	// the HTTP client present it.
	world := func(t *testing.T, cert *tls.Certificate) *authWorld {
		return newAuthWorld(t, cfg, func(w *authWorld) {
			tc := &tls.Config{RootCAs: pki.caPool, MinVersion: tls.VersionTLS12}
			if cert != nil {
				// Always present the certificate, even one the server's CA
				// list would make a Go client hold back, so the server is
				// the one that decides.
				tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
			}
			conn, err := grpc.NewClient("passthrough:///"+w.gw.grpcURL, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			w.grpcConn = conn
			w.httpClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
			w.httpBase = strings.Replace(w.gw.httpURL, "http://", "https://", 1)
		})
	}

	t.Run("client certificate names the caller", func(t *testing.T) {
		t.Parallel()
		w := world(t, &meshCert)
		for _, tc := range []authCase{
			{name: "mTLS identity alone", rpc: rpcListTicketTypes, upstream: "eu"},
			{name: "mTLS identity on a stream", rpc: rpcStreamSearch, upstream: "eu"},
			{name: "mTLS caller writing", rpc: rpcCreateTicket, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
			{name: "mTLS caller in a workspace not its own", rpc: rpcListTicketTypes, call: call{workspace: "us"}, code: codes.PermissionDenied, reason: auth.ReasonWorkspaceNotAllowed},
			{name: "key of another caller", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.oldKey)}, code: codes.Unauthenticated, reason: auth.ReasonCallerMismatch},
			{name: "revoked key with a good certificate", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.unknownKey)}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown},
		} {
			t.Run(tc.name, func(t *testing.T) { w.check(t, tc) })
		}
	})
	t.Run("TLS without a client certificate", func(t *testing.T) {
		t.Parallel()
		w := world(t, nil)
		for _, tc := range []authCase{
			{name: "key over TLS", rpc: rpcCreateTicket, call: call{authorization: bearer(w.newKey), workspace: "eu"}, upstream: "eu"},
			{name: "no key, no certificate", rpc: rpcListTicketTypes, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
			{name: "forged peer metadata", rpc: rpcListTicketTypes, call: call{extra: map[string]string{"x-igw-internal-rest-peer": ",uri%3Aspiffe%3A%2F%2Ftest.example%2Fmesh-reader"}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
		} {
			t.Run(tc.name, func(t *testing.T) { w.check(t, tc) })
		}
	})
	t.Run("a certificate that names no caller", func(t *testing.T) {
		t.Parallel()
		w := world(t, &strangerCert)
		w.check(t, authCase{name: "stranger", rpc: rpcListTicketTypes, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing})
		w.check(t, authCase{name: "stranger with a key", rpc: rpcListTicketTypes, call: call{authorization: bearer(w.readerKey)}, upstream: "us"})
	})
	t.Run("a certificate from another CA is refused at the handshake", func(t *testing.T) {
		t.Parallel()
		w := world(t, &rogueCert)
		if err := w.viaGRPC(t, rpcListTicketTypes, call{}); status.Code(err) != codes.Unavailable {
			t.Errorf("gRPC with a rogue certificate: %v, want UNAVAILABLE (handshake refused)", err)
		}
		req, _ := http.NewRequest(http.MethodGet, w.httpBase+"/v1/ticket-types", nil)
		if resp, err := w.httpClient.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("REST with a rogue certificate: HTTP %d, want a handshake error", resp.StatusCode)
		}
		if got := w.upstreamRequests(); len(got) != 0 {
			t.Errorf("upstream requests %v", got)
		}
	})
	t.Run("plaintext is refused on TLS listeners", func(t *testing.T) {
		t.Parallel()
		w := world(t, nil)
		conn, err := grpc.NewClient("passthrough:///"+w.gw.grpcURL, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		w.grpcConn = conn
		if err := w.viaGRPC(t, rpcListTicketTypes, call{authorization: bearer(w.newKey)}); status.Code(err) != codes.Unavailable {
			t.Errorf("plaintext gRPC to a TLS listener: %v", err)
		}
		resp, err := http.Get(w.gw.httpURL + "/v1/ticket-types")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("plaintext HTTP to a TLS listener: HTTP %d, want 400", resp.StatusCode)
			}
		}
	})
}

func TestLoadTLSErrors(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	_, cert, key := pki.issue(t, true, "gw")
	for name, f := range map[string]server.TLSFiles{
		"no key":           {CertFile: cert},
		"missing file":     {CertFile: cert, KeyFile: filepath.Join(pki.dir, "nope.pem")},
		"mTLS without CAs": {CertFile: cert, KeyFile: key, ClientAuth: server.ClientCertRequired},
		"CA file not PEM":  {CertFile: cert, KeyFile: key, ClientAuth: server.ClientCertRequired, ClientCAFile: key + ".missing"},
	} {
		if _, err := server.LoadTLS(f); err == nil {
			t.Errorf("%s: LoadTLS succeeded", name)
		}
	}
	c, err := server.LoadTLS(server.TLSFiles{CertFile: cert, KeyFile: key, ClientAuth: server.ClientCertRequired, ClientCAFile: filepath.Join(pki.dir, "ca.pem")})
	if err != nil || c.ClientAuth != tls.RequireAndVerifyClientCert || c.ClientCAs == nil {
		t.Errorf("LoadTLS with required client certs: %+v, %v", c, err)
	}
}

func TestAuthErrorDomainMatchesService(t *testing.T) {
	if auth.ErrorDomain != service.ErrorDomain {
		t.Errorf("auth.ErrorDomain %q != service.ErrorDomain %q", auth.ErrorDomain, service.ErrorDomain)
	}
}

func TestLoadTLSReloadsARenewedCertificate(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	_, certFile, keyFile := pki.issue(t, true, "gw")
	cfg, err := server.LoadTLS(server.TLSFiles{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	served := func() []byte {
		t.Helper()
		c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil || c == nil {
			t.Fatalf("GetCertificate: %v", err)
		}
		return c.Certificate[0]
	}
	first := served()
	// Renew: the same paths get a new pair (mtimes moved on explicitly, as
	// a file system with coarse timestamps might not).
	pki.issue(t, true, "gw")
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	renewed := served()
	if string(renewed) == string(first) {
		t.Fatal("the renewed certificate is not served")
	}
	// A half-written pair keeps the last good one in service.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(certFile, later.Add(time.Minute), later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := served(); string(got) != string(renewed) {
		t.Error("a broken certificate file replaced the served certificate")
	}
}
