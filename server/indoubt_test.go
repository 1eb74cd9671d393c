package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// sharedClock is the one clock of the sandbox (created_at) and the services
// (attempt times, index lag): a caller told to wait advances it.
type sharedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *sharedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *sharedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestNoDuplicateCreatesUnderFaults: 1,000 creates with a request_id over
// gRPC and 1,000 over REST, each retried by its caller until it succeeds,
// against a sandbox that adds 20 ms to every request and resets 5%, rate
// limits 5%, fails 10% with 503 and garbles 5% of the answers (applied).
// Every request_id ends with exactly one ticket.
func TestNoDuplicateCreatesUnderFaults(t *testing.T) {
	t.Parallel()
	const perTransport, workers = 1000, 64
	clock := &sharedClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.WithClock(clock.Now), sandbox.WithRateLimit(0, 0), sandbox.WithRandSeed(7))
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	client, err := upstream.New(upstream.WithToken("t"), upstream.WithBaseURL(hs.URL),
		upstream.WithTransport(&http.Transport{MaxIdleConnsPerHost: workers}),
		// Quick retries, and a 429 goes back to the caller at once instead of
		// waiting for a window of the fake clock in real time.
		upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	store := service.NewMemoryIdempotencyStore(24*time.Hour, service.WithStoreClock(clock.Now))
	b := service.Single("default", client)
	g := startGatewayWith(t, server.Config{}, server.Services{
		Tickets: service.NewTicketService(b, service.WithClock(clock.Now), service.WithIdempotencyStore(store),
			service.WithInDoubtPolicy(service.InDoubtPolicy{IndexLag: 30 * time.Second, ClockSkew: time.Minute, Poll: time.Second, MaxPages: 3})),
		TicketTypes: service.NewTicketTypeService(b),
		Tags:        service.NewTagService(b),
	})
	sb.SetFault("*", sandbox.Fault{Latency: 20 * time.Millisecond, ResetRate: 0.05, RateLimitRate: 0.05, ErrorRate: 0.10, MalformedRate: 0.05})

	var calls, inDoubt atomic.Int64
	// outcome is one call's result: the ticket id, or the wait a
	// CREATE_IN_DOUBT asked for, or a retryable failure.
	type outcome struct {
		id    string
		wait  time.Duration
		retry bool
		err   error
	}
	grpcCreate := func(title, rid string) outcome {
		resp, err := gatewayv1.NewTicketServiceClient(g.conn).CreateTicket(context.Background(), &gatewayv1.CreateTicketRequest{
			TicketTypeId: "1", RequestId: rid,
			Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "alice@example.com"}}},
			TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue(title)},
		})
		if err == nil {
			return outcome{id: resp.GetTicket().GetId()}
		}
		st := status.Convert(err)
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && st.Code() == codes.Aborted {
				return outcome{wait: ri.GetRetryDelay().AsDuration()}
			}
		}
		return outcome{retry: retryable(st.Code()), err: err}
	}
	restCreate := func(title, rid string) outcome {
		body := fmt.Sprintf(`{"ticket_type_id":"1","request_id":%q,"contacts":[{"email":"alice@example.com"}],"ticket_attributes":{"_default_title_":%q}}`, rid, title)
		resp, b := g.do(t, http.MethodPost, "/v1/tickets", body, http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode == http.StatusOK {
			var out struct {
				Ticket struct {
					ID string `json:"id"`
				} `json:"ticket"`
			}
			if err := json.Unmarshal(b, &out); err != nil {
				return outcome{err: err}
			}
			return outcome{id: out.Ticket.ID}
		}
		var st struct {
			Code    codes.Code `json:"code"`
			Details []struct {
				Reason     string `json:"reason"`
				RetryDelay string `json:"retry_delay"`
			} `json:"details"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return outcome{err: fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)}
		}
		for _, d := range st.Details {
			if d.RetryDelay != "" && st.Code == codes.Aborted && resp.StatusCode == http.StatusConflict {
				wait, err := time.ParseDuration(d.RetryDelay)
				return outcome{wait: wait, err: err}
			}
		}
		return outcome{retry: retryable(st.Code), err: fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)}
	}

	// ids[transport][i] is the ticket every call with that request_id got.
	ids := map[string][]string{"grpc": make([]string, perTransport), "rest": make([]string, perTransport)}
	create := map[string]func(string, string) outcome{"grpc": grpcCreate, "rest": restCreate}
	type job struct {
		transport string
		i         int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				title, rid := fmt.Sprintf("idem %s %04d", j.transport, j.i), fmt.Sprintf("%s-%04d", j.transport, j.i)
				for attempt := 0; ; attempt++ {
					if attempt == 100 || failed.Load() {
						failed.Store(true)
						t.Errorf("%s: no ticket after %d calls", rid, attempt)
						break
					}
					calls.Add(1)
					o := create[j.transport](title, rid)
					if o.id != "" {
						if prev := ids[j.transport][j.i]; prev != "" && prev != o.id {
							t.Errorf("%s: ticket %s, earlier %s", rid, o.id, prev)
						}
						ids[j.transport][j.i] = o.id
						// Every tenth asks once more: a retry after success
						// returns the same ticket.
						if attempt == 0 && j.i%10 == 0 {
							continue
						}
						break
					}
					switch {
					case o.wait > 0:
						inDoubt.Add(1)
						clock.Advance(o.wait)
					case !o.retry:
						failed.Store(true)
						t.Errorf("%s: %v", rid, o.err)
					}
					if failed.Load() {
						break
					}
				}
			}
		})
	}
	for i := range perTransport {
		jobs <- job{"grpc", i}
		jobs <- job{"rest", i}
	}
	close(jobs)
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}

	// Count the tickets by title, with the faults off.
	sb.ClearFaults()
	perTitle := map[string]int{}
	cursor := ""
	for {
		page, err := client.SearchTickets(context.Background(), upstream.SearchParams{PerPage: 150, StartingAfter: cursor,
			Query: upstream.SearchQuery{Field: "title", Operator: "^", Value: "idem "}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page.Tickets {
			perTitle[tk.Attributes["_default_title_"].(string)]++
		}
		if cursor = page.NextStartingAfter; cursor == "" {
			break
		}
	}
	duplicates, missing := 0, 0
	for _, tr := range []string{"grpc", "rest"} {
		for i := range perTransport {
			switch n := perTitle[fmt.Sprintf("idem %s %04d", tr, i)]; {
			case n == 0:
				missing++
			case n > 1:
				duplicates += n - 1
			}
		}
	}
	creates := 0
	for _, r := range sb.Requests() {
		if r.Route == "createTicket" {
			creates++
		}
	}
	t.Logf("%d request_id creates: %d gateway calls, %d CREATE_IN_DOUBT answers, %d Intercom create requests, %d tickets, %d duplicates, %d missing; request_id store: %d entries, %d bytes",
		2*perTransport, calls.Load(), inDoubt.Load(), creates, len(perTitle), duplicates, missing, store.Len(), store.Bytes())
	if duplicates != 0 || missing != 0 || len(perTitle) != 2*perTransport {
		t.Errorf("%d duplicates and %d missing among %d creates (%d titles)", duplicates, missing, 2*perTransport, len(perTitle))
	}
	if inDoubt.Load() == 0 {
		t.Error("no create was in doubt: the fault mix did not reach the reconciliation")
	}
}

// retryable is what a careful client retries with the same request_id.
func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}
