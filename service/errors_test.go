package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
		{"401 unauthorized", ie(401, "unauthorized", ""), codes.Unauthenticated, "INTERCOM_UNAUTHORIZED", "", 0},
		{"403 api_plan_restricted", ie(403, "api_plan_restricted", ""), codes.PermissionDenied, "INTERCOM_API_PLAN_RESTRICTED", "", 0},
		{"404 ticket_not_found", ie(404, "ticket_not_found", ""), codes.NotFound, "INTERCOM_TICKET_NOT_FOUND", "", 0},
		{"409 conflict", ie(409, "conflict", ""), codes.Aborted, "INTERCOM_CONFLICT", "", 0},
		{"409 already exists", ie(409, "already_exists", ""), codes.AlreadyExists, "INTERCOM_ALREADY_EXISTS", "", 0},
		{"422", ie(422, "parameter_invalid", "name"), codes.InvalidArgument, "INTERCOM_PARAMETER_INVALID", "name", 0},
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
