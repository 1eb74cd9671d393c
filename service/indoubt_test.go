package service_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// fakeClock is shared by the sandbox (created_at) and the service (attempt
// times, index lag, store expiry), so waiting is advancing it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type inDoubtEnv struct {
	sb     *sandbox.Server
	clock  *fakeClock
	client *upstream.Client // for counting, without the options under test
	svc    *service.TicketService
	store  *service.MemoryIdempotencyStore
}

func newInDoubtEnv(t *testing.T, clientOpts ...upstream.Option) *inDoubtEnv {
	t.Helper()
	fc := newFakeClock()
	sb := sandbox.New(sandbox.WithClock(fc.Now), sandbox.WithRateLimit(0, 0))
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	c, err := upstream.New(append([]upstream.Option{upstream.WithToken("t"), upstream.WithBaseURL(hs.URL),
		upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})},
		clientOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := upstream.New(upstream.WithToken("t"), upstream.WithBaseURL(hs.URL))
	if err != nil {
		t.Fatal(err)
	}
	// The workspace's schema cache, warm as in a running gateway, so that
	// the creates below send Intercom only the create (and its searches).
	cache, err := schemacache.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	warm, cancel := context.WithTimeout(t.Context(), 10*time.Second) // beyond the client's short timeouts
	defer cancel()
	if _, err := cache.TicketType(warm, "1"); err != nil {
		t.Fatal(err)
	}
	store := service.NewMemoryIdempotencyStore(time.Hour, service.WithStoreClock(fc.Now))
	svc := service.NewTicketService(service.Single("default", cache), service.WithClock(fc.Now), service.WithIdempotencyStore(store),
		service.WithInDoubtPolicy(service.InDoubtPolicy{IndexLag: 2 * time.Minute, ClockSkew: time.Minute, Poll: 5 * time.Second, MaxPages: 3}))
	return &inDoubtEnv{sb: sb, clock: fc, client: counter, svc: svc, store: store}
}

func inDoubtCreate(title, requestID string) *gatewayv1.CreateTicketRequest {
	return &gatewayv1.CreateTicketRequest{TicketTypeId: "1", RequestId: requestID,
		Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "alice@example.com"}}},
		TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue(title)}}
}

// count is how many tickets with this exact title exist in the sandbox.
func (e *inDoubtEnv) count(t *testing.T, title string) int {
	t.Helper()
	page, err := e.client.SearchTickets(context.Background(), upstream.SearchParams{PerPage: 150,
		Query: upstream.SearchQuery{Field: "title", Operator: "=", Value: title}})
	if err != nil {
		t.Fatalf("counting tickets: %v", err)
	}
	return len(page.Tickets)
}

func (e *inDoubtEnv) creates() int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Route == "createTicket" {
			n++
		}
	}
	return n
}

// inDoubtRetry returns the RetryInfo delay of a CREATE_IN_DOUBT refusal, and
// fails the test for any other error.
func inDoubtRetry(t *testing.T, err error) time.Duration {
	t.Helper()
	st := status.Convert(err)
	var reason string
	var delay time.Duration = -1
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		case *errdetails.RetryInfo:
			delay = d.GetRetryDelay().AsDuration()
		}
	}
	if st.Code() != codes.Aborted || reason != service.ReasonCreateInDoubt || delay <= 0 {
		t.Fatalf("got %v (reason %q, retry %v), want ABORTED CREATE_IN_DOUBT with a retry delay", err, reason, delay)
	}
	return delay
}

func TestInDoubtCreates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("malformed answer: found at once", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		e.sb.SetFault("createTicket", sandbox.Fault{MalformedRate: 1, Remaining: 1})
		first, err := e.svc.CreateTicket(ctx, inDoubtCreate("malformed", "r1"))
		if err != nil {
			t.Fatalf("first call: %v", err)
		}
		again, err := e.svc.CreateTicket(ctx, inDoubtCreate("malformed", "r1"))
		if err != nil || again.GetTicket().GetId() != first.GetTicket().GetId() {
			t.Fatalf("retry: %v, ticket %q, want %q", err, again.GetTicket().GetId(), first.GetTicket().GetId())
		}
		if n := e.count(t, "malformed"); n != 1 {
			t.Errorf("%d tickets, want 1", n)
		}
	})

	t.Run("malformed answer, search down: refused, then found", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		e.sb.SetFault("createTicket", sandbox.Fault{MalformedRate: 1, Remaining: 1})
		e.sb.SetFault("searchTickets", sandbox.Fault{ErrorRate: 1, Remaining: 3}) // every retry of the one search
		_, err := e.svc.CreateTicket(ctx, inDoubtCreate("search down", "r2"))
		if d := inDoubtRetry(t, err); d != 5*time.Second {
			t.Errorf("retry delay %v, want the 5 s poll", d)
		}
		got, err := e.svc.CreateTicket(ctx, inDoubtCreate("search down", "r2"))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if n, c := e.count(t, "search down"), e.creates(); n != 1 || c != 1 || got.GetTicket().GetId() == "" {
			t.Errorf("%d tickets from %d creates, want 1 and 1", n, c)
		}
	})

	t.Run("503 before anything was made: wait the index lag, then create once", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		e.sb.SetFault("createTicket", sandbox.Fault{ErrorRate: 1, Remaining: 1})
		_, err := e.svc.CreateTicket(ctx, inDoubtCreate("unavailable", "r3"))
		if d := inDoubtRetry(t, err); d != 2*time.Minute {
			t.Errorf("retry delay %v, want the 2 min index lag", d)
		}
		e.clock.Advance(time.Minute)
		_, err = e.svc.CreateTicket(ctx, inDoubtCreate("unavailable", "r3"))
		if d := inDoubtRetry(t, err); d != time.Minute {
			t.Errorf("retry delay %v, want the minute left", d)
		}
		if c := e.creates(); c != 1 {
			t.Fatalf("%d creates inside the window, want 1", c)
		}
		e.clock.Advance(time.Minute)
		if _, err := e.svc.CreateTicket(ctx, inDoubtCreate("unavailable", "r3")); err != nil {
			t.Fatalf("after the lag: %v", err)
		}
		if n, c := e.count(t, "unavailable"), e.creates(); n != 1 || c != 2 {
			t.Errorf("%d tickets from %d creates, want 1 from 2", n, c)
		}
	})

	t.Run("connection reset", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		e.sb.SetFault("createTicket", sandbox.Fault{ResetRate: 1, Remaining: 1})
		_, err := e.svc.CreateTicket(ctx, inDoubtCreate("reset", "r4"))
		e.clock.Advance(inDoubtRetry(t, err))
		if _, err := e.svc.CreateTicket(ctx, inDoubtCreate("reset", "r4")); err != nil {
			t.Fatalf("after the lag: %v", err)
		}
		if n := e.count(t, "reset"); n != 1 {
			t.Errorf("%d tickets, want 1", n)
		}
	})

	t.Run("upstream timeout: the slow create lands later and is found", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t, upstream.WithTimeout(50*time.Millisecond))
		e.sb.SetFault("createTicket", sandbox.Fault{Latency: 300 * time.Millisecond, Remaining: 1})
		first, err := e.svc.CreateTicket(ctx, inDoubtCreate("slow", "r5"))
		if err != nil {
			// Not found yet: the sandbox finishes the create after the
			// client gave up.
			inDoubtRetry(t, err)
			deadline := time.Now().Add(10 * time.Second)
			for e.count(t, "slow") == 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		// The 50 ms timeout also bounds the reconciling search, which a
		// busy machine can miss, and on a very busy one even the create may
		// never have left: each retry is refused again (the caller waits as
		// told), never answered with a second ticket.
		var got *gatewayv1.CreateTicketResponse
		for range 20 {
			if got, err = e.svc.CreateTicket(ctx, inDoubtCreate("slow", "r5")); err == nil {
				break
			}
			e.clock.Advance(inDoubtRetry(t, err))
		}
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if first != nil && first.GetTicket().GetId() != got.GetTicket().GetId() {
			t.Errorf("retry gave ticket %q, first call %q", got.GetTicket().GetId(), first.GetTicket().GetId())
		}
		if n := e.count(t, "slow"); n != 1 || got.GetTicket().GetId() == "" {
			t.Errorf("%d tickets, want 1", n)
		}
	})

	t.Run("a 400 is not in doubt", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		req := inDoubtCreate("bad type", "r6")
		req.TicketTypeId = "999"
		if _, err := e.svc.CreateTicket(ctx, req); status.Code(err) == codes.Aborted || err == nil {
			t.Fatalf("got %v, want Intercom's refusal", err)
		}
		if e.store.Len() != 0 {
			t.Errorf("a refused create was remembered")
		}
	})

	t.Run("request_id reused for another ticket", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		if _, err := e.svc.CreateTicket(ctx, inDoubtCreate("one", "r7")); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.CreateTicket(ctx, inDoubtCreate("two", "r7"))
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("got %v, want FAILED_PRECONDITION", err)
		}
		if n := e.count(t, "two"); n != 0 {
			t.Errorf("%d tickets made for the reused request_id", n)
		}
	})

	t.Run("large tickets are remembered by id", func(t *testing.T) {
		t.Parallel()
		e := newInDoubtEnv(t)
		// Over the 64 KiB kept whole; the reported case was 40 creates of 3 MB.
		big := strings.Repeat("d", 256<<10)
		var ids []string
		for i := range 3 {
			req := inDoubtCreate(fmt.Sprintf("big %d", i), fmt.Sprintf("big-%d", i))
			req.TicketAttributes["_default_description_"] = structpb.NewStringValue(big)
			resp, err := e.svc.CreateTicket(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, resp.GetTicket().GetId())
		}
		if b := e.store.Bytes(); b > 2<<10 {
			t.Errorf("the store holds %d bytes for 3 creates of 256 KiB", b)
		}
		req := inDoubtCreate("big 0", "big-0")
		req.TicketAttributes["_default_description_"] = structpb.NewStringValue(big)
		resp, err := e.svc.CreateTicket(ctx, req)
		if err != nil || resp.GetTicket().GetId() != ids[0] ||
			resp.GetTicket().GetTicketAttributes()["_default_description_"].GetStringValue() != big {
			t.Errorf("retry: %v, ticket %q, want the full ticket %q", err, resp.GetTicket().GetId(), ids[0])
		}
	})
}

func TestMemoryIdempotencyStoreBounds(t *testing.T) {
	t.Parallel()
	fc := newFakeClock()
	s := service.NewMemoryIdempotencyStore(time.Hour, service.WithStoreClock(fc.Now), service.WithStoreBounds(100, 16<<10))
	ctx := context.Background()
	put := func(key string, size int) {
		_, err := s.Do(ctx, key, func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
			return service.CreateRecord{TicketID: key, Ticket: make([]byte, size)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		put(fmt.Sprint(i), 10)
		if s.Len() > 100 || s.Bytes() > 16<<10 {
			t.Fatalf("after %d inserts: %d entries, %d bytes", i+1, s.Len(), s.Bytes())
		}
	}
	for i := range 20 {
		put(fmt.Sprint("big", i), 4<<10)
		if s.Bytes() > 16<<10 {
			t.Fatalf("%d bytes over the 16 KiB bound", s.Bytes())
		}
	}
	// Expiry: an hour later nothing is remembered.
	fc.Advance(time.Hour + time.Second)
	calls := 0
	_, _ = s.Do(ctx, "big19", func(context.Context, *service.InDoubt) (service.CreateRecord, error) {
		calls++
		return service.CreateRecord{}, nil
	})
	if calls != 1 {
		t.Errorf("an expired record was served")
	}
}
