package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Example shows a client aimed at a stand-in for Intercom, a search, and how errors are inspected.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "99")
		if r.URL.Path == "/tickets/search" {
			fmt.Fprint(w, `{"type":"ticket.list","total_count":1,"tickets":[{"type":"ticket","id":"7",
				"ticket_state":"waiting_on_customer","admin_assignee_id":"0"}],"pages":{"type":"pages","page":1,"per_page":20,"total_pages":1}}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"type":"error.list","request_id":"req-1","errors":[{"code":"ticket_not_found","message":"Ticket not found"}]}`)
	}))
	defer srv.Close()

	c, err := upstream.New(
		upstream.WithToken("dG9rOmV4YW1wbGU="),
		upstream.WithBaseURL(srv.URL), // normally WithRegion(upstream.RegionEU) or the US default
		upstream.WithTimeout(5*time.Second),
	)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	page, err := c.SearchTickets(ctx, upstream.SearchParams{
		Query: upstream.SearchQuery{Field: "open", Operator: "=", Value: true},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(page.TotalCount, page.Tickets[0].ID, page.Tickets[0].State.Category)

	_, err = c.GetTicket(ctx, "404")
	var apiErr *upstream.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code(), apiErr.RequestID, apiErr.RateLimit.Remaining)
	}
	// Output:
	// 1 7 waiting_on_customer
	// 404 ticket_not_found req-1 99
}
