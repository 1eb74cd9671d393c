package proto_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestProtoBundleIsSelfContained builds `make proto-bundle` into a temporary
// folder and compiles every file in it with protoc and nothing else on the
// include path, as a team outside Go would: no grpc-gateway module, no
// googleapis checkout. It then checks that the bundle holds the three
// services and error_details.proto, which clients need to decode BadRequest,
// ErrorInfo and RetryInfo.
func TestProtoBundleIsSelfContained(t *testing.T) {
	t.Parallel()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is not installed; .ci/run installs protobuf-compiler")
		}
		t.Skip("protoc not installed (apt-get install protobuf-compiler); CI runs this test")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "third_party", "google", "api", "annotations.proto")); err != nil {
		t.Skip("third_party protos not fetched: run `make third_party` (CI does)")
	}

	bundle := t.TempDir()
	mk := exec.Command("make", "-s", "proto-bundle", "PROTO_BUNDLE="+bundle)
	mk.Dir = repoRoot
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make proto-bundle: %v\n%s", err, out)
	}
	var files []string
	err = filepath.WalkDir(bundle, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".proto") {
			rel, _ := filepath.Rel(bundle, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	set := filepath.Join(t.TempDir(), "set.pb")
	cmd := exec.Command(protoc, append([]string{"-I", bundle, "--include_imports", "--descriptor_set_out=" + set}, files...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc on the bundle alone: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &fds); err != nil {
		t.Fatal(err)
	}
	services := map[string]bool{}
	names := map[string]bool{}
	for _, f := range fds.GetFile() {
		names[f.GetName()] = true
		for _, s := range f.GetService() {
			services[f.GetPackage()+"."+s.GetName()] = true
		}
		for _, dep := range f.GetDependency() {
			if strings.HasPrefix(dep, "protoc-gen-openapiv2/") {
				t.Errorf("%s imports %s, which only the grpc-gateway Go module has", f.GetName(), dep)
			}
		}
	}
	for _, want := range []string{"intercom.gateway.v1.TicketService", "intercom.gateway.v1.TicketTypeService", "intercom.gateway.v1.TagService"} {
		if !services[want] {
			t.Errorf("bundle lacks service %s", want)
		}
	}
	if !names["google/rpc/error_details.proto"] {
		t.Error("bundle lacks google/rpc/error_details.proto")
	}
}
