package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	ie := func(statusCode int, code, field string) *upstream.Error {
		return &upstream.Error{Operation: upstream.OpGetTicket, StatusCode: statusCode, RequestID: "req-1",
			Errors: []upstream.ErrorItem{{Code: code, Message: "msg " + code, Field: field}}}
	}
	reset := time.Now().Add(7 * time.Second)
	tests := []struct {
		name       string
		err        error
		wantCode   codes.Code
		wantReason string
		wantField  string
		wantRetry  time.Duration
	}{
		{"400 parameter_invalid", ie(400, "parameter_invalid", "email"), codes.InvalidArgument, "INTERCOM_PARAMETER_INVALID", "email", 0},
		// Intercom refusing the gateway's token is never the caller's UNAUTHENTICATED or PERMISSION_DENIED.
		{"401 unauthorized", ie(401, "unauthorized", ""), codes.Unavailable, service.ReasonUpstreamCredentials, "", 0},
		{"403 api_plan_restricted", ie(403, "api_plan_restricted", ""), codes.Unavailable, service.ReasonUpstreamCredentials, "", 0},
		{"404 ticket_not_found", ie(404, "ticket_not_found", ""), codes.NotFound, "INTERCOM_TICKET_NOT_FOUND", "", 0},
		{"409 conflict", ie(409, "conflict", ""), codes.Aborted, "INTERCOM_CONFLICT", "", 0},
		{"409 already exists", ie(409, "already_exists", ""), codes.AlreadyExists, "INTERCOM_ALREADY_EXISTS", "", 0},
		{"422", ie(422, "parameter_invalid", "name"), codes.InvalidArgument, "INTERCOM_PARAMETER_INVALID", "name", 0},
		{"408", ie(408, "request_timeout", ""), codes.DeadlineExceeded, "INTERCOM_REQUEST_TIMEOUT", "", 0},
		{"400 parameter_mismatch", ie(400, "parameter_mismatch", ""), codes.FailedPrecondition, "INTERCOM_PARAMETER_MISMATCH", "", 0},
		{"409 already_linked_to_tracker", ie(409, "already_linked_to_tracker", ""), codes.AlreadyExists, "INTERCOM_ALREADY_LINKED_TO_TRACKER", "", 0},
		{"body cut short, not a net.Error", fmt.Errorf("reading response: %w", io.ErrUnexpectedEOF), codes.Unavailable, service.ReasonUpstreamUnavailable, "", 0},
		{"400 tag_has_dependent_objects", ie(400, "tag_has_dependent_objects", ""), codes.FailedPrecondition, "INTERCOM_TAG_HAS_DEPENDENT_OBJECTS", "", 0},
		{"429 with reset", &upstream.Error{StatusCode: 429, RetryAfter: 7 * time.Second, RateLimit: upstream.RateLimit{Present: true, Limit: 100, Remaining: 0, Reset: reset},
			Errors: []upstream.ErrorItem{{Code: "rate_limit_exceeded"}}}, codes.ResourceExhausted, "INTERCOM_RATE_LIMIT_EXCEEDED", "", 7 * time.Second},
		{"429 without headers", &upstream.Error{StatusCode: 429}, codes.ResourceExhausted, "INTERCOM_HTTP_429", "", 10 * time.Second},
		{"500", &upstream.Error{StatusCode: 500}, codes.Unavailable, "INTERCOM_HTTP_500", "", 0},
		{"503", ie(503, "service_unavailable", ""), codes.Unavailable, "INTERCOM_SERVICE_UNAVAILABLE", "", 0},
		{"418 other 4xx", &upstream.Error{StatusCode: 418}, codes.FailedPrecondition, "INTERCOM_HTTP_418", "", 0},
		{"deadline", fmt.Errorf("calling: %w", context.DeadlineExceeded), codes.DeadlineExceeded, service.ReasonUpstreamTimeout, "", 0},
		{"cancelled", context.Canceled, codes.Canceled, "", "", 0},
		{"unsupported version", fmt.Errorf("%w: ticket_state_id needs 2.12", upstream.ErrUnsupported), codes.FailedPrecondition, service.ReasonVersionUnsupported, "", 0},
		{"refused by the client", fmt.Errorf("%w: admin_id must be numeric", upstream.ErrInvalidArgument), codes.InvalidArgument, service.ReasonInvalidRequest, "", 0},
		{"malformed body", &upstream.DecodeError{Err: io.ErrUnexpectedEOF}, codes.Unavailable, service.ReasonUpstreamMalformed, "", 0},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, codes.Unavailable, service.ReasonUpstreamUnavailable, "", 0},
		{"bug", errors.New("nil map"), codes.Internal, service.ReasonInternal, "", 0},
		{"status passes", status.Error(codes.InvalidArgument, "x"), codes.InvalidArgument, "", "", 0},
		// The HTTP client wraps a refusal in a *url.Error, which is also a
		// net.Error; the refusal must still win.
		{"limiter refusal", &url.Error{Op: "Get", URL: "http://x", Err: &ratelimit.Refusal{Workspace: "w", Reason: ratelimit.ReasonBudget, RetryAfter: 1500 * time.Millisecond,
			Limit: 100, Remaining: 0, Reset: reset}}, codes.ResourceExhausted, service.ReasonRateLimited, "", 1500 * time.Millisecond},
		{"concurrency refusal", fmt.Errorf("intercom getTicket: %w", &ratelimit.Refusal{Workspace: "w", Reason: ratelimit.ReasonConcurrency, RetryAfter: 80 * time.Millisecond}),
			codes.ResourceExhausted, service.ReasonRateLimited, "", 80 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := service.ToStatus(tt.err)
			if st.Code() != tt.wantCode {
				t.Fatalf("code = %v, want %v (message %q)", st.Code(), tt.wantCode, st.Message())
			}
			var info *errdetails.ErrorInfo
			var field string
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					info = d
				case *errdetails.BadRequest:
					field = d.GetFieldViolations()[0].GetField()
				}
			}
			if tt.wantReason != "" {
				if info == nil || info.GetReason() != tt.wantReason || info.GetDomain() != service.ErrorDomain {
					t.Errorf("ErrorInfo = %v, want reason %s in domain %s", info, tt.wantReason, service.ErrorDomain)
				}
			}
			if field != tt.wantField {
				t.Errorf("field violation = %q, want %q", field, tt.wantField)
			}
			retry, ok := service.RetryAfter(st)
			if ok != (tt.wantRetry > 0) || retry != tt.wantRetry {
				t.Errorf("RetryAfter = %v, %v; want %v", retry, ok, tt.wantRetry)
			}
		})
	}
}

func TestToStatusKeepsIntercomRequestID(t *testing.T) {
	t.Parallel()
	st := service.ToStatus(&upstream.Error{Operation: upstream.OpGetTicket, StatusCode: 404, RequestID: "b4f0a2c1",
		Errors: []upstream.ErrorItem{{Code: "ticket_not_found", Message: "Ticket not found"}}})
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if got := info.GetMetadata()["request_id"]; got != "b4f0a2c1" {
				t.Errorf("request_id metadata = %q, want Intercom's request_id", got)
			}
			if got := info.GetMetadata()["http_status"]; got != "404" {
				t.Errorf("http_status metadata = %q", got)
			}
			if st.Message() != "intercom: Ticket not found" {
				t.Errorf("message = %q", st.Message())
			}
			return
		}
	}
	t.Fatal("no ErrorInfo detail")
}

// TestToStatusMessageAndMetadata pins what a caller sees besides the code: the message, every
// ErrorInfo metadata key, and the field violation with Intercom's code as its reason.
func TestToStatusMessageAndMetadata(t *testing.T) {
	t.Parallel()
	reset := time.Unix(1700000010, 0)
	tests := []struct {
		name        string
		err         error
		wantMessage string
		wantMeta    map[string]string
		wantFields  []*errdetails.BadRequest_FieldViolation
	}{
		{
			name: "401 blames the gateway's token, not the caller",
			err: &upstream.Error{Operation: upstream.OpGetTicket, StatusCode: 401, RequestID: "r1",
				Errors: []upstream.ErrorItem{{Code: "unauthorized", Message: "Access Token Invalid"}}},
			wantMessage: "intercom refused the gateway's credentials for this workspace (not the caller's): Access Token Invalid",
			wantMeta:    map[string]string{"http_status": "401", "operation": "getTicket", "request_id": "r1", "intercom_code": "unauthorized"},
		},
		{
			name: "429 carries the rate-limit state",
			err: &upstream.Error{Operation: upstream.OpSearchTickets, StatusCode: 429, RequestID: "r2", RetryAfter: 3 * time.Second,
				RateLimit: upstream.RateLimit{Present: true, Limit: 100, Remaining: 0, Reset: reset},
				Errors:    []upstream.ErrorItem{{Code: "rate_limit_exceeded", Message: "Too many requests"}}},
			wantMessage: "intercom: Too many requests",
			wantMeta: map[string]string{"http_status": "429", "operation": "searchTickets", "request_id": "r2", "intercom_code": "rate_limit_exceeded",
				"ratelimit_limit": "100", "ratelimit_remaining": "0", "ratelimit_reset": "1700000010"},
		},
		{
			name: "400 names the fields with Intercom's codes",
			err: &upstream.Error{Operation: upstream.OpCreateTicket, StatusCode: 400,
				Errors: []upstream.ErrorItem{
					{Code: "parameter_invalid", Message: "email is invalid", Field: "email"},
					{Code: "parameter_not_found", Message: "no field"},
					{Code: "parameter_missing", Message: "name is required", Field: "name"},
				}},
			wantMessage: "intercom: email is invalid",
			wantMeta:    map[string]string{"http_status": "400", "operation": "createTicket", "intercom_code": "parameter_invalid"},
			wantFields: []*errdetails.BadRequest_FieldViolation{
				{Field: "email", Description: "email is invalid", Reason: "PARAMETER_INVALID"},
				{Field: "name", Description: "name is required", Reason: "PARAMETER_MISSING"},
			},
		},
		{
			name:        "status text when Intercom sends no message",
			err:         &upstream.Error{Operation: upstream.OpGetTicket, StatusCode: 502},
			wantMessage: "intercom: bad gateway",
			wantMeta:    map[string]string{"http_status": "502", "operation": "getTicket"},
		},
		{
			name:        "internal errors do not repeat their cause",
			err:         fmt.Errorf("decoding token %q: %w", "secret-value", errors.New("boom")),
			wantMessage: "internal error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := service.ToStatus(tt.err)
			if st.Message() != tt.wantMessage {
				t.Errorf("message = %q, want %q", st.Message(), tt.wantMessage)
			}
			var meta map[string]string
			var fields []*errdetails.BadRequest_FieldViolation
			for _, d := range st.Details() {
				switch d := d.(type) {
				case *errdetails.ErrorInfo:
					meta = d.GetMetadata()
				case *errdetails.BadRequest:
					fields = d.GetFieldViolations()
				}
			}
			if diff := cmp.Diff(tt.wantMeta, meta, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ErrorInfo metadata (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFields, fields, protocmp.Transform()); diff != "" {
				t.Errorf("field violations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorInterceptors: both interceptors map a handler's error with ToStatus, and log the cause of
// INTERNAL errors (which the caller does not see) but nothing else.
func TestErrorInterceptors(t *testing.T) {
	t.Parallel()
	notFound := &upstream.Error{Operation: upstream.OpGetTicket, StatusCode: 404, Errors: []upstream.ErrorItem{{Code: "ticket_not_found", Message: "Ticket not found"}}}
	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
		wantLog  bool
	}{
		{"intercom 404", notFound, codes.NotFound, false},
		{"bug", errors.New("nil map in handler"), codes.Internal, true},
		{"success", nil, codes.OK, false},
	}
	for _, tt := range tests {
		for _, kind := range []string{"unary", "stream"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				var logs bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&logs, nil))
				var err error
				if kind == "unary" {
					_, err = service.UnaryErrorInterceptor(logger)(context.Background(), "req", &grpc.UnaryServerInfo{FullMethod: "/x.v1.S/M"},
						func(context.Context, any) (any, error) { return "resp", tt.err })
				} else {
					err = service.StreamErrorInterceptor(logger)(nil, fakeStream{}, &grpc.StreamServerInfo{FullMethod: "/x.v1.S/M"},
						func(any, grpc.ServerStream) error { return tt.err })
				}
				if got := status.Code(err); got != tt.wantCode {
					t.Errorf("code = %v, want %v (err %v)", got, tt.wantCode, err)
				}
				if _, ok := status.FromError(err); !ok {
					t.Errorf("err = %v, want a gRPC status", err)
				}
				logged := strings.Contains(logs.String(), "nil map in handler")
				if logged != tt.wantLog {
					t.Errorf("cause logged = %v, want %v; log: %s", logged, tt.wantLog, logs.String())
				}
			})
		}
	}
}

// fakeStream is the least a stream interceptor needs: a context.
type fakeStream struct{ grpc.ServerStream }

func (fakeStream) Context() context.Context { return context.Background() }

// TestRateLimitInfo: the window of a refusal and of Intercom's 429 travels in
// ErrorInfo metadata, for the REST RateLimit-* headers.
func TestRateLimitInfo(t *testing.T) {
	t.Parallel()
	reset := time.Unix(1_800_000_010, 0)
	tests := []struct {
		name   string
		err    error
		wantOK bool
	}{
		{"refusal", &ratelimit.Refusal{Workspace: "w", Reason: ratelimit.ReasonBudget, RetryAfter: time.Second, Limit: 100, Remaining: 0, Reset: reset}, true},
		{"intercom 429", &upstream.Error{StatusCode: 429, RateLimit: upstream.RateLimit{Present: true, Limit: 100, Remaining: 0, Reset: reset}}, true},
		{"concurrency refusal has no window", &ratelimit.Refusal{Workspace: "w", Reason: ratelimit.ReasonConcurrency, RetryAfter: time.Second}, false},
		{"not RESOURCE_EXHAUSTED", &upstream.Error{StatusCode: 404}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			limit, remaining, gotReset, ok := service.RateLimitInfo(service.ToStatus(tt.err))
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && (limit != 100 || remaining != 0 || !gotReset.Equal(reset)) {
				t.Errorf("got %d/%d/%v, want 100/0/%v", limit, remaining, gotReset, reset)
			}
		})
	}
}
