package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is how one run is shaped (the flags of `bench run`).
type config struct {
	Gateway     string        `json:"-"`
	Baseline    string        `json:"baseline,omitempty"` // another gateway build, run beside it
	Reps        int           `json:"reps"`
	Duration    time.Duration `json:"duration"`
	Warmup      time.Duration `json:"warmup"`
	Concurrency []int         `json:"concurrency"`
	Rows        string        `json:"rows,omitempty"`
	ServerCPU   string        `json:"server_cpu"`
	LoadCPU     string        `json:"load_cpu"`
	Keep        bool          `json:"-"`
	// ProfileDir, when set, receives a CPU profile of each row's server
	// (if it has Pprof) during the first repetition at each concurrency.
	ProfileDir string `json:"-"`
}

// harness owns the server processes of one run.
type harness struct {
	cfg   config
	dir   string
	self  string
	addrs map[string]string // "proc.port" -> "127.0.0.1:N"
	procs map[string]*running
	order []string
	admin *http.Client
	log   io.Writer
	stats map[string]float64 // the sandbox's, read once per sample
}

type running struct {
	Proc
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	startup time.Duration
}

// Counter is a monotonic total read before and after each measured window;
// the difference divided by the calls is reported per row (see spec.go).
type Counter struct {
	Name string
	Read func(h *harness) (float64, error)
}

// Counters every row reports. The sandbox counts the connections it accepted,
// the API requests it answered and how long requests waited for its
// workspace lock (GET /__sandbox/stats).
func Counters() []Counter {
	return []Counter{
		{Name: "up_conns", Read: func(h *harness) (float64, error) { return h.sandboxStat("connections") }},
		{Name: "up_reqs", Read: func(h *harness) (float64, error) { return h.sandboxStat("requests") }},
		{Name: "lock_waits", Read: func(h *harness) (float64, error) { return h.sandboxStat("lock_contended") }},
		{Name: "lock_wait_us", Read: func(h *harness) (float64, error) {
			ns, err := h.sandboxStat("lock_wait_ns")
			return ns / 1e3, err
		}},
		// The shared limiter's Redis round trips (leases, reports, pauses),
		// as the gateway with the Redis limiter counts them; about 0 on the
		// other rows, which do not call it.
		{Name: "redis_rt", Read: func(h *harness) (float64, error) {
			return h.promSum("gateway-rl-redis.http", "gateway_ratelimit_redis_round_trips_total")
		}},
	}
}

// promSum adds up every sample of a Prometheus counter on a process's
// /metrics (0 before the first sample exists).
func (h *harness) promSum(proc, metric string) (float64, error) {
	addr, ok := h.addrs[proc]
	if !ok {
		return 0, fmt.Errorf("no %s process", proc)
	}
	resp, err := h.admin.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		rest := line[len(metric):]
		if rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", metric, line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

func (h *harness) sandboxStat(key string) (float64, error) {
	if h.stats == nil {
		addr, ok := h.addrs["sandbox.http"]
		if !ok {
			return 0, errors.New("no sandbox process")
		}
		resp, err := h.admin.Get("http://" + addr + "/__sandbox/stats")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&h.stats); err != nil {
			return 0, fmt.Errorf("sandbox stats: %w", err)
		}
	}
	v, ok := h.stats[key]
	if !ok {
		return 0, fmt.Errorf("sandbox stats: no %q", key)
	}
	return v, nil
}

var placeholder = regexp.MustCompile(`\{([a-z0-9-]+\.[a-z0-9-]+)\}`)

// expand replaces {proc.port} with its address.
func (h *harness) expand(s string) (string, error) {
	var missing string
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		a, ok := h.addrs[m[1:len(m)-1]]
		if !ok {
			missing = m
		}
		return a
	})
	if missing != "" {
		return "", fmt.Errorf("unknown address %s in %q", missing, s)
	}
	return out, nil
}

func (h *harness) expandAll(in []string) ([]string, error) {
	out := make([]string, len(in))
	for i, s := range in {
		var err error
		if out[i], err = h.expand(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the server binds it; then the server fails to start and
// the run says so.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pinned wraps argv in taskset when there are at least two CPUs, so that
// servers and load do not compete for one core.
func pinned(cpu string, argv []string) []string {
	if cpu == "" || runtime.NumCPU() < 2 {
		return argv
	}
	if ts, err := exec.LookPath("taskset"); err == nil {
		return append([]string{ts, "-c", cpu}, argv...)
	}
	return argv
}

func (h *harness) bin(b Bin) string {
	switch b {
	case binGateway:
		return h.cfg.Gateway
	case binBaseline:
		return h.cfg.Baseline
	}
	return h.self
}

func (h *harness) start(ps []Proc) error {
	for _, p := range ps {
		for _, port := range p.Ports {
			a, err := freePort()
			if err != nil {
				return err
			}
			h.addrs[p.Name+"."+port] = a
		}
	}
	for _, p := range ps {
		for key := range p.Files {
			h.addrs[p.Name+"."+key] = filepath.Join(h.dir, p.Name+"-"+key)
		}
	}
	for _, p := range ps {
		for key, content := range p.Files {
			text, err := h.expand(content)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			if err := os.WriteFile(h.addrs[p.Name+"."+key], []byte(text), 0o600); err != nil {
				return err
			}
		}
		args, err := h.expandAll(p.Args)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		env, err := h.expandAll(p.Env)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		ready, err := h.expand(p.Ready)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		cpu := h.cfg.ServerCPU
		if p.Remote {
			cpu = h.cfg.LoadCPU
		}
		argv := pinned(cpu, append([]string{h.bin(p.Bin)}, args...))
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), env...)
		logf, err := os.Create(filepath.Join(h.dir, p.Name+".log"))
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		r := &running{Proc: p, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); _ = logf.Close(); close(r.done) }()
		h.procs[p.Name] = r
		h.order = append(h.order, p.Name)
		if err := waitReady(ready, r.done, 20*time.Second); err != nil {
			out, _ := os.ReadFile(logf.Name())
			if len(out) > 2000 {
				out = out[len(out)-2000:]
			}
			return fmt.Errorf("%s did not become ready: %w; its output ends with:\n%s", p.Name, err, out)
		}
		r.startup = time.Since(t0)
		fmt.Fprintf(h.log, "started %-8s pid %-7d ready in %v\n", p.Name, cmd.Process.Pid, r.startup.Round(time.Millisecond))
	}
	return nil
}

func waitReady(ready string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the process exited")
		default:
		}
		switch {
		case strings.HasPrefix(ready, "http://"):
			if resp, err := client.Get(ready); err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					return nil
				}
			}
		case strings.HasPrefix(ready, "tcp://"):
			if c, err := net.DialTimeout("tcp", strings.TrimPrefix(ready, "tcp://"), time.Second); err == nil {
				_ = c.Close()
				return nil
			}
		default:
			return fmt.Errorf("Ready %q: want http:// or tcp://", ready)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v", timeout)
}

func (h *harness) stop() {
	for i := len(h.order) - 1; i >= 0; i-- {
		r := h.procs[h.order[i]]
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	}
}

// procSample is what /proc says about one process at one instant.
type procSample struct {
	cpu    time.Duration // utime+stime, all threads
	rssKiB int64
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func readProc(pid int) (procSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 22 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	rssPages, _ := strconv.ParseInt(f[21], 10, 64)
	return procSample{
		cpu:    time.Duration(ut+st) * time.Second / clockTicks,
		rssKiB: rssPages * int64(os.Getpagesize()) / 1024,
	}, nil
}

// sample reads every server process and every counter.
func (h *harness) sample() (map[string]procSample, map[string]float64, error) {
	ps := map[string]procSample{}
	for name, r := range h.procs {
		s, err := readProc(r.cmd.Process.Pid)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		ps[name] = s
	}
	cs := map[string]float64{}
	h.stats = nil
	for _, c := range Counters() {
		v, err := c.Read(h)
		if err != nil {
			return nil, nil, fmt.Errorf("counter %s: %w", c.Name, err)
		}
		cs[c.Name] = v
	}
	return ps, cs, nil
}

// Result is one measured window: one row, one concurrency, one repetition.
type Result struct {
	Row         string             `json:"row"`
	Concurrency int                `json:"concurrency"`
	Rep         int                `json:"rep"`
	Calls       int64              `json:"calls"`
	Errors      int64              `json:"errors"`
	FirstError  string             `json:"first_error,omitempty"`
	RPS         float64            `json:"rps"`
	P50us       float64            `json:"p50_us"`
	P90us       float64            `json:"p90_us"`
	P99us       float64            `json:"p99_us"`
	CPUus       map[string]float64 `json:"cpu_us_per_call"` // by process
	PerCall     map[string]float64 `json:"per_call"`        // by counter
	RSSKiB      map[string]int64   `json:"rss_kib"`         // by process, at the end
}

// measure runs the load generator for one row and samples around its window.
func (h *harness) measure(row Row, c, rep int) (Result, error) {
	call := row.Call
	var err error
	if call.Addr, err = h.expand(call.Addr); err != nil {
		return Result{}, err
	}
	spec := loadSpec{Call: call, Concurrency: c, Warmup: h.cfg.Warmup, Duration: h.cfg.Duration}
	argv := pinned(h.cfg.LoadCPU, append([]string{h.self}, spec.args()...))
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	next := func() (string, error) {
		if !sc.Scan() {
			return "", fmt.Errorf("load generator stopped: %v %s", sc.Err(), stderr.String())
		}
		return sc.Text(), nil
	}
	if l, err := next(); err != nil || l != "start" {
		return Result{}, fmt.Errorf("load generator: want start, got %q (%v)", l, err)
	}
	p0, c0, err := h.sample()
	if err != nil {
		return Result{}, err
	}
	profiled := h.profile(row, c, rep)
	if l, err := next(); err != nil || l != "end" {
		return Result{}, fmt.Errorf("load generator: want end, got %q (%v)", l, err)
	}
	p1, c1, err := h.sample()
	if err != nil {
		return Result{}, err
	}
	if err := <-profiled; err != nil {
		fmt.Fprintf(h.log, "profile of %s c=%d: %v\n", row.Name, c, err)
	}
	line, err := next()
	if err != nil {
		return Result{}, err
	}
	var lr loadResult
	if err := json.Unmarshal([]byte(line), &lr); err != nil {
		return Result{}, fmt.Errorf("load result %q: %w", line, err)
	}
	res := Result{Row: row.Name, Concurrency: c, Rep: rep, Calls: lr.Calls, Errors: lr.Errors, FirstError: lr.FirstErr,
		P50us: lr.P50us, P90us: lr.P90us, P99us: lr.P99us,
		CPUus: map[string]float64{}, PerCall: map[string]float64{}, RSSKiB: map[string]int64{}}
	if lr.Seconds > 0 {
		res.RPS = float64(lr.Calls) / lr.Seconds
	}
	if lr.Calls > 0 {
		for name := range p1 {
			res.CPUus[name] = float64((p1[name].cpu - p0[name].cpu).Nanoseconds()) / 1e3 / float64(lr.Calls)
			res.RSSKiB[name] = p1[name].rssKiB
		}
		for name := range c1 {
			res.PerCall[name] = (c1[name] - c0[name]) / float64(lr.Calls)
		}
	}
	return res, nil
}

// profile saves a CPU profile of row's server over the measured window, when
// asked to and the server has a pprof endpoint. The result arrives on the
// channel once the profile is written.
func (h *harness) profile(row Row, c, rep int) <-chan error {
	done := make(chan error, 1)
	p := h.procs[row.Server]
	if h.cfg.ProfileDir == "" || rep != 1 || p == nil || p.Pprof == "" {
		done <- nil
		return done
	}
	base, err := h.expand(p.Pprof)
	if err != nil {
		done <- err
		return done
	}
	secs := max(1, int(h.cfg.Duration.Round(time.Second)/time.Second))
	go func() {
		done <- func() error {
			resp, err := (&http.Client{Timeout: h.cfg.Duration + 10*time.Second}).Get(fmt.Sprintf("%s/profile?seconds=%d", base, secs))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			f, err := os.Create(filepath.Join(h.cfg.ProfileDir, fmt.Sprintf("%s-c%d.pprof", row.Name, c)))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}

// run starts the servers, measures every selected row at every concurrency
// Reps times, interleaved, and stops the servers.
func run(ctx context.Context, cfg config, logw io.Writer) (*Report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gateway-bench-")
	if err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintf(logw, "logs in %s\n", dir)
	}
	h := &harness{cfg: cfg, dir: dir, self: self, addrs: map[string]string{}, procs: map[string]*running{},
		admin: &http.Client{Timeout: 5 * time.Second}, log: logw}
	defer h.stop()

	var selected []Row
	re, err := regexp.Compile(cfg.Rows)
	if err != nil {
		return nil, fmt.Errorf("-rows: %w", err)
	}
	for _, r := range rows(cfg.Baseline != "") {
		if re.MatchString(r.Name) {
			selected = append(selected, r)
		}
	}
	if len(selected) == 0 {
		return nil, fmt.Errorf("-rows %q selects no row", cfg.Rows)
	}
	if err := h.start(procs(cfg.Baseline != "")); err != nil {
		return nil, err
	}
	rep := newReport(cfg, selected, h)
	for i := 1; i <= cfg.Reps; i++ {
		for _, c := range cfg.Concurrency {
			for _, row := range selected {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				res, err := h.measure(row, c, i)
				if err != nil {
					return nil, fmt.Errorf("row %s c=%d: %w", row.Name, c, err)
				}
				fmt.Fprintf(logw, "rep %d c=%-3d %-16s %8.0f rps  %6.1f µs CPU/call  p50 %6.0f µs  p99 %6.0f µs  errors %d\n",
					i, c, row.Name, res.RPS, res.CPUus[row.Server], res.P50us, res.P99us, res.Errors)
				if res.Errors > 0 {
					fmt.Fprintf(logw, "    first error: %s\n", res.FirstError)
				}
				rep.Results = append(rep.Results, res)
			}
		}
	}
	rep.summarize(selected)
	return rep, nil
}
