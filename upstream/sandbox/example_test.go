package sandbox_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// A sandbox on loopback, first answering normally, then told to fail the
// next request for a ticket with a 503.
func Example() {
	s := sandbox.New()
	ts := httptest.NewServer(s)
	defer ts.Close()

	get := func() int {
		req, _ := http.NewRequest("GET", ts.URL+"/tickets/"+sandbox.SeedTicketLogin, nil)
		req.Header.Set("Authorization", "Bearer any-token")
		req.Header.Set("Intercom-Version", "2.11")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(get())
	s.SetFault("getTicket", sandbox.Fault{ErrorRate: 1, Remaining: 1})
	fmt.Println(get(), get())

	// The same through the admin surface, e.g. from curl against `gateway sandbox`.
	req, _ := http.NewRequest("PUT", ts.URL+"/__sandbox/faults/*", strings.NewReader(`{"rate_limit_rate":1,"remaining":1}`))
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	fmt.Println(get(), len(s.Requests()))
	// Output:
	// 200
	// 503 200
	// 429 4
}
