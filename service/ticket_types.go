package service

import (
	"context"
	"fmt"
	"strings"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// CachedAnswers is implemented by a TicketTypeAPI that keeps the gateway's
// answers beside the schemas it caches (schemacache.Cache builds them with
// TicketTypeProto and TicketStateProto once per cached entry), so that a
// read served from memory is a lookup rather than a conversion of every
// attribute on every call. The messages are shared by every call that reads
// the entry: nobody may change them.
type CachedAnswers interface {
	GetTicketTypeProto(ctx context.Context, id string) (*gatewayv1.TicketType, error)
	ListTicketTypesProto(ctx context.Context) ([]*gatewayv1.TicketType, error)
	ListTicketStatesProto(ctx context.Context) ([]*gatewayv1.TicketState, error)
}

// TicketTypeProto is the gateway's answer for an Intercom ticket type, as
// GetTicketType and ListTicketTypes give it.
func TicketTypeProto(t *upstream.TicketType) *gatewayv1.TicketType { return ticketTypeToProto(t) }

// TicketStateProto is the gateway's answer for an Intercom ticket state, as
// ListTicketStates gives it (nil for an empty state).
func TicketStateProto(s upstream.TicketState) *gatewayv1.TicketState { return stateToProto(s) }

// ListTicketTypes implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) ListTicketTypes(ctx context.Context, _ *gatewayv1.ListTicketTypesRequest) (*gatewayv1.ListTicketTypesResponse, error) {
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := b.TicketTypes.(CachedAnswers); ok {
		types, err := a.ListTicketTypesProto(ctx)
		if err != nil {
			return nil, err
		}
		return &gatewayv1.ListTicketTypesResponse{TicketTypes: types}, nil
	}
	types, err := b.TicketTypes.ListTicketTypes(ctx)
	if err != nil {
		return nil, err
	}
	out := &gatewayv1.ListTicketTypesResponse{TicketTypes: make([]*gatewayv1.TicketType, 0, len(types))}
	for i := range types {
		out.TicketTypes = append(out.TicketTypes, ticketTypeToProto(&types[i]))
	}
	return out, nil
}

// GetTicketType implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) GetTicketType(ctx context.Context, req *gatewayv1.GetTicketTypeRequest) (*gatewayv1.GetTicketTypeResponse, error) {
	var v violations
	v.id("ticket_type_id", req.GetTicketTypeId())
	return run(ctx, s.backends, v, func(b Backend) (*gatewayv1.TicketType, error) {
		if a, ok := b.TicketTypes.(CachedAnswers); ok {
			return a.GetTicketTypeProto(ctx, req.GetTicketTypeId())
		}
		t, err := b.TicketTypes.GetTicketType(ctx, req.GetTicketTypeId())
		if err != nil {
			return nil, err
		}
		return ticketTypeToProto(t), nil
	},
		func(t *gatewayv1.TicketType) *gatewayv1.GetTicketTypeResponse {
			return &gatewayv1.GetTicketTypeResponse{TicketType: t}
		})
}

// category returns Intercom's spelling of c, recording a violation for
// UNSPECIFIED or unknown values when required.
func category(v *violations, field string, c gatewayv1.TicketCategory) string {
	name, ok := ticketCategoryNames[c]
	if !ok {
		v.add(field, "must be CUSTOMER, BACK_OFFICE or TRACKER")
	}
	return name
}

// CreateTicketType implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) CreateTicketType(ctx context.Context, req *gatewayv1.CreateTicketTypeRequest) (*gatewayv1.CreateTicketTypeResponse, error) {
	var v violations
	if strings.TrimSpace(req.GetName()) == "" {
		v.add("name", "is required")
	}
	p := upstream.CreateTicketTypeParams{
		Name:        req.GetName(),
		Description: req.GetDescription(),
		Icon:        req.GetIcon(),
		IsInternal:  req.GetIsInternal(),
	}
	if req.GetCategory() != gatewayv1.TicketCategory_TICKET_CATEGORY_UNSPECIFIED {
		p.Category = category(&v, "category", req.GetCategory())
	}
	return run(ctx, s.backends, v, func(b Backend) (*upstream.TicketType, error) { return b.TicketTypes.CreateTicketType(ctx, p) },
		func(t *upstream.TicketType) *gatewayv1.CreateTicketTypeResponse {
			return &gatewayv1.CreateTicketTypeResponse{TicketType: ticketTypeToProto(t)}
		})
}

// UpdateTicketType implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) UpdateTicketType(ctx context.Context, req *gatewayv1.UpdateTicketTypeRequest) (*gatewayv1.UpdateTicketTypeResponse, error) {
	var v violations
	v.id("ticket_type_id", req.GetTicketTypeId())
	p := upstream.UpdateTicketTypeParams{
		Name:        req.Name,
		Description: req.Description,
		Icon:        req.Icon,
		Archived:    req.Archived,
		IsInternal:  req.IsInternal,
	}
	if req.Name != nil && strings.TrimSpace(req.GetName()) == "" {
		v.add("name", "must not be blank")
	}
	if req.Category != nil {
		c := category(&v, "category", req.GetCategory())
		p.Category = &c
	}
	if req.Name == nil && req.Description == nil && req.Category == nil && req.Icon == nil && req.Archived == nil && req.IsInternal == nil {
		v.add("ticket_type_id", "the request changes nothing: set at least one field to update")
	}
	return run(ctx, s.backends, v, func(b Backend) (*upstream.TicketType, error) {
		return b.TicketTypes.UpdateTicketType(ctx, req.GetTicketTypeId(), p)
	},
		func(t *upstream.TicketType) *gatewayv1.UpdateTicketTypeResponse {
			return &gatewayv1.UpdateTicketTypeResponse{TicketType: ticketTypeToProto(t)}
		})
}

// validateListItems checks list item labels. Intercom takes them as one
// comma-separated string (create_ticket_type_attribute_request.list_items),
// so a label with a comma would silently become two items.
func validateListItems(v *violations, items []string) {
	seen := map[string]bool{}
	for i, it := range items {
		field := fmt.Sprintf("list_items[%d]", i)
		switch {
		case strings.TrimSpace(it) == "":
			v.add(field, "must not be blank")
		case strings.Contains(it, ","):
			v.add(field, "must not contain a comma: Intercom receives the items as one comma-separated string")
		case seen[strings.ToLower(it)]:
			v.add(field, "repeats another item")
		}
		seen[strings.ToLower(it)] = true
	}
}

// CreateTicketTypeAttribute implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) CreateTicketTypeAttribute(ctx context.Context, req *gatewayv1.CreateTicketTypeAttributeRequest) (*gatewayv1.CreateTicketTypeAttributeResponse, error) {
	var v violations
	v.id("ticket_type_id", req.GetTicketTypeId())
	if strings.TrimSpace(req.GetName()) == "" {
		v.add("name", "is required")
	}
	// create_ticket_type_attribute_request requires description too.
	if strings.TrimSpace(req.GetDescription()) == "" {
		v.add("description", "is required")
	}
	dt, ok := dataTypeNames[req.GetDataType()]
	if !ok {
		v.add("data_type", "is required: one of STRING, LIST, INTEGER, DECIMAL, BOOLEAN, DATETIME, FILES")
	}
	isList := req.GetDataType() == gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST
	switch {
	case isList && len(req.GetListItems()) == 0:
		v.add("list_items", "is required for LIST attributes")
	case !isList && len(req.GetListItems()) > 0:
		v.add("list_items", "is only allowed for LIST attributes")
	}
	validateListItems(&v, req.GetListItems())
	if req.Multiline != nil && req.GetDataType() != gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_STRING {
		v.add("multiline", "is only allowed for STRING attributes")
	}
	if req.AllowMultipleValues != nil && req.GetDataType() != gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_FILES {
		v.add("allow_multiple_values", "is only allowed for FILES attributes")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	a, err := b.TicketTypes.CreateTicketTypeAttribute(ctx, req.GetTicketTypeId(), upstream.CreateAttributeParams{
		Name:                        req.GetName(),
		Description:                 req.GetDescription(),
		DataType:                    dt,
		RequiredToCreate:            req.RequiredToCreate,
		RequiredToCreateForContacts: req.RequiredToCreateForContacts,
		VisibleOnCreate:             req.VisibleOnCreate,
		VisibleToContacts:           req.VisibleToContacts,
		Multiline:                   req.Multiline,
		AllowMultipleValues:         req.AllowMultipleValues,
		ListItems:                   req.GetListItems(),
	})
	if err != nil {
		return nil, err
	}
	return &gatewayv1.CreateTicketTypeAttributeResponse{Attribute: attributeToProto(a)}, nil
}

// UpdateTicketTypeAttribute implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) UpdateTicketTypeAttribute(ctx context.Context, req *gatewayv1.UpdateTicketTypeAttributeRequest) (*gatewayv1.UpdateTicketTypeAttributeResponse, error) {
	var v violations
	v.id("ticket_type_id", req.GetTicketTypeId())
	v.id("attribute_id", req.GetAttributeId())
	if req.Name != nil && strings.TrimSpace(req.GetName()) == "" {
		v.add("name", "must not be blank")
	}
	validateListItems(&v, req.GetListItems())
	if req.Name == nil && req.Description == nil && req.RequiredToCreate == nil && req.RequiredToCreateForContacts == nil &&
		req.VisibleOnCreate == nil && req.VisibleToContacts == nil && req.Multiline == nil && len(req.GetListItems()) == 0 &&
		req.AllowMultipleValues == nil && req.Archived == nil {
		v.add("attribute_id", "the request changes nothing: set at least one field to update")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	a, err := b.TicketTypes.UpdateTicketTypeAttribute(ctx, req.GetTicketTypeId(), req.GetAttributeId(), upstream.UpdateAttributeParams{
		Name:                        req.Name,
		Description:                 req.Description,
		RequiredToCreate:            req.RequiredToCreate,
		RequiredToCreateForContacts: req.RequiredToCreateForContacts,
		VisibleOnCreate:             req.VisibleOnCreate,
		VisibleToContacts:           req.VisibleToContacts,
		Multiline:                   req.Multiline,
		AllowMultipleValues:         req.AllowMultipleValues,
		Archived:                    req.Archived,
		ListItems:                   req.GetListItems(),
	})
	if err != nil {
		return nil, err
	}
	return &gatewayv1.UpdateTicketTypeAttributeResponse{Attribute: attributeToProto(a)}, nil
}

// ListTicketStates implements gatewayv1.TicketTypeServiceServer.
func (s *TicketTypeService) ListTicketStates(ctx context.Context, _ *gatewayv1.ListTicketStatesRequest) (*gatewayv1.ListTicketStatesResponse, error) {
	b, err := s.backends.Backend(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := b.TicketTypes.(CachedAnswers); ok {
		states, err := a.ListTicketStatesProto(ctx)
		if err != nil {
			return nil, err
		}
		return &gatewayv1.ListTicketStatesResponse{TicketStates: states}, nil
	}
	states, err := b.TicketTypes.ListTicketStates(ctx)
	if err != nil {
		return nil, err
	}
	out := &gatewayv1.ListTicketStatesResponse{TicketStates: make([]*gatewayv1.TicketState, 0, len(states))}
	for _, st := range states {
		out.TicketStates = append(out.TicketStates, stateToProto(st))
	}
	return out, nil
}
