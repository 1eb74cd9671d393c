package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// TestEveryVersionRoundTrip drives an assign, an unassign, a state change and a delete through the
// gateway for each supported Intercom-Version, against a sandbox answering in that version's shapes,
// and reads the ticket back after each step, so that an update Intercom would drop silently fails here.
func TestEveryVersionRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range upstream.SupportedVersions() {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			sb := sandbox.New()
			g := startOnSandbox(t, sb, upstream.WithVersion(v))
			tickets := gatewayv1.NewTicketServiceClient(g.conn)
			ctx := context.Background()
			const id = sandbox.SeedTicketLogin
			read := func(step string) *gatewayv1.Ticket {
				t.Helper()
				resp, err := tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: id})
				if err != nil {
					t.Fatalf("%s: GetTicket: %v", step, err)
				}
				return resp.GetTicket()
			}
			update := func(step string, req *gatewayv1.UpdateTicketRequest) {
				t.Helper()
				req.TicketId = id
				if _, err := tickets.UpdateTicket(ctx, req); err != nil {
					t.Fatalf("%s: UpdateTicket: %v", step, err)
				}
			}

			update("assign", &gatewayv1.UpdateTicketRequest{AdminId: proto.String(sandbox.SeedAdminAda), AssigneeId: proto.String(sandbox.SeedAdminBo)})
			if got := read("assign").GetAdminAssigneeId(); got != sandbox.SeedAdminBo {
				t.Fatalf("after assigning: admin_assignee_id = %q, want %s", got, sandbox.SeedAdminBo)
			}
			update("unassign", &gatewayv1.UpdateTicketRequest{AdminId: proto.String(sandbox.SeedAdminAda), AssigneeId: proto.String("0")})
			if got := read("unassign").GetAdminAssigneeId(); got != "0" && got != "" {
				t.Fatalf("after unassigning: admin_assignee_id = %q, want none", got)
			}
			resolved := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_RESOLVED
			update("state", &gatewayv1.UpdateTicketRequest{State: &resolved})
			if got := read("state").GetTicketState().GetCategory(); got != resolved {
				t.Fatalf("after the state change: category = %v, want %v", got, resolved)
			}
			if _, err := tickets.DeleteTicket(ctx, &gatewayv1.DeleteTicketRequest{TicketId: id}); err != nil {
				t.Fatalf("DeleteTicket: %v", err)
			}
			if _, err := tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: id}); status.Code(err) != codes.NotFound {
				t.Fatalf("GetTicket after delete: %v, want NotFound", err)
			}

			// Every request went out in the workspace's version (delete in Preview where the version
			// lacks it) and was accepted by the sandbox, which refuses fields a version lacks.
			wantDelete := v
			if v == "2.11" || v == "2.12" {
				wantDelete = upstream.VersionPreview
			}
			for _, r := range sb.Requests() {
				want := v
				if r.Route == "deleteTicket" {
					want = wantDelete
				}
				if r.Version != string(want) {
					t.Errorf("%s %s sent with Intercom-Version %q, want %q", r.Method, r.Path, r.Version, want)
				}
				if r.Status != 200 && !(r.Route == "getTicket" && r.Status == 404) {
					t.Errorf("%s %s answered %d", r.Method, r.Path, r.Status)
				}
			}
		})
	}
}
