package auth_test

import (
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/intercom-gateway/intercom-gateway/auth"
	_ "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1" // registers the contract
)

// contractMethods lists every RPC in the contract, from the registered
// descriptors, so a new RPC shows up here without anyone editing the test.
func contractMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFilesByPackage("intercom.gateway.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				out["/"+string(sd.FullName())+"/"+string(md.Name())] = md
			}
		}
		return true
	})
	if len(out) < 27 {
		t.Fatalf("found %d RPCs in intercom.gateway.v1, expected at least the 27 of today", len(out))
	}
	return out
}

func TestEveryRPCIsClassified(t *testing.T) {
	t.Parallel()
	methods := contractMethods(t)
	for full, md := range methods {
		k, ok := auth.MethodKind(full)
		if !ok {
			t.Errorf("%s is not classified as read or write in auth/methods.go: every caller is refused it until it is", full)
			continue
		}
		// A GET can only read; anything that reaches Intercom with GET
		// changes nothing there.
		rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
		if rule.GetGet() != "" && k != auth.Read {
			t.Errorf("%s is mapped to GET %s but classified %v", full, rule.GetGet(), k)
		}
		if (rule.GetDelete() != "" || rule.GetPatch() != "") && k != auth.Write {
			t.Errorf("%s is mapped to DELETE/PATCH but classified %v", full, k)
		}
	}
	for _, m := range auth.Methods() {
		if _, ok := methods[m]; !ok {
			t.Errorf("auth classifies %s, which is not in the contract", m)
		}
	}
	if !slices.Contains(auth.Methods(), "/intercom.gateway.v1.TicketService/SearchTickets") {
		t.Error("SearchTickets missing")
	}
}
