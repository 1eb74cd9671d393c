package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHugeRESTBodiesKeepMemoryFlat: four 100 MB REST bodies at once, two
// announced by Content-Length and two chunked, are all refused with 413
// while the gateway process's peak RSS (VmHWM) stays under 64 MiB. Before
// the body limit one such body took the gateway from 29 MB to 470 MB and
// came back as 429.
func TestHugeRESTBodiesKeepMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read VmHWM")
	}
	t.Parallel()
	bin := buildGateway(t)
	p := startProcess(t, bin, "GATEWAY_SANDBOX=on", "GATEWAY_GRPC_ADDR=127.0.0.1:0", "GATEWAY_HTTP_ADDR=127.0.0.1:0",
		"GATEWAY_SANDBOX_ADDR=127.0.0.1:0")
	listening := p.waitListening(t)
	addr := listening["http_addr"].(string)
	before := vmHWM(t, p.cmd.Process.Pid)

	const size = 100 << 20
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	for i := range statuses {
		wg.Go(func() { statuses[i] = postHuge(t, addr, size, i%2 == 0) })
	}
	wg.Wait()
	after := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("gateway VmHWM: %d KiB before, %d KiB after four 100 MB bodies", before>>10, after>>10)
	for i, s := range statuses {
		if s != http.StatusRequestEntityTooLarge {
			t.Errorf("body %d: HTTP %d, want 413", i, s)
		}
	}
	if after > 64<<20 {
		t.Errorf("VmHWM %d MiB, want under 64 MiB", after>>20)
	}
}

// postHuge sends a POST /v1/tickets whose body is size bytes of one JSON
// string, generated as it is written, and returns the answer's status. It
// stops writing once the server answers or closes.
func postHuge(t *testing.T, addr string, size int64, chunked bool) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer c.Close()
	head := "POST /v1/tickets HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += "Content-Length: " + strconv.FormatInt(size, 10) + "\r\n\r\n"
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := c.Write([]byte(head)); err != nil {
			return
		}
		// Valid JSON as far as it goes, so only its size can stop it.
		prefix := `{"ticket_type_id":"`
		if chunked {
			prefix = fmt.Sprintf("%x\r\n%s\r\n", len(prefix), prefix)
		}
		if _, err := c.Write([]byte(prefix)); err != nil {
			return
		}
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			b := chunk
			if chunked {
				b = append([]byte(fmt.Sprintf("%x\r\n", len(chunk))), append(chunk, "\r\n"...)...)
			}
			if _, err := c.Write(b); err != nil {
				return // the server answered and closed
			}
		}
		if chunked {
			_, _ = c.Write([]byte("0\r\n\r\n"))
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("reading the answer: %v", err)
		return 0
	}
	_ = resp.Body.Close()
	_ = c.Close()
	<-done
	return resp.StatusCode
}

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM line")
	return 0
}
