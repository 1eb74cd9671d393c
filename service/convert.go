package service

import (
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// This file translates the upstream model into the contract's messages. The
// upstream model is already version-independent (upstream normalizes 2.11 and
// Preview shapes), so nothing here depends on the Intercom-Version.

// Intercom's spellings of the contract's enums (2.11.yaml `ticket.category`,
// `ticket_state` category, `ticket_type_attribute.data_type`).
var (
	ticketCategories = map[string]gatewayv1.TicketCategory{
		"Customer":    gatewayv1.TicketCategory_TICKET_CATEGORY_CUSTOMER,
		"Back-office": gatewayv1.TicketCategory_TICKET_CATEGORY_BACK_OFFICE,
		"Tracker":     gatewayv1.TicketCategory_TICKET_CATEGORY_TRACKER,
	}
	stateCategories = map[string]gatewayv1.TicketStateCategory{
		"submitted":           gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_SUBMITTED,
		"in_progress":         gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_IN_PROGRESS,
		"waiting_on_customer": gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_WAITING_ON_CUSTOMER,
		"resolved":            gatewayv1.TicketStateCategory_TICKET_STATE_CATEGORY_RESOLVED,
	}
	dataTypes = map[string]gatewayv1.AttributeDataType{
		"string":   gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_STRING,
		"list":     gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_LIST,
		"integer":  gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_INTEGER,
		"decimal":  gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_DECIMAL,
		"boolean":  gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_BOOLEAN,
		"datetime": gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_DATETIME,
		"files":    gatewayv1.AttributeDataType_ATTRIBUTE_DATA_TYPE_FILES,
	}
)

// reverse inverts one of the enum tables above.
func reverse[K comparable, V comparable](m map[K]V) map[V]K {
	out := make(map[V]K, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	ticketCategoryNames = reverse(ticketCategories)
	stateCategoryNames  = reverse(stateCategories)
	dataTypeNames       = reverse(dataTypes)
)

// unixTime converts Intercom's Unix seconds; 0 means unset.
func unixTime(sec int64) *timestamppb.Timestamp {
	if sec == 0 {
		return nil
	}
	return timestamppb.New(time.Unix(sec, 0))
}

// toUnix converts a contract time to Intercom's Unix seconds; nil is 0.
func toUnix(ts *timestamppb.Timestamp) int64 {
	if ts == nil {
		return 0
	}
	return ts.GetSeconds()
}

// attributesToProto converts decoded JSON attribute values. Values that
// structpb cannot hold (none from encoding/json) become null rather than
// failing the whole answer.
func attributesToProto(in map[string]any) map[string]*structpb.Value {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]*structpb.Value, len(in))
	for k, v := range in {
		pv, err := structpb.NewValue(v)
		if err != nil {
			pv = structpb.NewNullValue()
		}
		out[k] = pv
	}
	return out
}

// attributesFromProto converts attribute values to plain Go values for JSON.
func attributesFromProto(in map[string]*structpb.Value) map[string]any {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v.AsInterface()
	}
	return out
}

func ticketToProto(t *upstream.Ticket) *gatewayv1.Ticket {
	if t == nil {
		return nil
	}
	out := &gatewayv1.Ticket{
		Id:                      t.ID,
		TicketId:                t.TicketID,
		Category:                ticketCategories[t.Category],
		TicketAttributes:        attributesToProto(t.Attributes),
		TicketState:             stateToProto(t.State),
		PreviousTicketStateId:   t.PreviousStateID,
		TicketType:              ticketTypeToProto(t.Type),
		AdminAssigneeId:         t.AdminAssigneeID,
		TeamAssigneeId:          t.TeamAssigneeID,
		CreateTime:              unixTime(t.CreatedAt),
		UpdateTime:              unixTime(t.UpdatedAt),
		SnoozedUntil:            unixTime(t.SnoozedUntil),
		Open:                    t.Open,
		IsShared:                t.IsShared,
		LinkedObjectsTotalCount: int32(t.LinkedObjectsTotal),
		LinkedObjectsHasMore:    t.LinkedObjectsHasMore,
		TicketPartsTotalCount:   int32(t.PartsTotal),
	}
	for _, c := range t.Contacts {
		out.Contacts = append(out.Contacts, &gatewayv1.TicketContact{Id: c.ID, ExternalId: c.ExternalID})
	}
	for _, l := range t.LinkedObjects {
		out.LinkedObjects = append(out.LinkedObjects, &gatewayv1.LinkedObject{Type: l.Type, Id: l.ID, Category: l.Category})
	}
	for i := range t.Parts {
		out.TicketParts = append(out.TicketParts, partToProto(&t.Parts[i]))
	}
	return out
}

func stateToProto(s upstream.TicketState) *gatewayv1.TicketState {
	if s.ID == "" && s.Category == "" && s.InternalLabel == "" && s.ExternalLabel == "" {
		return nil
	}
	return &gatewayv1.TicketState{
		Id:            s.ID,
		Category:      stateCategories[s.Category],
		InternalLabel: s.InternalLabel,
		ExternalLabel: s.ExternalLabel,
		Archived:      s.Archived,
		TicketTypeIds: s.TicketTypeIDs,
	}
}

func partToProto(p *upstream.TicketPart) *gatewayv1.TicketPart {
	if p == nil {
		return nil
	}
	out := &gatewayv1.TicketPart{
		Id:                  p.ID,
		PartType:            p.PartType,
		Body:                p.Body,
		PreviousTicketState: stateCategories[p.PreviousState],
		TicketState:         stateCategories[p.State],
		CreateTime:          unixTime(p.CreatedAt),
		UpdateTime:          unixTime(p.UpdatedAt),
		ExternalId:          p.ExternalID,
		Redacted:            p.Redacted,
	}
	if p.AssignedTo != nil {
		out.AssignedTo = &gatewayv1.Reference{Type: p.AssignedTo.Type, Id: p.AssignedTo.ID}
	}
	if p.Author != nil {
		out.Author = &gatewayv1.Author{Type: p.Author.Type, Id: p.Author.ID, Name: p.Author.Name, Email: p.Author.Email}
	}
	for _, a := range p.Attachments {
		out.Attachments = append(out.Attachments, &gatewayv1.Attachment{
			Name: a.Name, Url: a.URL, ContentType: a.ContentType,
			FileSize: a.FileSize, Width: int32(a.Width), Height: int32(a.Height),
		})
	}
	return out
}

func ticketTypeToProto(t *upstream.TicketType) *gatewayv1.TicketType {
	if t == nil {
		return nil
	}
	out := &gatewayv1.TicketType{
		Id:          t.ID,
		Category:    ticketCategories[t.Category],
		Name:        t.Name,
		Description: t.Description,
		Icon:        t.Icon,
		WorkspaceId: t.WorkspaceID,
		IsInternal:  t.IsInternal,
		Archived:    t.Archived,
		CreateTime:  unixTime(t.CreatedAt),
		UpdateTime:  unixTime(t.UpdatedAt),
	}
	for i := range t.Attributes {
		out.Attributes = append(out.Attributes, attributeToProto(&t.Attributes[i]))
	}
	for _, s := range t.States {
		out.States = append(out.States, stateToProto(s))
	}
	return out
}

func attributeToProto(a *upstream.TicketTypeAttribute) *gatewayv1.TicketTypeAttribute {
	if a == nil {
		return nil
	}
	out := &gatewayv1.TicketTypeAttribute{
		Id:                          a.ID,
		TicketTypeId:                a.TicketTypeID,
		WorkspaceId:                 a.WorkspaceID,
		Name:                        a.Name,
		Description:                 a.Description,
		DataType:                    dataTypes[a.DataType],
		Multiline:                   a.Multiline,
		AllowMultipleValues:         a.AllowMultipleValues,
		Order:                       int32(a.Order),
		RequiredToCreate:            a.RequiredToCreate,
		RequiredToCreateForContacts: a.RequiredToCreateForContacts,
		VisibleOnCreate:             a.VisibleOnCreate,
		VisibleToContacts:           a.VisibleToContacts,
		BuiltIn:                     a.Default,
		Archived:                    a.Archived,
		CreateTime:                  unixTime(a.CreatedAt),
		UpdateTime:                  unixTime(a.UpdatedAt),
	}
	for _, li := range a.ListItems {
		out.ListItems = append(out.ListItems, &gatewayv1.ListItem{Id: li.ID, Label: li.Label, Archived: li.Archived})
	}
	return out
}

func tagToProto(t *upstream.Tag) *gatewayv1.Tag {
	if t == nil {
		return nil
	}
	out := &gatewayv1.Tag{Id: t.ID, Name: t.Name, AppliedAt: unixTime(t.AppliedAt)}
	if t.AppliedBy != nil {
		out.AppliedBy = &gatewayv1.Reference{Type: t.AppliedBy.Type, Id: t.AppliedBy.ID}
	}
	return out
}

func tagsToProto(in []upstream.Tag) []*gatewayv1.Tag {
	out := make([]*gatewayv1.Tag, 0, len(in))
	for i := range in {
		out = append(out, tagToProto(&in[i]))
	}
	return out
}
