package upstream

import (
	"fmt"
	"math"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// This file decodes Intercom's JSON, in the shape of any version, into the model. The decoders are
// deliberately tolerant of the differences listed in INTERCOM-API.md §10: ids that arrive as strings in
// one version and integers in another, ticket_state as a string (≤2.11) or an object (≥2.12), and list
// containers that arrive as {type:"list", data:[…]} although some schemas describe other keys.
//
// Each body is decoded in one pass. The package is encoding/json/v2 (the go-json-experiment module is
// its mirror, and aliases the standard library's once that is on): its UnmarshalerFrom methods read
// tokens from the one decoder, where encoding/json's UnmarshalJSON methods get the raw bytes of their
// value and decode them again, so that a ticket's nested lists and ids were scanned several times.

// decodeOptions keep the tolerance of encoding/json, which the first version of these decoders was
// written against: a repeated key keeps its last value and invalid UTF-8 becomes U+FFFD, rather than
// failing the call.
var decodeOptions = json.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// decodeBody decodes a JSON body into out, a pointer to a wire type.
func decodeBody(data []byte, out any) error { return json.Unmarshal(data, out, decodeOptions) }

// flexID is an id that may arrive as a JSON string, a JSON number or null. Numbers keep their decimal
// text, so 42 and "42" decode to the same id (ticket_type_attribute.ticket_type_id is an integer in every
// version; ticket.admin_assignee_id is a string in 2.11 and an integer from 2.16 on).
type flexID string

func (f *flexID) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n', '"', '0':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if tok.Kind() == 'n' {
			*f = ""
		} else {
			*f = flexID(tok.String())
		}
		return nil
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return fmt.Errorf("id: want a string or a number, got %.40s", v)
}

// flexInt is an integer (a count or Unix timestamp) that may arrive as a number, a numeric string or
// null. Intercom labels some timestamps `format: date-time` although they are Unix seconds (§2).
type flexInt int64

func (f *flexInt) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var text string
	switch dec.PeekKind() {
	case 'n', '"', '0':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		text = tok.String()
		if tok.Kind() == 'n' || (tok.Kind() == '"' && text == "") {
			*f = 0
			return nil
		}
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		return fmt.Errorf("integer: cannot use %.40s", v)
	}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("integer: cannot use %.40s", text)
	}
	*f = flexInt(math.Round(x))
	return nil
}

// wireList is a list container. The API answers {type:"list", data:[…]}, but the 2.11 schemas describe
// ticket_type_list as {ticket_types:[…]} and ticket_type_attribute_list as {ticket_type_attributes:[…]}
// (INTERCOM-API.md §5, §10.3), so every spelling is accepted, and a bare array too. When several keys
// are present, data wins, then ticket_types.
type wireList[T any] struct {
	Data []T
}

func (l *wireList[T]) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		l.Data = nil
		return err
	case '[':
		return json.UnmarshalDecode(dec, &l.Data)
	case '{':
	default:
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		return fmt.Errorf("list: want an object or an array, got %.40s", v)
	}
	if _, err := dec.ReadToken(); err != nil { // {
		return err
	}
	var data, types, attrs []T
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch name.String() {
		case "data":
			err = json.UnmarshalDecode(dec, &data)
		case "ticket_types":
			err = json.UnmarshalDecode(dec, &types)
		case "ticket_type_attributes":
			err = json.UnmarshalDecode(dec, &attrs)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return err
	}
	switch {
	case data != nil:
		l.Data = data
	case types != nil:
		l.Data = types
	default:
		l.Data = attrs
	}
	return nil
}

// models converts every item of a decoded list with model. An absent list (nil) stays nil.
func models[W, M any](l *wireList[W], model func(*W) M) []M {
	if l == nil {
		return nil
	}
	out := make([]M, 0, len(l.Data))
	for i := range l.Data {
		out = append(out, model(&l.Data[i]))
	}
	return out
}

// wireTicket is schema `ticket` in 2.11.yaml and unstable.yaml.
type wireTicket struct {
	ID               flexID         `json:"id"`
	TicketID         flexID         `json:"ticket_id"`
	Category         string         `json:"category"`
	TicketAttributes map[string]any `json:"ticket_attributes"`
	TicketState      wireStateField `json:"ticket_state"`
	// 2.11 only: the labels beside the string ticket_state.
	StateInternalLabel string          `json:"ticket_state_internal_label"`
	StateExternalLabel string          `json:"ticket_state_external_label"`
	PreviousStateID    flexID          `json:"previous_ticket_state_id"`
	TicketType         *wireTicketType `json:"ticket_type"`
	Contacts           *struct {
		Contacts []struct {
			ID         flexID `json:"id"`
			ExternalID flexID `json:"external_id"`
		} `json:"contacts"`
	} `json:"contacts"`
	AdminAssigneeID flexID  `json:"admin_assignee_id"`
	TeamAssigneeID  flexID  `json:"team_assignee_id"`
	CreatedAt       flexInt `json:"created_at"`
	UpdatedAt       flexInt `json:"updated_at"`
	SnoozedUntil    flexInt `json:"snoozed_until"`
	Open            bool    `json:"open"`
	IsShared        bool    `json:"is_shared"`
	LinkedObjects   *struct {
		TotalCount flexInt `json:"total_count"`
		HasMore    bool    `json:"has_more"`
		Data       []struct {
			Type     string `json:"type"`
			ID       flexID `json:"id"`
			Category string `json:"category"`
		} `json:"data"`
	} `json:"linked_objects"`
	TicketParts *struct {
		TicketParts []wireTicketPart `json:"ticket_parts"`
		TotalCount  flexInt          `json:"total_count"`
	} `json:"ticket_parts"`
}

func (w *wireTicket) model() (*Ticket, error) {
	t := &Ticket{
		ID:              string(w.ID),
		TicketID:        string(w.TicketID),
		Category:        w.Category,
		Attributes:      w.TicketAttributes,
		PreviousStateID: string(w.PreviousStateID),
		AdminAssigneeID: string(w.AdminAssigneeID),
		TeamAssigneeID:  string(w.TeamAssigneeID),
		CreatedAt:       int64(w.CreatedAt),
		UpdatedAt:       int64(w.UpdatedAt),
		SnoozedUntil:    int64(w.SnoozedUntil),
		Open:            w.Open,
		IsShared:        w.IsShared,
	}
	state := w.TicketState.state
	if state.InternalLabel == "" {
		state.InternalLabel = w.StateInternalLabel
	}
	if state.ExternalLabel == "" {
		state.ExternalLabel = w.StateExternalLabel
	}
	t.State = state
	if w.TicketType != nil {
		tt := w.TicketType.model()
		t.Type = &tt
	}
	if w.Contacts != nil {
		for _, c := range w.Contacts.Contacts {
			t.Contacts = append(t.Contacts, ContactRef{ID: string(c.ID), ExternalID: string(c.ExternalID)})
		}
	}
	if lo := w.LinkedObjects; lo != nil {
		t.LinkedObjectsTotal = int(lo.TotalCount)
		t.LinkedObjectsHasMore = lo.HasMore
		for _, o := range lo.Data {
			t.LinkedObjects = append(t.LinkedObjects, LinkedObject{Type: o.Type, ID: string(o.ID), Category: o.Category})
		}
	}
	if tp := w.TicketParts; tp != nil {
		t.PartsTotal = int(tp.TotalCount)
		for i := range tp.TicketParts {
			t.Parts = append(t.Parts, tp.TicketParts[i].model())
		}
	}
	return t, nil
}

// wireStateField is ticket.ticket_state: a bare category string in 2.11 (schema `ticket`, property
// ticket_state, enum submitted|in_progress|waiting_on_customer|resolved) or the `ticket_state` object
// from 2.12 on (unstable.yaml schema ticket_state).
type wireStateField struct {
	state TicketState
}

func (f *wireStateField) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		f.state = TicketState{}
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		f.state = TicketState{Category: tok.String()}
		return nil
	}
	var w wireTicketState
	if err := json.UnmarshalDecode(dec, &w); err != nil {
		return fmt.Errorf("ticket_state: %w", err)
	}
	f.state = w.model()
	return nil
}

// wireTicketState is ticket_state and ticket_state_detailed (unstable.yaml).
type wireTicketState struct {
	ID            flexID                    `json:"id"`
	Category      string                    `json:"category"`
	InternalLabel string                    `json:"internal_label"`
	ExternalLabel string                    `json:"external_label"`
	Archived      bool                      `json:"archived"`
	TicketTypes   *wireList[wireTicketType] `json:"ticket_types"`
}

func (w *wireTicketState) model() TicketState {
	s := TicketState{
		ID:            string(w.ID),
		Category:      w.Category,
		InternalLabel: w.InternalLabel,
		ExternalLabel: w.ExternalLabel,
		Archived:      w.Archived,
	}
	s.TicketTypeIDs = models(w.TicketTypes, func(tt *wireTicketType) string { return string(tt.ID) })
	return s
}

// wireTicketPart is ticket_part and ticket_reply.
type wireTicketPart struct {
	ID                  flexID  `json:"id"`
	PartType            string  `json:"part_type"`
	Body                string  `json:"body"`
	PreviousTicketState string  `json:"previous_ticket_state"`
	TicketState         string  `json:"ticket_state"`
	CreatedAt           flexInt `json:"created_at"`
	UpdatedAt           flexInt `json:"updated_at"`
	AssignedTo          *struct {
		Type string `json:"type"`
		ID   flexID `json:"id"`
	} `json:"assigned_to"`
	Author *struct {
		Type  string `json:"type"`
		ID    flexID `json:"id"`
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"author"`
	Attachments []struct {
		Type        string  `json:"type"`
		Name        string  `json:"name"`
		URL         string  `json:"url"`
		ContentType string  `json:"content_type"`
		FileSize    flexInt `json:"filesize"`
		Width       flexInt `json:"width"`
		Height      flexInt `json:"height"`
	} `json:"attachments"`
	ExternalID flexID `json:"external_id"`
	Redacted   bool   `json:"redacted"`
}

func (w *wireTicketPart) model() TicketPart {
	p := TicketPart{
		ID:            string(w.ID),
		PartType:      w.PartType,
		Body:          w.Body,
		PreviousState: w.PreviousTicketState,
		State:         w.TicketState,
		CreatedAt:     int64(w.CreatedAt),
		UpdatedAt:     int64(w.UpdatedAt),
		ExternalID:    string(w.ExternalID),
		Redacted:      w.Redacted,
	}
	if w.AssignedTo != nil {
		p.AssignedTo = &Ref{Type: w.AssignedTo.Type, ID: string(w.AssignedTo.ID)}
	}
	if w.Author != nil {
		p.Author = &Author{Type: w.Author.Type, ID: string(w.Author.ID), Name: w.Author.Name, Email: w.Author.Email}
	}
	for _, a := range w.Attachments {
		p.Attachments = append(p.Attachments, Attachment{
			Type: a.Type, Name: a.Name, URL: a.URL, ContentType: a.ContentType,
			FileSize: int64(a.FileSize), Width: int64(a.Width), Height: int64(a.Height),
		})
	}
	return p
}

// wireTicketType is ticket_type. is_internal is not in the schema but is in its examples (§10.9).
type wireTicketType struct {
	ID                   flexID                             `json:"id"`
	Category             string                             `json:"category"`
	Name                 string                             `json:"name"`
	Description          string                             `json:"description"`
	Icon                 string                             `json:"icon"`
	WorkspaceID          string                             `json:"workspace_id"`
	IsInternal           bool                               `json:"is_internal"`
	Archived             bool                               `json:"archived"`
	TicketTypeAttributes *wireList[wireTicketTypeAttribute] `json:"ticket_type_attributes"`
	TicketStates         *wireList[wireTicketState]         `json:"ticket_states"`
	CreatedAt            flexInt                            `json:"created_at"`
	UpdatedAt            flexInt                            `json:"updated_at"`
}

func (w *wireTicketType) model() TicketType {
	t := TicketType{
		ID:          string(w.ID),
		Category:    w.Category,
		Name:        w.Name,
		Description: w.Description,
		Icon:        w.Icon,
		WorkspaceID: w.WorkspaceID,
		IsInternal:  w.IsInternal,
		Archived:    w.Archived,
		CreatedAt:   int64(w.CreatedAt),
		UpdatedAt:   int64(w.UpdatedAt),
	}
	t.Attributes = models(w.TicketTypeAttributes, (*wireTicketTypeAttribute).model)
	t.States = models(w.TicketStates, (*wireTicketState).model)
	return t
}

// wireTicketTypeAttribute is ticket_type_attribute. ticket_type_id is an integer in the schema of
// every version while ticket_type.id is a string (§10.2).
type wireTicketTypeAttribute struct {
	ID                          flexID         `json:"id"`
	WorkspaceID                 string         `json:"workspace_id"`
	Name                        string         `json:"name"`
	Description                 string         `json:"description"`
	DataType                    string         `json:"data_type"`
	InputOptions                map[string]any `json:"input_options"`
	Order                       flexInt        `json:"order"`
	RequiredToCreate            bool           `json:"required_to_create"`
	RequiredToCreateForContacts bool           `json:"required_to_create_for_contacts"`
	VisibleOnCreate             bool           `json:"visible_on_create"`
	VisibleToContacts           bool           `json:"visible_to_contacts"`
	Default                     bool           `json:"default"`
	TicketTypeID                flexID         `json:"ticket_type_id"`
	Archived                    bool           `json:"archived"`
	CreatedAt                   flexInt        `json:"created_at"`
	UpdatedAt                   flexInt        `json:"updated_at"`
}

func (w *wireTicketTypeAttribute) model() TicketTypeAttribute {
	a := TicketTypeAttribute{
		ID:                          string(w.ID),
		WorkspaceID:                 w.WorkspaceID,
		Name:                        w.Name,
		Description:                 w.Description,
		DataType:                    w.DataType,
		TicketTypeID:                string(w.TicketTypeID),
		InputOptions:                w.InputOptions,
		Order:                       int(w.Order),
		RequiredToCreate:            w.RequiredToCreate,
		RequiredToCreateForContacts: w.RequiredToCreateForContacts,
		VisibleOnCreate:             w.VisibleOnCreate,
		VisibleToContacts:           w.VisibleToContacts,
		Default:                     w.Default,
		Archived:                    w.Archived,
		CreatedAt:                   int64(w.CreatedAt),
		UpdatedAt:                   int64(w.UpdatedAt),
	}
	// input_options is a free-form object in the spec ("multiline: true" in 2.11's example); the
	// known keys are lifted into typed fields and the whole object is kept.
	a.Multiline, _ = w.InputOptions["multiline"].(bool)
	a.AllowMultipleValues, _ = w.InputOptions["allow_multiple_values"].(bool)
	if items, ok := w.InputOptions["list_items"].([]any); ok {
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			li := ListItem{ID: anyID(m["id"])}
			li.Label, _ = m["label"].(string)
			li.Archived, _ = m["archived"].(bool)
			a.ListItems = append(a.ListItems, li)
		}
	}
	return a
}

// anyID renders an id decoded into an `any` (string or float64) as a string.
func anyID(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// wireTag is tag, tag_basic and tag_create_response (2.11.yaml and unstable.yaml).
type wireTag struct {
	ID        flexID  `json:"id"`
	Name      string  `json:"name"`
	AppliedAt flexInt `json:"applied_at"`
	AppliedBy *struct {
		Type string `json:"type"`
		ID   flexID `json:"id"`
	} `json:"applied_by"`
}

func (w *wireTag) model() Tag {
	t := Tag{ID: string(w.ID), Name: w.Name, AppliedAt: int64(w.AppliedAt)}
	if w.AppliedBy != nil {
		t.AppliedBy = &Ref{Type: w.AppliedBy.Type, ID: string(w.AppliedBy.ID)}
	}
	return t
}

// wireTicketList is ticket_list, the search response, with cursor_pages.
type wireTicketList struct {
	Tickets    []wireTicket `json:"tickets"`
	TotalCount flexInt      `json:"total_count"`
	Pages      *struct {
		Page       flexInt `json:"page"`
		PerPage    flexInt `json:"per_page"`
		TotalPages flexInt `json:"total_pages"`
		Next       *struct {
			StartingAfter string `json:"starting_after"`
		} `json:"next"`
	} `json:"pages"`
}

// wireDeleted is ticket_deleted (unstable.yaml).
type wireDeleted struct {
	ID      flexID `json:"id"`
	Deleted bool   `json:"deleted"`
}

// wireError is the `error` schema (type "error.list"), the same in every version.
type wireError struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"errors"`
}
