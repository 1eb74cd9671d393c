//go:build !linux

package redistest

import "os/exec"

// dieWithParent has no portable equivalent outside Linux; Stop (run by
// t.Cleanup) still stops the server when the test ends normally.
func dieWithParent(*exec.Cmd) {}
