package service

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// id records a violation when a required id is missing or is not a plain
// Intercom id. upstream.ValidID is the gateway's one id rule: every id that
// goes into an Intercom path, and every id field of a request, passes it.
func (v *violations) id(field, value string) {
	switch {
	case value == "":
		v.add(field, "is required")
	case !upstream.ValidID(value):
		v.add(field, "is not a valid Intercom id ("+upstream.IDRule+")")
	}
}

// maxExternalIDLength bounds ids that callers choose themselves (a contact's
// external_id, a company's company_id). They travel in JSON bodies, never in
// paths, so they need not pass the id rule; Intercom documents no limit, and
// 255 characters is far above any real one.
const maxExternalIDLength = 255

// externalID records a violation when a caller-chosen id is too long or
// holds control characters.
func (v *violations) externalID(field, value string) {
	switch {
	case utf8.RuneCountInString(value) > maxExternalIDLength:
		v.add(field, fmt.Sprintf("is longer than %d characters", maxExternalIDLength))
	case strings.ContainsFunc(value, unicode.IsControl):
		v.add(field, "must not contain control characters")
	}
}

// optionalID records a violation when an optional id is set but malformed.
func (v *violations) optionalID(field, value string) {
	if value != "" {
		v.id(field, value)
	}
}

// maxAttachmentURLs is Intercom's limit for reply attachment_urls
// (2.11.yaml `admin_reply_ticket_request`: "You can include up to 10 URLs").
const maxAttachmentURLs = 10

// CreateTicket implements gatewayv1.TicketServiceServer.
func (s *TicketService) CreateTicket(ctx context.Context, req *gatewayv1.CreateTicketRequest) (*gatewayv1.CreateTicketResponse, error) {
	var v violations
	v.id("ticket_type_id", req.GetTicketTypeId())
	switch n := len(req.GetContacts()); {
	case n == 0:
		v.add("contacts", "is required: name the contact the ticket is about")
	case n > 1:
		// create_ticket_request.contacts: "Currently only one is allowed".
		v.add("contacts", fmt.Sprintf("holds %d contacts; Intercom allows exactly one", n))
	}
	contacts := make([]upstream.ContactIdentifier, 0, len(req.GetContacts()))
	for i, c := range req.GetContacts() {
		field := fmt.Sprintf("contacts[%d]", i)
		switch c.GetIdentifier().(type) {
		case *gatewayv1.ContactIdentifier_Id:
			v.id(field+".id", c.GetId())
		case *gatewayv1.ContactIdentifier_ExternalId:
			if strings.TrimSpace(c.GetExternalId()) == "" {
				v.add(field+".external_id", "must not be blank")
			}
			v.externalID(field+".external_id", c.GetExternalId())
		case *gatewayv1.ContactIdentifier_Email:
			if !strings.Contains(c.GetEmail(), "@") {
				v.add(field+".email", "is not an email address")
			}
		default:
			v.add(field, "needs one of id, external_id or email")
		}
		contacts = append(contacts, upstream.ContactIdentifier{ID: c.GetId(), ExternalID: c.GetExternalId(), Email: c.GetEmail()})
	}
	v.optionalID("company_id", req.GetCompanyId())
	v.optionalID("admin_assignee_id", req.GetAdminAssigneeId())
	v.optionalID("team_assignee_id", req.GetTeamAssigneeId())
	if ts := req.GetCreateTime(); ts != nil && ts.CheckValid() != nil {
		v.add("create_time", "is not a valid time")
	}
	validateAttributeKeys(&v, "ticket_attributes", req.GetTicketAttributes())
	if len(req.GetRequestId()) > 128 {
		v.add("request_id", "must be at most 128 characters (a UUID is best)")
	}
	if err := v.err(); err != nil {
		return nil, err
	}

	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	attrs, err := checkedAttributes(ctx, b, req.GetTicketTypeId(), "", req.GetTicketAttributes(), true)
	if err != nil {
		return nil, err
	}
	params := upstream.CreateTicketParams{
		TicketTypeID:      req.GetTicketTypeId(),
		Contacts:          contacts,
		CompanyID:         req.GetCompanyId(),
		CreatedAt:         toUnix(req.GetCreateTime()),
		Attributes:        attrs,
		AdminAssigneeID:   req.GetAdminAssigneeId(),
		TeamAssigneeID:    req.GetTeamAssigneeId(),
		SkipNotifications: req.GetSkipNotifications(),
	}
	create := func(ctx context.Context) (*gatewayv1.Ticket, error) {
		t, err := b.Tickets.CreateTicket(ctx, params)
		if err != nil {
			return nil, err
		}
		return ticketToProto(t), nil
	}
	if req.GetRequestId() == "" {
		t, err := create(ctx)
		if err != nil {
			return nil, err
		}
		return &gatewayv1.CreateTicketResponse{Ticket: t}, nil
	}

	// With a request_id, a retry returns the ticket of the first attempt
	// instead of creating a second one (AIP-155), also when the first
	// attempt's answer was lost (see indoubt.go).
	t, err := s.createWithRequestID(ctx, b, req, params)
	if err != nil {
		return nil, err
	}
	return &gatewayv1.CreateTicketResponse{Ticket: t}, nil
}

// validateAttributeKeys checks what can be checked without the schema:
// blank names and values without a kind. Names and values are checked
// against the ticket type's schema in checkedAttributes.
func validateAttributeKeys(v *violations, field string, attrs map[string]*structpb.Value) {
	for k, val := range attrs {
		if strings.TrimSpace(k) == "" {
			v.add(field, "attribute names must not be blank")
			continue
		}
		validateValue(v, fmt.Sprintf("%s[%q]", field, k), val, 0)
	}
}

// maxValueDepth bounds how deeply an attribute value may nest lists and
// objects. Intercom's attribute values are flat (string, number, boolean,
// or a list id), so anything deep is a caller's mistake.
const maxValueDepth = 8

// validateValue refuses a google.protobuf.Value with no kind set. JSON
// encoders that do not know the proto3 JSON names (protobufjs given
// string_value instead of stringValue) produce it, and it would reach
// Intercom as null: a ticket without its title and without an error.
func validateValue(v *violations, field string, val *structpb.Value, depth int) {
	if depth > maxValueDepth {
		v.add(field, fmt.Sprintf("nests lists and objects deeper than %d levels", maxValueDepth))
		return
	}
	switch k := val.GetKind().(type) {
	case nil:
		v.add(field, "has no value set (a google.protobuf.Value with no kind; in JSON write the value itself, "+
			`e.g. "Login fails", or {"stringValue": "Login fails"} in protobufjs, not {"string_value": …}); send null_value for an explicit null`)
	case *structpb.Value_ListValue:
		for i, item := range k.ListValue.GetValues() {
			validateValue(v, fmt.Sprintf("%s[%d]", field, i), item, depth+1)
		}
	case *structpb.Value_StructValue:
		for key, item := range k.StructValue.GetFields() {
			validateValue(v, fmt.Sprintf("%s[%q]", field, key), item, depth+1)
		}
	}
}

// GetTicket implements gatewayv1.TicketServiceServer.
func (s *TicketService) GetTicket(ctx context.Context, req *gatewayv1.GetTicketRequest) (*gatewayv1.GetTicketResponse, error) {
	var v violations
	v.id("ticket_id", req.GetTicketId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Ticket, error) { return b.Tickets.GetTicket(ctx, req.GetTicketId()) },
		func(t *upstream.Ticket) *gatewayv1.GetTicketResponse {
			return &gatewayv1.GetTicketResponse{Ticket: ticketToProto(t)}
		})
}

// UpdateTicket implements gatewayv1.TicketServiceServer.
func (s *TicketService) UpdateTicket(ctx context.Context, req *gatewayv1.UpdateTicketRequest) (*gatewayv1.UpdateTicketResponse, error) {
	var v violations
	v.id("ticket_id", req.GetTicketId())
	p := upstream.UpdateTicketParams{
		Attributes:        attributesFromProto(req.GetTicketAttributes()),
		StateID:           req.TicketStateId,
		Open:              req.Open,
		IsShared:          req.IsShared,
		AdminID:           req.AdminId,
		AssigneeID:        req.AssigneeId,
		CompanyID:         req.CompanyId,
		SkipNotifications: req.SkipNotifications,
	}
	validateAttributeKeys(&v, "ticket_attributes", req.GetTicketAttributes())
	if req.State != nil {
		switch req.GetState() {
		case gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_IN_PROGRESS,
			gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_WAITING_ON_CUSTOMER,
			gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_RESOLVED:
			name := stateCategoryNames[req.GetState()]
			p.StateCategory = &name
		default:
			// 2.11 update_ticket_request.state: in_progress,
			// waiting_on_customer or resolved; submitted cannot be set.
			v.add("state", "must be IN_PROGRESS, WAITING_ON_CUSTOMER or RESOLVED; a ticket cannot go back to SUBMITTED")
		}
		if req.TicketStateId != nil {
			v.add("ticket_state_id", "cannot be combined with state; set one of them")
		}
	}
	if req.TicketStateId != nil {
		v.id("ticket_state_id", req.GetTicketStateId())
	}
	if req.AdminId != nil {
		v.id("admin_id", req.GetAdminId())
	}
	if req.AssigneeId != nil {
		v.id("assignee_id", req.GetAssigneeId())
		if req.AdminId == nil {
			// 2.11 update_ticket_request.assignment.admin_id: the admin
			// performing the assignment.
			v.add("admin_id", "is required with assignee_id: Intercom records which admin assigned the ticket")
		}
	}
	if req.CompanyId != nil && req.GetCompanyId() != "" {
		v.id("company_id", req.GetCompanyId())
	}
	if ts := req.GetSnoozedUntil(); ts != nil {
		if ts.CheckValid() != nil {
			v.add("snoozed_until", "is not a valid time")
		}
		sec := ts.GetSeconds()
		p.SnoozedUntil = &sec
	}
	if len(req.GetTicketAttributes()) == 0 && req.State == nil && req.TicketStateId == nil && req.Open == nil &&
		req.IsShared == nil && req.SnoozedUntil == nil && req.AdminId == nil && req.AssigneeId == nil &&
		req.CompanyId == nil && req.SkipNotifications == nil {
		v.add("ticket_id", "the request changes nothing: set at least one field to update")
	}
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Ticket, error) {
		attrs, err := checkedAttributes(ctx, b, "", req.GetTicketId(), req.GetTicketAttributes(), false)
		if err != nil {
			return nil, err
		}
		p.Attributes = attrs
		return b.Tickets.UpdateTicket(ctx, req.GetTicketId(), p)
	},
		func(t *upstream.Ticket) *gatewayv1.UpdateTicketResponse {
			return &gatewayv1.UpdateTicketResponse{Ticket: ticketToProto(t)}
		})
}

// DeleteTicket implements gatewayv1.TicketServiceServer.
func (s *TicketService) DeleteTicket(ctx context.Context, req *gatewayv1.DeleteTicketRequest) (*gatewayv1.DeleteTicketResponse, error) {
	var v violations
	v.id("ticket_id", req.GetTicketId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.DeletedTicket, error) {
		return b.Tickets.DeleteTicket(ctx, req.GetTicketId())
	},
		func(d *upstream.DeletedTicket) *gatewayv1.DeleteTicketResponse {
			id := d.ID
			if id == "" {
				id = req.GetTicketId()
			}
			return &gatewayv1.DeleteTicketResponse{TicketId: id, Deleted: d.Deleted}
		})
}

// ReplyToTicket implements gatewayv1.TicketServiceServer.
func (s *TicketService) ReplyToTicket(ctx context.Context, req *gatewayv1.ReplyToTicketRequest) (*gatewayv1.ReplyToTicketResponse, error) {
	var v violations
	v.id("ticket_id", req.GetTicketId())
	p := upstream.ReplyParams{
		Body:           req.GetBody(),
		CreatedAt:      toUnix(req.GetCreateTime()),
		AttachmentURLs: req.GetAttachmentUrls(),
		CrossPost:      req.GetCrossPost(),
	}
	msgType := req.GetMessageType()
	switch msgType {
	case gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT:
		p.MessageType = "comment"
	case gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE:
		p.MessageType = "note"
	case gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY:
		p.MessageType = "quick_reply"
	default:
		v.add("message_type", "is required: COMMENT, NOTE or QUICK_REPLY")
	}

	switch a := req.GetAuthor().(type) {
	case *gatewayv1.ReplyToTicketRequest_Admin:
		p.AuthorType = "admin"
		p.AdminID = a.Admin.GetAdminId()
		v.id("admin.admin_id", a.Admin.GetAdminId())
	case *gatewayv1.ReplyToTicketRequest_Contact:
		p.AuthorType = "user"
		switch a.Contact.GetIdentifier().(type) {
		case *gatewayv1.ContactReplyAuthor_IntercomUserId:
			p.IntercomUserID = a.Contact.GetIntercomUserId()
			v.id("contact.intercom_user_id", p.IntercomUserID)
		case *gatewayv1.ContactReplyAuthor_UserId:
			p.UserID = a.Contact.GetUserId()
			if strings.TrimSpace(p.UserID) == "" {
				v.add("contact.user_id", "must not be blank")
			}
			v.externalID("contact.user_id", p.UserID)
		case *gatewayv1.ContactReplyAuthor_Email:
			p.Email = a.Contact.GetEmail()
			if !strings.Contains(p.Email, "@") {
				v.add("contact.email", "is not an email address")
			}
		default:
			v.add("contact", "needs one of intercom_user_id, user_id or email")
		}
		// contact_reply_ticket_request.message_type: only "comment".
		if msgType != gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT && msgType != gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_UNSPECIFIED {
			v.add("message_type", "contacts can only reply with COMMENT")
		}
	default:
		v.add("author", "is required: set admin or contact")
	}

	needsBody := msgType == gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_COMMENT || msgType == gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_NOTE
	if needsBody && strings.TrimSpace(req.GetBody()) == "" {
		v.add("body", "is required for comments and notes")
	}
	if msgType == gatewayv1.ReplyMessageType_REPLY_MESSAGE_TYPE_QUICK_REPLY && len(req.GetReplyOptions()) == 0 {
		v.add("reply_options", "is required for quick replies")
	}
	for i, o := range req.GetReplyOptions() {
		if o.GetText() == "" {
			v.add(fmt.Sprintf("reply_options[%d].text", i), "is required")
		}
		if o.GetUuid() == "" {
			v.add(fmt.Sprintf("reply_options[%d].uuid", i), "is required")
		}
		p.ReplyOptions = append(p.ReplyOptions, upstream.ReplyOption{Text: o.GetText(), UUID: o.GetUuid()})
	}
	if n := len(req.GetAttachmentUrls()); n > maxAttachmentURLs {
		v.add("attachment_urls", fmt.Sprintf("holds %d URLs; Intercom allows at most %d", n, maxAttachmentURLs))
	}
	for i, raw := range req.GetAttachmentUrls() {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(fmt.Sprintf("attachment_urls[%d]", i), "is not an absolute http(s) URL")
		}
	}
	if ts := req.GetCreateTime(); ts != nil && ts.CheckValid() != nil {
		v.add("create_time", "is not a valid time")
	}
	return run(ctx, s.backends, v, func(b Backend) (*upstream.TicketPart, error) {
		return b.Tickets.ReplyToTicket(ctx, req.GetTicketId(), p)
	},
		func(part *upstream.TicketPart) *gatewayv1.ReplyToTicketResponse {
			return &gatewayv1.ReplyToTicketResponse{TicketPart: partToProto(part)}
		})
}

// AttachTag implements gatewayv1.TicketServiceServer.
func (s *TicketService) AttachTag(ctx context.Context, req *gatewayv1.AttachTagRequest) (*gatewayv1.AttachTagResponse, error) {
	v := ticketTagViolations(req.GetTicketId(), req.GetTagId(), req.GetAdminId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tickets.AttachTagToTicket(ctx, req.GetTicketId(), req.GetTagId(), req.GetAdminId())
	}, func(t *upstream.Tag) *gatewayv1.AttachTagResponse {
		return &gatewayv1.AttachTagResponse{Tag: tagToProto(t)}
	})
}

// DetachTag implements gatewayv1.TicketServiceServer.
func (s *TicketService) DetachTag(ctx context.Context, req *gatewayv1.DetachTagRequest) (*gatewayv1.DetachTagResponse, error) {
	v := ticketTagViolations(req.GetTicketId(), req.GetTagId(), req.GetAdminId())
	return run(ctx, s.backends, v, func(b Backend) (*upstream.Tag, error) {
		return b.Tickets.DetachTagFromTicket(ctx, req.GetTicketId(), req.GetTagId(), req.GetAdminId())
	}, func(t *upstream.Tag) *gatewayv1.DetachTagResponse {
		return &gatewayv1.DetachTagResponse{Tag: tagToProto(t)}
	})
}

// ticketTagViolations checks the ids of a ticket tagging call; Intercom
// records the acting admin (2.11.yaml attachTagToTicket: id and admin_id
// required).
func ticketTagViolations(ticketID, tagID, adminID string) violations {
	var v violations
	v.id("ticket_id", ticketID)
	v.id("tag_id", tagID)
	v.id("admin_id", adminID)
	return v
}

// pageSize checks a requested page size against Intercom's limit and
// applies def when it is 0 (AIP-158: 0 means the server's default).
func pageSize(v *violations, size, def int32) int32 {
	switch {
	case size < 0:
		v.add("page_size", "must not be negative")
	case size > maxPageSize:
		v.add("page_size", fmt.Sprintf("must be at most %d", maxPageSize))
	case size == 0:
		return def
	}
	return size
}

// SearchTickets implements gatewayv1.TicketServiceServer.
func (s *TicketService) SearchTickets(ctx context.Context, req *gatewayv1.SearchTicketsRequest) (*gatewayv1.SearchTicketsResponse, error) {
	var v violations
	q := compileQuery(req.GetQuery(), "query", &v)
	size := pageSize(&v, req.GetPageSize(), defaultPageSize)
	// The token is bound to the call's workspace and caller, so the Backend
	// is needed before the token can be checked.
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	scope := b.Key("SearchTickets")
	cursor, problem := s.opts.pageTokens.decode(scope, req.GetQuery(), req.GetPageToken())
	if problem != "" {
		v.add("page_token", problem)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	page, err := b.Tickets.SearchTickets(ctx, upstream.SearchParams{Query: q, PerPage: int(size), StartingAfter: cursor})
	if err != nil {
		return nil, err
	}
	out := &gatewayv1.SearchTicketsResponse{
		NextPageToken: s.opts.pageTokens.encode(scope, req.GetQuery(), page.NextStartingAfter),
		TotalSize:     int32(page.TotalCount),
	}
	for i := range page.Tickets {
		out.Tickets = append(out.Tickets, ticketToProto(&page.Tickets[i]))
	}
	return out, nil
}

// StreamSearchTickets implements gatewayv1.TicketServiceServer. It follows
// Intercom's cursor (pages.next.starting_after) until a page has none.
func (s *TicketService) StreamSearchTickets(req *gatewayv1.StreamSearchTicketsRequest, stream grpc.ServerStreamingServer[gatewayv1.StreamSearchTicketsResponse]) error {
	var v violations
	q := compileQuery(req.GetQuery(), "query", &v)
	// Whole result sets are best fetched in Intercom's largest pages.
	size := pageSize(&v, req.GetPageSize(), maxPageSize)
	if err := v.err(); err != nil {
		return err
	}
	ctx := stream.Context()
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	cursor := ""
	for {
		page, err := b.Tickets.SearchTickets(ctx, upstream.SearchParams{Query: q, PerPage: int(size), StartingAfter: cursor})
		if err != nil {
			return err
		}
		for i := range page.Tickets {
			if err := stream.Send(&gatewayv1.StreamSearchTicketsResponse{Ticket: ticketToProto(&page.Tickets[i])}); err != nil {
				return err
			}
		}
		if page.NextStartingAfter == "" {
			return nil
		}
		if seen[page.NextStartingAfter] {
			// A cursor that comes back would loop forever.
			return status.Error(codes.Unavailable, "intercom returned a search cursor twice; stopping to avoid a loop")
		}
		seen[page.NextStartingAfter] = true
		cursor = page.NextStartingAfter
	}
}
