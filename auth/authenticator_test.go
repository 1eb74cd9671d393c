package auth_test

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

func mustKey(t *testing.T) string {
	t.Helper()
	k, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// damaged changes the key's last character, so its checksum no longer
// matches.
func damaged(k string) string {
	last := "0"
	if strings.HasSuffix(k, "0") {
		last = "1"
	}
	return k[:len(k)-1] + last
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	oldKey, newKey, readerKey, revoked := mustKey(t), mustKey(t), mustKey(t), mustKey(t)
	a, err := auth.New(auth.Config{
		Secret:     testSecret,
		Workspaces: []string{"us", "eu", "au"},
		Callers: []auth.Caller{
			{
				ID:               "billing",
				KeyHashes:        []auth.KeyHash{auth.HashKey(testSecret, oldKey), auth.HashKey(testSecret, newKey)},
				CertIdentities:   []string{"uri:spiffe://corp/billing"},
				Workspaces:       []string{"us", "eu"},
				DefaultWorkspace: "us",
				Permissions: auth.Permissions{
					Services: map[string]auth.Access{"*": auth.AccessWrite},
					Methods:  map[string]auth.Rule{"TicketService/DeleteTicket": auth.Deny},
				},
				Weight: 3,
			},
			{
				ID:             "reporting",
				KeyHashes:      []auth.KeyHash{auth.HashKey(testSecret, readerKey)},
				CertIdentities: []string{"dns:reporting.corp"},
				Workspaces:     []string{"eu"},
				Permissions: auth.Permissions{
					Services: map[string]auth.Access{"TicketService": auth.AccessRead},
					Methods:  map[string]auth.Rule{"TicketService/ReplyToTicket": auth.Allow},
				},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const (
		get    = gatewayv1.TicketService_GetTicket_FullMethodName
		create = gatewayv1.TicketService_CreateTicket_FullMethodName
		del    = gatewayv1.TicketService_DeleteTicket_FullMethodName
		reply  = gatewayv1.TicketService_ReplyToTicket_FullMethodName
		tags   = gatewayv1.TagService_ListTags_FullMethodName
	)
	bearer := func(k string) []string { return []string{"Bearer " + k} }
	for _, tc := range []struct {
		name   string
		req    auth.Request
		want   auth.Identity
		code   codes.Code
		reason string
	}{
		{name: "old key, default workspace", req: auth.Request{FullMethod: create, Authorization: bearer(oldKey)},
			want: auth.Identity{Caller: "billing", Workspace: "us", Weight: 3}},
		{name: "second active key", req: auth.Request{FullMethod: create, Authorization: bearer(newKey), Workspace: []string{"eu"}},
			want: auth.Identity{Caller: "billing", Workspace: "eu", Weight: 3}},
		{name: "lower-case scheme", req: auth.Request{FullMethod: get, Authorization: []string{"bearer " + oldKey}},
			want: auth.Identity{Caller: "billing", Workspace: "us", Weight: 3}},
		{name: "single workspace is the default", req: auth.Request{FullMethod: get, Authorization: bearer(readerKey)},
			want: auth.Identity{Caller: "reporting", Workspace: "eu", Weight: 1}},
		{name: "cert alone", req: auth.Request{FullMethod: get, CertIdentities: []string{"cn:x", "uri:spiffe://corp/billing"}},
			want: auth.Identity{Caller: "billing", Workspace: "us", Weight: 3}},
		{name: "cert and key agree", req: auth.Request{FullMethod: get, Authorization: bearer(readerKey), CertIdentities: []string{"dns:reporting.corp"}},
			want: auth.Identity{Caller: "reporting", Workspace: "eu", Weight: 1}},
		{name: "read-only caller allowed a write by override", req: auth.Request{FullMethod: reply, Authorization: bearer(readerKey)},
			want: auth.Identity{Caller: "reporting", Workspace: "eu", Weight: 1}},

		{name: "missing", req: auth.Request{FullMethod: get}, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
		{name: "unmapped cert, no key", req: auth.Request{FullMethod: get, CertIdentities: []string{"cn:stranger"}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMissing},
		{name: "basic scheme", req: auth.Request{FullMethod: get, Authorization: []string{"Basic " + oldKey}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "no scheme", req: auth.Request{FullMethod: get, Authorization: []string{oldKey}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "two values", req: auth.Request{FullMethod: get, Authorization: []string{"Bearer " + oldKey, "Bearer " + newKey}}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "bad checksum", req: auth.Request{FullMethod: get, Authorization: bearer(damaged(oldKey))}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "an Intercom token", req: auth.Request{FullMethod: get, Authorization: bearer("dG9rOmFiY2RlZl8xMjM0NTY3ODkwOjE6MA==")}, code: codes.Unauthenticated, reason: auth.ReasonKeyMalformed},
		{name: "unknown (revoked) key", req: auth.Request{FullMethod: get, Authorization: bearer(revoked)}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown},
		{name: "cert names two callers", req: auth.Request{FullMethod: get, CertIdentities: []string{"uri:spiffe://corp/billing", "dns:reporting.corp"}}, code: codes.Unauthenticated, reason: auth.ReasonCertAmbiguous},
		{name: "key and cert disagree", req: auth.Request{FullMethod: get, Authorization: bearer(oldKey), CertIdentities: []string{"dns:reporting.corp"}}, code: codes.Unauthenticated, reason: auth.ReasonCallerMismatch},
		{name: "bad key wins over good cert", req: auth.Request{FullMethod: get, Authorization: bearer(revoked), CertIdentities: []string{"uri:spiffe://corp/billing"}}, code: codes.Unauthenticated, reason: auth.ReasonKeyUnknown},
		{name: "workspace not the caller's", req: auth.Request{FullMethod: get, Authorization: bearer(oldKey), Workspace: []string{"au"}}, code: codes.PermissionDenied, reason: auth.ReasonWorkspaceNotAllowed},
		{name: "workspace that does not exist", req: auth.Request{FullMethod: get, Authorization: bearer(oldKey), Workspace: []string{"mars"}}, code: codes.PermissionDenied, reason: auth.ReasonWorkspaceNotAllowed},
		{name: "workspace twice", req: auth.Request{FullMethod: get, Authorization: bearer(oldKey), Workspace: []string{"us", "eu"}}, code: codes.InvalidArgument, reason: auth.ReasonWorkspaceInvalid},
		{name: "read-only caller writing", req: auth.Request{FullMethod: create, Authorization: bearer(readerKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
		{name: "service not granted", req: auth.Request{FullMethod: tags, Authorization: bearer(readerKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
		{name: "writer denied by override", req: auth.Request{FullMethod: del, Authorization: bearer(newKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
		{name: "unclassified method", req: auth.Request{FullMethod: "/intercom.gateway.v1.TicketService/Nuke", Authorization: bearer(newKey)}, code: codes.PermissionDenied, reason: auth.ReasonMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id, err := a.Authenticate(tc.req)
			if tc.code == codes.OK {
				if err != nil || id != tc.want {
					t.Fatalf("Authenticate = %+v, %v; want %+v", id, err, tc.want)
				}
				return
			}
			if status.Code(err) != tc.code || reason(err) != tc.reason {
				t.Fatalf("Authenticate = %+v, %v (reason %q); want %v %s", id, err, reason(err), tc.code, tc.reason)
			}
			for _, k := range []string{oldKey, newKey, readerKey, revoked, "mars"} {
				if strings.Contains(status.Convert(err).String(), k) {
					t.Errorf("the refusal shows caller input %q: %v", k, err)
				}
			}
		})
	}
}

func TestIdentifyAndOpen(t *testing.T) {
	t.Parallel()
	k := mustKey(t)
	a, err := auth.New(auth.Config{Secret: testSecret, Callers: []auth.Caller{
		{ID: "c", KeyHashes: []auth.KeyHash{auth.HashKey(testSecret, k)}, Workspaces: []string{"us"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := a.Identify(auth.Request{FullMethod: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Authorization: []string{"Bearer " + k}}); err != nil || id.Caller != "c" {
		t.Errorf("Identify = %+v, %v", id, err)
	}
	if _, err := a.Identify(auth.Request{}); reason(err) != auth.ReasonKeyMissing {
		t.Errorf("Identify without key = %v", err)
	}
	// A caller with no permissions may authenticate but call nothing.
	if _, err := a.Authenticate(auth.Request{FullMethod: gatewayv1.TagService_ListTags_FullMethodName, Authorization: []string{"Bearer " + k}}); reason(err) != auth.ReasonMethodNotAllowed {
		t.Errorf("a caller with no permissions: %v", err)
	}

	open, err := auth.Open([]string{"us", "eu"}, "us")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ws   []string
		want string
	}{{nil, "us"}, {[]string{"eu"}, "eu"}} {
		id, err := open.Authenticate(auth.Request{FullMethod: gatewayv1.TicketService_DeleteTicket_FullMethodName, Workspace: tc.ws})
		if err != nil || id != (auth.Identity{Workspace: tc.want, Weight: 1}) {
			t.Errorf("open, workspace %v: %+v, %v", tc.ws, id, err)
		}
	}
	if _, err := open.Authenticate(auth.Request{FullMethod: gatewayv1.TagService_ListTags_FullMethodName, Workspace: []string{"au"}}); reason(err) != auth.ReasonWorkspaceNotAllowed {
		t.Errorf("open, unknown workspace: %v", err)
	}
}

func TestNewRefusesBadConfigs(t *testing.T) {
	t.Parallel()
	k1, k2, k3 := mustKey(t), mustKey(t), mustKey(t)
	h := func(k string) auth.KeyHash { return auth.HashKey(testSecret, k) }
	ok := auth.Caller{ID: "ok", KeyHashes: []auth.KeyHash{h(k1)}, Workspaces: []string{"us"}}
	for name, tc := range map[string]struct {
		cfg  auth.Config
		want string
	}{
		"short secret":         {auth.Config{Secret: []byte("short"), Callers: []auth.Caller{ok}}, "at least 32"},
		"no callers":           {auth.Config{Secret: testSecret}, "no callers"},
		"bad id":               {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "a b", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}}}}, "caller id"},
		"duplicate id":         {auth.Config{Secret: testSecret, Callers: []auth.Caller{ok, {ID: "ok", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}}}}, "twice"},
		"three keys":           {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k1), h(k2), h(k3)}, Workspaces: []string{"us"}}}}, "at most 2"},
		"shared hash":          {auth.Config{Secret: testSecret, Callers: []auth.Caller{ok, {ID: "y", KeyHashes: []auth.KeyHash{h(k1)}, Workspaces: []string{"us"}}}}, "share a key hash"},
		"no credentials":       {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", Workspaces: []string{"us"}}}}, "never authenticate"},
		"bad cert identity":    {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", CertIdentities: []string{"spiffe://x"}, Workspaces: []string{"us"}}}}, "cert identity"},
		"no workspaces":        {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}}}}, "no workspaces"},
		"no default":           {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us", "eu"}}}}, "default workspace required"},
		"foreign default":      {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}, DefaultWorkspace: "eu"}}}, "not one of its workspaces"},
		"unknown workspace":    {auth.Config{Secret: testSecret, Workspaces: []string{"eu"}, Callers: []auth.Caller{ok}}, "not configured"},
		"unknown service":      {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}, Permissions: auth.Permissions{Services: map[string]auth.Access{"TicketServce": auth.AccessRead}}}}}, "unknown service"},
		"unknown method":       {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}, Permissions: auth.Permissions{Methods: map[string]auth.Rule{"TicketService/Delete": auth.Deny}}}}}, "unknown method"},
		"negative weight":      {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", KeyHashes: []auth.KeyHash{h(k2)}, Workspaces: []string{"us"}, Weight: -1}}}, "weight"},
		"shared cert identity": {auth.Config{Secret: testSecret, Callers: []auth.Caller{{ID: "x", CertIdentities: []string{"cn:a"}, Workspaces: []string{"us"}}, {ID: "y", CertIdentities: []string{"cn:a"}, Workspaces: []string{"us"}}}}, "share the cert identity"},
	} {
		_, err := auth.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(h(k1).Reveal(), "hmac-sha256:")) {
			t.Errorf("%s: the error shows a key hash", name)
		}
	}
}

func TestParseAccessAndRule(t *testing.T) {
	t.Parallel()
	var a auth.Access
	if err := a.UnmarshalText([]byte("write")); err != nil || a != auth.AccessWrite {
		t.Errorf("write: %v %v", a, err)
	}
	if err := a.UnmarshalText([]byte("admin")); err == nil {
		t.Error("admin accepted")
	}
	var r auth.Rule
	if err := r.UnmarshalText([]byte("deny")); err != nil || r != auth.Deny {
		t.Errorf("deny: %v %v", r, err)
	}
	if err := r.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("maybe accepted")
	}
}
