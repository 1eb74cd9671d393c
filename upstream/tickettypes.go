package upstream

import (
	"context"
	"net/http"
	"strings"
)

// ListTicketTypes lists every ticket type (GET /ticket_types, no pagination). The response is parsed
// whether it is {type:"list", data:[…]} (what the API sends) or the 2.11 schema's {ticket_types:[…]}.
func (c *Client) ListTicketTypes(ctx context.Context) ([]TicketType, error) {
	return fetchList(ctx, c, call{op: OpListTicketTypes, method: http.MethodGet, path: "/ticket_types"}, (*wireTicketType).model)
}

// GetTicketType retrieves one ticket type with its attributes (GET /ticket_types/{id}).
func (c *Client) GetTicketType(ctx context.Context, id string) (*TicketType, error) {
	path, err := pathf("/ticket_types/%s", id)
	if err != nil {
		return nil, err
	}
	return c.ticketTypeCall(ctx, call{op: OpGetTicketType, method: http.MethodGet, path: path})
}

// CreateTicketType creates a ticket type (POST /ticket_types, create_ticket_type_request). Empty
// optional fields are left out so that Intercom's defaults apply (icon 🎟️, is_internal false).
func (c *Client) CreateTicketType(ctx context.Context, p CreateTicketTypeParams) (*TicketType, error) {
	if p.Name == "" {
		return nil, invalidf("createTicketType: name is required")
	}
	body := createTicketTypeBody{Name: p.Name, Description: p.Description, Category: p.Category, Icon: p.Icon}
	if p.IsInternal {
		body.IsInternal = &p.IsInternal
	}
	return c.ticketTypeCall(ctx, call{op: OpCreateTicketType, method: http.MethodPost, path: "/ticket_types", body: body})
}

type createTicketTypeBody struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category,omitempty"`
	Icon        string `json:"icon,omitempty"`
	IsInternal  *bool  `json:"is_internal,omitempty"`
}

// UpdateTicketType updates a ticket type (PUT /ticket_types/{id}); nil fields are left unchanged.
func (c *Client) UpdateTicketType(ctx context.Context, id string, p UpdateTicketTypeParams) (*TicketType, error) {
	path, err := pathf("/ticket_types/%s", id)
	if err != nil {
		return nil, err
	}
	body := updateTicketTypeBody{Name: p.Name, Description: p.Description, Category: p.Category, Icon: p.Icon,
		Archived: p.Archived, IsInternal: p.IsInternal}
	return c.ticketTypeCall(ctx, call{op: OpUpdateTicketType, method: http.MethodPut, path: path, body: body})
}

type updateTicketTypeBody struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Category    *string `json:"category,omitempty"`
	Icon        *string `json:"icon,omitempty"`
	Archived    *bool   `json:"archived,omitempty"`
	IsInternal  *bool   `json:"is_internal,omitempty"`
}

func (c *Client) ticketTypeCall(ctx context.Context, cl call) (*TicketType, error) {
	return fetch(ctx, c, cl, (*wireTicketType).model)
}

// CreateTicketTypeAttribute adds an attribute to a ticket type (POST
// /ticket_types/{ticket_type_id}/attributes, create_ticket_type_attribute_request). List items are
// sent as one comma-separated string, which is what the schema's list_items (`type: string`) expects,
// so a label cannot itself contain a comma.
func (c *Client) CreateTicketTypeAttribute(ctx context.Context, typeID string, p CreateAttributeParams) (*TicketTypeAttribute, error) {
	path, err := pathf("/ticket_types/%s/attributes", typeID)
	if err != nil {
		return nil, err
	}
	if p.Name == "" || p.DataType == "" {
		return nil, invalidf("createTicketTypeAttribute: name and data type are required")
	}
	items, err := joinListItems(p.ListItems)
	if err != nil {
		return nil, err
	}
	body := attributeBody{
		Name: &p.Name, DataType: p.DataType,
		RequiredToCreate: p.RequiredToCreate, RequiredToCreateForContacts: p.RequiredToCreateForContacts,
		VisibleOnCreate: p.VisibleOnCreate, VisibleToContacts: p.VisibleToContacts,
		Multiline: p.Multiline, AllowMultipleValues: p.AllowMultipleValues, ListItems: items,
	}
	// description is required by the 2.11 schema and by INTERCOM-API.md §6; an empty one is still sent.
	body.Description = &p.Description
	return c.attributeCall(ctx, call{op: OpCreateTicketTypeAttribute, method: http.MethodPost, path: path, body: body})
}

// UpdateTicketTypeAttribute updates an attribute (PUT /ticket_types/{ticket_type_id}/attributes/{id},
// update_ticket_type_attribute_request); data_type cannot change.
func (c *Client) UpdateTicketTypeAttribute(ctx context.Context, typeID, attrID string, p UpdateAttributeParams) (*TicketTypeAttribute, error) {
	path, err := pathf("/ticket_types/%s/attributes/%s", typeID, attrID)
	if err != nil {
		return nil, err
	}
	items, err := joinListItems(p.ListItems)
	if err != nil {
		return nil, err
	}
	body := attributeBody{
		Name: p.Name, Description: p.Description,
		RequiredToCreate: p.RequiredToCreate, RequiredToCreateForContacts: p.RequiredToCreateForContacts,
		VisibleOnCreate: p.VisibleOnCreate, VisibleToContacts: p.VisibleToContacts,
		Multiline: p.Multiline, AllowMultipleValues: p.AllowMultipleValues, Archived: p.Archived, ListItems: items,
	}
	return c.attributeCall(ctx, call{op: OpUpdateTicketTypeAttribute, method: http.MethodPut, path: path, body: body})
}

type attributeBody struct {
	Name                        *string `json:"name,omitempty"`
	Description                 *string `json:"description,omitempty"`
	DataType                    string  `json:"data_type,omitempty"`
	RequiredToCreate            *bool   `json:"required_to_create,omitempty"`
	RequiredToCreateForContacts *bool   `json:"required_to_create_for_contacts,omitempty"`
	VisibleOnCreate             *bool   `json:"visible_on_create,omitempty"`
	VisibleToContacts           *bool   `json:"visible_to_contacts,omitempty"`
	Multiline                   *bool   `json:"multiline,omitempty"`
	AllowMultipleValues         *bool   `json:"allow_multiple_values,omitempty"`
	Archived                    *bool   `json:"archived,omitempty"`
	ListItems                   string  `json:"list_items,omitempty"`
}

func joinListItems(items []string) (string, error) {
	for _, it := range items {
		if strings.TrimSpace(it) == "" || strings.Contains(it, ",") {
			return "", invalidf("list item %q must be non-empty and contain no comma (list_items is a comma-separated string)", it)
		}
	}
	return strings.Join(items, ","), nil
}

func (c *Client) attributeCall(ctx context.Context, cl call) (*TicketTypeAttribute, error) {
	return fetch(ctx, c, cl, (*wireTicketTypeAttribute).model)
}

// ListTicketStates lists every ticket state of the workspace with the ticket types that use it (GET
// /ticket_states, 2.12+ and Preview; schema ticket_state_list of ticket_state_detailed).
func (c *Client) ListTicketStates(ctx context.Context) ([]TicketState, error) {
	return fetchList(ctx, c, call{op: OpListTicketStates, method: http.MethodGet, path: "/ticket_states"}, (*wireTicketState).model)
}
