package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/internal/redistest"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/service/redisstore"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
	"github.com/intercom-gateway/intercom-gateway/workspace"
)

// The fault matrix: every way Intercom, Redis, the network or the caller
// can misbehave, each case run over gRPC and over REST against the real
// stack (server → service → upstream client → sandbox on loopback, real
// redis-server where Redis is involved). Per case and transport it checks
// the gRPC code or HTTP status, RetryInfo where a retry helps, how many
// attempts reached Intercom, that no create was applied twice (with and
// without request_id) and that no goroutine outlives the case.
//
// README.md's "Failure behaviour" table is checked against matrixCases by
// TestReadmeFailureTableMatchesMatrix: change one, change the other.

// matrixEnv is one stack for one case and transport.
type matrixEnv struct {
	t     *testing.T
	sb    *sandbox.Server
	sbURL string
	g     *gateway
	clock *sharedClock
	rest  *http.Client
	redis *redistest.Server // nil unless the case asked for Redis
	// token, when the case asked for a token file, replaces the file's
	// token the way a secret rotation does (a new file renamed over it).
	token func(next string)
	// replicas are the gateways a case added besides g.
	replicas []*gateway
}

// stackSpec says which optional parts a case needs.
type stackSpec struct {
	limiter func(t *testing.T, e *matrixEnv) *ratelimit.Limiter // nil: no limiter
	store   func(t *testing.T, e *matrixEnv) service.IdempotencyStore
	redis   bool
	// tokenFile: the client reads its token from a watched file
	// (workspace.WatchFile, as a workspace with token_file does) holding
	// oldToken; the sandbox accepts oldToken and newToken.
	tokenFile bool
}

// The tokens of the token-file case.
const oldToken, newToken = "matrix-old-token", "matrix-new-token"

func startMatrixStack(t *testing.T, spec stackSpec) *matrixEnv {
	t.Helper()
	e := &matrixEnv{t: t, clock: &sharedClock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}
	if spec.redis {
		e.redis = redistest.Start(t)
	}
	sbOpts := []sandbox.Option{sandbox.WithClock(e.clock.Now), sandbox.WithRateLimit(0, 0)}
	if spec.tokenFile {
		sbOpts = append(sbOpts, sandbox.WithTokens(oldToken, newToken))
	}
	e.sb = sandbox.New(sbOpts...)
	hs := httptest.NewServer(e.sb)
	t.Cleanup(hs.Close)
	e.sbURL = hs.URL
	e.g = e.addReplica(t, spec)
	rt := &http.Transport{}
	e.rest = &http.Client{Transport: rt}
	t.Cleanup(rt.CloseIdleConnections)
	return e
}

// addReplica starts one more gateway on the case's sandbox (and Redis),
// with its own upstream client, limiter, request_id store and schema
// cache: a replica.
func (e *matrixEnv) addReplica(t *testing.T, spec stackSpec) *gateway {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	opts := []upstream.Option{upstream.WithBaseURL(e.sbURL), upstream.WithTransport(tr), fastRetries()}
	if spec.tokenFile {
		dir := t.TempDir()
		path := filepath.Join(dir, "token")
		if err := os.WriteFile(path, []byte(oldToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// An hour's poll: only the file watch can pick the change up in time.
		ft, err := workspace.WatchFile(path, time.Hour, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ft.Close() })
		opts = append(opts, upstream.WithTokenSource(ft.Token))
		e.token = func(next string) {
			tmp := filepath.Join(dir, ".token.tmp")
			if err := os.WriteFile(tmp, []byte(next+"\n"), 0o600); err != nil {
				t.Error(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Error(err)
			}
		}
	} else {
		opts = append(opts, upstream.WithToken("test-token"))
	}
	if spec.limiter != nil {
		opts = append(opts, upstream.WithLimiter(spec.limiter(t, e)))
	}
	client, err := upstream.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	// The workspace's schema cache, primed with the type the creates use
	// (read by a client outside the limiter), as in a running gateway: the
	// cases count what the calls themselves send.
	cache, err := schemacache.New(client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	plain, err := upstream.New(upstream.WithToken(newToken), upstream.WithBaseURL(e.sbURL))
	if err != nil {
		t.Fatal(err)
	}
	bug, err := plain.GetTicketType(t.Context(), sandbox.SeedTicketTypeBug)
	if err != nil {
		t.Fatal(err)
	}
	cache.Prime(bug)
	e.sb.ResetRequests()
	discard := service.WithLogger(slog.New(slog.DiscardHandler))
	b := service.Single("default", cache)
	store := service.IdempotencyStore(service.NewMemoryIdempotencyStore(time.Hour, service.WithStoreClock(e.clock.Now)))
	if spec.store != nil {
		store = spec.store(t, e)
	}
	return startGatewayWith(t, server.Config{}, server.Services{
		Tickets: service.NewTicketService(b, discard, service.WithClock(e.clock.Now), service.WithIdempotencyStore(store),
			service.WithInDoubtPolicy(service.InDoubtPolicy{IndexLag: 30 * time.Second, ClockSkew: time.Minute, Poll: time.Second, MaxPages: 3})),
		TicketTypes: service.NewTicketTypeService(b, discard),
		Tags:        service.NewTagService(b, discard),
	})
}

// redisClient is a go-redis client on the case's redis-server, closed at
// the end of the case. Its timeouts (and the limiter's and the store's
// below) are generous, so that a slow answer on a loaded CI machine is not
// mistaken for an outage (the 429 storm needs the pause written); a killed
// Redis refuses connections at once, so the outage cases do not wait on
// them.
func (e *matrixEnv) redisClient(t *testing.T) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr(), DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func sharedLimiter(t *testing.T, e *matrixEnv) *ratelimit.Limiter {
	cfg := ratelimit.DefaultConfig()
	cfg.RedisTimeout = 500 * time.Millisecond
	cfg.MaxWait = 2 * time.Second
	s := ratelimit.NewShared(e.redisClient(t), cfg, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	return s.For("default", ratelimit.Budget{Limit: 10000})
}

func redisStore(t *testing.T, e *matrixEnv) service.IdempotencyStore {
	return redisstore.New(e.redisClient(t), time.Hour, redisstore.WithTimeout(500*time.Millisecond),
		redisstore.WithLogger(slog.New(slog.DiscardHandler)))
}

// outcome is what one call showed its caller.
type outcome struct {
	code       codes.Code
	http       int // REST only; -1 when the client itself gave up
	retryInfo  bool
	retryDelay time.Duration
	reason     string
	ticketID   string
}

func (o outcome) String() string {
	return fmt.Sprintf("code=%v http=%d retryInfo=%v reason=%q", o.code, o.http, o.retryInfo, o.reason)
}

func fromStatus(st *status.Status) outcome {
	d, ri := service.RetryAfter(st)
	return outcome{code: st.Code(), retryInfo: ri, retryDelay: d, reason: reason(st)}
}

// call is one RPC over one transport. grpcTimeout, when > 0, is the
// caller's deadline (REST: the Grpc-Timeout header); cancelAfter, when > 0,
// cancels the call from the caller's side.
type callOpts struct {
	create      bool
	title, rid  string
	deadline    time.Duration
	cancelAfter time.Duration
}

func (e *matrixEnv) call(transport string, o callOpts) outcome {
	return e.callOn(e.g, transport, o)
}

// callOn is call through replica g.
func (e *matrixEnv) callOn(g *gateway, transport string, o callOpts) outcome {
	ctx := context.Background()
	if o.cancelAfter > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		timer := time.AfterFunc(o.cancelAfter, cancel)
		defer timer.Stop()
		defer cancel()
	}
	if transport == "grpc" {
		if o.deadline > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.deadline)
			defer cancel()
		}
		var err error
		if o.create {
			var resp *gatewayv1.CreateTicketResponse
			resp, err = gatewayv1.NewTicketServiceClient(g.conn).CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
				TicketTypeId: sandbox.SeedTicketTypeBug, RequestId: o.rid,
				Contacts:         []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: sandbox.SeedContactAlice}}},
				TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue(o.title)},
			})
			if err == nil {
				return outcome{code: codes.OK, ticketID: resp.GetTicket().GetId()}
			}
		} else {
			_, err = gatewayv1.NewTicketServiceClient(g.conn).GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: sandbox.SeedTicketLogin})
		}
		return fromStatus(status.Convert(err))
	}
	method, path, body := http.MethodGet, "/v1/tickets/"+sandbox.SeedTicketLogin, ""
	if o.create {
		method, path = http.MethodPost, "/v1/tickets"
		body = fmt.Sprintf(`{"ticket_type_id":%q,"request_id":%q,"contacts":[{"id":%q}],"ticket_attributes":{"_default_title_":%q}}`,
			sandbox.SeedTicketTypeBug, o.rid, sandbox.SeedContactAlice, o.title)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.httpURL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if o.deadline > 0 {
		// grpc-gateway turns Grpc-Timeout into the call's deadline ("m" is
		// milliseconds).
		req.Header.Set("Grpc-Timeout", fmt.Sprintf("%dm", o.deadline.Milliseconds()))
	}
	resp, err := e.rest.Do(req)
	if err != nil {
		return outcome{code: codes.Canceled, http: -1}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{code: codes.Canceled, http: -1}
	}
	if resp.StatusCode == http.StatusOK {
		var out struct {
			Ticket struct {
				ID string `json:"id"`
			} `json:"ticket"`
		}
		_ = json.Unmarshal(b, &out)
		return outcome{code: codes.OK, http: http.StatusOK, ticketID: out.Ticket.ID}
	}
	st := &spb.Status{}
	if err := protojson.Unmarshal(b, st); err != nil {
		e.t.Errorf("HTTP %d body is not google.rpc.Status JSON: %s", resp.StatusCode, b)
		return outcome{http: resp.StatusCode}
	}
	o2 := fromStatus(status.FromProto(st))
	o2.http = resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		e.t.Errorf("HTTP 429 without Retry-After")
	}
	return o2
}

// attempts counts the requests of route that reached Intercom.
func (e *matrixEnv) attempts(route string) int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Route == route {
			n++
		}
	}
	return n
}

// appliedCreates counts, per title, the createTicket requests Intercom
// applied (answered 200, including the garbled answers of malformed_rate,
// which the sandbox applies).
func (e *matrixEnv) appliedCreates() map[string]int {
	out := map[string]int{}
	for _, r := range e.sb.Requests() {
		if r.Route != "createTicket" || r.Status != http.StatusOK {
			continue
		}
		var body struct {
			Attrs map[string]any `json:"ticket_attributes"`
		}
		_ = json.Unmarshal(r.Body, &body)
		title, _ := body.Attrs["_default_title_"].(string)
		out[title]++
	}
	return out
}

// matrixCase is one row of the matrix (and of README's table).
type matrixCase struct {
	name  string // README "Fault" column
	spec  stackSpec
	fault *sandbox.Fault // installed on every route before the call
	// before runs after the stack is up and before the fault is installed
	// and the call made (Redis kills, a limiter drained, load before a
	// kill, replicas added).
	before func(t *testing.T, e *matrixEnv, transport string)
	// run, when set, replaces the single call (and its keyed twin): a case
	// under load or across replicas makes its own calls and checks them
	// against the want fields, which then describe every call it makes
	// (README shows them).
	run  func(t *testing.T, e *matrixEnv, transport string, tc matrixCase)
	call callOpts
	// What the caller sees.
	wantCode      codes.Code
	wantHTTP      int // -1: the REST client gave up itself (cancel)
	wantRetryInfo bool
	wantAttempts  int // Intercom requests for the call's route
	retryable     bool
	// keyed, for creates, is what the same create with a request_id sees
	// when it differs: a create that may have been applied is in doubt.
	keyed *keyedWant
}

// keyedWant is the outcome of a create with a request_id.
type keyedWant struct {
	code      codes.Code
	http      int
	retryInfo bool
}

// inDoubt is what a create with a request_id sees when Intercom may have
// applied it: ABORTED / 409 CREATE_IN_DOUBT with RetryInfo; retrying with
// the same request_id after the delay is safe.
var inDoubt = &keyedWant{code: codes.Aborted, http: 409, retryInfo: true}

func fault(f sandbox.Fault) *sandbox.Fault { return &f }

var matrixCases = []matrixCase{
	{name: "Intercom 500 on a read", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 500}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 3, retryable: true},
	{name: "Intercom 502 on a read", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 502}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 3, retryable: true},
	{name: "Intercom 503 on a read", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 503}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 3, retryable: true},
	{name: "Intercom 504 on a read", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 504}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 3, retryable: true},
	{name: "Intercom 503 on a create", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 503}), call: callOpts{create: true},
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 1, retryable: true, keyed: inDoubt},
	{name: "timeout before the headers", fault: fault(sandbox.Fault{Latency: 3 * time.Second}), call: callOpts{deadline: 300 * time.Millisecond},
		wantCode: codes.DeadlineExceeded, wantHTTP: 504, wantAttempts: 1, retryable: true},
	{name: "timeout during the body", fault: fault(sandbox.Fault{SlowBody: 3 * time.Second}), call: callOpts{deadline: 300 * time.Millisecond},
		wantCode: codes.DeadlineExceeded, wantHTTP: 504, wantAttempts: 1, retryable: true},
	{name: "slow body within the deadline", fault: fault(sandbox.Fault{SlowBody: 100 * time.Millisecond}), call: callOpts{deadline: 10 * time.Second},
		wantCode: codes.OK, wantHTTP: 200, wantAttempts: 1},
	{name: "connection reset on a read", fault: fault(sandbox.Fault{ResetRate: 1}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 3, retryable: true},
	{name: "connection reset on a create (not applied)", fault: fault(sandbox.Fault{ResetRate: 1}), call: callOpts{create: true},
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 1, retryable: true, keyed: inDoubt},
	// The request was sent and Intercom made the ticket, but the answer
	// was lost: a retry with the same request_id must find that ticket,
	// not make a second one.
	{name: "connection reset on a create (applied)", fault: fault(sandbox.Fault{ResetAfterRate: 1}), call: callOpts{create: true},
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 1, retryable: true, keyed: inDoubt},
	{name: "malformed JSON on a read", fault: fault(sandbox.Fault{MalformedRate: 1}),
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 1, retryable: true},
	{name: "malformed JSON on a create (applied)", fault: fault(sandbox.Fault{MalformedRate: 1}), call: callOpts{create: true},
		wantCode: codes.Unavailable, wantHTTP: 503, wantAttempts: 1, retryable: true, keyed: inDoubt},
	// The stack's retry policy may not wait for a 429 (MaxRateLimitWait
	// 0), so no retry can pass: the 429 goes back after one attempt
	// instead of spending three on the same refusal.
	{name: "429 with rate headers on a read", fault: fault(sandbox.Fault{RateLimitRate: 1}),
		wantCode: codes.ResourceExhausted, wantHTTP: 429, wantRetryInfo: true, wantAttempts: 1, retryable: true},
	{name: "429 without rate headers on a read", fault: fault(sandbox.Fault{ErrorRate: 1, ErrorStatus: 429}),
		wantCode: codes.ResourceExhausted, wantHTTP: 429, wantRetryInfo: true, wantAttempts: 1, retryable: true},
	// A 429 means Intercom did not apply the create, so even a create may
	// be retried when the wait fits (here it does not).
	{name: "429 on a create", fault: fault(sandbox.Fault{RateLimitRate: 1}), call: callOpts{create: true},
		wantCode: codes.ResourceExhausted, wantHTTP: 429, wantRetryInfo: true, wantAttempts: 1, retryable: true},
	// One replica's 429 pauses them all (through Redis): the others'
	// calls are refused without reaching Intercom (0 attempts each), with
	// RetryInfo until Intercom's reset.
	{name: "429 storm across 3 replicas sharing Redis", spec: stackSpec{redis: true, limiter: sharedLimiter, store: redisStore},
		fault: fault(sandbox.Fault{RateLimitRate: 1}), before: addStormReplicas, run: runStorm, call: callOpts{create: true},
		wantCode: codes.ResourceExhausted, wantHTTP: 429, wantRetryInfo: true, wantAttempts: 1, retryable: true},
	{name: "Redis down at start", spec: stackSpec{redis: true, limiter: sharedLimiter, store: redisStore}, call: callOpts{create: true},
		before:   func(t *testing.T, e *matrixEnv, _ string) { e.redis.Stop() },
		wantCode: codes.OK, wantHTTP: 200, wantAttempts: 1},
	{name: "Redis killed mid-load", spec: stackSpec{redis: true, limiter: sharedLimiter, store: redisStore}, call: callOpts{create: true},
		before: func(t *testing.T, e *matrixEnv, transport string) {
			for i := range 5 {
				if o := e.call(transport, callOpts{create: true, title: fmt.Sprintf("warm %d", i), rid: fmt.Sprintf("warm-%d", i)}); o.code != codes.OK {
					t.Fatalf("warm-up create with Redis up: %v", o)
				}
			}
			e.redis.Stop()
			e.sb.ResetRequests()
		},
		wantCode: codes.OK, wantHTTP: 200, wantAttempts: 1},
	{name: "Redis flapping under load", spec: stackSpec{redis: true, limiter: sharedLimiter, store: redisStore}, call: callOpts{create: true},
		run: runFlapping, wantCode: codes.OK, wantHTTP: 200, wantAttempts: 1},
	{name: "client cancels mid-call", fault: fault(sandbox.Fault{Latency: 3 * time.Second}), call: callOpts{cancelAfter: 200 * time.Millisecond},
		wantCode: codes.Canceled, wantHTTP: -1, wantAttempts: 1},
	{name: "deadline expires waiting on the limiter", spec: stackSpec{limiter: func(t *testing.T, e *matrixEnv) *ratelimit.Limiter {
		return ratelimit.NewLocal(ratelimit.Config{MaxWait: 30 * time.Second}).For("default", ratelimit.Budget{Limit: 2})
	}}, call: callOpts{deadline: 300 * time.Millisecond},
		before: func(t *testing.T, e *matrixEnv, transport string) {
			if o := e.call(transport, callOpts{}); o.code != codes.OK {
				t.Fatalf("first call should pass the limiter: %v", o)
			}
			e.sb.ResetRequests()
		},
		wantCode: codes.ResourceExhausted, wantHTTP: 429, wantRetryInfo: true, wantAttempts: 0, retryable: true},
	{name: "token file rotated mid-load", spec: stackSpec{tokenFile: true}, run: runTokenRotation,
		wantCode: codes.OK, wantHTTP: 200, wantAttempts: 1},
}

// TestFaultMatrix runs every case over both transports. It is not
// parallel: the goroutine-leak check needs a quiet process (Go runs the
// package's parallel tests only after the sequential ones).
func TestFaultMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault matrix starts a stack per case")
	}
	start := time.Now()
	for _, tc := range matrixCases {
		for _, transport := range []string{"grpc", "rest"} {
			t.Run(tc.name+"/"+transport, func(t *testing.T) {
				// Registered first, so it runs after every other cleanup
				// (the stack's) has run.
				ignore := goleak.IgnoreCurrent()
				t.Cleanup(func() {
					noLeak(t, ignore)
				})
				runMatrixCase(t, tc, transport)
			})
		}
	}
	t.Logf("fault matrix: %d cases x 2 transports in %v", len(matrixCases), time.Since(start).Round(time.Millisecond))
}

func runMatrixCase(t *testing.T, tc matrixCase, transport string) {
	e := startMatrixStack(t, tc.spec)
	if tc.before != nil {
		tc.before(t, e, transport)
	}
	route := "getTicket"
	if tc.call.create {
		route = "createTicket"
	}
	if tc.fault != nil {
		e.sb.SetFault("*", *tc.fault)
	}
	if tc.run != nil {
		tc.run(t, e, transport, tc)
		return
	}
	// A create runs twice: without and with a request_id.
	variants := []callOpts{tc.call}
	if tc.call.create {
		plain, keyed := tc.call, tc.call
		plain.title = "matrix plain " + transport
		keyed.title, keyed.rid = "matrix keyed "+transport, "matrix-"+transport
		variants = []callOpts{plain, keyed}
	}
	for _, v := range variants {
		before := e.attempts(route)
		got := e.call(transport, v)
		want := keyedWant{code: tc.wantCode, http: tc.wantHTTP, retryInfo: tc.wantRetryInfo}
		if v.rid != "" && tc.keyed != nil {
			want = *tc.keyed
		}
		if got.code != want.code {
			t.Errorf("request_id %q: code %v, want %v (%v)", v.rid, got.code, want.code, got)
		}
		if transport == "rest" && got.http != want.http {
			t.Errorf("request_id %q: HTTP %d, want %d (%v)", v.rid, got.http, want.http, got)
		}
		if got.retryInfo != want.retryInfo {
			t.Errorf("request_id %q: RetryInfo %v, want %v (%v)", v.rid, got.retryInfo, want.retryInfo, got)
		}
		// Attempts cut short by a deadline or a cancel are recorded when
		// the sandbox finishes them.
		sent := before + tc.wantAttempts
		waitFor(t, "sandbox requests", func() bool { return e.attempts(route) >= sent })
		if n := e.attempts(route) - before; n != tc.wantAttempts {
			t.Errorf("request_id %q: Intercom received %d %s requests, want %d", v.rid, n, route, tc.wantAttempts)
		}
	}
	if !tc.call.create {
		return
	}
	// The caller retries the keyed create with the faults gone (and the
	// in-doubt wait honoured): it must end with exactly one ticket.
	e.sb.ClearFaults()
	keyed := variants[1]
	for i := 0; ; i++ {
		o := e.call(transport, keyed)
		if o.code == codes.OK {
			break
		}
		if i == 5 || (o.code != codes.Aborted && !tc.retryable) {
			t.Fatalf("retry of the keyed create: %v", o)
		}
		e.clock.Advance(2 * time.Minute)
	}
	applied := e.appliedCreates()
	for _, v := range variants {
		if n := applied[v.title]; n > 1 {
			t.Errorf("%q was created %d times", v.title, n)
		}
	}
	if applied[keyed.title] != 1 {
		t.Errorf("the keyed create ended with %d tickets, want 1", applied[keyed.title])
	}
}

// noLeak fails t if goroutines other than those running before the case
// are still alive after its cleanups. goleak retries for about a second
// only; on a loaded machine connections take longer to wind down, so it
// is asked again for up to 15 s.
func noLeak(t *testing.T, ignore goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := goleak.Find(ignore)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines leaked by the case: %v", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
