package main

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// The gateway gives the Go runtime 90% of its container's memory limit as
// a soft limit (the container also counts the executable's pages), and
// leaves an operator's GOMEMLIMIT alone.
func TestMemoryLimitFollowsTheContainer(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	for _, v := range []string{"GOMEMLIMIT", "AUTOMEMLIMIT"} {
		if _, set := os.LookupEnv(v); set {
			t.Skipf("%s is set in this environment", v)
		}
	}
	container := uint64(192 << 20)
	limit192 := int64(float64(container) * memoryLimitRatio)
	const operators = 150 << 20
	for _, c := range []struct {
		name      string
		env       string // GOMEMLIMIT
		container uint64
		want      string
		wantLimit int64
	}{
		{"192 MiB container", "", container, strconv.FormatInt(limit192, 10), limit192},
		{"no container limit", "", 0, "none", math.MaxInt64},
		// The gateway must not replace it, and its startup log says it.
		{"operator's GOMEMLIMIT", "150MiB", container, strconv.Itoa(operators), operators},
	} {
		t.Run(c.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			if c.env != "" {
				t.Setenv("GOMEMLIMIT", c.env)
				// The runtime applies GOMEMLIMIT itself when the process
				// starts; this process started without it.
				debug.SetMemoryLimit(operators)
			}
			provider := memlimit.Limit(c.container)
			if c.container == 0 {
				provider = func() (uint64, error) { return 0, memlimit.ErrNoLimit }
			}
			got := tuneMemoryLimit(provider)
			if got != c.want {
				t.Errorf("tuneMemoryLimit = %q, want %q", got, c.want)
			}
			if l := debug.SetMemoryLimit(-1); l != c.wantLimit {
				t.Errorf("runtime memory limit = %d, want %d", l, c.wantLimit)
			}
		})
	}
}
