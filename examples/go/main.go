// Command example is an example Go client of intercom-gateway over gRPC,
// using the generated code in gen/. It walks through what a team usually
// does first and checks every answer, so that a broken example fails the
// build (the gateway's tests run it).
//
// Environment: GATEWAY_GRPC (default 127.0.0.1:9090), GATEWAY_HTTP (default
// http://127.0.0.1:8080, used only to switch on a sandbox fault), GATEWAY_KEY
// (a gateway key; optional when the gateway runs open), GATEWAY_WORKSPACE
// (optional), GATEWAY_ADMIN_ID (default: the sandbox's admin Ada).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func check(ok bool, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	if !ok {
		fmt.Fprintln(os.Stderr, "check failed:", what)
		os.Exit(1)
	}
	fmt.Println("ok:", what)
}

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "call failed:", err)
		os.Exit(1)
	}
	return v
}

func strFilter(f gatewayv1.TicketSearchField, op gatewayv1.FilterOperator, s string) *gatewayv1.TicketQuery {
	return &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{Filter: &gatewayv1.TicketFilter{
		Field: f, Operator: op, Value: &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_StringValue{StringValue: s}},
	}}}
}

func main() {
	httpURL := env("GATEWAY_HTTP", "http://127.0.0.1:8080")
	adminID := env("GATEWAY_ADMIN_ID", "991267943")
	conn := must(grpc.NewClient(env("GATEWAY_GRPC", "127.0.0.1:9090"), grpc.WithTransportCredentials(insecure.NewCredentials())))
	defer conn.Close()
	tickets := gatewayv1.NewTicketServiceClient(conn)
	types := gatewayv1.NewTicketTypeServiceClient(conn)
	tags := gatewayv1.NewTagServiceClient(conn)

	// The gateway key and workspace go with every call; the Intercom token
	// never leaves the gateway.
	ctx := context.Background()
	if k := os.Getenv("GATEWAY_KEY"); k != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+k)
	}
	if w := os.Getenv("GATEWAY_WORKSPACE"); w != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-intercom-workspace", w)
	}
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	prefix := "Go example " + run

	// 1. A ticket type with a list attribute.
	tt := must(types.CreateTicketType(ctx, &gatewayv1.CreateTicketTypeRequest{
		Name: "Go example type " + run, Description: "Made by examples/go", Category: gatewayv1.TicketCategory_TICKET_CATEGORY_CUSTOMER,
	})).GetTicketType()
	check(tt.GetId() != "", "created ticket type %s", tt.GetId())
	attr := must(types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{
		TicketTypeId: tt.GetId(), Name: "Severity", Description: "How bad it is",
		DataType: gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST, ListItems: []string{"Low", "High"},
	})).GetAttribute()
	check(attr.GetName() == "Severity", "created list attribute Severity (Low, High)")

	// 2. Tickets with attributes; the list attribute is given by its label.
	var created []string
	for n := 1; n <= 3; n++ {
		t := must(tickets.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
			TicketTypeId: tt.GetId(),
			Contacts:     []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "alice@example.com"}}},
			TicketAttributes: map[string]*structpb.Value{
				"_default_title_":       structpb.NewStringValue(fmt.Sprintf("%s #%d", prefix, n)),
				"_default_description_": structpb.NewStringValue("Filed by the Go example"),
				"Severity":              structpb.NewStringValue("High"),
			},
			RequestId: fmt.Sprintf("go-example-%s-%d", run, n),
		})).GetTicket()
		check(t.GetId() != "", "created ticket %s", t.GetId())
		created = append(created, t.GetId())
	}

	// 3. A compound query (type AND title prefix), paged two at a time.
	query := &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Group{Group: &gatewayv1.TicketFilterGroup{
		Operator: gatewayv1.LogicalOperator_LOGICAL_OPERATOR_AND,
		Queries: []*gatewayv1.TicketQuery{
			strFilter(gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_TYPE_ID, gatewayv1.FilterOperator_FILTER_OPERATOR_EQUALS, tt.GetId()),
			strFilter(gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_DEFAULT_TITLE, gatewayv1.FilterOperator_FILTER_OPERATOR_STARTS_WITH, prefix),
		},
	}}}
	var paged []string
	token, pages := "", 0
	for {
		page := must(tickets.SearchTickets(ctx, &gatewayv1.SearchTicketsRequest{Query: query, PageSize: 2, PageToken: token}))
		for _, t := range page.GetTickets() {
			paged = append(paged, t.GetId())
		}
		pages++
		if token = page.GetNextPageToken(); token == "" || pages >= 10 {
			break
		}
	}
	check(len(paged) == 3 && pages == 2, "search paged %d tickets over %d pages", len(paged), pages)

	// 4. The same query as a stream: the gateway follows Intercom's cursor.
	stream := must(tickets.StreamSearchTickets(ctx, &gatewayv1.StreamSearchTicketsRequest{Query: query, PageSize: 2}))
	streamed := 0
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		must(0, err)
		streamed++
	}
	check(streamed == 3, "stream returned %d tickets", streamed)

	// 5. Tag the first ticket.
	tag := must(tags.CreateTag(ctx, &gatewayv1.CreateTagRequest{Name: "go-example-" + run})).GetTag()
	attached := must(tickets.AttachTag(ctx, &gatewayv1.AttachTagRequest{TicketId: created[0], TagId: tag.GetId(), AdminId: adminID}))
	check(attached.GetTag().GetId() == tag.GetId(), "tagged ticket %s with %s", created[0], tag.GetName())

	// 6. A mapped error: an unknown list label is refused before Intercom
	// sees it, with one field violation per problem.
	_, err := tickets.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
		TicketTypeId: tt.GetId(),
		Contacts:     []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "alice@example.com"}}},
		TicketAttributes: map[string]*structpb.Value{
			"_default_title_": structpb.NewStringValue(prefix + " bad"),
			"Severity":        structpb.NewStringValue("Catastrophic"),
		},
	})
	st := status.Convert(err)
	named := false
	var reasons []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fmt.Printf("  violation %s: %s\n", v.GetField(), v.GetDescription())
				named = named || strings.HasPrefix(v.GetField(), "ticket_attributes")
			}
		case *errdetails.ErrorInfo:
			reasons = append(reasons, d.GetReason())
		}
	}
	check(st.Code() == codes.InvalidArgument, "invalid attribute refused with %v (%s)", st.Code(), strings.Join(reasons, ","))
	check(named, "the violation names the attribute")

	// 7. A RetryInfo hint: make the sandbox answer 429 for reads of a
	// ticket (its admin endpoint, mounted only in sandbox mode), call with a
	// deadline too short to wait for Intercom's reset, and read the hint.
	req := must(http.NewRequest(http.MethodPut, httpURL+"/__sandbox/faults/getTicket", strings.NewReader(`{"rate_limit_rate":1}`)))
	resp := must(http.DefaultClient.Do(req))
	resp.Body.Close()
	check(resp.StatusCode == http.StatusOK, "switched on a 429 fault in the sandbox")
	defer func() {
		req := must(http.NewRequest(http.MethodDelete, httpURL+"/__sandbox/faults", nil))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err = tickets.GetTicket(short, &gatewayv1.GetTicketRequest{TicketId: created[0]})
	st = status.Convert(err)
	var hint *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri
		}
	}
	check(st.Code() == codes.ResourceExhausted, "rate-limited call refused with %v", st.Code())
	check(hint != nil, "RetryInfo says retry in %v", hint.GetRetryDelay().AsDuration())
	fmt.Println("go example: all checks passed")
}
