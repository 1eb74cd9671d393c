package service_test

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/service"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &recordingAPI{}
			assertViolation(t, tt.call(service.NewTicketService(api)), tt.wantField)
			if n := api.callCount(); n != 0 {
				t.Errorf("Intercom was called %d times for an invalid request", n)
			}
		})
	}
}

func TestCreateTicketRequestIDPreventsDuplicates(t *testing.T) {
	t.Parallel()
	api := &recordingAPI{block: make(chan struct{})}
	svc := service.NewTicketService(api)

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
