package upstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// cpuTime is this process's user+system CPU time. Benchmarks report it per operation (cpu-ns/op)
// beside ns/op, because on a shared machine wall time also counts the time other processes ran.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeTicket decodes GET /tickets/{id} bodies as the sandbox answers them (2.11 and
// Preview shapes: a ticket with its ticket type, attributes and parts) into the model, the step that
// dominated the gateway's CPU profile under load.
func BenchmarkDecodeTicket(b *testing.B) {
	srv := httptest.NewServer(sandbox.New(sandbox.WithRateLimit(0, 0)))
	defer srv.Close()
	for _, version := range []Version{Version211, VersionPreview} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/tickets/"+sandbox.SeedTicketLogin, nil)
		req.Header.Set("Authorization", "Bearer bench")
		req.Header.Set("Intercom-Version", string(version))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET ticket: %d %v", resp.StatusCode, err)
		}
		b.Run(string(version), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			cpu0 := cpuTime()
			for b.Loop() {
				var w wireTicket
				if err := decodeBody(data, &w); err != nil {
					b.Fatal(err)
				}
				if _, err := w.model(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
