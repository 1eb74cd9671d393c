package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
)

// otlpSinkMain is `bench otlpsink`: the local collector of the tracing row.
// It accepts OTLP over HTTP (POST /v1/traces, /v1/metrics, /v1/logs),
// reads each export whole and answers 200 with an empty export response
// (an empty protobuf message is valid), as a healthy collector would, so
// that the gateway pays its full exporting cost and nothing more. On exit
// it prints how many exports and bytes it received, which shows that the
// spans really left the gateway.
func otlpSinkMain(args []string) error {
	fs := flag.NewFlagSet("bench otlpsink", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var exports, bytes atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		n, _ := io.Copy(io.Discard, r.Body)
		exports.Add(1)
		bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	err := serveHTTPUntilSignal(*addr, h)
	fmt.Fprintf(os.Stderr, "otlpsink: %d exports, %d bytes\n", exports.Load(), bytes.Load())
	return err
}
