package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
)

// CreateTicket creates a ticket (POST /tickets, create_ticket_request). Intercom has no idempotency
// key, so a create is never retried after it may have reached Intercom (see RetryPolicy).
func (c *Client) CreateTicket(ctx context.Context, p CreateTicketParams) (*Ticket, error) {
	v := c.versions[OpCreateTicket]
	if p.TicketTypeID == "" {
		return nil, invalidf("createTicket: ticket type id is required")
	}
	if len(p.Contacts) == 0 {
		return nil, invalidf("createTicket: at least one contact is required")
	}
	body := createTicketBody{
		TicketTypeID:     p.TicketTypeID,
		CompanyID:        p.CompanyID,
		CreatedAt:        p.CreatedAt,
		TicketAttributes: p.Attributes,
	}
	for i, ci := range p.Contacts {
		m, err := ci.wire()
		if err != nil {
			return nil, invalidf("createTicket: contact %d: %v", i, err)
		}
		body.Contacts = append(body.Contacts, m)
	}
	if p.AdminAssigneeID != "" || p.TeamAssigneeID != "" {
		if err := require(OpCreateTicket, v, featureCreateAssignment); err != nil {
			return nil, err
		}
		body.Assignment = &createAssignment{AdminAssigneeID: p.AdminAssigneeID, TeamAssigneeID: p.TeamAssigneeID}
	}
	if p.SkipNotifications {
		if err := require(OpCreateTicket, v, featureSkipNotifications); err != nil {
			return nil, err
		}
		body.SkipNotifications = true
	}
	return c.ticketCall(ctx, call{op: OpCreateTicket, method: http.MethodPost, path: "/tickets", body: body})
}

type createTicketBody struct {
	TicketTypeID      string              `json:"ticket_type_id"`
	Contacts          []map[string]string `json:"contacts"`
	CompanyID         string              `json:"company_id,omitempty"`
	CreatedAt         int64               `json:"created_at,omitempty"`
	TicketAttributes  map[string]any      `json:"ticket_attributes,omitempty"`
	Assignment        *createAssignment   `json:"assignment,omitempty"`
	SkipNotifications bool                `json:"skip_notifications,omitempty"`
}

// createAssignment is create_ticket_request.assignment (unstable.yaml): both ids are strings there,
// unlike update's integer admin_id.
type createAssignment struct {
	AdminAssigneeID string `json:"admin_assignee_id,omitempty"`
	TeamAssigneeID  string `json:"team_assignee_id,omitempty"`
}

// wire renders one contacts[] entry; the schema is a oneOf of {id}, {external_id} and {email}.
func (ci ContactIdentifier) wire() (map[string]string, error) {
	m := map[string]string{}
	if ci.ID != "" {
		m["id"] = ci.ID
	}
	if ci.ExternalID != "" {
		m["external_id"] = ci.ExternalID
	}
	if ci.Email != "" {
		m["email"] = ci.Email
	}
	if len(m) != 1 {
		return nil, errors.New("set exactly one of id, external_id and email")
	}
	return m, nil
}

// GetTicket retrieves a ticket by its id (not its ticket_id, which Intercom says must not be used in
// API queries).
func (c *Client) GetTicket(ctx context.Context, id string) (*Ticket, error) {
	path, err := pathf("/tickets/%s", id)
	if err != nil {
		return nil, err
	}
	return c.ticketCall(ctx, call{op: OpGetTicket, method: http.MethodGet, path: path})
}

// ticketCall sends cl and decodes a ticket.
func (c *Client) ticketCall(ctx context.Context, cl call) (*Ticket, error) {
	var w wireTicket
	cl.out = &w
	if err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	return c.ticketModel(cl.op, &w)
}

func (c *Client) ticketModel(op Operation, w *wireTicket) (*Ticket, error) {
	t, err := w.model()
	if err != nil {
		return nil, &DecodeError{Operation: op, StatusCode: http.StatusOK, ContentType: "application/json", Err: err}
	}
	return t, nil
}

// UpdateTicket updates a ticket (PUT /tickets/{id}). The body is encoded for the operation's version
// (update_ticket_request):
//
//   - up to 2.11: `state` (a category) and assignment{admin_id, assignee_id}, both strings. StateID and
//     CompanyID cannot be expressed and fail with ErrUnsupported.
//   - 2.12 and 2.13: `ticket_state_id` and `company_id`; assignment{} as before.
//   - 2.14 and later, Preview: `ticket_state_id`, `company_id`, top-level `admin_id` as a JSON integer
//     and `assignee_id` as a string.
//
// From 2.12 on there is no `state` field, so a StateCategory alone is resolved to the id of a
// non-archived state of that category for the ticket's type: the ticket is fetched to learn its type,
// then the type's states (from the ticket when the version includes them, else GET /ticket_states).
// A *CompanyID of "" removes the company (sent as null, "Set to nil to remove" in unstable.yaml).
func (c *Client) UpdateTicket(ctx context.Context, id string, p UpdateTicketParams) (*Ticket, error) {
	path, err := pathf("/tickets/%s", id)
	if err != nil {
		return nil, err
	}
	v := c.versions[OpUpdateTicket]
	if p.StateCategory != nil && p.StateID != nil {
		return nil, invalidf("updateTicket: set StateCategory or StateID, not both")
	}
	body := updateTicketBody{
		TicketAttributes: p.Attributes,
		Open:             p.Open,
		IsShared:         p.IsShared,
		SnoozedUntil:     p.SnoozedUntil,
	}
	if p.SkipNotifications != nil {
		if err := require(OpUpdateTicket, v, featureSkipNotifications); err != nil {
			return nil, err
		}
		body.SkipNotifications = p.SkipNotifications
	}
	if p.CompanyID != nil {
		if err := require(OpUpdateTicket, v, featureStateID); err != nil {
			return nil, err
		}
		body.CompanyID = json.RawMessage("null")
		if *p.CompanyID != "" {
			body.CompanyID, _ = json.Marshal(*p.CompanyID)
		}
	}
	switch {
	case p.StateID != nil && !has(v, featureStateID):
		return nil, require(OpUpdateTicket, v, featureStateID)
	case p.StateID != nil:
		body.TicketStateID = p.StateID
	case p.StateCategory != nil && !has(v, featureStateID):
		body.State = p.StateCategory
	case p.StateCategory != nil:
		stateID, err := c.resolveStateID(ctx, id, *p.StateCategory)
		if err != nil {
			return nil, err
		}
		body.TicketStateID = &stateID
	}
	if p.AdminID != nil || p.AssigneeID != nil {
		if has(v, featureFlatAssignment) {
			if p.AdminID != nil {
				// update_ticket_request.admin_id is `type: integer` from 2.14.yaml on (featureFlatAssignment).
				n, err := strconv.ParseInt(*p.AdminID, 10, 64)
				if err != nil {
					return nil, invalidf("updateTicket: admin id %q must be numeric for Intercom-Version %s", *p.AdminID, v)
				}
				body.AdminID = &n
			}
			body.AssigneeID = p.AssigneeID
		} else {
			body.Assignment = &updateAssignment{AdminID: p.AdminID, AssigneeID: p.AssigneeID}
		}
	}
	return c.ticketCall(ctx, call{op: OpUpdateTicket, method: http.MethodPut, path: path, body: body})
}

type updateTicketBody struct {
	TicketAttributes map[string]any `json:"ticket_attributes,omitempty"`
	// State is 2.11's category enum; TicketStateID replaces it from 2.12 on.
	State         *string         `json:"state,omitempty"`
	TicketStateID *string         `json:"ticket_state_id,omitempty"`
	CompanyID     json.RawMessage `json:"company_id,omitempty"`
	Open          *bool           `json:"open,omitempty"`
	IsShared      *bool           `json:"is_shared,omitempty"`
	SnoozedUntil  *int64          `json:"snoozed_until,omitempty"`
	// Assignment is the ≤2.13 shape; AdminID and AssigneeID the 2.14+ shape.
	Assignment        *updateAssignment `json:"assignment,omitempty"`
	AdminID           *int64            `json:"admin_id,omitempty"`
	AssigneeID        *string           `json:"assignee_id,omitempty"`
	SkipNotifications *bool             `json:"skip_notifications,omitempty"`
}

type updateAssignment struct {
	AdminID    *string `json:"admin_id,omitempty"`
	AssigneeID *string `json:"assignee_id,omitempty"`
}

// SchemaReader is where UpdateTicket reads what it needs to turn a state category into a
// ticket_state_id: the ticket's type and the states of that type. The schema cache implements it, so
// that these nested reads cost no Intercom call when the cache has them (see WithSchemaReader).
type SchemaReader interface {
	// TicketTypeOf returns the id of the ticket's type.
	TicketTypeOf(ctx context.Context, ticketID string) (string, error)
	// TicketType returns a ticket type; its States are filled from Intercom-Version 2.12 on.
	TicketType(ctx context.Context, id string) (*TicketType, error)
	// ListTicketStates returns every ticket state with the types that use it.
	ListTicketStates(ctx context.Context) ([]TicketState, error)
}

// WithSchemaReader returns a copy of c whose UpdateTicket reads ticket types and states through r
// instead of calling Intercom. c itself is unchanged, so r may be built on c without a loop.
func (c *Client) WithSchemaReader(r SchemaReader) *Client {
	cp := *c
	cp.schema = r
	return &cp
}

// resolveStateID finds the state of the given category that the ticket's type uses.
func (c *Client) resolveStateID(ctx context.Context, ticketID, category string) (string, error) {
	var (
		typeID     string
		typeStates []TicketState
		listStates = c.ListTicketStates
	)
	if c.schema != nil {
		id, err := c.schema.TicketTypeOf(ctx, ticketID)
		if err != nil {
			return "", err
		}
		if id != "" {
			tt, err := c.schema.TicketType(ctx, id)
			if err != nil {
				return "", err
			}
			typeID, typeStates = id, tt.States
		}
		listStates = c.schema.ListTicketStates
	} else {
		t, err := c.GetTicket(ctx, ticketID)
		if err != nil {
			return "", err
		}
		if t.Type != nil {
			typeID, typeStates = t.Type.ID, t.Type.States
		}
	}
	if typeID == "" {
		return "", invalidf("updateTicket: ticket %s has no ticket type to resolve state %q against", ticketID, category)
	}
	pick := func(states []TicketState, needType bool) (string, bool) {
		for _, s := range states {
			if s.Archived || s.Category != category || s.ID == "" {
				continue
			}
			if needType && !slices.Contains(s.TicketTypeIDs, typeID) {
				continue
			}
			return s.ID, true
		}
		return "", false
	}
	if id, ok := pick(typeStates, false); ok {
		return id, nil
	}
	states, err := listStates(ctx)
	if err != nil {
		return "", err
	}
	if id, ok := pick(states, true); ok {
		return id, nil
	}
	return "", invalidf("updateTicket: ticket type %s has no active state of category %q", typeID, category)
}

// DeleteTicket deletes a ticket irreversibly (DELETE /tickets/{id}, in 2.13.yaml and later). A client
// on 2.11 or 2.12 sends it as Preview, or refuses it with WithPreviewFallback(false).
func (c *Client) DeleteTicket(ctx context.Context, id string) (*DeletedTicket, error) {
	path, err := pathf("/tickets/%s", id)
	if err != nil {
		return nil, err
	}
	var w wireDeleted
	if err := c.do(ctx, call{op: OpDeleteTicket, method: http.MethodDelete, path: path, out: &w}); err != nil {
		return nil, err
	}
	return &DeletedTicket{ID: string(w.ID), Deleted: w.Deleted}, nil
}

// ReplyToTicket adds a reply or note (POST /tickets/{id}/reply). The body is admin_reply_ticket_request
// when AuthorType is "admin" and contact_reply_ticket_request (one of intercom_user_id, user_id, email)
// when it is "user".
func (c *Client) ReplyToTicket(ctx context.Context, id string, p ReplyParams) (*TicketPart, error) {
	path, err := pathf("/tickets/%s/reply", id)
	if err != nil {
		return nil, err
	}
	v := c.versions[OpReplyTicket]
	body := replyBody{
		MessageType:    p.MessageType,
		Type:           p.AuthorType,
		Body:           p.Body,
		CreatedAt:      p.CreatedAt,
		AttachmentURLs: p.AttachmentURLs,
	}
	for _, o := range p.ReplyOptions {
		body.ReplyOptions = append(body.ReplyOptions, replyOption{Text: o.Text, UUID: o.UUID})
	}
	switch p.AuthorType {
	case "admin":
		if p.AdminID == "" {
			return nil, invalidf("replyTicket: an admin reply needs an admin id")
		}
		body.AdminID = p.AdminID
		body.CrossPost = p.CrossPost
	case "user":
		n := 0
		for _, s := range []string{p.IntercomUserID, p.UserID, p.Email} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			return nil, invalidf("replyTicket: a contact reply needs exactly one of intercom user id, user id and email")
		}
		if body.MessageType == "" {
			body.MessageType = "comment" // the only message_type contact_reply_base_request allows
		}
		if len(p.ReplyOptions) > 0 {
			if err := require(OpReplyTicket, v, featureContactReplyOptions); err != nil {
				return nil, err
			}
		}
		if p.CrossPost {
			return nil, invalidf("replyTicket: cross_post applies to admin notes only")
		}
		body.IntercomUserID, body.UserID, body.Email = p.IntercomUserID, p.UserID, p.Email
	default:
		return nil, invalidf("replyTicket: author type must be \"admin\" or \"user\", got %q", p.AuthorType)
	}
	if p.SkipNotifications {
		if err := require(OpReplyTicket, v, featureSkipNotifications); err != nil {
			return nil, err
		}
		body.SkipNotifications = true
	}
	return fetch(ctx, c, call{op: OpReplyTicket, method: http.MethodPost, path: path, body: body}, (*wireTicketPart).model)
}

type replyBody struct {
	MessageType       string        `json:"message_type"`
	Type              string        `json:"type"`
	AdminID           string        `json:"admin_id,omitempty"`
	IntercomUserID    string        `json:"intercom_user_id,omitempty"`
	UserID            string        `json:"user_id,omitempty"`
	Email             string        `json:"email,omitempty"`
	Body              string        `json:"body,omitempty"`
	CreatedAt         int64         `json:"created_at,omitempty"`
	AttachmentURLs    []string      `json:"attachment_urls,omitempty"`
	ReplyOptions      []replyOption `json:"reply_options,omitempty"`
	CrossPost         bool          `json:"cross_post,omitempty"`
	SkipNotifications bool          `json:"skip_notifications,omitempty"`
}

type replyOption struct {
	Text string `json:"text"`
	UUID string `json:"uuid"`
}

// SearchTickets runs one page of a ticket search (POST /tickets/search, search_request). To read the
// next page, send the same params with StartingAfter = page.NextStartingAfter.
func (c *Client) SearchTickets(ctx context.Context, p SearchParams) (*TicketPage, error) {
	v := c.versions[OpSearchTickets]
	q, err := encodeQuery(p.Query, v, 0)
	if err != nil {
		return nil, err
	}
	body := searchBody{Query: q}
	if p.PerPage < 0 {
		return nil, invalidf("searchTickets: per page must not be negative")
	}
	if p.PerPage > 0 || p.StartingAfter != "" {
		// 2.11's starting_after_paging requires per_page; 20 is Intercom's default page size (§8).
		perPage := p.PerPage
		if perPage == 0 {
			perPage = 20
		}
		body.Pagination = &searchPagination{PerPage: perPage, StartingAfter: p.StartingAfter}
	}
	var w wireTicketList
	if err := c.do(ctx, call{op: OpSearchTickets, method: http.MethodPost, path: "/tickets/search", body: body, out: &w,
		// A search only reads, so sending it twice cannot change anything: it is retried like a GET
		// on 5xx and transport errors (see RetryPolicy).
		readOnly: true}); err != nil {
		return nil, err
	}
	page := &TicketPage{TotalCount: int(w.TotalCount)}
	for i := range w.Tickets {
		t, err := c.ticketModel(OpSearchTickets, &w.Tickets[i])
		if err != nil {
			return nil, err
		}
		page.Tickets = append(page.Tickets, *t)
	}
	if pg := w.Pages; pg != nil {
		page.Page, page.PerPage, page.TotalPages = int(pg.Page), int(pg.PerPage), int(pg.TotalPages)
		if pg.Next != nil {
			page.NextStartingAfter = pg.Next.StartingAfter
		}
	}
	return page, nil
}

type searchBody struct {
	Query      map[string]any    `json:"query"`
	Pagination *searchPagination `json:"pagination,omitempty"`
}

type searchPagination struct {
	PerPage       int    `json:"per_page"`
	StartingAfter string `json:"starting_after,omitempty"`
}

// integerSearchFields are the fields whose values change JSON type by version: strings up to 2.15,
// integers from 2.16 on (featureIntegerAssigneeSearch says why 2.16 is on the integer side).
var integerSearchFields = map[string]bool{"admin_assignee_id": true, "team_assignee_id": true}

// encodeQuery renders a SearchQuery as single_filter_search_request or multiple_filter_search_request.
// Intercom allows two levels of nesting; deeper queries are rejected here rather than by a 400.
func encodeQuery(q SearchQuery, v Version, depth int) (map[string]any, error) {
	if q.Children != nil {
		if q.Operator != "AND" && q.Operator != "OR" {
			return nil, invalidf("searchTickets: a group's operator must be AND or OR, got %q", q.Operator)
		}
		if depth >= 2 {
			return nil, invalidf("searchTickets: at most 2 levels of nested filters are allowed")
		}
		if len(q.Children) == 0 {
			return nil, invalidf("searchTickets: an %s group needs at least one filter", q.Operator)
		}
		var leaves, groups []any
		for _, ch := range q.Children {
			m, err := encodeQuery(ch, v, depth+1)
			if err != nil {
				return nil, err
			}
			if ch.Children != nil {
				groups = append(groups, m)
			} else {
				leaves = append(leaves, m)
			}
		}
		// Unstable's multiple_filter_search_request.value is oneOf(array of groups, array of filters):
		// one kind per array, while 2.11 allows both in one array. A group that mixes them is sent with
		// its filters gathered in a sub-group of the same operator, which means the same thing, is valid
		// in every version and adds no nesting level beyond the sibling groups that are already there.
		switch {
		case groups == nil:
			return map[string]any{"operator": q.Operator, "value": leaves}, nil
		case leaves == nil:
			return map[string]any{"operator": q.Operator, "value": groups}, nil
		}
		regrouped := append([]any{map[string]any{"operator": q.Operator, "value": leaves}}, groups...)
		return map[string]any{"operator": q.Operator, "value": regrouped}, nil
	}
	if q.Field == "" {
		return nil, invalidf("searchTickets: a filter needs a field")
	}
	value, err := searchValue(q.Field, q.Value, v)
	if err != nil {
		return nil, err
	}
	return map[string]any{"field": q.Field, "operator": q.Operator, "value": value}, nil
}

func searchValue(field string, value any, v Version) (any, error) {
	switch x := value.(type) {
	case nil, string, int64, float64, bool, []string, []int64:
	case int:
		value = int64(x)
	default:
		return nil, invalidf("searchTickets: unsupported value type %T for field %s", value, field)
	}
	if !integerSearchFields[field] {
		return value, nil
	}
	if has(v, featureIntegerAssigneeSearch) {
		toInt := func(s string) (int64, error) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, invalidf("searchTickets: %s must be numeric for Intercom-Version %s, got %q", field, v, s)
			}
			return n, nil
		}
		switch x := value.(type) {
		case string:
			return toInt(x)
		case []string:
			out := make([]int64, len(x))
			for i, s := range x {
				n, err := toInt(s)
				if err != nil {
					return nil, err
				}
				out[i] = n
			}
			return out, nil
		}
		return value, nil
	}
	switch x := value.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case []int64:
		out := make([]string, len(x))
		for i, n := range x {
			out[i] = strconv.FormatInt(n, 10)
		}
		return out, nil
	}
	return value, nil
}

// AttachTagToTicket tags a ticket (POST /tickets/{ticket_id}/tags, body {id, admin_id}, both strings in
// the schema although the examples send numbers, §7).
func (c *Client) AttachTagToTicket(ctx context.Context, ticketID, tagID, adminID string) (*Tag, error) {
	return c.attachTag(ctx, OpAttachTagToTicket, "/tickets/%s", ticketID, tagID, adminID)
}

// DetachTagFromTicket removes a tag from a ticket (DELETE /tickets/{ticket_id}/tags/{id} with a JSON
// body {admin_id}, §10.5).
func (c *Client) DetachTagFromTicket(ctx context.Context, ticketID, tagID, adminID string) (*Tag, error) {
	return c.detachTag(ctx, OpDetachTagFromTicket, "/tickets/%s", ticketID, tagID, adminID)
}
