package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// TestErrorDecoding: every status ≥ 400 becomes an *upstream.Error carrying the error.list content
// (schema `error`) and the rate-limit headers, whatever the body.
func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name    string
		status  int
		body    string
		headers []string
		want    upstream.Error
	}{
		{
			name: "404 ticket_not_found", status: 404,
			body: `{"type":"error.list","request_id":"0ff6a5c1-5b0e-4d5b-9a0e-2d1e8f0c6a11","errors":[{"code":"ticket_not_found","message":"Ticket not found"}]}`,
			want: upstream.Error{StatusCode: 404, RequestID: "0ff6a5c1-5b0e-4d5b-9a0e-2d1e8f0c6a11",
				Errors: []upstream.ErrorItem{{Code: "ticket_not_found", Message: "Ticket not found"}}},
		},
		{
			name: "400 keeps every error and its field", status: 400,
			body: `{"type":"error.list","request_id":"r1","errors":[{"code":"parameter_invalid","message":"Missing required ticket attributes","field":"ticket_attributes"},{"code":"parameter_not_found","message":null,"field":null}]}`,
			want: upstream.Error{StatusCode: 400, RequestID: "r1", Errors: []upstream.ErrorItem{
				{Code: "parameter_invalid", Message: "Missing required ticket attributes", Field: "ticket_attributes"},
				{Code: "parameter_not_found"},
			}},
		},
		{
			name: "401 with rate-limit headers", status: 401,
			body:    `{"type":"error.list","request_id":"r2","errors":[{"code":"unauthorized","message":"Access Token Invalid"}]}`,
			headers: []string{"X-RateLimit-Limit", "10000", "X-RateLimit-Remaining", "9998", "X-RateLimit-Reset", "1700000000"},
			want: upstream.Error{StatusCode: 401, RequestID: "r2",
				Errors:    []upstream.ErrorItem{{Code: "unauthorized", Message: "Access Token Invalid"}},
				RateLimit: upstream.RateLimit{Limit: 10000, Remaining: 9998, Reset: time.Unix(1700000000, 0), Present: true}},
		},
		{
			name: "403 api_plan_restricted, request id from the header when the body has none", status: 403,
			body:    `{"type":"error.list","request_id":null,"errors":[{"code":"api_plan_restricted","message":"Active subscription needed."}]}`,
			headers: []string{"X-Request-Id", "hdr-req-1"},
			want: upstream.Error{StatusCode: 403, RequestID: "hdr-req-1",
				Errors: []upstream.ErrorItem{{Code: "api_plan_restricted", Message: "Active subscription needed."}}},
		},
		{
			name: "429 sets RetryAfter from the reset", status: 429,
			body:    `{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"Exceeded rate limit"}]}`,
			headers: []string{"X-RateLimit-Limit", "166", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", fmt.Sprint(reset)},
			want: upstream.Error{StatusCode: 429,
				Errors:    []upstream.ErrorItem{{Code: "rate_limit_exceeded", Message: "Exceeded rate limit"}},
				RateLimit: upstream.RateLimit{Limit: 166, Remaining: 0, Reset: time.Unix(reset, 0), Present: true},
				// RetryAfter is checked approximately below.
			},
		},
		{
			name: "502 with an HTML body", status: 502, body: `<html><body>Bad Gateway</body></html>`,
			want: upstream.Error{StatusCode: 502},
		},
		{
			name: "500 with an empty body", status: 500, body: ``,
			want: upstream.Error{StatusCode: 500},
		},
		{
			name: "malformed rate-limit headers are ignored", status: 409, body: `{"type":"error.list","errors":[]}`,
			headers: []string{"X-RateLimit-Limit", "lots", "X-RateLimit-Reset", "soon"},
			want:    upstream.Error{StatusCode: 409},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, fixed(tt.status, tt.body, tt.headers...))
			// MaxAttempts 1: this test is about decoding, not retrying.
			c := newClient(t, rec.srv.URL, upstream.WithRetryPolicy(upstream.RetryPolicy{MaxAttempts: 1}))
			_, err := c.GetTicket(t.Context(), "7")
			var got *upstream.Error
			if !errors.As(err, &got) {
				t.Fatalf("err = %v (%T), want *upstream.Error", err, err)
			}
			want := tt.want
			want.Operation = upstream.OpGetTicket
			if tt.status == 429 {
				if got.RetryAfter < 59*time.Minute || got.RetryAfter > time.Hour {
					t.Errorf("RetryAfter = %v, want about 1h", got.RetryAfter)
				}
				want.RetryAfter = got.RetryAfter
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			msg := got.Error()
			if !strings.Contains(msg, fmt.Sprint(tt.status)) || !strings.Contains(msg, string(upstream.OpGetTicket)) {
				t.Errorf("Error() = %q, want the status and the operation", msg)
			}
			if got.Code() != "" && !strings.Contains(msg, got.Code()) {
				t.Errorf("Error() = %q, want the code %q", msg, got.Code())
			}
			if strings.Contains(msg, testToken) {
				t.Errorf("Error() leaks the token: %q", msg)
			}
		})
	}
}

// TestDecodeErrors: a success status with a body that cannot be decoded is a *DecodeError, never a
// silent zero value.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body string }{
		{"not JSON", `<html>ok</html>`},
		{"truncated JSON", `{"type":"ticket","id":"7"`},
		{"empty body", ``},
		{"ticket_state of an impossible type", `{"type":"ticket","id":"7","ticket_state":42}`},
		{"id of an impossible type", `{"type":"ticket","id":{"nested":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, fixed(http.StatusOK, tt.body))
			c := newClient(t, rec.srv.URL)
			_, err := c.GetTicket(t.Context(), "7")
			var de *upstream.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *upstream.DecodeError", err, err)
			}
			if de.Operation != upstream.OpGetTicket || de.StatusCode != http.StatusOK {
				t.Errorf("DecodeError = %+v, want operation getTicket and status 200", de)
			}
		})
	}
}

// TestRejectedBeforeSending: requests that the version cannot express, or that are malformed, fail
// with ErrUnsupported or ErrInvalidArgument and nothing reaches Intercom.
func TestRejectedBeforeSending(t *testing.T) {
	t.Parallel()
	contact := []upstream.ContactIdentifier{{ID: "c"}}
	deep := upstream.SearchQuery{Operator: "AND", Children: []upstream.SearchQuery{{Operator: "OR", Children: []upstream.SearchQuery{
		{Operator: "AND", Children: []upstream.SearchQuery{{Field: "open", Operator: "=", Value: true}}},
	}}}}
	tests := []struct {
		name    string
		version upstream.Version
		call    func(context.Context, *upstream.Client) error
		want    error
	}{
		{"2.11 update with a state id", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{StateID: ptr("8537")}))
		}, upstream.ErrUnsupported},
		{"2.11 update with a company", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{CompanyID: ptr("co")}))
		}, upstream.ErrUnsupported},
		{"2.11 update skipping notifications", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{SkipNotifications: ptr(true)}))
		}, upstream.ErrUnsupported},
		{"2.11 create with an assignee", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1", Contacts: contact, AdminAssigneeID: "5"}))
		}, upstream.ErrUnsupported},
		{"2.11 reply skipping notifications", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{MessageType: "note", AuthorType: "admin", AdminID: "1", Body: "x", SkipNotifications: true}))
		}, upstream.ErrUnsupported},
		{"2.11 contact reply with reply options", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{AuthorType: "user", Email: "a@example.com", Body: "x",
				ReplyOptions: []upstream.ReplyOption{{Text: "Yes", UUID: "u"}}}))
		}, upstream.ErrUnsupported},
		{"2.12 update skipping notifications", "2.12", func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{SkipNotifications: ptr(true)}))
		}, upstream.ErrUnsupported},
		{"2.13 create with an assignee", "2.13", func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1", Contacts: contact, TeamAssigneeID: "6"}))
		}, upstream.ErrUnsupported},
		{"2.16 search on a non-numeric assignee in a list", "2.16", func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "team_assignee_id", Operator: "IN", Value: []string{"6", "me"}}}))
		}, upstream.ErrInvalidArgument},
		{"update with an empty ticket id", preview, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "", upstream.UpdateTicketParams{Open: ptr(true)}))
		}, upstream.ErrInvalidArgument},
		{"Preview update with a non-numeric admin id", preview, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{AdminID: ptr("admin-x")}))
		}, upstream.ErrInvalidArgument},
		{"Preview search on a non-numeric assignee", preview, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "admin_assignee_id", Operator: "=", Value: "me"}}))
		}, upstream.ErrInvalidArgument},
		{"state category and id together", preview, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{StateID: ptr("1"), StateCategory: ptr("resolved")}))
		}, upstream.ErrInvalidArgument},
		{"empty ticket id", v211, func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTicket(ctx, "")) }, upstream.ErrInvalidArgument},
		{"empty tag id in a path", v211, func(ctx context.Context, c *upstream.Client) error { return ignore(c.UntagContact(ctx, "c1", " ")) }, upstream.ErrInvalidArgument},
		// Dot segments and separators: each would leave its endpoint once a proxy or path.Clean
		// normalises the path (DELETE /tickets/4002/tags/.. is DELETE /tickets/4002).
		{"detach tag '..' from a ticket", preview, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.DetachTagFromTicket(ctx, "4002", "..", "1"))
		}, upstream.ErrInvalidArgument},
		{"detach a tag from ticket '..'", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.DetachTagFromTicket(ctx, "..", "9001", "1"))
		}, upstream.ErrInvalidArgument},
		{"update attribute '.'", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UpdateTicketTypeAttribute(ctx, "1", ".", upstream.UpdateAttributeParams{Archived: ptr(true)}))
		}, upstream.ErrInvalidArgument},
		{"contact id with a slash", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.ListContactTags(ctx, "a/../b"))
		}, upstream.ErrInvalidArgument},
		{"escaped dot segment", v211, func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTag(ctx, "%2e%2e")) }, upstream.ErrInvalidArgument},
		{"id over 128 characters", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.GetTicket(ctx, strings.Repeat("1", 129)))
		}, upstream.ErrInvalidArgument},
		{"contact with two identifiers", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1",
				Contacts: []upstream.ContactIdentifier{{ID: "c", Email: "a@example.com"}}}))
		}, upstream.ErrInvalidArgument},
		{"search nested three levels", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: deep}))
		}, upstream.ErrInvalidArgument},
		{"search value of an unsupported type", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "open", Operator: "=", Value: struct{}{}}}))
		}, upstream.ErrInvalidArgument},
		{"reply by an unknown author type", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{AuthorType: "bot", Body: "x"}))
		}, upstream.ErrInvalidArgument},
		{"contact reply with two identifiers", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{AuthorType: "user", UserID: "u", Email: "a@example.com", Body: "x"}))
		}, upstream.ErrInvalidArgument},
		{"list item containing a comma", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.CreateTicketTypeAttribute(ctx, "9", upstream.CreateAttributeParams{Name: "n", DataType: "list", ListItems: []string{"a,b"}}))
		}, upstream.ErrInvalidArgument},
		{"untag companies without ids", v211, func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.UntagCompanies(ctx, "vip", []upstream.CompanyRef{{}}))
		}, upstream.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, fixed(http.StatusOK, ticketBody))
			c := newClient(t, rec.srv.URL, upstream.WithVersion(tt.version))
			err := tt.call(t.Context(), c)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want one wrapping %v", err, tt.want)
			}
			if n := len(rec.requests()); n != 0 {
				t.Errorf("%d requests reached the server, want none", n)
			}
		})
	}
}
