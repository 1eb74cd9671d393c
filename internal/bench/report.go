package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run writes as JSON: the raw windows and the summary.
// bench compare reads two of them.
type Report struct {
	Time      time.Time          `json:"time"`
	Commit    string             `json:"commit,omitempty"`
	GoVersion string             `json:"go_version"`
	CPUs      int                `json:"cpus"`
	Config    config             `json:"config"`
	StartupMs map[string]float64 `json:"startup_ms"` // spawn to ready, by process
	Rows      []RowInfo          `json:"rows"`
	Results   []Result           `json:"results"`
	Summary   []Summary          `json:"summary"`
}

// RowInfo is a Row as recorded in the report.
type RowInfo struct {
	Name   string   `json:"name"`
	What   string   `json:"what"`
	Server string   `json:"server"`
	Versus []string `json:"versus,omitempty"`
}

// Summary is one row at one concurrency: medians over the repetitions.
type Summary struct {
	Row         string             `json:"row"`
	Concurrency int                `json:"concurrency"`
	Reps        int                `json:"reps"`
	RPS         float64            `json:"rps"`
	P50us       float64            `json:"p50_us"`
	P99us       float64            `json:"p99_us"`
	CPUus       float64            `json:"cpu_us_per_call"`         // the row's Server
	SandboxCPU  float64            `json:"sandbox_cpu_us_per_call"` // the upstream's share
	PerCall     map[string]float64 `json:"per_call"`
	MaxRSSKiB   int64              `json:"max_rss_kib"` // the row's Server, highest seen
	Errors      int64              `json:"errors"`
	Versus      []Ratio            `json:"versus,omitempty"`
}

// Ratio compares a row with another measured in the same repetition at the
// same concurrency; each figure is the median over repetitions of the
// per-repetition ratio (or difference).
type Ratio struct {
	Row        string  `json:"row"`
	RPS        float64 `json:"rps_ratio"`
	CPU        float64 `json:"cpu_ratio"`
	AddedP50us float64 `json:"added_p50_us"`
	AddedP99us float64 `json:"added_p99_us"`
}

func newReport(cfg config, rs []Row, h *harness) *Report {
	r := &Report{Time: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Config: cfg,
		StartupMs: map[string]float64{}}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	for name, p := range h.procs {
		r.StartupMs[name] = float64(p.startup.Microseconds()) / 1e3
	}
	for _, row := range rs {
		r.Rows = append(r.Rows, RowInfo{Name: row.Name, What: row.What, Server: row.Server, Versus: row.Versus})
	}
	return r
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *Report) summarize(rs []Row) {
	type key struct {
		row string
		c   int
		rep int
	}
	byKey := map[key]Result{}
	var cs []int
	for _, res := range r.Results {
		byKey[key{res.Row, res.Concurrency, res.Rep}] = res
		if !slices.Contains(cs, res.Concurrency) {
			cs = append(cs, res.Concurrency)
		}
	}
	for _, c := range cs {
		for _, row := range rs {
			var rps, p50, p99, cpu, sb []float64
			per := map[string][]float64{}
			s := Summary{Row: row.Name, Concurrency: c, PerCall: map[string]float64{}}
			for i := 1; i <= r.Config.Reps; i++ {
				res, ok := byKey[key{row.Name, c, i}]
				if !ok {
					continue
				}
				s.Reps++
				s.Errors += res.Errors
				rps = append(rps, res.RPS)
				p50 = append(p50, res.P50us)
				p99 = append(p99, res.P99us)
				cpu = append(cpu, res.CPUus[row.Server])
				sb = append(sb, res.CPUus["sandbox"])
				s.MaxRSSKiB = max(s.MaxRSSKiB, res.RSSKiB[row.Server])
				for k, v := range res.PerCall {
					per[k] = append(per[k], v)
				}
			}
			if s.Reps == 0 {
				continue
			}
			s.RPS, s.P50us, s.P99us, s.CPUus, s.SandboxCPU = median(rps), median(p50), median(p99), median(cpu), median(sb)
			for k, v := range per {
				s.PerCall[k] = median(v)
			}
			for _, vs := range row.Versus {
				var rr, cr, d50, d99 []float64
				for i := 1; i <= r.Config.Reps; i++ {
					a, ok1 := byKey[key{row.Name, c, i}]
					b, ok2 := byKey[key{vs, c, i}]
					if !ok1 || !ok2 || b.RPS == 0 {
						continue
					}
					var bs string
					for _, x := range rs {
						if x.Name == vs {
							bs = x.Server
						}
					}
					rr = append(rr, a.RPS/b.RPS)
					if b.CPUus[bs] > 0 {
						cr = append(cr, a.CPUus[row.Server]/b.CPUus[bs])
					}
					d50 = append(d50, a.P50us-b.P50us)
					d99 = append(d99, a.P99us-b.P99us)
				}
				if len(rr) == 0 {
					continue
				}
				s.Versus = append(s.Versus, Ratio{Row: vs, RPS: median(rr), CPU: median(cr), AddedP50us: median(d50), AddedP99us: median(d99)})
			}
			r.Summary = append(r.Summary, s)
		}
	}
}

// printTable writes the summary as a table, then how to read it.
func (r *Report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\n%s, %s, %d CPUs, %d reps × %v per row, interleaved; servers on CPU %s, load on CPU %s\n",
		r.Commit, r.GoVersion, r.CPUs, r.Config.Reps, r.Config.Duration, r.Config.ServerCPU, r.Config.LoadCPU)
	var counters []string
	for _, c := range Counters() {
		counters = append(counters, c.Name)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "row\tc\trps\tCPU µs/call\tsandbox µs/call\tp50 µs\tp99 µs\tRSS MiB\terrors\t")
	for _, c := range counters {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	blank := strings.Repeat("\t", 9+len(counters))
	last := 0
	for _, s := range r.Summary {
		if last != 0 && s.Concurrency != last {
			fmt.Fprintln(tw, blank)
		}
		last = s.Concurrency
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.0f\t%.0f\t%.1f\t%d\t",
			s.Row, s.Concurrency, s.RPS, s.CPUus, s.SandboxCPU, s.P50us, s.P99us, float64(s.MaxRSSKiB)/1024, s.Errors)
		for _, c := range counters {
			fmt.Fprintf(tw, "%.3f\t", s.PerCall[c])
		}
		fmt.Fprintln(tw)
		for _, v := range s.Versus {
			fmt.Fprintf(tw, "  ÷ %s\t\t×%.3f\t×%.2f\t\t%+.0f\t%+.0f\t%s\n", v.Row, v.RPS, v.CPU, v.AddedP50us, v.AddedP99us,
				strings.Repeat("\t", 2+len(counters)))
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w, `
How to read it: every figure is the median of the repetitions. "÷ row" lines
compare with that row measured in the same repetition at the same
concurrency: ×rps and ×CPU are ratios (CPU of each row's own server process),
p50/p99 columns there are added microseconds. CPU µs/call is utime+stime
from /proc/PID/stat of the row's server over the measured window divided by
the calls completed in it; it is far steadier than rps on a shared machine.
The last columns are Counters, per call over the window: up_conns and
up_reqs are the connections the sandbox accepted and the API requests it
answered; lock_waits and lock_wait_us say how often and how long requests
waited for the sandbox's workspace lock.`)
	var names []string
	for n := range r.StartupMs {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprint(w, "Startup to ready:")
	for _, n := range names {
		fmt.Fprintf(w, " %s %.0f ms", n, r.StartupMs[n])
	}
	fmt.Fprintln(w)
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// compare prints, for every row and concurrency in both reports, the old
// and new figures and new/old.
func compare(w io.Writer, old, cur *Report) {
	fmt.Fprintf(w, "old: %s %s\nnew: %s %s\n\n", old.Commit, old.Time.Format(time.RFC3339), cur.Commit, cur.Time.Format(time.RFC3339))
	type key struct {
		row string
		c   int
	}
	olds := map[key]Summary{}
	for _, s := range old.Summary {
		olds[key{s.Row, s.Concurrency}] = s
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "row\tc\tmeasure\told\tnew\tnew/old\t")
	ratio := func(a, b float64) string {
		if a == 0 {
			return "-"
		}
		return fmt.Sprintf("×%.3f", b/a)
	}
	for _, s := range cur.Summary {
		o, ok := olds[key{s.Row, s.Concurrency}]
		if !ok {
			fmt.Fprintf(tw, "%s\t%d\t(new row)\t\t\t\t\n", s.Row, s.Concurrency)
			continue
		}
		lines := []struct {
			name   string
			ov, nv float64
		}{
			{"rps", o.RPS, s.RPS},
			{"CPU µs/call", o.CPUus, s.CPUus},
			{"p50 µs", o.P50us, s.P50us},
			{"p99 µs", o.P99us, s.P99us},
		}
		for _, v := range s.Versus {
			for _, ov := range o.Versus {
				if ov.Row == v.Row {
					lines = append(lines,
						struct {
							name   string
							ov, nv float64
						}{"rps ÷ " + v.Row, ov.RPS, v.RPS},
						struct {
							name   string
							ov, nv float64
						}{"CPU ÷ " + v.Row, ov.CPU, v.CPU})
				}
			}
		}
		for i, l := range lines {
			row, c := "", ""
			if i == 0 {
				row, c = s.Row, fmt.Sprint(s.Concurrency)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.3g\t%.3g\t%s\t\n", row, c, l.name, l.ov, l.nv, ratio(l.ov, l.nv))
		}
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nRatios (÷ rows) are the figures to trust across runs: both sides were measured in the same repetition.")
}
