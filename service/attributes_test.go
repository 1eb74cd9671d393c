package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// richType has one attribute of every data type, a required list, an
// archived attribute and an archived list item.
func richType() *upstream.TicketType {
	return &upstream.TicketType{ID: "7", Name: "Rich", Attributes: []upstream.TicketTypeAttribute{
		{ID: "1", Name: "_default_title_", DataType: "string", Default: true},
		{ID: "2", Name: "Priority", DataType: "list", ListItems: []upstream.ListItem{
			{ID: "li-low", Label: "Low"}, {ID: "li-high", Label: "High"}, {ID: "li-old", Label: "Old", Archived: true}}},
		{ID: "3", Name: "Affected users", DataType: "integer"},
		{ID: "4", Name: "Estimate", DataType: "decimal"},
		{ID: "5", Name: "Regression", DataType: "boolean"},
		{ID: "6", Name: "Due", DataType: "datetime"},
		{ID: "7", Name: "Screenshot", DataType: "files"},
		{ID: "8", Name: "Legacy", DataType: "string", Archived: true},
		{ID: "9", Name: "Severity", DataType: "list", RequiredToCreate: true, ListItems: []upstream.ListItem{
			{ID: "sev-1", Label: "SEV1"}, {ID: "sev-2", Label: "SEV2"}}},
	}}
}

type violation struct{ Field, Contains string }

// violationsOf returns the BadRequest field violations of err, failing
// unless it is INVALID_ARGUMENT.
func violationsOf(t *testing.T, err error) []*errdetails.BadRequest_FieldViolation {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("error = %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return br.GetFieldViolations()
		}
	}
	t.Fatalf("%v has no BadRequest detail", err)
	return nil
}

func assertViolations(t *testing.T, err error, want []violation) {
	t.Helper()
	got := violationsOf(t, err)
	var fields, wantFields []string
	for _, v := range got {
		fields = append(fields, v.GetField())
	}
	for _, w := range want {
		wantFields = append(wantFields, w.Field)
	}
	if diff := cmp.Diff(wantFields, fields); diff != "" {
		t.Fatalf("violated fields (-want +got):\n%s\n%v", diff, got)
	}
	for i, w := range want {
		if !strings.Contains(got[i].GetDescription(), w.Contains) {
			t.Errorf("%s: %q does not say %q", w.Field, got[i].GetDescription(), w.Contains)
		}
	}
}

func TestTicketAttributesAreCheckedAgainstTheSchema(t *testing.T) {
	t.Parallel()
	str, num, boolean := structpb.NewStringValue, structpb.NewNumberValue, structpb.NewBoolValue
	list := func(vs ...*structpb.Value) *structpb.Value {
		return structpb.NewListValue(&structpb.ListValue{Values: vs})
	}
	null := structpb.NewNullValue()
	file := func() *structpb.Value {
		v, _ := structpb.NewValue(map[string]any{"name": "a.png", "url": "https://example.com/a.png"})
		return v
	}
	type attrs = map[string]*structpb.Value
	// withSeverity adds the required attribute, so that each case shows
	// only its own problem.
	withSeverity := func(a attrs) attrs {
		a["Severity"] = str("SEV1")
		return a
	}
	archived := richType()
	archived.Archived = true

	tests := []struct {
		name   string
		update bool
		schema *upstream.TicketType
		attrs  attrs
		want   []violation
	}{
		{"unknown name", false, nil, withSeverity(attrs{"Prio": str("Low")}),
			[]violation{{`ticket_attributes["Prio"]`, `it has "_default_title_", "Priority"`}}},
		{"name in the wrong case", false, nil, withSeverity(attrs{"priority": str("Low")}),
			[]violation{{`ticket_attributes["priority"]`, `did you mean "Priority"?`}}},
		{"string for an integer", false, nil, withSeverity(attrs{"Affected users": str("12")}),
			[]violation{{`ticket_attributes["Affected users"]`, "must be an integer"}}},
		{"non-integral integer", false, nil, withSeverity(attrs{"Affected users": num(12.5)}),
			[]violation{{`ticket_attributes["Affected users"]`, "must be an integer"}}},
		{"integer beyond 2^53", false, nil, withSeverity(attrs{"Affected users": num(1 << 60)}),
			[]violation{{`ticket_attributes["Affected users"]`, "must be an integer"}}},
		{"non-integral datetime", false, nil, withSeverity(attrs{"Due": num(1700000000.5)}),
			[]violation{{`ticket_attributes["Due"]`, "Unix time in whole seconds"}}},
		{"string for a decimal", false, nil, withSeverity(attrs{"Estimate": str("1.5")}),
			[]violation{{`ticket_attributes["Estimate"]`, "must be a number"}}},
		{"string for a boolean", false, nil, withSeverity(attrs{"Regression": str("true")}),
			[]violation{{`ticket_attributes["Regression"]`, "must be true or false"}}},
		{"number for a string", false, nil, withSeverity(attrs{"_default_title_": num(5)}),
			[]violation{{`ticket_attributes["_default_title_"]`, "must be a string"}}},
		{"number for a list", false, nil, withSeverity(attrs{"Priority": num(1)}),
			[]violation{{`ticket_attributes["Priority"]`, "the id or the label"}}},
		{"one file too many", false, nil, withSeverity(attrs{"Screenshot": list(file(), file())}),
			[]violation{{`ticket_attributes["Screenshot"]`, "holds 2 files"}}},
		{"files not a list", false, nil, withSeverity(attrs{"Screenshot": str("a.png")}),
			[]violation{{`ticket_attributes["Screenshot"]`, "must be a list of files"}}},
		{"unknown list label", false, nil, withSeverity(attrs{"Priority": str("Urgent")}),
			[]violation{{`ticket_attributes["Priority"]`, `allowed "Low", "High" (label or id)`}}},
		{"archived list item", false, nil, withSeverity(attrs{"Priority": str("Old")}),
			[]violation{{`ticket_attributes["Priority"]`, `list item "Old" is archived; allowed: "Low", "High"`}}},
		{"archived attribute", false, nil, withSeverity(attrs{"Legacy": str("x")}),
			[]violation{{`ticket_attributes["Legacy"]`, "is archived"}}},
		{"archived type", false, archived, withSeverity(attrs{}),
			[]violation{{"ticket_type_id", "is archived"}}},
		{"required attribute missing", false, nil, attrs{"_default_title_": str("x")},
			[]violation{{`ticket_attributes["Severity"]`, `is required by ticket type 7 ("Rich")`}}},
		{"required attribute null", false, nil, attrs{"Severity": null},
			[]violation{{`ticket_attributes["Severity"]`, "cannot be null"}}},
		{"unset value", false, nil, withSeverity(attrs{"Regression": {}}),
			[]violation{{`ticket_attributes["Regression"]`, "has no value"}}},
		{"several problems, in name order", false, nil, attrs{"Regression": num(1), "Affected users": str("x"), "Nope": boolean(true)},
			[]violation{
				{`ticket_attributes["Affected users"]`, "must be an integer"},
				{`ticket_attributes["Nope"]`, "is not an attribute"},
				{`ticket_attributes["Regression"]`, "must be true or false"},
				{`ticket_attributes["Severity"]`, "is required"},
			}},
		{"update: unknown name", true, nil, attrs{"Prio": str("Low")},
			[]violation{{`ticket_attributes["Prio"]`, "is not an attribute of ticket type 7"}}},
		{"update: required attribute cleared", true, nil, attrs{"Severity": null},
			[]violation{{`ticket_attributes["Severity"]`, "cannot be null"}}},
		{"update: wrong type", true, nil, attrs{"Due": str("tomorrow")},
			[]violation{{`ticket_attributes["Due"]`, "Unix time"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			schema := tt.schema
			if schema == nil {
				schema = richType()
			}
			api := &recordingAPI{schema: schema}
			svc := service.NewTicketService(service.Single("default", api))
			var err error
			if tt.update {
				_, err = svc.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "4001", TicketAttributes: tt.attrs})
			} else {
				_, err = svc.CreateTicket(context.Background(), &gatewayv1.CreateTicketRequest{TicketTypeId: "7", TicketAttributes: tt.attrs,
					Contacts: []*gatewayv1.ContactIdentifier{contactID("1")}})
			}
			assertViolations(t, err, tt.want)
			if n := api.callCount(); n != 0 {
				calls, _ := api.recorded()
				t.Errorf("refused input made Intercom calls %v", calls)
			}
		})
	}
}

func TestTicketAttributesAreTranslatedForIntercom(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{schema: richType()}
	svc := service.NewTicketService(service.Single("default", api))
	_, err := svc.CreateTicket(context.Background(), &gatewayv1.CreateTicketRequest{TicketTypeId: "7",
		Contacts: []*gatewayv1.ContactIdentifier{contactID("1")},
		TicketAttributes: map[string]*structpb.Value{
			"Priority":       structpb.NewStringValue("high"),  // a label, in another case
			"Severity":       structpb.NewStringValue("sev-2"), // an id
			"Affected users": structpb.NewNumberValue(12),
			"Due":            structpb.NewNumberValue(1700000000),
			"Estimate":       structpb.NewNumberValue(2.5),
			"Regression":     structpb.NewNullValue(), // clears; allowed on an optional attribute
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, args := api.recorded()
	got := args[0][0].(upstream.CreateTicketParams).Attributes
	want := map[string]any{"Priority": "li-high", "Severity": "sev-2", "Affected users": int64(12), "Due": int64(1700000000),
		"Estimate": 2.5, "Regression": nil}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes sent to Intercom (-want +got):\n%s", diff)
	}
	if api.freshReads != 0 {
		t.Errorf("valid input re-read the schema %d times", api.freshReads)
	}
}

func TestRefusalReReadsTheSchemaOnce(t *testing.T) {
	t.Parallel()
	withBrowser := richType()
	withBrowser.Attributes = append(withBrowser.Attributes, upstream.TicketTypeAttribute{ID: "10", Name: "Browser", DataType: "string"})
	req := func(attr string) *gatewayv1.CreateTicketRequest {
		return &gatewayv1.CreateTicketRequest{TicketTypeId: "7", Contacts: []*gatewayv1.ContactIdentifier{contactID("1")},
			TicketAttributes: map[string]*structpb.Value{attr: structpb.NewStringValue("Firefox"), "Severity": structpb.NewStringValue("SEV1")}}
	}

	// The cached schema lacks Browser, which was added in Intercom since:
	// the fresh schema has it, and the ticket is created.
	api := &recordingAPI{schema: richType(), fresh: withBrowser}
	svc := service.NewTicketService(service.Single("default", api))
	if _, err := svc.CreateTicket(context.Background(), req("Browser")); err != nil {
		t.Fatalf("an attribute added since the schema was cached was refused: %v", err)
	}
	if api.freshReads != 1 || api.callCount() != 1 {
		t.Errorf("fresh reads %d, Intercom calls %d; want 1 and 1 (the create)", api.freshReads, api.callCount())
	}

	// A name that the fresh schema lacks too is refused after one re-read.
	api = &recordingAPI{schema: richType(), fresh: withBrowser}
	svc = service.NewTicketService(service.Single("default", api))
	_, err := svc.CreateTicket(context.Background(), req("Browzer"))
	assertViolations(t, err, []violation{{`ticket_attributes["Browzer"]`, `"Browser"`}})
	if api.freshReads != 1 || api.callCount() != 0 {
		t.Errorf("fresh reads %d, Intercom calls %d; want 1 and 0", api.freshReads, api.callCount())
	}
}
