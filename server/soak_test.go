package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// make soak sets these; a plain go test skips the soak.
var (
	soakDuration = flag.Duration("soak.duration", 0, "run TestSoak for this long (make soak: 10m)")
	soakRate     = flag.Int("soak.rate", 40, "calls per second, half over gRPC and half over REST")
	soakOut      = flag.String("soak.out", "soak-results", "directory for soak.json and soak.html")
)

// countingTransport counts Intercom's answers by status.
type countingTransport struct {
	next  http.RoundTripper
	n429  atomic.Int64
	total atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	c.total.Add(1)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		c.n429.Add(1)
	}
	return resp, err
}

// soakSample is one point of the series.
type soakSample struct {
	Seconds     float64 `json:"t_s"`
	RSSKiB      int64   `json:"rss_kib"`
	HeapKiB     uint64  `json:"heap_kib"`
	Goroutines  int     `json:"goroutines"`
	Calls       int64   `json:"calls"`
	Unexpected  int64   `json:"unexpected_errors"`
	FaultErrors int64   `json:"fault_errors"`
	Upstream429 int64   `json:"upstream_429s"`
}

func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

// TestSoak runs a steady load through gRPC and REST with faults sprinkled
// in (2% 503s, 1% connection resets, 1% slow bodies on every Intercom
// route) and records, every 5 s: RSS and heap of this process (gateway
// and sandbox together), goroutines, calls, unexpected errors and 429s
// from Intercom. Errors that the faults explain (UNAVAILABLE after the
// retries, CREATE_IN_DOUBT, DEADLINE_EXCEEDED) are counted apart; anything
// else is unexpected. The gateway's limiter budget sits under the
// sandbox's, so Intercom should never answer 429. Run by make soak.
func TestSoak(t *testing.T) {
	if *soakDuration <= 0 {
		t.Skip("soak runs only with -soak.duration (make soak)")
	}
	sb := sandbox.New(sandbox.WithRateLimit(1000, 10*time.Second), sandbox.WithRandSeed(13))
	hs := httptest.NewServer(sb)
	defer hs.Close()
	ct := &countingTransport{next: &http.Transport{MaxIdleConnsPerHost: 64}}
	lim := ratelimit.NewLocal(ratelimit.Config{MaxWait: 5 * time.Second}).For("default", ratelimit.Budget{Limit: 800})
	p := upstream.DefaultRetryPolicy()
	p.BaseBackoff = 5 * time.Millisecond
	client, err := upstream.New(upstream.WithToken("soak-token"), upstream.WithBaseURL(hs.URL), upstream.WithTransport(ct),
		upstream.WithLimiter(lim), upstream.WithRetryPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	b := service.Single("default", client)
	g := startGatewayWith(t, server.Config{}, server.Services{
		Tickets:     service.NewTicketService(b, discard, service.WithIdempotencyStore(service.NewMemoryIdempotencyStore(time.Hour))),
		TicketTypes: service.NewTicketTypeService(b, discard),
		Tags:        service.NewTagService(b, discard),
	})
	sb.SetFault("*", sandbox.Fault{ErrorRate: 0.02, ResetRate: 0.01})
	sb.SetFault("getTicket", sandbox.Fault{ErrorRate: 0.02, ResetRate: 0.01, SlowBody: 20 * time.Millisecond})
	e := &matrixEnv{t: t, sb: sb, g: g, clock: &sharedClock{t: time.Now()}, rest: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}

	var calls, unexpected, faultErrs atomic.Int64
	var firstUnexpected sync.Once
	ctx, cancel := context.WithTimeout(context.Background(), *soakDuration)
	defer cancel()
	tick := time.NewTicker(time.Second / time.Duration(*soakRate))
	defer tick.Stop()
	var wg sync.WaitGroup
	jobs := make(chan int64, 256)
	for range 32 {
		wg.Go(func() {
			for n := range jobs {
				transport := []string{"grpc", "rest"}[n%2]
				o := callOpts{deadline: 10 * time.Second}
				if n%10 == 3 {
					o.create, o.title, o.rid = true, fmt.Sprintf("soak %d", n), fmt.Sprintf("soak-%d", n)
				}
				got := e.call(transport, o)
				calls.Add(1)
				switch got.code {
				case codes.OK:
				case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded:
					faultErrs.Add(1)
				default:
					unexpected.Add(1)
					firstUnexpected.Do(func() { t.Logf("first unexpected error (%s): %v", transport, got) })
				}
			}
		})
	}
	start := time.Now()
	var series []soakSample
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		series = append(series, soakSample{Seconds: time.Since(start).Seconds(), RSSKiB: rssKiB(), HeapKiB: ms.HeapAlloc / 1024,
			Goroutines: runtime.NumGoroutine(), Calls: calls.Load(), Unexpected: unexpected.Load(),
			FaultErrors: faultErrs.Load(), Upstream429: ct.n429.Load()})
	}
	sample()
	every := time.NewTicker(5 * time.Second)
	defer every.Stop()
	var n int64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-every.C:
			sample()
		case <-tick.C:
			select {
			case jobs <- n:
				n++
			default: // the gateway is behind: the rate is what it keeps up with
			}
		}
	}
	close(jobs)
	wg.Wait()
	sample()
	writeSoak(t, series)
	last := series[len(series)-1]
	// RSS after warm-up (the first minute, or the first fifth of a short run).
	warm := series[min(len(series)-1, max(1, len(series)/5))]
	t.Logf("soak %v at %d/s: %d calls, %d unexpected errors, %d fault-explained errors, %d upstream 429s of %d Intercom requests; RSS %d KiB after warm-up -> %d KiB at the end (%+.1f%%); goroutines %d -> %d",
		*soakDuration, *soakRate, last.Calls, last.Unexpected, last.FaultErrors, last.Upstream429, ct.total.Load(),
		warm.RSSKiB, last.RSSKiB, 100*float64(last.RSSKiB-warm.RSSKiB)/float64(warm.RSSKiB), warm.Goroutines, last.Goroutines)
	if last.Unexpected != 0 {
		t.Errorf("%d unexpected errors, want 0", last.Unexpected)
	}
	if last.Upstream429 != 0 {
		t.Errorf("Intercom answered 429 %d times, want 0", last.Upstream429)
	}
}

// writeSoak writes the series as JSON and an HTML page with two SVG
// charts (RSS and heap; goroutines).
func writeSoak(t *testing.T, series []soakSample) {
	dir := *soakOut
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // the test runs in server/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(series, "", " ")
	if err := os.WriteFile(filepath.Join(dir, "soak.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	chart := func(title string, lines map[string]func(soakSample) float64, colors map[string]string) string {
		const w, h, pad = 720.0, 220.0, 40.0
		maxX, maxY := series[len(series)-1].Seconds, 1.0
		for _, f := range lines {
			for _, s := range series {
				maxY = max(maxY, f(s))
			}
		}
		maxX = max(maxX, 1)
		var sb strings.Builder
		fmt.Fprintf(&sb, `<h2>%s</h2><svg width="%g" height="%g" style="border:1px solid #ccc">`, html.EscapeString(title), w, h+pad)
		fmt.Fprintf(&sb, `<text x="4" y="14" font-size="11">max %.0f</text><text x="%g" y="%g" font-size="11">%.0f s</text>`, maxY, w-60, h+pad-6, maxX)
		y := 30.0
		for name, f := range lines {
			var pts []string
			for _, s := range series {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", pad+(w-2*pad)*s.Seconds/maxX, h-(h-pad)*f(s)/maxY))
			}
			fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, colors[name], strings.Join(pts, " "))
			fmt.Fprintf(&sb, `<text x="%g" y="%g" font-size="11" fill="%s">%s</text>`, w-200, y, colors[name], html.EscapeString(name))
			y += 14
		}
		sb.WriteString("</svg>")
		return sb.String()
	}
	last := series[len(series)-1]
	page := fmt.Sprintf(`<!doctype html><meta charset="utf-8"><title>gateway soak</title><body style="font-family:sans-serif">
<h1>Soak: %.0f s, %d calls, %d unexpected errors, %d fault-explained errors, %d upstream 429s</h1>%s%s
<p>Series: soak.json (one sample every 5 s). RSS is the whole test process: gateway, sandbox and load generator.</p></body>`,
		last.Seconds, last.Calls, last.Unexpected, last.FaultErrors, last.Upstream429,
		chart("Memory (KiB)", map[string]func(soakSample) float64{
			"RSS":  func(s soakSample) float64 { return float64(s.RSSKiB) },
			"heap": func(s soakSample) float64 { return float64(s.HeapKiB) },
		}, map[string]string{"RSS": "#c0392b", "heap": "#2980b9"}),
		chart("Goroutines", map[string]func(soakSample) float64{
			"goroutines": func(s soakSample) float64 { return float64(s.Goroutines) },
		}, map[string]string{"goroutines": "#27ae60"}))
	if err := os.WriteFile(filepath.Join(dir, "soak.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("soak series in %s, chart in %s", filepath.Join(dir, "soak.json"), filepath.Join(dir, "soak.html"))
}
