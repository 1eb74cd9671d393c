package upstream

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// MaxIdleConnsPerHost is how many idle keep-alive connections to one Intercom host the default
// transport keeps. Go's default is 2: with more calls in flight than that, every extra call opens (and
// later closes) a TCP and TLS connection of its own, which under load costs far more CPU and latency
// than the call itself. 256 covers the concurrency one gateway reaches within Intercom's rate limits
// (thousands of calls per minute per workspace, developers.intercom.com "Rate limiting").
const MaxIdleConnsPerHost = 256

// NewTransport returns the transport a Client uses unless WithTransport or WithHTTPClient gives
// another: a pool of keep-alive connections sized for concurrency, HTTP/2 when the host negotiates it
// (Intercom's hosts offer it over TLS, and then one connection carries many calls), and timeouts for
// each step of a connection. The whole call is bounded by the caller's deadline (WithTimeout), so there
// is no response timeout here.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// A custom DialContext turns HTTP/2 off unless it is asked for.
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:   MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// defaultTransport is shared by every Client built without a transport of its own, so that clients of
// several workspaces on the same host share one pool instead of each keeping idle connections.
var defaultTransport = sync.OnceValue(NewTransport)
