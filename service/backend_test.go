package service_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/service"
)

// TestRequestIDIsScopedByCaller shows that a request_id remembers a create
// for the caller and workspace that made it only: another caller reusing the
// same request_id gets its own ticket, never the first caller's.
func TestRequestIDIsScopedByCaller(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{}
	svc := service.NewTicketService(service.Single("default", api))
	create := func(caller string) string {
		t.Helper()
		ctx := auth.NewContext(context.Background(), auth.Identity{Caller: caller, Workspace: "default"})
		req := validCreate()
		req.RequestId = "6f1c7b2e-3a43-4d8e-9a51-0c1d2e3f4a5b"
		resp, err := svc.CreateTicket(ctx, req)
		if err != nil {
			t.Fatalf("CreateTicket as %q: %v", caller, err)
		}
		return resp.GetTicket().GetId()
	}
	first := create("billing")
	if again := create("billing"); again != first {
		t.Errorf("same caller, same request_id: got ticket %q, want the first ticket %q", again, first)
	}
	if other := create("support"); other == first {
		t.Errorf("another caller reusing the request_id got the first caller's ticket %q", other)
	}
	if api.creates != 2 {
		t.Errorf("Intercom creates = %d, want 2 (one per caller)", api.creates)
	}
}

func TestSingleRefusesOtherWorkspaces(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		workspace string
		wantCode  codes.Code
	}{
		{"no identity", "", codes.OK},
		{"its own workspace", "default", codes.OK},
		{"another workspace", "eu", codes.PermissionDenied},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			ctx := auth.NewContext(context.Background(), auth.Identity{Caller: "c", Workspace: tt.workspace})
			_, err := service.NewTicketService(service.Single("default", api)).CreateTicket(ctx, validCreate())
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v, want %v (err %v)", got, tt.wantCode, err)
			}
			if tt.wantCode != codes.OK && api.callCount() != 0 {
				t.Errorf("a refused call reached Intercom %d times", api.callCount())
			}
		})
	}
}

func TestBackendKeysDoNotCollide(t *testing.T) {
	t.Parallel()
	a := service.Backend{Workspace: "w/x", Caller: "c"}.Key("CreateTicket", "r")
	b := service.Backend{Workspace: "w", Caller: "x/c"}.Key("CreateTicket", "r")
	if a == b {
		t.Errorf("keys of different scopes collide: %q", a)
	}
}
