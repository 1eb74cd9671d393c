package sandbox

import (
	"encoding/json"
	"strconv"
)

// JSON shapes of responses. Where 2.11.yaml and unstable.yaml differ, the
// field is an `any` filled by version; see renderTicket.

type listJSON[T any] struct {
	Type string `json:"type"`
	Data []T    `json:"data"`
}

func newList[T any](items []T) listJSON[T] {
	if items == nil {
		items = []T{}
	}
	return listJSON[T]{Type: "list", Data: items}
}

type ticketJSON struct {
	Type             string         `json:"type"`
	ID               string         `json:"id"`
	TicketID         string         `json:"ticket_id"`
	Category         string         `json:"category"`
	TicketAttributes map[string]any `json:"ticket_attributes"`
	// TicketState is a string enum in 2.11.yaml (ticket.ticket_state) and a
	// ticket_state object in unstable.yaml.
	TicketState any `json:"ticket_state"`
	// The labels are top-level only in 2.11.yaml; 2.12.yaml moved them into
	// ticket_state, and 2.16.yaml added previous_ticket_state_id (nullable).
	TicketStateInternalLabel string          `json:"ticket_state_internal_label,omitempty"`
	TicketStateExternalLabel string          `json:"ticket_state_external_label,omitempty"`
	PreviousTicketStateID    json.RawMessage `json:"previous_ticket_state_id,omitempty"`
	TicketType               ticketTypeJSON  `json:"ticket_type"`
	Contacts                 contactsJSON    `json:"contacts"`
	// Assignee ids are strings ("0" = unassigned) in 2.11.yaml to 2.15.yaml
	// and integers from 2.16.yaml on (see integerAssignees).
	AdminAssigneeID any             `json:"admin_assignee_id"`
	TeamAssigneeID  any             `json:"team_assignee_id"`
	CreatedAt       int64           `json:"created_at"`
	UpdatedAt       int64           `json:"updated_at"`
	Open            bool            `json:"open"`
	SnoozedUntil    int64           `json:"snoozed_until,omitempty"`
	LinkedObjects   linkedObjects   `json:"linked_objects"`
	TicketParts     ticketPartsJSON `json:"ticket_parts"`
	IsShared        bool            `json:"is_shared"`
}

type contactsJSON struct {
	Type     string        `json:"type"`
	Contacts []contactJSON `json:"contacts"`
}

type contactJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
}

// linkedObjects is 2.11.yaml linked_object_list; the sandbox links nothing.
type linkedObjects struct {
	Type       string `json:"type"`
	TotalCount int    `json:"total_count"`
	HasMore    bool   `json:"has_more"`
	Data       []any  `json:"data"`
}

type ticketPartsJSON struct {
	Type        string           `json:"type"`
	TicketParts []ticketPartJSON `json:"ticket_parts"`
	TotalCount  int              `json:"total_count"`
}

type ticketPartJSON struct {
	Type                string     `json:"type"`
	ID                  string     `json:"id"`
	PartType            string     `json:"part_type"`
	Body                *string    `json:"body"`
	PreviousTicketState string     `json:"previous_ticket_state,omitempty"`
	TicketState         string     `json:"ticket_state"`
	CreatedAt           int64      `json:"created_at"`
	UpdatedAt           int64      `json:"updated_at"`
	AssignedTo          *refJSON   `json:"assigned_to,omitempty"`
	Author              authorJSON `json:"author"`
	Attachments         []any      `json:"attachments"`
	Redacted            bool       `json:"redacted"`
}

// ticketReplyJSON is 2.11.yaml ticket_reply, the answer to replyTicket.
type ticketReplyJSON struct {
	Type        string     `json:"type"`
	ID          string     `json:"id"`
	PartType    string     `json:"part_type"`
	Body        *string    `json:"body"`
	CreatedAt   int64      `json:"created_at"`
	UpdatedAt   int64      `json:"updated_at"`
	Author      authorJSON `json:"author"`
	Attachments []any      `json:"attachments"`
	Redacted    bool       `json:"redacted"`
}

type authorJSON struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

type refJSON struct {
	Type string  `json:"type"`
	ID   *string `json:"id"`
}

type ticketTypeJSON struct {
	Type                 string                     `json:"type"`
	ID                   string                     `json:"id"`
	Category             string                     `json:"category"`
	Name                 string                     `json:"name"`
	Description          string                     `json:"description"`
	Icon                 string                     `json:"icon"`
	WorkspaceID          string                     `json:"workspace_id"`
	TicketTypeAttributes listJSON[attributeJSON]    `json:"ticket_type_attributes"`
	TicketStates         *listJSON[ticketStateJSON] `json:"ticket_states,omitempty"` // from 2.12.yaml on
	Archived             bool                       `json:"archived"`
	CreatedAt            int64                      `json:"created_at"`
	UpdatedAt            int64                      `json:"updated_at"`
	// IsInternal is in every example and request but not in the response schema
	// (INTERCOM-API.md §10.9).
	IsInternal bool `json:"is_internal"`
}

type attributeJSON struct {
	Type                        string         `json:"type"`
	ID                          string         `json:"id"`
	WorkspaceID                 string         `json:"workspace_id"`
	Name                        string         `json:"name"`
	Description                 string         `json:"description"`
	DataType                    string         `json:"data_type"`
	InputOptions                map[string]any `json:"input_options"`
	Order                       int            `json:"order"`
	RequiredToCreate            bool           `json:"required_to_create"`
	RequiredToCreateForContacts bool           `json:"required_to_create_for_contacts"`
	VisibleOnCreate             bool           `json:"visible_on_create"`
	VisibleToContacts           bool           `json:"visible_to_contacts"`
	Default                     bool           `json:"default"`
	TicketTypeID                int64          `json:"ticket_type_id"` // an integer in both descriptions
	Archived                    bool           `json:"archived"`
	CreatedAt                   int64          `json:"created_at"`
	UpdatedAt                   int64          `json:"updated_at"`
}

type listItemJSON struct {
	ID       string `json:"id"`
	Label    string `json:"label"`
	Archived bool   `json:"archived"`
}

type ticketStateJSON struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	Category      string `json:"category"`
	InternalLabel string `json:"internal_label"`
	ExternalLabel string `json:"external_label"`
}

// ticketStateDetailedJSON is unstable.yaml ticket_state_detailed.
type ticketStateDetailedJSON struct {
	ticketStateJSON
	Archived    bool                          `json:"archived"`
	TicketTypes listJSON[ticketTypeBriefJSON] `json:"ticket_types"`
}

// ticketTypeBriefJSON is the abbreviated ticket type of the listTicketStates example.
type ticketTypeBriefJSON struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Icon       string `json:"icon"`
	Archived   bool   `json:"archived"`
	IsInternal bool   `json:"is_internal"`
	Category   string `json:"category"`
}

type tagJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
	// Present only in answers to tagging operations (2.11.yaml tag.applied_at).
	AppliedAt *int64 `json:"applied_at,omitempty"`
	AppliedBy any    `json:"applied_by,omitempty"`
}

// tagCreateJSON is unstable.yaml tag_create_response.
type tagCreateJSON struct {
	Type      string       `json:"type"`
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Users     []taggedJSON `json:"users,omitempty"`
	Companies []taggedJSON `json:"companies,omitempty"`
}

type taggedJSON struct {
	ID     string `json:"id"`
	Tagged bool   `json:"tagged"`
}

type ticketDeletedJSON struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// ---- rendering ----

func (s *Server) renderTicket(t *ticket, v apiVersion) ticketJSON {
	w := s.ws
	tt := w.ticketType(t.typeID)
	st := w.state(t.stateID)
	out := ticketJSON{
		Type: "ticket", ID: t.id, TicketID: t.ticketID, Category: t.category,
		TicketAttributes: renderAttrValues(tt, t.attrs),
		TicketType:       s.renderTicketType(tt, v),
		Contacts:         contactsJSON{Type: "contact.list", Contacts: []contactJSON{}},
		CreatedAt:        t.createdAt, UpdatedAt: t.updatedAt, Open: t.open, SnoozedUntil: t.snoozedUntil,
		LinkedObjects: linkedObjects{Type: "list", Data: []any{}},
		TicketParts:   ticketPartsJSON{Type: "ticket_part.list", TicketParts: []ticketPartJSON{}},
		IsShared:      t.isShared,
	}
	for _, id := range t.contactIDs {
		c := w.contact(id)
		if c == nil {
			continue
		}
		out.Contacts.Contacts = append(out.Contacts.Contacts, contactJSON{Type: "contact", ID: c.id, ExternalID: c.externalID})
	}
	for _, p := range t.parts {
		out.TicketParts.TicketParts = append(out.TicketParts.TicketParts, renderPart(p))
	}
	out.TicketParts.TotalCount = len(out.TicketParts.TicketParts)
	if v.has(stateObject) {
		out.TicketState = renderState(st)
	} else {
		out.TicketState = st.category
		out.TicketStateInternalLabel = st.internalLabel
		out.TicketStateExternalLabel = st.externalLabel
	}
	if v.has(previousStateID) {
		out.PreviousTicketStateID = json.RawMessage("null")
		if t.previousStateID != "" {
			out.PreviousTicketStateID = json.RawMessage(strconv.Quote(t.previousStateID))
		}
	}
	if v.has(integerAssignees) {
		out.AdminAssigneeID = t.adminAssignee
		out.TeamAssigneeID = t.teamAssignee
	} else {
		out.AdminAssigneeID = strconv.FormatInt(t.adminAssignee, 10)
		out.TeamAssigneeID = strconv.FormatInt(t.teamAssignee, 10)
	}
	return out
}

// renderAttrValues shows list attributes by their label, the way Intercom
// shows them in the inbox; requests may send the list item id or the label.
func renderAttrValues(tt *ticketType, values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for name, val := range values {
		if a := tt.attribute(name); a != nil && a.dataType == "list" {
			if id, ok := val.(string); ok {
				if li := a.item(id); li != nil {
					val = li.label
				}
			}
		}
		out[name] = val
	}
	return out
}

func (a *attribute) item(idOrLabel string) *listItem {
	for _, li := range a.listItems {
		if li.id == idOrLabel {
			return li
		}
	}
	for _, li := range a.listItems {
		if equalFold(li.label, idOrLabel) {
			return li
		}
	}
	return nil
}

func renderPart(p *ticketPart) ticketPartJSON {
	out := ticketPartJSON{
		Type: "ticket_part", ID: p.id, PartType: p.partType, Body: p.body,
		PreviousTicketState: p.previousState, TicketState: p.state,
		CreatedAt: p.createdAt, UpdatedAt: p.updatedAt, Author: renderAuthor(p.author),
		Attachments: []any{},
	}
	if p.assignedTo != nil {
		id := p.assignedTo.id
		out.AssignedTo = &refJSON{Type: p.assignedTo.typ, ID: &id}
	}
	return out
}

func renderAuthor(a author) authorJSON {
	return authorJSON{Type: a.typ, ID: a.id, Name: a.name, Email: a.email}
}

func renderState(st *ticketState) ticketStateJSON {
	return ticketStateJSON{Type: "ticket_state", ID: st.id, Category: st.category,
		InternalLabel: st.internalLabel, ExternalLabel: st.externalLabel}
}

func (s *Server) renderTicketType(t *ticketType, v apiVersion) ticketTypeJSON {
	out := ticketTypeJSON{
		Type: "ticket_type", ID: t.id, Category: t.category, Name: t.name, Description: t.description,
		Icon: t.icon, WorkspaceID: workspaceID, Archived: t.archived, CreatedAt: t.createdAt,
		UpdatedAt: t.updatedAt, IsInternal: t.isInternal,
	}
	attrs := make([]attributeJSON, 0, len(t.attributes))
	for _, a := range t.attributes {
		attrs = append(attrs, renderAttribute(a))
	}
	out.TicketTypeAttributes = newList(attrs)
	if v.has(stateObject) {
		var states []ticketStateJSON
		for _, id := range t.stateIDs {
			if st := s.ws.state(id); st != nil {
				states = append(states, renderState(st))
			}
		}
		l := newList(states)
		out.TicketStates = &l
	}
	return out
}

func renderAttribute(a *attribute) attributeJSON {
	typeID, _ := strconv.ParseInt(a.ticketTypeID, 10, 64)
	out := attributeJSON{
		Type: "ticket_type_attribute", ID: a.id, WorkspaceID: workspaceID, Name: a.name,
		Description: a.description, DataType: a.dataType, InputOptions: map[string]any{}, Order: a.order,
		RequiredToCreate: a.requiredToCreate, RequiredToCreateForContacts: a.requiredForContacts,
		VisibleOnCreate: a.visibleOnCreate, VisibleToContacts: a.visibleToContacts, Default: a.isDefault,
		TicketTypeID: typeID, Archived: a.archived, CreatedAt: a.createdAt, UpdatedAt: a.updatedAt,
	}
	// input_options is a free-form object in both descriptions. The sandbox
	// shows the options that create_ticket_type_attribute_request sets:
	// multiline (string), the list items (list; ticket values are the item's
	// id, per the API docs) and allow_multiple_values (files).
	switch a.dataType {
	case "string":
		out.InputOptions["multiline"] = a.multiline
	case "list":
		items := make([]listItemJSON, 0, len(a.listItems))
		for _, li := range a.listItems {
			items = append(items, listItemJSON{ID: li.id, Label: li.label, Archived: li.archived})
		}
		out.InputOptions["list_items"] = items
	case "files":
		out.InputOptions["allow_multiple_values"] = a.allowMultiple
	}
	return out
}

func renderTag(t *tag) tagJSON { return tagJSON{Type: "tag", ID: t.id, Name: t.name} }

// renderApplied is a tag as answered by a tagging operation, with applied_at
// and applied_by (2.11.yaml tag).
func renderApplied(t *tag, a applied) tagJSON {
	out := renderTag(t)
	at := a.appliedAt
	out.AppliedAt = &at
	if a.adminID != "" {
		id := a.adminID
		out.AppliedBy = refJSON{Type: "admin", ID: &id}
	} else {
		out.AppliedBy = json.RawMessage("null")
	}
	return out
}
