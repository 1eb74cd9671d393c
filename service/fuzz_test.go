package service_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// normalisingHop stands for whatever sits between the gateway and Intercom
// and cleans paths (a proxy, a load balancer, path.Clean): it removes dot
// segments, percent-decodes and collapses empty segments before handing the
// request to the sandbox in memory. Through such a hop an id "..", or one
// holding "/" or "%2e%2e", would make the request leave its endpoint, so the
// fuzz target below asserts what arrives after it.
type normalisingHop struct{ sb *sandbox.Server }

func (h normalisingHop) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	in.URL.Path = path.Clean("/" + req.URL.Path)
	in.URL.RawPath = ""
	in.RequestURI = in.URL.RequestURI()
	if in.Body == nil {
		in.Body = http.NoBody // a server-side request always has a body
	}
	w := httptest.NewRecorder()
	h.sb.ServeHTTP(w, in)
	return w.Result(), nil
}

// fuzzEnv is one sandbox, client and set of services per fuzz worker.
type fuzzEnv struct {
	sb      *sandbox.Server
	tickets *service.TicketService
	types   *service.TicketTypeService
	tags    *service.TagService
	mu      sync.Mutex
	runs    int
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	sb := sandbox.New(sandbox.WithRateLimit(0, 0))
	c, err := upstream.New(upstream.WithToken("fuzz"), upstream.WithBaseURL("http://intercom.invalid"),
		upstream.WithTransport(normalisingHop{sb}))
	if err != nil {
		f.Fatal(err)
	}
	b := service.Single("fuzz", c)
	return &fuzzEnv{sb: sb, tickets: service.NewTicketService(b), types: service.NewTicketTypeService(b), tags: service.NewTagService(b)}
}

// rpcCase is one RPC with the fuzzed strings in its id fields, and the one
// endpoint it may reach: method and path segments.
type rpcCase struct {
	name     string
	method   string
	segments []string
	call     func(ctx context.Context) error
}

// rpcCases puts a, b and c into the id fields of every RPC that has any.
func (e *fuzzEnv) rpcCases(a, b, c string) []rpcCase {
	title := map[string]*structpb.Value{"_default_title_": structpb.NewStringValue("fuzz")}
	admin := func(id string) *gatewayv1.ReplyToTicketRequest_Admin {
		return &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: id}}
	}
	yes := true
	str := gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_STRING
	return []rpcCase{
		{"CreateTicket", "POST", []string{"tickets"}, func(ctx context.Context) error {
			_, err := e.tickets.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{TicketTypeId: a, CompanyId: c, TicketAttributes: title,
				Contacts: []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Id{Id: b}}}})
			return err
		}},
		{"GetTicket", "GET", []string{"tickets", a}, func(ctx context.Context) error {
			_, err := e.tickets.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: a})
			return err
		}},
		{"UpdateTicket", "PUT", []string{"tickets", a}, func(ctx context.Context) error {
			_, err := e.tickets.UpdateTicket(ctx, &gatewayv1.UpdateTicketRequest{TicketId: a, AdminId: &b, AssigneeId: &c, CompanyId: &c})
			return err
		}},
		{"DeleteTicket", "DELETE", []string{"tickets", a}, func(ctx context.Context) error {
			_, err := e.tickets.DeleteTicket(ctx, &gatewayv1.DeleteTicketRequest{TicketId: a})
			return err
		}},
		{"ReplyToTicket", "POST", []string{"tickets", a, "reply"}, func(ctx context.Context) error {
			_, err := e.tickets.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: a, Author: admin(b), Body: "x",
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}},
		{"ReplyToTicket by contact", "POST", []string{"tickets", a, "reply"}, func(ctx context.Context) error {
			_, err := e.tickets.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: a, Body: "x",
				Author: &gatewayv1.ReplyToTicketRequest_Contact{Contact: &gatewayv1.ContactReplyAuthor{
					Identifier: &gatewayv1.ContactReplyAuthor_IntercomUserId{IntercomUserId: b}}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}},
		{"AttachTag", "POST", []string{"tickets", a, "tags"}, func(ctx context.Context) error {
			_, err := e.tickets.AttachTag(ctx, &gatewayv1.AttachTagRequest{TicketId: a, TagId: b, AdminId: c})
			return err
		}},
		{"DetachTag", "DELETE", []string{"tickets", a, "tags", b}, func(ctx context.Context) error {
			_, err := e.tickets.DetachTag(ctx, &gatewayv1.DetachTagRequest{TicketId: a, TagId: b, AdminId: c})
			return err
		}},
		{"SearchTickets", "POST", []string{"tickets", "search"}, func(ctx context.Context) error {
			_, err := e.tickets.SearchTickets(ctx, &gatewayv1.SearchTicketsRequest{Query: &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{
				Filter: &gatewayv1.TicketFilter{Field: gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_ATTRIBUTE, AttributeId: a,
					Operator: gatewayv1.FilterOperator_FILTER_OPERATOR_EQUALS,
					Value:    &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringValue{StringValue: b}}}}}})
			return err
		}},
		{"GetTicketType", "GET", []string{"ticket_types", a}, func(ctx context.Context) error {
			_, err := e.types.GetTicketType(ctx, &gatewayv1.GetTicketTypeRequest{TicketTypeId: a})
			return err
		}},
		{"UpdateTicketType", "PUT", []string{"ticket_types", a}, func(ctx context.Context) error {
			_, err := e.types.UpdateTicketType(ctx, &gatewayv1.UpdateTicketTypeRequest{TicketTypeId: a, Archived: &yes})
			return err
		}},
		{"CreateTicketTypeAttribute", "POST", []string{"ticket_types", a, "attributes"}, func(ctx context.Context) error {
			_, err := e.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: a,
				Name: "fuzz " + b, Description: "d", DataType: str})
			return err
		}},
		{"UpdateTicketTypeAttribute", "PUT", []string{"ticket_types", a, "attributes", b}, func(ctx context.Context) error {
			_, err := e.types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: a, AttributeId: b, Archived: &yes})
			return err
		}},
		{"GetTag", "GET", []string{"tags", a}, func(ctx context.Context) error {
			_, err := e.tags.GetTag(ctx, &gatewayv1.GetTagRequest{TagId: a})
			return err
		}},
		{"UpdateTag", "POST", []string{"tags"}, func(ctx context.Context) error {
			_, err := e.tags.UpdateTag(ctx, &gatewayv1.UpdateTagRequest{TagId: a, Name: "fuzz"})
			return err
		}},
		{"DeleteTag", "DELETE", []string{"tags", a}, func(ctx context.Context) error {
			_, err := e.tags.DeleteTag(ctx, &gatewayv1.DeleteTagRequest{TagId: a})
			return err
		}},
		{"TagContact", "POST", []string{"contacts", a, "tags"}, func(ctx context.Context) error {
			_, err := e.tags.TagContact(ctx, &gatewayv1.TagContactRequest{ContactId: a, TagId: b})
			return err
		}},
		{"UntagContact", "DELETE", []string{"contacts", a, "tags", b}, func(ctx context.Context) error {
			_, err := e.tags.UntagContact(ctx, &gatewayv1.UntagContactRequest{ContactId: a, TagId: b})
			return err
		}},
		{"ListContactTags", "GET", []string{"contacts", a, "tags"}, func(ctx context.Context) error {
			_, err := e.tags.ListContactTags(ctx, &gatewayv1.ListContactTagsRequest{ContactId: a})
			return err
		}},
		{"TagConversation", "POST", []string{"conversations", a, "tags"}, func(ctx context.Context) error {
			_, err := e.tags.TagConversation(ctx, &gatewayv1.TagConversationRequest{ConversationId: a, TagId: b, AdminId: c})
			return err
		}},
		{"UntagConversation", "DELETE", []string{"conversations", a, "tags", b}, func(ctx context.Context) error {
			_, err := e.tags.UntagConversation(ctx, &gatewayv1.UntagConversationRequest{ConversationId: a, TagId: b, AdminId: c})
			return err
		}},
		{"TagCompanies", "POST", []string{"tags"}, func(ctx context.Context) error {
			_, err := e.tags.TagCompanies(ctx, &gatewayv1.TagCompaniesRequest{Name: "fuzz",
				Companies: []*gatewayv1.CompanyIdentifier{{Id: a, CompanyId: b}}})
			return err
		}},
		{"UntagCompanies", "POST", []string{"tags"}, func(ctx context.Context) error {
			_, err := e.tags.UntagCompanies(ctx, &gatewayv1.UntagCompaniesRequest{Name: "fuzz",
				Companies: []*gatewayv1.CompanyIdentifier{{Id: a, CompanyId: b}}})
			return err
		}},
	}
}

// FuzzRPCIDs puts arbitrary strings into the id fields of every RPC and
// checks, after a path-normalising hop, that every request the sandbox
// recorded has exactly the method and path segments of the RPC's endpoint,
// and that a request refused as INVALID_ARGUMENT sent nothing at all.
//
// CI runs it for 3000 executions (make fuzz); the seed corpus is in
// testdata/fuzz/FuzzRPCIDs.
func FuzzRPCIDs(f *testing.F) {
	// Every RPC with plain ids and with a dot segment in each position; the
	// committed corpus adds separators, escapes and the attacks that were
	// reported (DetachTag with ".." as ticket or tag, attribute "..").
	n := len(newFuzzEnv(f).rpcCases("", "", ""))
	for i := range n {
		f.Add(uint8(i), "4001", "9001", "991267001")
		f.Add(uint8(i), "..", "9001", "991267001")
		f.Add(uint8(i), "4002", "..", "991267001")
		f.Add(uint8(i), "4002", "9001", ".")
	}
	env := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, rpc uint8, a, b, c string) {
		env.mu.Lock()
		defer env.mu.Unlock()
		// Creates and attributes accumulate; a fresh workspace now and then
		// keeps each run as cheap as the first.
		if env.runs++; env.runs%512 == 0 {
			env.sb.Reset()
		}
		cases := env.rpcCases(a, b, c)
		tc := cases[int(rpc)%len(cases)]
		env.sb.ResetRequests()
		err := tc.call(context.Background())
		// Checking ticket attributes first reads the ticket type's schema.
		// Those reads only read; the invariants below are about what the
		// RPC sends to its endpoint.
		schemaReads := map[string][]string{"CreateTicket": {"ticket_types", a}}
		reqs := slices.DeleteFunc(env.sb.Requests(), func(r sandbox.RecordedRequest) bool {
			read, ok := schemaReads[tc.name]
			return ok && r.Method == "GET" && slices.Equal(strings.Split(strings.TrimPrefix(r.Path, "/"), "/"), read)
		})
		if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument && hasBadRequest(st) {
			if len(reqs) != 0 {
				t.Fatalf("%s(%q, %q, %q) was refused (%v) but sent %d requests", tc.name, a, b, c, err, len(reqs))
			}
			return
		}
		if err != nil && errors.Is(err, upstream.ErrInvalidArgument) && len(reqs) != 0 {
			t.Fatalf("%s(%q, %q, %q): the client refused (%v) after sending %d requests", tc.name, a, b, c, err, len(reqs))
		}
		for _, r := range reqs {
			got := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
			if r.Method != tc.method || !slices.Equal(got, tc.segments) {
				t.Fatalf("%s(%q, %q, %q) sent %s %s; its endpoint is %s /%s", tc.name, a, b, c,
					r.Method, r.Path, tc.method, strings.Join(tc.segments, "/"))
			}
		}
	})
}

func hasBadRequest(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.BadRequest); ok {
			return true
		}
	}
	return false
}
