package upstream

// This file holds the version-independent model that every method returns and the parameter types that
// every method accepts. Ids are strings everywhere, even where a version sends integers (see
// INTERCOM-API.md §10.2); times are Unix seconds, 0 meaning unset.

// Ticket is a ticket in any Intercom-Version's shape (schema `ticket` in 2.11.yaml and unstable.yaml).
type Ticket struct {
	// ID is the id to use in API paths. TicketID is the Inbox/Messenger number, which Intercom says
	// must not be used for API queries (schema `ticket`, field ticket_id).
	ID       string
	TicketID string
	// Category is Customer, Back-office or Tracker.
	Category string
	// Attributes is ticket_attributes as decoded JSON (strings, float64, bool, []any, map[string]any, nil).
	Attributes map[string]any
	State      TicketState
	// PreviousStateID is previous_ticket_state_id; only versions 2.12+ send it.
	PreviousStateID string
	Type            *TicketType
	Contacts        []ContactRef
	// AdminAssigneeID and TeamAssigneeID are "0" or empty when unassigned; integers (2.16+) are
	// converted to their decimal string.
	AdminAssigneeID      string
	TeamAssigneeID       string
	CreatedAt            int64
	UpdatedAt            int64
	SnoozedUntil         int64
	Open                 bool
	IsShared             bool
	LinkedObjects        []LinkedObject
	LinkedObjectsTotal   int
	LinkedObjectsHasMore bool
	Parts                []TicketPart
	PartsTotal           int
}

// TicketState is a ticket's state. Under 2.11, where ticket_state is a bare string enum, ID is empty,
// Category is that string and the labels come from ticket_state_internal_label and
// ticket_state_external_label. From 2.12 on it is the `ticket_state` object.
type TicketState struct {
	ID            string
	Category      string
	InternalLabel string
	ExternalLabel string
	Archived      bool
	// TicketTypeIDs lists the ticket types that use this state; only GET /ticket_states fills it.
	TicketTypeIDs []string
}

// ContactRef is one entry of a ticket's contacts list.
type ContactRef struct {
	ID         string
	ExternalID string
}

// LinkedObject is one entry of ticket.linked_objects.
type LinkedObject struct {
	Type     string // ticket or conversation
	ID       string
	Category string
}

// TicketPart is a ticket_part (a reply, note or state change), also the response of a reply.
type TicketPart struct {
	ID            string
	PartType      string
	Body          string
	PreviousState string
	State         string
	CreatedAt     int64
	UpdatedAt     int64
	AssignedTo    *Ref
	Author        *Author
	Attachments   []Attachment
	ExternalID    string
	Redacted      bool
}

// Ref is a typed reference such as assigned_to or applied_by.
type Ref struct {
	Type string
	ID   string
}

// Author is the author of a ticket part.
type Author struct {
	Type  string // admin, bot, team or user
	ID    string
	Name  string
	Email string
}

// Attachment is a file attached to a ticket part.
type Attachment struct {
	Type        string
	Name        string
	URL         string
	ContentType string
	FileSize    int64
	Width       int64
	Height      int64
}

// TicketType is a ticket_type. States is filled only by versions that send ticket_states (2.12+).
type TicketType struct {
	ID          string
	Category    string
	Name        string
	Description string
	Icon        string
	WorkspaceID string
	IsInternal  bool
	Archived    bool
	Attributes  []TicketTypeAttribute
	States      []TicketState
	CreatedAt   int64
	UpdatedAt   int64
}

// TicketTypeAttribute is a ticket_type_attribute.
type TicketTypeAttribute struct {
	ID          string
	WorkspaceID string
	Name        string
	Description string
	DataType    string
	// TicketTypeID is sent as an integer by every version (schema ticket_type_attribute) and kept as a string.
	TicketTypeID string
	// InputOptions is input_options as decoded JSON; ListItems, Multiline and AllowMultipleValues are
	// lifted out of it when present.
	InputOptions                map[string]any
	ListItems                   []ListItem
	Multiline                   bool
	AllowMultipleValues         bool
	Order                       int
	RequiredToCreate            bool
	RequiredToCreateForContacts bool
	VisibleOnCreate             bool
	VisibleToContacts           bool
	Default                     bool
	Archived                    bool
	CreatedAt                   int64
	UpdatedAt                   int64
}

// ListItem is one option of a list attribute, parsed from input_options.list_items.
type ListItem struct {
	ID       string
	Label    string
	Archived bool
}

// Tag is a tag. AppliedAt and AppliedBy are set only when the tag comes back from a tagging call.
type Tag struct {
	ID        string
	Name      string
	AppliedAt int64
	AppliedBy *Ref
}

// DeletedTicket is the ticket_deleted response of DELETE /tickets/{id}.
type DeletedTicket struct {
	ID      string
	Deleted bool
}

// CreateTicketParams is the body of POST /tickets (create_ticket_request).
type CreateTicketParams struct {
	TicketTypeID string
	// Contacts must hold exactly one identifier per entry; Intercom currently allows one contact.
	Contacts []ContactIdentifier
	// CompanyID is your external company_id under 2.11 and Intercom's company id from 2.12 on
	// (INTERCOM-API.md §10.6); it is passed through unchanged.
	CompanyID  string
	CreatedAt  int64
	Attributes map[string]any
	// AdminAssigneeID and TeamAssigneeID need Intercom-Version 2.14+ (create_ticket_request.assignment);
	// with an older version they make CreateTicket fail with ErrUnsupported.
	AdminAssigneeID string
	TeamAssigneeID  string
	// SkipNotifications needs 2.13+; older versions return ErrUnsupported when it is true.
	SkipNotifications bool
}

// ContactIdentifier identifies a contact by exactly one of its fields.
type ContactIdentifier struct {
	ID         string
	ExternalID string
	Email      string
}

// UpdateTicketParams is the body of PUT /tickets/{id}. A nil pointer leaves the field unchanged.
type UpdateTicketParams struct {
	Attributes map[string]any
	// StateCategory is in_progress, waiting_on_customer or resolved. Under 2.11 it is sent as `state`;
	// from 2.12 on it is resolved to a ticket_state_id of the ticket's type.
	StateCategory *string
	// StateID is a ticket_state_id; it needs 2.12+.
	StateID      *string
	Open         *bool
	IsShared     *bool
	SnoozedUntil *int64
	// AdminID is the acting admin; AssigneeID the admin or team to assign ("0" unassigns).
	AdminID    *string
	AssigneeID *string
	// CompanyID needs 2.12+.
	CompanyID *string
	// SkipNotifications needs 2.13+.
	SkipNotifications *bool
}

// ReplyParams is the body of POST /tickets/{id}/reply, either an admin reply or a contact reply.
type ReplyParams struct {
	// MessageType is comment, note or quick_reply (contacts can only send comment).
	MessageType string
	// AuthorType is "admin" or "user".
	AuthorType string
	// AdminID is required for admin replies; a contact reply needs exactly one of IntercomUserID,
	// UserID and Email.
	AdminID        string
	IntercomUserID string
	UserID         string
	Email          string
	Body           string
	CreatedAt      int64
	AttachmentURLs []string
	ReplyOptions   []ReplyOption
	CrossPost      bool
	// SkipNotifications needs 2.13+ (a top-level property of the reply body in unstable.yaml).
	SkipNotifications bool
}

// ReplyOption is a quick-reply option.
type ReplyOption struct {
	Text string
	UUID string
}

// SearchQuery is a search filter: a leaf (Field, Operator, Value) or, when Children is non-nil, a group
// whose Operator is "AND" or "OR".
type SearchQuery struct {
	Field    string
	Operator string
	// Value is a string, int64, float64, bool, []string or []int64 (or nil).
	Value    any
	Children []SearchQuery
}

// SearchParams is the body of POST /tickets/search.
type SearchParams struct {
	Query SearchQuery
	// PerPage defaults to Intercom's 20 when 0.
	PerPage       int
	StartingAfter string
}

// TicketPage is one page of search results. NextStartingAfter is empty on the last page.
type TicketPage struct {
	Tickets           []Ticket
	TotalCount        int
	Page              int
	PerPage           int
	TotalPages        int
	NextStartingAfter string
}

// CreateTicketTypeParams is the body of POST /ticket_types.
type CreateTicketTypeParams struct {
	Name        string
	Description string
	Category    string
	Icon        string
	IsInternal  bool
}

// UpdateTicketTypeParams is the body of PUT /ticket_types/{id}. A nil pointer leaves the field unchanged.
type UpdateTicketTypeParams struct {
	Name        *string
	Description *string
	Category    *string
	Icon        *string
	Archived    *bool
	IsInternal  *bool
}

// CreateAttributeParams is the body of POST /ticket_types/{id}/attributes. Nil pointers take
// Intercom's defaults.
type CreateAttributeParams struct {
	Name                        string
	Description                 string
	DataType                    string
	RequiredToCreate            *bool
	RequiredToCreateForContacts *bool
	VisibleOnCreate             *bool
	VisibleToContacts           *bool
	Multiline                   *bool
	AllowMultipleValues         *bool
	// ListItems are the labels of a list attribute; they are sent as one comma-separated string, as the
	// spec requires (create_ticket_type_attribute_request.list_items).
	ListItems []string
}

// UpdateAttributeParams is the body of PUT /ticket_types/{id}/attributes/{id}.
type UpdateAttributeParams struct {
	Name                        *string
	Description                 *string
	RequiredToCreate            *bool
	RequiredToCreateForContacts *bool
	VisibleOnCreate             *bool
	VisibleToContacts           *bool
	Multiline                   *bool
	AllowMultipleValues         *bool
	Archived                    *bool
	ListItems                   []string
}

// CompanyRef identifies a company for (un)tagging: Intercom's id or your company_id.
type CompanyRef struct {
	ID        string
	CompanyID string
}
