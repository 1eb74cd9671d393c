// Package proto_test checks properties of the contract itself: that buf
// catches breaking changes, and how its messages look as JSON to REST
// callers. The .proto files beside it are the contract; this package has no
// code of its own.
package proto_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the module root: the tests run in proto/.
const repoRoot = ".."

// TestBufBreakingCatchesFieldNumberChange renumbers a field in a copy of the
// contract and expects `buf breaking` to refuse it, the check CI runs
// against the previous commit.
func TestBufBreakingCatchesFieldNumberChange(t *testing.T) {
	t.Parallel()
	buf := filepath.Join(repoRoot, "bin", "buf")
	if _, err := os.Stat(buf); err != nil {
		t.Skip("bin/buf not installed: run `make tools third_party` (CI does)")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "third_party", "google", "api", "annotations.proto")); err != nil {
		t.Skip("third_party protos not fetched: run `make third_party` (CI does)")
	}

	tmp := t.TempDir()
	for _, p := range []string{"buf.yaml", "proto", "third_party"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(repoRoot, p), tmp).CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", p, err, out)
		}
	}

	// The unchanged copy is compatible with itself.
	if out, err := exec.Command(buf, "breaking", tmp, "--against", repoRoot).CombinedOutput(); err != nil {
		t.Fatalf("unchanged contract reported as breaking: %v\n%s", err, out)
	}

	file := filepath.Join(tmp, "proto", "intercom", "gateway", "v1", "ticket.proto")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const from, to = "string ticket_id = 2 ", "string ticket_id = 22 "
	if !strings.Contains(string(src), from) {
		t.Fatalf("ticket.proto no longer declares %q; update the test", from)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(buf, "breaking", tmp, "--against", repoRoot).CombinedOutput()
	if err == nil {
		t.Fatalf("buf breaking accepted a renumbered field:\n%s", out)
	}
	if !strings.Contains(string(out), `"ticket_id"`) {
		t.Errorf("buf breaking failed, but not for the renumbered field:\n%s", out)
	}
}
