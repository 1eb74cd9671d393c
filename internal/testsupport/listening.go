package testsupport

import (
	"encoding/json"
	"strings"
)

// ListeningAddrs reads the gRPC and HTTP addresses from the gateway's
// "listening" log record in logs (JSON lines), once it has been written.
// Tests start the gateway on port 0 and read the bound ports back: a port
// picked free beforehand can be taken by an outgoing connection, which draws
// from the same ephemeral range, before the gateway binds it.
func ListeningAddrs(logs string) (grpcAddr, httpAddr string, ok bool) {
	for line := range strings.SplitSeq(logs, "\n") {
		var rec struct {
			Msg      string `json:"msg"`
			GRPCAddr string `json:"grpc_addr"`
			HTTPAddr string `json:"http_addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			return rec.GRPCAddr, rec.HTTPAddr, true
		}
	}
	return "", "", false
}
