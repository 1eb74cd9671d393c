package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

func contactID(id string) *gatewayv1.ContactIdentifier {
	return &gatewayv1.ContactIdentifier{Identifier: &gatewayv1.ContactIdentifier_Id{Id: id}}
}

func validCreate() *gatewayv1.CreateTicketRequest {
	return &gatewayv1.CreateTicketRequest{
		TicketTypeId:     "1",
		Contacts:         []*gatewayv1.ContactIdentifier{contactID("6762f2d81bb69f9f2193bc54")},
		TicketAttributes: map[string]*structpb.Value{"_default_title_": structpb.NewStringValue("Printer on fire")},
	}
}

func TestTicketRequestValidation(t *testing.T) {
	t.Parallel()
	with := func(mut func(r *gatewayv1.CreateTicketRequest)) *gatewayv1.CreateTicketRequest {
		r := validCreate()
		mut(r)
		return r
	}
	str := func(s string) *string { return &s }
	yes := true
	tests := []struct {
		name      string
		call      func(s *service.TicketService) error
		wantField string
	}{
		{"create: no type", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.TicketTypeId = "" }))
			return err
		}, "ticket_type_id"},
		{"create: path characters in type id", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.TicketTypeId = "1/../2" }))
			return err
		}, "ticket_type_id"},
		{"create: no contact", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.Contacts = nil }))
			return err
		}, "contacts"},
		{"create: two contacts", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.Contacts = append(r.Contacts, contactID("2")) }))
			return err
		}, "contacts"},
		{"create: empty contact", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.Contacts = []*gatewayv1.ContactIdentifier{{}} }))
			return err
		}, "contacts[0]"},
		{"create: bad email", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) {
				r.Contacts = []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_Email{Email: "nobody"}}}
			}))
			return err
		}, "contacts[0].email"},
		{"create: blank external id", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) {
				r.Contacts = []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_ExternalId{ExternalId: " "}}}
			}))
			return err
		}, "contacts[0].external_id"},
		{"create: malformed contact id", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.Contacts = []*gatewayv1.ContactIdentifier{contactID("a b")} }))
			return err
		}, "contacts[0].id"},
		{"create: malformed admin assignee", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.AdminAssigneeId = "5?x=1" }))
			return err
		}, "admin_assignee_id"},
		{"create: malformed team assignee", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.TeamAssigneeId = "../6" }))
			return err
		}, "team_assignee_id"},
		{"create: invalid create time", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.CreateTime = badTime() }))
			return err
		}, "create_time"},
		{"create: blank attribute name", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) {
				r.TicketAttributes[" "] = structpb.NewStringValue("x")
			}))
			return err
		}, "ticket_attributes"},
		{"create: request id over 128", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.RequestId = strings.Repeat("r", 129) }))
			return err
		}, "request_id"},
		{"get: malformed id", func(s *service.TicketService) error {
			_, err := s.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: "1/tags"})
			return err
		}, "ticket_id"},
		{"update: malformed state id", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", TicketStateId: str("")})
			return err
		}, "ticket_state_id"},
		{"update: malformed admin id", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", AdminId: str("x y")})
			return err
		}, "admin_id"},
		{"update: malformed assignee id", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", AdminId: str("1"), AssigneeId: str("x/y")})
			return err
		}, "assignee_id"},
		{"update: malformed company id", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", CompanyId: str("co#1")})
			return err
		}, "company_id"},
		{"update: invalid snooze time", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", SnoozedUntil: badTime()})
			return err
		}, "snoozed_until"},
		{"update: unspecified state", func(s *service.TicketService) error {
			st := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_UNSPECIFIED
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", State: &st})
			return err
		}, "state"},
		{"reply: no message type", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author: &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}}})
			return err
		}, "message_type"},
		{"reply: malformed admin id", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author:      &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: ""}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "admin.admin_id"},
		{"reply: contact email without @", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author:      &gatewayv1.ReplyToTicketRequest_Contact{Contact: &gatewayv1.ContactReplyAuthor{Identifier: &gatewayv1.ContactReplyAuthor_Email{Email: "nobody"}}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "contact.email"},
		{"reply: contact blank user id", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author:      &gatewayv1.ReplyToTicketRequest_Contact{Contact: &gatewayv1.ContactReplyAuthor{Identifier: &gatewayv1.ContactReplyAuthor_UserId{UserId: " "}}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "contact.user_id"},
		{"reply: contact without identifier", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author:      &gatewayv1.ReplyToTicketRequest_Contact{Contact: &gatewayv1.ContactReplyAuthor{}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "contact"},
		{"reply: quick reply option without uuid", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1",
				Author:       &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType:  gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY,
				ReplyOptions: []*gatewayv1.ReplyOption{{Text: "Yes", Uuid: "u1"}, {Text: "No"}}})
			return err
		}, "reply_options[1].uuid"},
		{"reply: quick reply option without text", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1",
				Author:       &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType:  gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY,
				ReplyOptions: []*gatewayv1.ReplyOption{{Uuid: "u1"}}})
			return err
		}, "reply_options[0].text"},
		{"reply: attachment that is not an http(s) URL", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "x",
				AttachmentUrls: []string{"https://example.com/a.png", "ftp://example.com/a.png"},
				Author:         &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType:    gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "attachment_urls[1]"},
		{"reply: attachment URL without a host", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "x",
				AttachmentUrls: []string{"https:///a.png"},
				Author:         &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType:    gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "attachment_urls[0]"},
		{"reply: invalid create time", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "x", CreateTime: badTime(),
				Author:      &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "create_time"},
		{"update: nothing to change", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1"})
			return err
		}, "ticket_id"},
		{"update: back to submitted", func(s *service.TicketService) error {
			st := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_SUBMITTED
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", State: &st})
			return err
		}, "state"},
		{"update: state and state id", func(s *service.TicketService) error {
			st := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_RESOLVED
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", State: &st, TicketStateId: str("9")})
			return err
		}, "ticket_state_id"},
		{"update: assignee without admin", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1", AssigneeId: str("5")})
			return err
		}, "admin_id"},
		{"delete: no id", func(s *service.TicketService) error {
			_, err := s.DeleteTicket(context.Background(), &gatewayv1.DeleteTicketRequest{})
			return err
		}, "ticket_id"},
		{"reply: no author", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT, Body: "hi"})
			return err
		}, "author"},
		{"reply: contact note", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "hi",
				Author:      &gatewayv1.ReplyToTicketRequest_Contact{Contact: &gatewayv1.ContactReplyAuthor{Identifier: &gatewayv1.ContactReplyAuthor_Email{Email: "a@b.c"}}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "message_type"},
		{"reply: comment without body", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1",
				Author:      &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "body"},
		{"reply: quick reply without options", func(s *service.TicketService) error {
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1",
				Author:      &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY})
			return err
		}, "reply_options"},
		{"reply: eleven attachments", func(s *service.TicketService) error {
			urls := make([]string, 11)
			for i := range urls {
				urls[i] = "https://example.com/a.png"
			}
			_, err := s.ReplyToTicket(context.Background(), &gatewayv1.ReplyToTicketRequest{TicketId: "1", Body: "x", AttachmentUrls: urls,
				Author:      &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}},
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE, CrossPost: yes})
			return err
		}, "attachment_urls"},
		{"attach tag: no admin", func(s *service.TicketService) error {
			_, err := s.AttachTag(context.Background(), &gatewayv1.AttachTagRequest{TicketId: "1", TagId: "2"})
			return err
		}, "admin_id"},
		{"detach tag: no tag", func(s *service.TicketService) error {
			_, err := s.DetachTag(context.Background(), &gatewayv1.DetachTagRequest{TicketId: "1", AdminId: "2"})
			return err
		}, "tag_id"},
		// Dot segments: behind a path-normalising hop these became DELETE /tags/9001 and
		// DELETE /tickets/4002.
		{"detach tag: ticket '..'", func(s *service.TicketService) error {
			_, err := s.DetachTag(context.Background(), &gatewayv1.DetachTagRequest{TicketId: "..", TagId: "9001", AdminId: "2"})
			return err
		}, "ticket_id"},
		{"detach tag: tag '..'", func(s *service.TicketService) error {
			_, err := s.DetachTag(context.Background(), &gatewayv1.DetachTagRequest{TicketId: "4002", TagId: "..", AdminId: "2"})
			return err
		}, "tag_id"},
		{"get: ticket '.'", func(s *service.TicketService) error {
			_, err := s.GetTicket(context.Background(), &gatewayv1.GetTicketRequest{TicketId: "."})
			return err
		}, "ticket_id"},
		{"create: attribute Value with no kind (protobufjs given string_value)", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) {
				r.TicketAttributes["_default_title_"] = &structpb.Value{}
			}))
			return err
		}, `ticket_attributes["_default_title_"]`},
		{"update: unset Value inside a list", func(s *service.TicketService) error {
			_, err := s.UpdateTicket(context.Background(), &gatewayv1.UpdateTicketRequest{TicketId: "1",
				TicketAttributes: map[string]*structpb.Value{"Tags": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{{}}})}})
			return err
		}, `ticket_attributes["Tags"][0]`},
		{"create: company id with a slash", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) { r.CompanyId = "../x" }))
			return err
		}, "company_id"},
		{"create: external id over 255 characters", func(s *service.TicketService) error {
			_, err := s.CreateTicket(context.Background(), with(func(r *gatewayv1.CreateTicketRequest) {
				r.Contacts = []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_ExternalId{ExternalId: strings.Repeat("x", 256)}}}
			}))
			return err
		}, "contacts[0].external_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			assertViolation(t, tt.call(service.NewTicketService(service.Single("default", api))), tt.wantField)
			if n := api.callCount(); n != 0 {
				t.Errorf("Intercom was called %d times for an invalid request", n)
			}
		})
	}
}

// badTime is a timestamp that google.protobuf.Timestamp.CheckValid refuses.
func badTime() *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9} }

func TestCreateTicketRequestIDPreventsDuplicates(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{block: make(chan struct{})}
	svc := service.NewTicketService(service.Single("default", api))

	// Five concurrent retries of the same create, then one more later.
	var wg sync.WaitGroup
	ids := make([]string, 5)
	errs := make([]error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := validCreate()
			req.RequestId = "6f1c7b2e-3a43-4d8e-9a51-0c1d2e3f4a5b"
			resp, err := svc.CreateTicket(context.Background(), req)
			errs[i] = err
			if err == nil {
				ids[i] = resp.GetTicket().GetId()
			}
		}()
	}
	close(api.block)
	wg.Wait()
	req := validCreate()
	req.RequestId = "6f1c7b2e-3a43-4d8e-9a51-0c1d2e3f4a5b"
	later, err := svc.CreateTicket(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if ids[i] != later.GetTicket().GetId() {
			t.Errorf("call %d got ticket %q, want the one ticket %q", i, ids[i], later.GetTicket().GetId())
		}
	}
	if api.creates != 1 {
		t.Errorf("Intercom creates = %d, want 1", api.creates)
	}

	// Without a request_id every call creates.
	if _, err := svc.CreateTicket(context.Background(), validCreate()); err != nil {
		t.Fatal(err)
	}
	if api.creates != 2 {
		t.Errorf("Intercom creates = %d, want 2", api.creates)
	}
	if !proto.Equal(later.GetTicket().GetTicketAttributes()["_default_title_"], structpb.NewStringValue("Printer on fire")) {
		t.Errorf("remembered ticket lost its attributes: %v", later.GetTicket())
	}
}

// TestTicketRequestsReachIntercom: a valid request reaches the client as exactly the parameters the
// RPC asked for (enum names as Intercom spells them, times as Unix seconds, optional fields present only
// when set).
func TestTicketRequestsReachIntercom(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	yes, no := true, false
	admin := &gatewayv1.ReplyToTicketRequest_Admin{Admin: &gatewayv1.AdminReplyAuthor{AdminId: "7"}}
	contact := func(c *gatewayv1.ContactReplyAuthor) *gatewayv1.ReplyToTicketRequest_Contact {
		return &gatewayv1.ReplyToTicketRequest_Contact{Contact: c}
	}
	waiting := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_WAITING_ON_CUSTOMER
	inProgress := gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_IN_PROGRESS
	tests := []struct {
		name     string
		call     func(context.Context, *service.TicketService) error
		wantCall string
		wantArgs []any
	}{
		{"create with every field", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.CreateTicket(ctx, &gatewayv1.CreateTicketRequest{
				TicketTypeId:      "1",
				Contacts:          []*gatewayv1.ContactIdentifier{{Identifier: &gatewayv1.ContactIdentifier_ExternalId{ExternalId: "ext-1"}}},
				CompanyId:         "co",
				CreateTime:        timestamppb.New(time.Unix(1700000000, 0)),
				TicketAttributes:  map[string]*structpb.Value{"_default_title_": structpb.NewStringValue("Printer on fire"), "count": structpb.NewNumberValue(2)},
				AdminAssigneeId:   "5",
				TeamAssigneeId:    "6",
				SkipNotifications: true,
			})
			return err
		}, "CreateTicket", []any{upstream.CreateTicketParams{
			TicketTypeID: "1", Contacts: []upstream.ContactIdentifier{{ExternalID: "ext-1"}}, CompanyID: "co", CreatedAt: 1700000000,
			Attributes:      map[string]any{"_default_title_": "Printer on fire", "count": int64(2)},
			AdminAssigneeID: "5", TeamAssigneeID: "6", SkipNotifications: true,
		}}},
		{"get", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.GetTicket(ctx, &gatewayv1.GetTicketRequest{TicketId: "6762f2d81bb69f9f2193bc54"})
			return err
		}, "GetTicket", []any{"6762f2d81bb69f9f2193bc54"}},
		{"update by state category", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.UpdateTicket(ctx, &gatewayv1.UpdateTicketRequest{TicketId: "9", State: &waiting, Open: &no, IsShared: &yes,
				SnoozedUntil: timestamppb.New(time.Unix(1700000500, 0)), AdminId: str("11"), AssigneeId: str("0"), CompanyId: str(""),
				SkipNotifications: &yes, TicketAttributes: map[string]*structpb.Value{"done": structpb.NewBoolValue(true)}})
			return err
		}, "UpdateTicket", []any{"9", upstream.UpdateTicketParams{
			Attributes: map[string]any{"done": true}, StateCategory: str("waiting_on_customer"), Open: &no, IsShared: &yes,
			SnoozedUntil: ptrTo(int64(1700000500)), AdminID: str("11"), AssigneeID: str("0"), CompanyID: str(""), SkipNotifications: &yes,
		}}},
		{"update in progress", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.UpdateTicket(ctx, &gatewayv1.UpdateTicketRequest{TicketId: "9", State: &inProgress})
			return err
		}, "UpdateTicket", []any{"9", upstream.UpdateTicketParams{StateCategory: str("in_progress")}}},
		{"update by state id", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.UpdateTicket(ctx, &gatewayv1.UpdateTicketRequest{TicketId: "9", TicketStateId: str("8537")})
			return err
		}, "UpdateTicket", []any{"9", upstream.UpdateTicketParams{StateID: str("8537")}}},
		{"delete", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.DeleteTicket(ctx, &gatewayv1.DeleteTicketRequest{TicketId: "9"})
			return err
		}, "DeleteTicket", []any{"9"}},
		{"admin quick reply", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: "9", Author: admin,
				MessageType:    gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY,
				ReplyOptions:   []*gatewayv1.ReplyOption{{Text: "Yes", Uuid: "u1"}, {Text: "No", Uuid: "u2"}},
				AttachmentUrls: []string{"https://example.com/a.png"}, CreateTime: timestamppb.New(time.Unix(1700000001, 0)), CrossPost: true})
			return err
		}, "ReplyToTicket", []any{"9", upstream.ReplyParams{MessageType: "quick_reply", AuthorType: "admin", AdminID: "7",
			ReplyOptions:   []upstream.ReplyOption{{Text: "Yes", UUID: "u1"}, {Text: "No", UUID: "u2"}},
			AttachmentURLs: []string{"https://example.com/a.png"}, CreatedAt: 1700000001, CrossPost: true}}},
		{"admin note", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: "9", Author: admin, Body: "<p>internal</p>",
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE})
			return err
		}, "ReplyToTicket", []any{"9", upstream.ReplyParams{MessageType: "note", AuthorType: "admin", AdminID: "7", Body: "<p>internal</p>"}}},
		{"contact comment by Intercom user id", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: "9", Body: "thanks",
				Author:      contact(&gatewayv1.ContactReplyAuthor{Identifier: &gatewayv1.ContactReplyAuthor_IntercomUserId{IntercomUserId: "6762f2d8"}}),
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "ReplyToTicket", []any{"9", upstream.ReplyParams{MessageType: "comment", AuthorType: "user", IntercomUserID: "6762f2d8", Body: "thanks"}}},
		{"contact comment by user id", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.ReplyToTicket(ctx, &gatewayv1.ReplyToTicketRequest{TicketId: "9", Body: "thanks",
				Author:      contact(&gatewayv1.ContactReplyAuthor{Identifier: &gatewayv1.ContactReplyAuthor_UserId{UserId: "crm-1"}}),
				MessageType: gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT})
			return err
		}, "ReplyToTicket", []any{"9", upstream.ReplyParams{MessageType: "comment", AuthorType: "user", UserID: "crm-1", Body: "thanks"}}},
		{"attach tag", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.AttachTag(ctx, &gatewayv1.AttachTagRequest{TicketId: "9", TagId: "t1", AdminId: "7"})
			return err
		}, "AttachTagToTicket", []any{"9", "t1", "7"}},
		{"detach tag", func(ctx context.Context, s *service.TicketService) error {
			_, err := s.DetachTag(ctx, &gatewayv1.DetachTagRequest{TicketId: "9", TagId: "t1", AdminId: "7"})
			return err
		}, "DetachTagFromTicket", []any{"9", "t1", "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			if err := tt.call(context.Background(), service.NewTicketService(service.Single("default", api))); err != nil {
				t.Fatalf("call: %v", err)
			}
			calls, args := api.recorded()
			if diff := cmp.Diff([]string{tt.wantCall}, calls); diff != "" {
				t.Fatalf("Intercom calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantArgs, args[0]); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
