package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// TestTwoWorkspacesRouteByCallerAndHeader runs the gateway with two
// workspaces in different regions, each on its own sandbox instance (one
// with its token in the environment, one in a file), and two callers.
func TestTwoWorkspacesRouteByCallerAndHeader(t *testing.T) {
	t.Parallel()
	const usToken, euToken = "us-token-7f3a", "eu-token-91c2"
	us := sandbox.New(sandbox.WithTokens(usToken), sandbox.WithRateLimit(0, 0))
	eu := sandbox.New(sandbox.WithTokens(euToken), sandbox.WithRateLimit(0, 0))
	usSrv, euSrv := httptest.NewServer(us), httptest.NewServer(eu)
	t.Cleanup(usSrv.Close)
	t.Cleanup(euSrv.Close)

	supportKey, _ := auth.NewKey()
	billingKey, _ := auth.NewKey()
	hash := func(k string) string { return auth.HashKey([]byte(secretHMAC), k).Reveal() }
	dir := t.TempDir()
	euTokenFile := filepath.Join(dir, "eu-token")
	file := filepath.Join(dir, "gateway.yaml")
	for p, content := range map[string]string{
		euTokenFile: euToken + "\n",
		file: fmt.Sprintf(`workspaces:
  - name: us-main
    region: us
    base_url: %s
    token_env: US_TOKEN
  - name: eu-main
    region: eu
    base_url: %s
    token_file: %s
auth:
  hmac_secret_env: KEY_SECRET
callers:
  - id: support
    key_hashes: [%s]
    workspaces: [us-main, eu-main]
    default_workspace: eu-main
    permissions: {services: {"*": write}}
  - id: billing
    key_hashes: [%s]
    workspaces: [us-main]
    permissions: {services: {"*": read, TicketService: write}, methods: {TicketService/DeleteTicket: deny}}
`, usSrv.URL, euSrv.URL, euTokenFile, hash(supportKey), hash(billingKey)),
	} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	grpcAddr, httpAddr, logs := startGateway(t, map[string]string{"GATEWAY_CONFIG": file, "US_TOKEN": usToken, "KEY_SECRET": secretHMAC})
	conn, err := grpc.NewClient("passthrough:///"+grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	tickets := gatewayv1.NewTicketServiceClient(conn)
	as := func(key, workspace string) context.Context {
		md := metadata.Pairs("authorization", "Bearer "+key)
		if workspace != "" {
			md.Set("x-intercom-workspace", workspace)
		}
		return metadata.NewOutgoingContext(context.Background(), md)
	}
	count := func(sb *sandbox.Server, route string) int {
		n := 0
		for _, r := range sb.Requests() {
			if r.Route == route {
				n++
			}
		}
		return n
	}

	for _, tc := range []struct {
		name      string
		ctx       context.Context
		want      codes.Code
		reason    string
		wantUS    int // getTicket requests each sandbox saw for this call
		wantEU    int
		workspace string
	}{
		{"support, default workspace", as(supportKey, ""), codes.OK, "", 0, 1, "eu-main"},
		{"support names us-main", as(supportKey, "us-main"), codes.OK, "", 1, 0, "us-main"},
		{"billing, its only workspace", as(billingKey, ""), codes.OK, "", 1, 0, "us-main"},
		{"billing names eu-main", as(billingKey, "eu-main"), codes.PermissionDenied, auth.ReasonWorkspaceNotAllowed, 0, 0, ""},
		{"unknown workspace", as(supportKey, "ap-main"), codes.PermissionDenied, auth.ReasonWorkspaceNotAllowed, 0, 0, ""},
		{"no key", context.Background(), codes.Unauthenticated, auth.ReasonKeyMissing, 0, 0, ""},
	} {
		usBefore, euBefore := count(us, "getTicket"), count(eu, "getTicket")
		_, err := tickets.GetTicket(tc.ctx, &gatewayv1.GetTicketRequest{TicketId: seedTicket})
		st := status.Convert(err)
		if st.Code() != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.reason != "" && reasonOf(st) != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, reasonOf(st), tc.reason)
		}
		if gotUS, gotEU := count(us, "getTicket")-usBefore, count(eu, "getTicket")-euBefore; gotUS != tc.wantUS || gotEU != tc.wantEU {
			t.Errorf("%s: us sandbox saw %d, eu sandbox %d getTicket requests; want %d and %d", tc.name, gotUS, gotEU, tc.wantUS, tc.wantEU)
		}
	}

	// REST: the header picks the workspace too, and is refused the same way.
	for _, tc := range []struct {
		key, workspace string
		want           int
	}{
		{supportKey, "us-main", http.StatusOK},
		{billingKey, "eu-main", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/tickets/"+seedTicket, nil)
		req.Header.Set("Authorization", "Bearer "+tc.key)
		req.Header.Set("X-Intercom-Workspace", tc.workspace)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("REST GET in %s: %s, want %d", tc.workspace, resp.Status, tc.want)
		}
	}

	// One request_id, three scopes: support in eu-main, support in us-main,
	// billing in us-main. Each is a create of its own; a repeat in one scope
	// returns that scope's ticket without another create.
	create := func(ctx context.Context) string {
		t.Helper()
		tk, err := tickets.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
			TicketTypeId:     sandbox.SeedTicketTypeBug,
			Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: sandbox.SeedContactAlice}}},
			TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue("scoped")},
			RequestId:        "same-request-id",
		})
		if err != nil {
			t.Fatalf("CreateTicket: %v", err)
		}
		return tk.GetTicket().GetId()
	}
	euTicket := create(as(supportKey, "eu-main"))
	usSupport := create(as(supportKey, "us-main"))
	usBilling := create(as(billingKey, ""))
	if again := create(as(supportKey, "eu-main")); again != euTicket {
		t.Errorf("repeat in support/eu-main gave ticket %s, want %s", again, euTicket)
	}
	if usSupport == usBilling {
		t.Errorf("support and billing got the same ticket %s for one request_id", usSupport)
	}
	if got, want := count(eu, "createTicket"), 1; got != want {
		t.Errorf("eu sandbox saw %d creates, want %d", got, want)
	}
	if got, want := count(us, "createTicket"), 2; got != want {
		t.Errorf("us sandbox saw %d creates, want %d", got, want)
	}

	// Each sandbox saw only its own workspace's token.
	for name, tc := range map[string]struct {
		sb    *sandbox.Server
		token string
	}{"us": {us, usToken}, "eu": {eu, euToken}} {
		reqs := tc.sb.Requests()
		if len(reqs) == 0 {
			t.Errorf("%s sandbox saw nothing", name)
		}
		for _, r := range reqs {
			if got := r.Header.Get("Authorization"); got != "Bearer "+tc.token {
				t.Errorf("%s sandbox saw Authorization %q, want its own token", name, got)
			}
		}
	}
	if strings.Contains(logs.String(), usToken) || strings.Contains(logs.String(), euToken) {
		t.Errorf("a token reached the log:\n%s", logs)
	}
}

// seedTicket is the first ticket of the sandbox seed.
const seedTicket = "4001"

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}
