package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/intercom-gateway/intercom-gateway/auth"
	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Builders that keep the tables readable.
func filter(field gatewayv1.TicketSearchField, op gatewayv1.FilterOperator, v *gatewayv1.FilterValue) *gatewayv1.TicketQuery {
	return &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{Filter: &gatewayv1.TicketFilter{Field: field, Operator: op, Value: v}}}
}

func attrFilter(id string, op gatewayv1.FilterOperator, v *gatewayv1.FilterValue) *gatewayv1.TicketQuery {
	q := filter(gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_ATTRIBUTE, op, v)
	q.GetFilter().AttributeId = id
	return q
}

func group(op gatewayv1.LogicalOperator, qs ...*gatewayv1.TicketQuery) *gatewayv1.TicketQuery {
	return &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Group{Group: &gatewayv1.TicketFilterGroup{Operator: op, Queries: qs}}}
}

func str(s string) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringValue{StringValue: s}}
}
func i64(n int64) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_IntValue{IntValue: n}}
}
func dbl(f float64) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_DoubleValue{DoubleValue: f}}
}
func boolean(b bool) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_BoolValue{BoolValue: b}}
}
func ts(sec int64) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_TimestampValue{TimestampValue: &timestamppb.Timestamp{Seconds: sec}}}
}
func strs(s ...string) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringList{StringList: &gatewayv1.StringList{Values: s}}}
}
func ints(n ...int64) *gatewayv1.FilterValue {
	return &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_IntList{IntList: &gatewayv1.IntList{Values: n}}}
}

const (
	fID        = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_ID
	fCreatedAt = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CREATED_AT
	fUpdatedAt = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_UPDATED_AT
	fTitle     = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_DEFAULT_TITLE
	fOpen      = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_OPEN
	fState     = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_STATE
	fAdmin     = gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_ADMIN_ASSIGNEE_ID

	opEq   = gatewayv1.FilterOperator_FILTER_OPERATOR_EQUALS
	opNe   = gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_EQUALS
	opIn   = gatewayv1.FilterOperator_FILTER_OPERATOR_IN
	opNin  = gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_IN
	opGt   = gatewayv1.FilterOperator_FILTER_OPERATOR_GREATER_THAN
	opLt   = gatewayv1.FilterOperator_FILTER_OPERATOR_LESS_THAN
	opGe   = gatewayv1.FilterOperator_FILTER_OPERATOR_GREATER_THAN_OR_EQUAL
	opLe   = gatewayv1.FilterOperator_FILTER_OPERATOR_LESS_THAN_OR_EQUAL
	opHas  = gatewayv1.FilterOperator_FILTER_OPERATOR_CONTAINS
	opNHas = gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_CONTAINS
	opPre  = gatewayv1.FilterOperator_FILTER_OPERATOR_STARTS_WITH
	opSuf  = gatewayv1.FilterOperator_FILTER_OPERATOR_ENDS_WITH

	and = gatewayv1.LogicalOperator_LOGICAL_OPERATOR_AND
	or  = gatewayv1.LogicalOperator_LOGICAL_OPERATOR_OR
)

func TestSearchTicketsTranslatesValidQueries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query *gatewayv1.TicketQuery
		want  upstream.SearchQuery
	}{
		{"equals string", filter(fID, opEq, str("123")), upstream.SearchQuery{Field: "id", Operator: "=", Value: "123"}},
		{"not equals bool", filter(fOpen, opNe, boolean(false)), upstream.SearchQuery{Field: "open", Operator: "!=", Value: false}},
		{"in strings", filter(fState, opIn, strs("submitted", "resolved")), upstream.SearchQuery{Field: "state", Operator: "IN", Value: []string{"submitted", "resolved"}}},
		{"category alias in any case", filter(gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CATEGORY, opEq, str("Back-Office")),
			upstream.SearchQuery{Field: "category", Operator: "=", Value: "Back-Office"}},
		{"nin strings", filter(fAdmin, opNin, strs("1", "2")), upstream.SearchQuery{Field: "admin_assignee_id", Operator: "NIN", Value: []string{"1", "2"}}},
		{"greater than timestamp", filter(fCreatedAt, opGt, ts(1700000000)), upstream.SearchQuery{Field: "created_at", Operator: ">", Value: int64(1700000000)}},
		{"less than unix int", filter(fUpdatedAt, opLt, i64(1700000000)), upstream.SearchQuery{Field: "updated_at", Operator: "<", Value: int64(1700000000)}},
		{">= on created_at", filter(fCreatedAt, opGe, ts(5)), upstream.SearchQuery{Field: "created_at", Operator: ">=", Value: int64(5)}},
		{"<= on created_at", filter(fCreatedAt, opLe, ts(5)), upstream.SearchQuery{Field: "created_at", Operator: "<=", Value: int64(5)}},
		{"contains", filter(fTitle, opHas, str("bug")), upstream.SearchQuery{Field: "default_title", Operator: "~", Value: "bug"}},
		{"not contains", filter(fTitle, opNHas, str("bug")), upstream.SearchQuery{Field: "default_title", Operator: "!~", Value: "bug"}},
		{"starts with", filter(fTitle, opPre, str("Bug")), upstream.SearchQuery{Field: "default_title", Operator: "^", Value: "Bug"}},
		{"ends with", filter(fTitle, opSuf, str("!")), upstream.SearchQuery{Field: "default_title", Operator: "$", Value: "!"}},
		{"attribute decimal", attrFilter("42", opGt, dbl(1.5)), upstream.SearchQuery{Field: "ticket_attribute.42", Operator: ">", Value: 1.5}},
		{"attribute int list", attrFilter("7", opIn, ints(1, 2)), upstream.SearchQuery{Field: "ticket_attribute.7", Operator: "IN", Value: []int64{1, 2}}},
		{
			"two levels of groups",
			group(and, group(or, filter(fID, opEq, str("1")), filter(fID, opEq, str("2"))), filter(fOpen, opEq, boolean(true))),
			upstream.SearchQuery{Operator: "AND", Children: []upstream.SearchQuery{
				{Operator: "OR", Children: []upstream.SearchQuery{{Field: "id", Operator: "=", Value: "1"}, {Field: "id", Operator: "=", Value: "2"}}},
				{Field: "open", Operator: "=", Value: true},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			_, err := service.NewTicketService(service.Single("default", api)).SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: tt.query})
			if err != nil {
				t.Fatalf("SearchTickets: %v", err)
			}
			if len(api.searches) != 1 {
				t.Fatalf("upstream searches = %d, want 1", len(api.searches))
			}
			if diff := cmp.Diff(tt.want, api.searches[0].Query); diff != "" {
				t.Errorf("upstream query (-want +got):\n%s", diff)
			}
			if got := api.searches[0].PerPage; got != 20 {
				t.Errorf("per_page = %d, want Intercom's default 20", got)
			}
		})
	}
}

func fifteen() []*gatewayv1.TicketQuery {
	var qs []*gatewayv1.TicketQuery
	for range 15 {
		qs = append(qs, filter(fID, opEq, str("1")))
	}
	return qs
}

func TestSearchTicketsRejectsInvalidQueriesBeforeCallingIntercom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		req       *gatewayv1.SearchTicketsRequest
		wantField string
	}{
		{"no query", &gatewayv1.SearchTicketsRequest{}, "query"},
		{"empty query", &gatewayv1.SearchTicketsRequest{Query: &gatewayv1.TicketQuery{}}, "query"},
		{"no value", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, nil)}, "query.filter.value"},
		{"no field", &gatewayv1.SearchTicketsRequest{Query: filter(0, opEq, str("x"))}, "query.filter.field"},
		{"no operator", &gatewayv1.SearchTicketsRequest{Query: filter(fID, 0, str("x"))}, "query.filter.operator"},
		{"string field with int", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, i64(1))}, "query.filter.value"},
		{"date field with string", &gatewayv1.SearchTicketsRequest{Query: filter(fCreatedAt, opEq, str("foobar"))}, "query.filter.value"},
		{"bool field with string", &gatewayv1.SearchTicketsRequest{Query: filter(fOpen, opEq, str("true"))}, "query.filter.value"},
		{"> on string", &gatewayv1.SearchTicketsRequest{Query: filter(fTitle, opGt, str("a"))}, "query.filter.value"},
		{"~ on date", &gatewayv1.SearchTicketsRequest{Query: filter(fCreatedAt, opHas, ts(1))}, "query.filter.value"},
		{">= on updated_at", &gatewayv1.SearchTicketsRequest{Query: filter(fUpdatedAt, opGe, ts(1))}, "query.filter.value"},
		{"IN with scalar", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opIn, str("1"))}, "query.filter.value"},
		{"= with list", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, strs("1"))}, "query.filter.value"},
		{"IN with empty int list", &gatewayv1.SearchTicketsRequest{Query: attrFilter("7", opIn, ints())}, "query.filter.value"},
		{"IN with empty list", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opIn, strs())}, "query.filter.value"},
		{"attribute without id", &gatewayv1.SearchTicketsRequest{Query: attrFilter("", opEq, str("x"))}, "query.filter.attribute_id"},
		{"attribute id on plain field", &gatewayv1.SearchTicketsRequest{Query: func() *gatewayv1.TicketQuery {
			q := filter(fID, opEq, str("1"))
			q.GetFilter().AttributeId = "9"
			return q
		}()}, "query.filter.attribute_id"},
		{"group without operator", &gatewayv1.SearchTicketsRequest{Query: group(0, filter(fID, opEq, str("1")))}, "query.group.operator"},
		{"empty group", &gatewayv1.SearchTicketsRequest{Query: group(and)}, "query.group.queries"},
		{"16 in a group", &gatewayv1.SearchTicketsRequest{Query: group(and, append(fifteen(), filter(fID, opEq, str("1")))...)}, "query.group.queries"},
		{"three levels", &gatewayv1.SearchTicketsRequest{Query: group(and, group(or, group(and, filter(fID, opEq, str("1")))))}, "query"},
		{"nested bad leaf", &gatewayv1.SearchTicketsRequest{Query: group(and, filter(fID, opEq, str("1")), filter(fOpen, opEq, i64(1)))}, "query.group.queries[1].filter.value"},
		{"empty state", &gatewayv1.SearchTicketsRequest{Query: filter(fState, opEq, str(""))}, "query.filter.value"},
		{"unknown state in a list", &gatewayv1.SearchTicketsRequest{Query: filter(fState, opIn, strs("submitted", "open"))}, "query.filter.value"},
		{"unknown category", &gatewayv1.SearchTicketsRequest{Query: filter(gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CATEGORY, opEq, str("Bug"))}, "query.filter.value"},
		{"page size over 150", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, str("1")), PageSize: 151}, "page_size"},
		{"negative page size", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, str("1")), PageSize: -1}, "page_size"},
		{"malformed page token", &gatewayv1.SearchTicketsRequest{Query: filter(fID, opEq, str("1")), PageToken: "not a token!"}, "page_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			_, err := service.NewTicketService(service.Single("default", api)).SearchTickets(context.Background(), tt.req)
			assertViolation(t, err, tt.wantField)
			if n := api.callCount(); n != 0 {
				t.Errorf("Intercom was called %d times for an invalid request", n)
			}
		})
	}
}

func TestSearchTicketsAcceptsFifteenPerGroup(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{}
	_, err := service.NewTicketService(service.Single("default", api)).SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: group(or, fifteen()...), PageSize: 150})
	if err != nil {
		t.Fatalf("15 filters in a group and page_size 150 are Intercom's limits, not over them: %v", err)
	}
}

// assertViolation checks err is INVALID_ARGUMENT with a BadRequest field
// violation on field.
func assertViolation(t *testing.T, err error, field string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("error = %v, want INVALID_ARGUMENT", err)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("violations on %v, want one on %q (message %q)", fields, field, st.Message())
}

func TestSearchTicketsPageTokens(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{page: func(p upstream.SearchParams) *upstream.TicketPage {
		if p.StartingAfter == "" {
			return &upstream.TicketPage{Tickets: []upstream.Ticket{{ID: "1"}}, TotalCount: 2, NextStartingAfter: "WzE3XQ=="}
		}
		return &upstream.TicketPage{Tickets: []upstream.Ticket{{ID: "2"}}, TotalCount: 2}
	}}
	svc := service.NewTicketService(service.Single("default", api))
	q := filter(fOpen, opEq, boolean(true))
	first, err := svc.SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.GetNextPageToken() == "" || strings.Contains(first.GetNextPageToken(), "WzE3") {
		t.Fatalf("next_page_token = %q, want an opaque token that does not expose Intercom's cursor", first.GetNextPageToken())
	}
	second, err := svc.SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q, PageSize: 1, PageToken: first.GetNextPageToken()})
	if err != nil {
		t.Fatal(err)
	}
	if got := api.searches[1].StartingAfter; got != "WzE3XQ==" {
		t.Errorf("starting_after sent = %q, want Intercom's cursor", got)
	}
	if got := api.searches[1].PerPage; got != 1 {
		t.Errorf("per_page sent = %d, want the requested page_size 1", got)
	}
	if first.GetTotalSize() != 2 || len(first.GetTickets()) != 1 || first.GetTickets()[0].GetId() != "1" || second.GetTickets()[0].GetId() != "2" {
		t.Errorf("pages = %v then %v, want ticket 1 then ticket 2 of total_size 2", first, second)
	}
	if second.GetNextPageToken() != "" {
		t.Errorf("last page next_page_token = %q, want empty", second.GetNextPageToken())
	}

	// The same token with another query is refused: Intercom would answer
	// page 2 of a different result set.
	_, err = svc.SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: filter(fOpen, opEq, boolean(false)), PageToken: first.GetNextPageToken()})
	assertViolation(t, err, "page_token")
}

// TestSearchTicketsRefusesForeignTokens: a token is honoured only when this
// gateway (or a replica sharing its key) issued it, unchanged, to the same
// caller in the same workspace, for the same query.
func TestSearchTicketsRefusesForeignTokens(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	page := func(upstream.SearchParams) *upstream.TicketPage {
		return &upstream.TicketPage{Tickets: []upstream.Ticket{{ID: "1"}}, NextStartingAfter: "WzE3XQ=="}
	}
	as := func(caller, workspace string) context.Context {
		return auth.NewContext(context.Background(), auth.Identity{Caller: caller, Workspace: workspace})
	}
	q := filter(fOpen, opEq, boolean(true))
	first, err := service.NewTicketService(service.Single("default", &recordingAPI{page: page}), service.WithPageTokenKey(key)).
		SearchTickets(as("billing", "default"), &gatewayv1.SearchTicketsRequest{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	token := first.GetNextPageToken()
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatalf("token %q has no MAC", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatalf("token body %q is not base64url: %v", body, err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("token content %q: %v", raw, err)
	}
	// edit changes the payload and keeps the original MAC, as a caller
	// trying to point Intercom at another cursor would.
	edit := func(change func(map[string]any)) string {
		m := map[string]any{}
		for k, v := range fields {
			m[k] = v
		}
		change(m)
		b, _ := json.Marshal(m)
		return base64.RawURLEncoding.EncodeToString(b) + "." + sig
	}

	tests := []struct {
		name   string
		ctx    context.Context
		key    []byte
		token  string
		wantOK bool
	}{
		{"the same caller on a replica with the same key", as("billing", "default"), key, token, true},
		{"another caller", as("support", "default"), key, token, false},
		{"a replica with another key", as("billing", "default"), []byte("another key, another gateway...."), token, false},
		{"an edited cursor", as("billing", "default"), key, edit(func(m map[string]any) { m["c"] = "WzEwMDAwMDBd" }), false},
		{"another format version", as("billing", "default"), key, edit(func(m map[string]any) { m["v"] = 1 }), false},
		{"no MAC", as("billing", "default"), key, body, false},
		{"a truncated MAC", as("billing", "default"), key, token[:len(token)-2], false},
		{"not base64", as("billing", "default"), key, "%%%." + sig, false},
		{"an unsigned token of the old format", as("billing", "default"), key, base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"c":"WzE3XQ==","q":"x"}`)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{page: page}
			_, err := service.NewTicketService(service.Single("default", api), service.WithPageTokenKey(tt.key)).
				SearchTickets(tt.ctx, &gatewayv1.SearchTicketsRequest{Query: q, PageToken: tt.token})
			if tt.wantOK {
				if err != nil {
					t.Fatalf("a genuine token was refused: %v", err)
				}
				if got := api.searches[0].StartingAfter; got != "WzE3XQ==" {
					t.Errorf("Intercom got starting_after %q, want the issued cursor", got)
				}
				return
			}
			assertViolation(t, err, "page_token")
			if n := api.callCount(); n != 0 {
				t.Errorf("Intercom was called %d times", n)
			}
		})
	}
}

// FuzzPageToken: whatever a caller sends as page_token, the gateway either
// refuses it with a page_token violation before calling Intercom, or (for
// the one token it issued) sends Intercom exactly the cursor it issued.
func FuzzPageToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	page := func(upstream.SearchParams) *upstream.TicketPage {
		return &upstream.TicketPage{Tickets: []upstream.Ticket{{ID: "1"}}, NextStartingAfter: "WzE3XQ=="}
	}
	q := filter(fOpen, opEq, boolean(true))
	first, err := service.NewTicketService(service.Single("default", &recordingAPI{page: page}), service.WithPageTokenKey(key)).
		SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q})
	if err != nil {
		f.Fatal(err)
	}
	issued := first.GetNextPageToken()
	f.Add(issued)
	f.Add(issued + "A")
	f.Add("eyJ2IjoxLCJjIjoiV3pFM1hRPT0iLCJxIjoieCJ9")
	f.Add(".")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		api := &recordingAPI{page: page}
		_, err := service.NewTicketService(service.Single("default", api), service.WithPageTokenKey(key)).
			SearchTickets(context.Background(), &gatewayv1.SearchTicketsRequest{Query: q, PageToken: token})
		switch {
		case token == issued || token == "":
			if err != nil {
				t.Fatalf("token %q refused: %v", token, err)
			}
		case err == nil:
			t.Fatalf("forged token %q accepted; Intercom got %+v", token, api.searches)
		default:
			assertViolation(t, err, "page_token")
			if n := api.callCount(); n != 0 {
				t.Fatalf("Intercom was called %d times for forged token %q", n, token)
			}
		}
	})
}

// searchStream collects what StreamSearchTickets sends.
type searchStream struct {
	grpc.ServerStream
	mu   sync.Mutex
	sent []string
}

func (s *searchStream) Context() context.Context { return context.Background() }

func (s *searchStream) Send(r *gatewayv1.StreamSearchTicketsResponse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, r.GetTicket().GetId())
	return nil
}

func TestStreamSearchTickets(t *testing.T) {
	t.Parallel()
	// pages answers page n (from 0) with ticket n+1 and the cursor cursors[n]; after the last cursor
	// there is no next page.
	pages := func(cursors ...string) func(p upstream.SearchParams) *upstream.TicketPage {
		var mu sync.Mutex
		n := 0
		return func(p upstream.SearchParams) *upstream.TicketPage {
			mu.Lock()
			defer mu.Unlock()
			n++
			page := &upstream.TicketPage{Tickets: []upstream.Ticket{{ID: fmt.Sprint(n)}}}
			if n <= len(cursors) {
				page.NextStartingAfter = cursors[n-1]
			}
			return page
		}
	}
	tests := []struct {
		name        string
		pageSize    int32
		page        func(upstream.SearchParams) *upstream.TicketPage
		wantSent    []string
		wantCursors []string
		wantPerPage int
		wantCode    codes.Code
	}{
		{"follows the cursor to the last page in pages of 150", 0, pages("c1", "c2"), []string{"1", "2", "3"}, []string{"", "c1", "c2"}, 150, codes.OK},
		{"asked page size", 7, pages(), []string{"1"}, []string{""}, 7, codes.OK},
		// Intercom repeating a cursor would loop forever; the stream stops at the repeat. (After five
		// pages the fake stops answering with a cursor, so a missing check ends too, without an error.)
		{"stops at a repeated cursor", 0, pages("c1", "c2", "c1", "c2", "c1"), []string{"1", "2", "3"}, []string{"", "c1", "c2"}, 150, codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{page: tt.page}
			stream := &searchStream{}
			err := service.NewTicketService(service.Single("default", api)).StreamSearchTickets(&gatewayv1.StreamSearchTicketsRequest{Query: filter(fOpen, opEq, boolean(true)), PageSize: tt.pageSize}, stream)
			if status.Code(err) != tt.wantCode {
				t.Fatalf("err = %v, want code %v", err, tt.wantCode)
			}
			if diff := cmp.Diff(tt.wantSent, stream.sent); diff != "" {
				t.Errorf("tickets sent (-want +got):\n%s", diff)
			}
			var cursors []string
			for _, s := range api.searches {
				cursors = append(cursors, s.StartingAfter)
				if s.PerPage != tt.wantPerPage {
					t.Errorf("per_page = %d, want %d", s.PerPage, tt.wantPerPage)
				}
			}
			if diff := cmp.Diff(tt.wantCursors, cursors); diff != "" {
				t.Errorf("starting_after sent (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamSearchTicketsValidates(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{}
	err := service.NewTicketService(service.Single("default", api)).StreamSearchTickets(&gatewayv1.StreamSearchTicketsRequest{Query: filter(fOpen, opEq, str("yes")), PageSize: 151}, &searchStream{})
	assertViolation(t, err, "query.filter.value")
	assertViolation(t, err, "page_size")
	if n := api.callCount(); n != 0 {
		t.Errorf("Intercom was called %d times for an invalid request", n)
	}
}
