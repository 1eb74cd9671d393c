package proto_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/server"
)

var created = timestamppb.New(time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC))

func sampleTicketType() *gatewayv1.TicketType {
	return &gatewayv1.TicketType{
		Id: "1", Category: gatewayv1.TicketCategory_TICKET_CATEGORY_CUSTOMER, Name: "Bug", Description: "Something broke",
		Icon: "🐞", WorkspaceId: "ecahpwf5", Archived: false, CreateTime: created, UpdateTime: created,
		Attributes: []*gatewayv1.TicketTypeAttribute{{
			Id: "103", TicketTypeId: "1", Name: "Priority", DataType: gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST,
			ListItems:       []*gatewayv1.ListItem{{Id: "b0000001-0000-4000-8000-000000000001", Label: "Low"}},
			VisibleOnCreate: true, Order: 2, CreateTime: created,
		}},
		States: []*gatewayv1.TicketState{{Id: "201", Category: gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_SUBMITTED, InternalLabel: "Submitted", ExternalLabel: "Submitted"}},
	}
}

func sampleTicket() *gatewayv1.Ticket {
	return &gatewayv1.Ticket{
		Id: "4001", TicketId: "1", Category: gatewayv1.TicketCategory_TICKET_CATEGORY_CUSTOMER,
		TicketAttributes: map[string]*structpb.Value{
			"_default_title_": structpb.NewStringValue("Login fails"),
			"Affected users":  structpb.NewNumberValue(120),
			"Regression":      structpb.NewBoolValue(true),
			"Notes":           structpb.NewNullValue(),
		},
		TicketState:     &gatewayv1.TicketState{Id: "202", Category: gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_IN_PROGRESS, InternalLabel: "In progress", ExternalLabel: "In progress"},
		TicketType:      sampleTicketType(),
		Contacts:        []*gatewayv1.TicketContact{{Id: "6610f0c0a1b2c3d4e5f60001", ExternalId: "alice"}},
		AdminAssigneeId: "991267943", TeamAssigneeId: "0",
		CreateTime: created, UpdateTime: created, Open: true,
		TicketParts: []*gatewayv1.TicketPart{{
			Id: "1", PartType: "comment", Body: "<p>Hi</p>", TicketState: gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_SUBMITTED,
			CreateTime: created, Author: &gatewayv1.Author{Type: "admin", Id: "991267943", Name: "Ada"},
			Attachments: []*gatewayv1.Attachment{{Name: "a.png", Url: "https://example.com/a.png", ContentType: "image/png", FileSize: 1 << 40}},
		}},
		TicketPartsTotalCount: 1,
	}
}

// TestResourcesRoundTripThroughRESTJSON documents how REST callers see each
// resource, with the options the REST listener uses (server.JSONMarshalOptions):
// proto field names rather than lowerCamelCase, every field emitted, enums
// as their names, int64 as strings, Timestamps as RFC 3339 and unset
// messages as null. Each message must also come back unchanged.
func TestResourcesRoundTripThroughRESTJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  proto.Message
		// want holds JSON fields that must appear with exactly these values.
		want map[string]any
	}{
		{"Ticket", sampleTicket(), map[string]any{
			"id": "4001", "ticket_id": "1", // proto names, not ticketId
			"category":       "TICKET_CATEGORY_CUSTOMER", // enums by name
			"create_time":    "2026-11-25T09:30:00Z",     // RFC 3339
			"snoozed_until":  nil,                        // unset message: null
			"is_shared":      false,                      // false still emitted
			"linked_objects": []any{},                    // empty list still emitted
			"ticket_attributes": map[string]any{
				"_default_title_": "Login fails", "Affected users": 120.0, "Regression": true, "Notes": nil,
			},
		}},
		{"TicketState", sampleTicket().GetTicketState(), map[string]any{
			"id": "202", "category": "TICKET_STATE_CATEGORY_IN_PROGRESS", "archived": false, "ticket_type_ids": []any{},
		}},
		{"TicketType", sampleTicketType(), map[string]any{"id": "1", "icon": "🐞", "is_internal": false}},
		{"TicketTypeAttribute", sampleTicketType().GetAttributes()[0], map[string]any{
			"data_type": "ATTRIBUTE_DATA_TYPE_LIST", "built_in": false, "order": 2.0, "update_time": nil,
		}},
		{"TicketPart", sampleTicket().GetTicketParts()[0], map[string]any{
			"previous_ticket_state": "TICKET_STATE_CATEGORY_UNSPECIFIED", "assigned_to": nil,
		}},
		{"Attachment", sampleTicket().GetTicketParts()[0].GetAttachments()[0], map[string]any{
			"file_size": "1099511627776", // int64 as a string: exact in JavaScript
		}},
		{"Tag", &gatewayv1.Tag{Id: "9001", Name: "VIP", AppliedAt: created, AppliedBy: &gatewayv1.Reference{Type: "admin", Id: "991267943"}}, map[string]any{
			"applied_at": "2026-11-25T09:30:00Z", "applied_by": map[string]any{"type": "admin", "id": "991267943"},
		}},
		{"TicketQuery", &gatewayv1.TicketQuery{Kind: &gatewayv1.TicketQuery_Filter{Filter: &gatewayv1.TicketFilter{
			Field: gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CREATED_AT, Operator: gatewayv1.FilterOperator_FILTER_OPERATOR_GREATER_THAN,
			Value: &gatewayv1.FilterValue{Kind: &gatewayv1.FilterValue_IntValue{IntValue: 1700000000}},
		}}}, map[string]any{
			"filter": map[string]any{"field": "TICKET_SEARCH_FIELD_CREATED_AT", "attribute_id": "", "operator": "FILTER_OPERATOR_GREATER_THAN",
				"value": map[string]any{"int_value": "1700000000"}}, // unset oneof members are not emitted
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := server.JSONMarshalOptions.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if diff := cmp.Diff(want, got[k]); diff != "" {
					t.Errorf("field %q (-want +got):\n%s\nfull JSON: %s", k, diff, b)
				}
			}
			back := tt.msg.ProtoReflect().New().Interface()
			if err := server.JSONUnmarshalOptions.Unmarshal(b, back); err != nil {
				t.Fatalf("unmarshal own JSON: %v", err)
			}
			if diff := cmp.Diff(tt.msg, back, protocmp.Transform()); diff != "" {
				t.Errorf("round trip changed the message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRESTJSONInput documents what REST callers may send: lowerCamelCase
// names are accepted as well as proto names, enums by name or number, but
// unknown fields are an error.
func TestRESTJSONInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    *gatewayv1.CreateTicketRequest
		wantErr bool
	}{
		{"proto names", `{"ticket_type_id":"1","contacts":[{"email":"a@b.c"}]}`,
			&gatewayv1.CreateTicketRequest{TicketTypeId: "1", Contacts: []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "a@b.c"}}}}, false},
		{"camelCase names", `{"ticketTypeId":"1","createTime":"2026-11-25T09:30:00Z"}`,
			&gatewayv1.CreateTicketRequest{TicketTypeId: "1", CreateTime: created}, false},
		{"unknown field", `{"ticket_type_id":"1","ticket_typ":"x"}`, nil, true},
		{"wrong type", `{"ticket_type_id":1}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := &gatewayv1.CreateTicketRequest{}
			err := server.JSONUnmarshalOptions.Unmarshal([]byte(tt.json), got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}
