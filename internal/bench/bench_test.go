package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestSpecIsConsistent: every row names a declared server, compares with
// declared rows, and every {proc.port} placeholder resolves, so that a row
// added with a typo fails here rather than minutes into `make bench`.
func TestSpecIsConsistent(t *testing.T) {
	for _, baseline := range []bool{false, true} {
		checkSpec(t, procs(baseline), rows(baseline))
	}
}

func checkSpec(t *testing.T, procs []Proc, rows []Row) {
	t.Helper()
	h := &harness{addrs: map[string]string{}}
	names := map[string]bool{}
	for _, p := range procs {
		if names[p.Name] {
			t.Errorf("process %q declared twice", p.Name)
		}
		names[p.Name] = true
		for _, port := range p.Ports {
			h.addrs[p.Name+"."+port] = "127.0.0.1:1"
		}
		for key := range p.Files {
			h.addrs[p.Name+"."+key] = "/run/" + p.Name + "-" + key
		}
	}
	for _, p := range procs {
		strs := append(append(append([]string{}, p.Args...), p.Env...), p.Ready)
		for _, content := range p.Files {
			strs = append(strs, content)
		}
		for _, s := range strs {
			if _, err := h.expand(s); err != nil {
				t.Errorf("process %s: %v", p.Name, err)
			}
		}
	}
	rowNames := map[string]bool{}
	for _, r := range rows {
		if rowNames[r.Name] {
			t.Errorf("row %q declared twice", r.Name)
		}
		rowNames[r.Name] = true
	}
	for _, r := range rows {
		if !names[r.Server] {
			t.Errorf("row %s: server %q is not a declared process", r.Name, r.Server)
		}
		for _, v := range r.Versus {
			if !rowNames[v] {
				t.Errorf("row %s: versus %q is not a row", r.Name, v)
			}
		}
		if _, err := h.expand(r.Call.Addr); err != nil {
			t.Errorf("row %s: %v", r.Name, err)
		}
		if (r.Call.GRPC == "") == (r.Call.HTTP == "") {
			t.Errorf("row %s: a call is either GRPC or HTTP", r.Name)
		}
		if r.Call.GRPC != "" {
			if _, _, err := methodTypes(r.Call.GRPC); err != nil {
				t.Errorf("row %s: %v", r.Name, err)
			}
		}
	}
}

// TestRatiosComeFromTheSameRepetition: a ratio divides figures of one
// repetition, then takes the median, so one noisy repetition of the
// baseline cannot skew every ratio.
func TestRatiosComeFromTheSameRepetition(t *testing.T) {
	rs := []Row{{Name: "a", Server: "pa", Versus: []string{"b"}}, {Name: "b", Server: "pb"}}
	r := &Report{Config: config{Reps: 3}}
	add := func(row string, rep int, rps, cpu float64) {
		srv := "p" + row
		r.Results = append(r.Results, Result{Row: row, Concurrency: 1, Rep: rep, RPS: rps, CPUus: map[string]float64{srv: cpu}})
	}
	// b is slow in rep 2 (the machine was busy) and so is a.
	add("a", 1, 100, 20)
	add("b", 1, 200, 10)
	add("a", 2, 10, 200)
	add("b", 2, 20, 100)
	add("a", 3, 100, 20)
	add("b", 3, 200, 10)
	r.summarize(rs)
	if len(r.Summary) != 2 || len(r.Summary[0].Versus) != 1 {
		t.Fatalf("summary = %+v", r.Summary)
	}
	v := r.Summary[0].Versus[0]
	if v.RPS != 0.5 || v.CPU != 2 {
		t.Errorf("a ÷ b = ×%v rps, ×%v CPU; want ×0.5 and ×2 in every repetition", v.RPS, v.CPU)
	}
	if r.Summary[0].RPS != 100 {
		t.Errorf("median rps of a = %v, want 100", r.Summary[0].RPS)
	}
}

// TestReadProc reads this process's CPU time, which grows as it works. The
// clock ticks every 10 ms of CPU, and on a busy machine that can take a
// while, so the test spins until it sees growth or gives up.
func TestReadProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	s0, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s1 := s0
	for end := time.Now().Add(10 * time.Second); s1.cpu <= s0.cpu && time.Now().Before(end); {
		for range 1000 {
			_ = strings.Repeat("x", 1024)
		}
		if s1, err = readProc(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	if s1.cpu <= s0.cpu || s1.rssKiB <= 0 {
		t.Errorf("CPU %v -> %v, RSS %d KiB: want CPU to grow and RSS > 0", s0.cpu, s1.cpu, s1.rssKiB)
	}
}
