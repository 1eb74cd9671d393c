package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

func ptr[T any](v T) *T { return &v }

// TestTicketTypeAndTagValidation: invalid requests are refused with a field
// violation and never reach Intercom.
func TestTicketTypeAndTagValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type services struct {
		types *service.TicketTypeService
		tags  *service.TagService
	}
	list := gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST
	str := gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_STRING
	tests := []struct {
		name      string
		call      func(s services) error
		wantField string
	}{
		{"get type: bad id", func(s services) error {
			_, err := s.types.GetTicketType(ctx, &gatewayv1.GetTicketTypeRequest{TicketTypeId: "1?x=2"})
			return err
		}, "ticket_type_id"},
		{"create type: no name", func(s services) error {
			_, err := s.types.CreateTicketType(ctx, &gatewayv1.CreateTicketTypeRequest{Name: "  "})
			return err
		}, "name"},
		{"create type: unknown category", func(s services) error {
			_, err := s.types.CreateTicketType(ctx, &gatewayv1.CreateTicketTypeRequest{Name: "Bug", Category: 9})
			return err
		}, "category"},
		{"update type: nothing to change", func(s services) error {
			_, err := s.types.UpdateTicketType(ctx, &gatewayv1.UpdateTicketTypeRequest{TicketTypeId: "1"})
			return err
		}, "ticket_type_id"},
		{"update type: blank name", func(s services) error {
			_, err := s.types.UpdateTicketType(ctx, &gatewayv1.UpdateTicketTypeRequest{TicketTypeId: "1", Name: ptr("")})
			return err
		}, "name"},
		{"create attribute: no description", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "Browser", DataType: str})
			return err
		}, "description"},
		{"create attribute: no data type", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "Browser", Description: "d"})
			return err
		}, "data_type"},
		{"create attribute: list without items", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "B", Description: "d", DataType: list})
			return err
		}, "list_items"},
		{"create attribute: items on a string", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "B", Description: "d", DataType: str, ListItems: []string{"a"}})
			return err
		}, "list_items"},
		{"create attribute: comma in an item", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "B", Description: "d", DataType: list, ListItems: []string{"Low, really"}})
			return err
		}, "list_items[0]"},
		{"create attribute: repeated item", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "B", Description: "d", DataType: list, ListItems: []string{"Low", "low"}})
			return err
		}, "list_items[1]"},
		{"create attribute: multiline on a list", func(s services) error {
			_, err := s.types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "B", Description: "d", DataType: list, ListItems: []string{"a"}, Multiline: ptr(true)})
			return err
		}, "multiline"},
		{"update attribute: nothing to change", func(s services) error {
			_, err := s.types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: "1", AttributeId: "2"})
			return err
		}, "attribute_id"},
		{"update attribute: no attribute id", func(s services) error {
			_, err := s.types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: "1", Archived: ptr(true)})
			return err
		}, "attribute_id"},
		{"update attribute: attribute '..'", func(s services) error {
			_, err := s.types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: "1", AttributeId: "..", Archived: ptr(true)})
			return err
		}, "attribute_id"},
		{"create tag: name over 255 characters", func(s services) error {
			_, err := s.tags.CreateTag(ctx, &gatewayv1.CreateTagRequest{Name: strings.Repeat("é", service.MaxTagNameLength+1)})
			return err
		}, "name"},
		{"tag companies: company_id with a control character", func(s services) error {
			_, err := s.tags.TagCompanies(ctx, &gatewayv1.TagCompaniesRequest{Name: "VIP", Companies: []*gatewayv1.CompanyIdentifier{{CompanyId: "a\nb"}}})
			return err
		}, "companies[0].company_id"},
		{"create tag: no name", func(s services) error {
			_, err := s.tags.CreateTag(ctx, &gatewayv1.CreateTagRequest{})
			return err
		}, "name"},
		{"rename tag: no name", func(s services) error {
			_, err := s.tags.UpdateTag(ctx, &gatewayv1.UpdateTagRequest{TagId: "9001"})
			return err
		}, "name"},
		{"delete tag: no id", func(s services) error {
			_, err := s.tags.DeleteTag(ctx, &gatewayv1.DeleteTagRequest{})
			return err
		}, "tag_id"},
		{"tag contact: no tag", func(s services) error {
			_, err := s.tags.TagContact(ctx, &gatewayv1.TagContactRequest{ContactId: "c1"})
			return err
		}, "tag_id"},
		{"untag contact: no contact", func(s services) error {
			_, err := s.tags.UntagContact(ctx, &gatewayv1.UntagContactRequest{TagId: "9001"})
			return err
		}, "contact_id"},
		{"contact tags: bad contact", func(s services) error {
			_, err := s.tags.ListContactTags(ctx, &gatewayv1.ListContactTagsRequest{ContactId: "a b"})
			return err
		}, "contact_id"},
		{"tag conversation: no admin", func(s services) error {
			_, err := s.tags.TagConversation(ctx, &gatewayv1.TagConversationRequest{ConversationId: "1001", TagId: "9001"})
			return err
		}, "admin_id"},
		{"untag conversation: no admin", func(s services) error {
			_, err := s.tags.UntagConversation(ctx, &gatewayv1.UntagConversationRequest{ConversationId: "1001", TagId: "9001"})
			return err
		}, "admin_id"},
		{"tag companies: none", func(s services) error {
			_, err := s.tags.TagCompanies(ctx, &gatewayv1.TagCompaniesRequest{Name: "VIP"})
			return err
		}, "companies"},
		{"tag companies: empty identifier", func(s services) error {
			_, err := s.tags.TagCompanies(ctx, &gatewayv1.TagCompaniesRequest{Name: "VIP", Companies: []*gatewayv1.CompanyIdentifier{{}}})
			return err
		}, "companies[0]"},
		{"untag companies: company_id missing", func(s services) error {
			_, err := s.tags.UntagCompanies(ctx, &gatewayv1.UntagCompaniesRequest{Name: "VIP", Companies: []*gatewayv1.CompanyIdentifier{{Id: "c1"}}})
			return err
		}, "companies[0].company_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			err := tt.call(services{types: service.NewTicketTypeService(service.Single("default", api)), tags: service.NewTagService(service.Single("default", api))})
			assertViolation(t, err, tt.wantField)
			if n := api.callCount(); n != 0 {
				t.Errorf("Intercom was called %d times for an invalid request", n)
			}
		})
	}
}

// TestTicketTypeAndTagRequestsReachIntercom checks what valid requests send.
func TestTicketTypeAndTagRequestsReachIntercom(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func(types *service.TicketTypeService, tags *service.TagService) error
		wantCall string
		wantArgs []any
	}{
		{"create type maps the category", func(types *service.TicketTypeService, _ *service.TagService) error {
			_, err := types.CreateTicketType(ctx, &gatewayv1.CreateTicketTypeRequest{Name: "Ops", Category: gatewayv1.TicketCategory_TICKET_CATEGORY_BACK_OFFICE, IsInternal: true})
			return err
		}, "CreateTicketType", []any{upstream.CreateTicketTypeParams{Name: "Ops", Category: "Back-office", IsInternal: true}}},
		{"update type sends only what is set", func(types *service.TicketTypeService, _ *service.TagService) error {
			_, err := types.UpdateTicketType(ctx, &gatewayv1.UpdateTicketTypeRequest{TicketTypeId: "2", Archived: ptr(true), Category: ptr(gatewayv1.TicketCategory_TICKET_CATEGORY_TRACKER)})
			return err
		}, "UpdateTicketType", []any{"2", upstream.UpdateTicketTypeParams{Archived: ptr(true), Category: ptr("Tracker")}}},
		{"create list attribute", func(types *service.TicketTypeService, _ *service.TagService) error {
			_, err := types.CreateTicketTypeAttribute(ctx, &gatewayv1.CreateTicketTypeAttributeRequest{TicketTypeId: "1", Name: "Browser", Description: "Which",
				DataType: gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST, ListItems: []string{"Chrome", "Firefox"}, RequiredToCreate: ptr(true)})
			return err
		}, "CreateTicketTypeAttribute", []any{"1", upstream.CreateAttributeParams{Name: "Browser", Description: "Which", DataType: "list",
			ListItems: []string{"Chrome", "Firefox"}, RequiredToCreate: ptr(true)}}},
		{"archive attribute", func(types *service.TicketTypeService, _ *service.TagService) error {
			_, err := types.UpdateTicketTypeAttribute(ctx, &gatewayv1.UpdateTicketTypeAttributeRequest{TicketTypeId: "1", AttributeId: "104", Archived: ptr(true)})
			return err
		}, "UpdateTicketTypeAttribute", []any{"1", "104", upstream.UpdateAttributeParams{Archived: ptr(true)}}},
		{"rename tag", func(_ *service.TicketTypeService, tags *service.TagService) error {
			_, err := tags.UpdateTag(ctx, &gatewayv1.UpdateTagRequest{TagId: "9001", Name: "Key account"})
			return err
		}, "RenameTag", []any{"9001", "Key account"}},
		{"untag conversation keeps the argument order", func(_ *service.TicketTypeService, tags *service.TagService) error {
			_, err := tags.UntagConversation(ctx, &gatewayv1.UntagConversationRequest{ConversationId: "1001", TagId: "9002", AdminId: "7"})
			return err
		}, "UntagConversation", []any{"1001", "9002", "7"}},
		{"untag companies", func(_ *service.TicketTypeService, tags *service.TagService) error {
			_, err := tags.UntagCompanies(ctx, &gatewayv1.UntagCompaniesRequest{Name: "VIP", Companies: []*gatewayv1.CompanyIdentifier{{Id: "c1", CompanyId: "acme"}}})
			return err
		}, "UntagCompanies", []any{"VIP", []upstream.CompanyRef{{ID: "c1", CompanyID: "acme"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			if err := tt.call(service.NewTicketTypeService(service.Single("default", api)), service.NewTagService(service.Single("default", api))); err != nil {
				t.Fatal(err)
			}
			calls, args := api.recorded()
			if len(calls) != 1 || calls[0] != tt.wantCall {
				t.Fatalf("calls = %v, want one %s", calls, tt.wantCall)
			}
			if diff := cmp.Diff(tt.wantArgs, args[0]); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
		})
	}
}
