package service

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// This file checks ticket attributes against their ticket type's schema
// before a create or update is sent, so that a misspelt name, a value of the
// wrong type or a missing required attribute costs no Intercom call and
// cannot be half-accepted. Intercom's OpenAPI description
// (github.com/intercom/Intercom-OpenAPI, descriptions/2.11/api.intercom.io.yaml)
// describes the values in ticket_request_custom_attributes (string, number,
// boolean or array; a list attribute takes the list item's id) and the
// attributes in ticket_type_attribute (data_type string, list, integer,
// decimal, boolean, datetime or files). The contract's comments on
// CreateTicketRequest.ticket_attributes say what callers may send.

// maxExactInteger is the largest integer a JSON number (an IEEE double)
// holds exactly; beyond it, an "integer" may already have been rounded.
const maxExactInteger = 1 << 53

// checkedAttributes checks attrs against the schema of the ticket type
// typeID (create) or of the ticket ticketID's type (update), and returns
// them as Intercom wants them: list values as list item ids. When the check
// fails against a cached schema, the schema is read again from Intercom and
// checked once more, so that an attribute added in Intercom a minute ago is
// not refused.
func checkedAttributes(ctx context.Context, b Backend, typeID, ticketID string, attrs map[string]*structpb.Value, create bool) (map[string]any, error) {
	if !create && len(attrs) == 0 {
		return nil, nil
	}
	if b.Schema == nil {
		// A Backends that built its Backend by hand, without BackendFor.
		b.Schema = uncachedSchema{types: b.TicketTypes, tickets: b.Tickets}
	}
	load := func(ctx context.Context) (*upstream.TicketType, error) {
		id := typeID
		if id == "" {
			var err error
			if id, err = b.Schema.TicketTypeOf(ctx, ticketID); err != nil || id == "" {
				return nil, err
			}
		}
		return b.Schema.TicketType(ctx, id)
	}
	t, err := load(ctx)
	if err != nil {
		// An unknown ticket type is Intercom's NOT_FOUND, as it would be
		// for the write itself.
		return nil, err
	}
	if t == nil {
		// A ticket without a type: nothing to check against.
		return attributesFromProto(attrs), nil
	}
	v, out := checkAttributes(t, attrs, create)
	if len(v) > 0 && !FreshSchema(ctx) {
		// The refusal may come from a stale schema: look again. If
		// Intercom cannot be asked, the first verdict stands.
		if fresh, err := load(WithFreshSchema(ctx)); err == nil && fresh != nil {
			v, out = checkAttributes(fresh, attrs, create)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checkAttributes returns one violation per problem, each naming the
// attribute in its field path, and the values to send.
func checkAttributes(t *upstream.TicketType, attrs map[string]*structpb.Value, create bool) (violations, map[string]any) {
	var v violations
	if create && t.Archived {
		v.add("ticket_type_id", fmt.Sprintf("ticket type %s (%q) is archived; tickets can no longer be created with it", t.ID, t.Name))
	}
	byName := make(map[string]*upstream.TicketTypeAttribute, len(t.Attributes))
	for i := range t.Attributes {
		byName[t.Attributes[i].Name] = &t.Attributes[i]
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names) // violations in a stable order
	out := make(map[string]any, len(attrs))
	for _, name := range names {
		field := attributeField(name)
		a := byName[name]
		switch {
		case a == nil:
			v.add(field, unknownAttribute(t, name))
			continue
		case a.Archived:
			v.add(field, fmt.Sprintf("is archived in ticket type %s; it can no longer be set", t.ID))
			continue
		}
		val, problem := attributeValue(a, attrs[name])
		if problem != "" {
			v.add(field, problem)
			continue
		}
		out[name] = val
	}
	if create {
		for _, a := range t.Attributes {
			if _, ok := attrs[a.Name]; a.RequiredToCreate && !a.Archived && !ok {
				v.add(attributeField(a.Name), fmt.Sprintf("is required by ticket type %s (%q)", t.ID, t.Name))
			}
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return v, out
}

func attributeField(name string) string { return fmt.Sprintf("ticket_attributes[%q]", name) }

// unknownAttribute explains an unknown name, suggesting the attribute it
// differs from only in case, or else listing the ones that can be set.
func unknownAttribute(t *upstream.TicketType, name string) string {
	var active []string
	for _, a := range t.Attributes {
		if a.Archived {
			continue
		}
		if strings.EqualFold(a.Name, name) {
			return fmt.Sprintf("is not an attribute of ticket type %s; names are case-sensitive: did you mean %q?", t.ID, a.Name)
		}
		active = append(active, strconv.Quote(a.Name))
	}
	return fmt.Sprintf("is not an attribute of ticket type %s (%q); it has %s", t.ID, t.Name, strings.Join(active, ", "))
}

// attributeValue checks one value against its attribute's data_type and
// returns it as Intercom wants it, or a problem.
func attributeValue(a *upstream.TicketTypeAttribute, val *structpb.Value) (any, string) {
	if _, ok := val.GetKind().(*structpb.Value_NullValue); ok {
		// null clears a value (ticket_request_custom_attributes allows a
		// nullable string); a required attribute cannot be cleared.
		if a.RequiredToCreate {
			return nil, "is required by its ticket type and cannot be null"
		}
		return nil, ""
	}
	switch a.DataType {
	case "string":
		if _, ok := val.GetKind().(*structpb.Value_StringValue); !ok {
			return nil, "must be a string (data_type string)"
		}
		return val.GetStringValue(), ""
	case "list":
		s, ok := val.GetKind().(*structpb.Value_StringValue)
		if !ok {
			return nil, "must be a string: the id or the label of one of the list's items (data_type list)"
		}
		return listItemID(a, s.StringValue)
	case "integer", "datetime":
		n, ok := val.GetKind().(*structpb.Value_NumberValue)
		what := "an integer (data_type integer)"
		if a.DataType == "datetime" {
			what = "a Unix time in whole seconds (data_type datetime)"
		}
		if !ok || n.NumberValue != math.Trunc(n.NumberValue) || math.Abs(n.NumberValue) > maxExactInteger {
			return nil, "must be " + what
		}
		return int64(n.NumberValue), ""
	case "decimal":
		n, ok := val.GetKind().(*structpb.Value_NumberValue)
		if !ok || math.IsInf(n.NumberValue, 0) || math.IsNaN(n.NumberValue) {
			return nil, "must be a number (data_type decimal)"
		}
		return n.NumberValue, ""
	case "boolean":
		if _, ok := val.GetKind().(*structpb.Value_BoolValue); !ok {
			return nil, "must be true or false (data_type boolean)"
		}
		return val.GetBoolValue(), ""
	case "files":
		l, ok := val.GetKind().(*structpb.Value_ListValue)
		if !ok {
			return nil, "must be a list of files (data_type files)"
		}
		if n := len(l.ListValue.GetValues()); n > 1 && !a.AllowMultipleValues {
			return nil, fmt.Sprintf("holds %d files; this attribute takes one (allow_multiple_values is false)", n)
		}
		return val.AsInterface(), ""
	}
	// A data_type newer than this gateway: Intercom decides.
	return val.AsInterface(), ""
}

// listItemID translates a list value to the item's id. Intercom wants the
// id (ticket_request_custom_attributes: "the value of the attribute should
// be the list item id"); callers may send the id or the label, matched
// exactly first and then ignoring case.
func listItemID(a *upstream.TicketTypeAttribute, s string) (any, string) {
	match := func(eq func(upstream.ListItem) bool) *upstream.ListItem {
		for i := range a.ListItems {
			if eq(a.ListItems[i]) {
				return &a.ListItems[i]
			}
		}
		return nil
	}
	li := match(func(li upstream.ListItem) bool { return li.ID == s })
	if li == nil {
		li = match(func(li upstream.ListItem) bool { return li.Label == s })
	}
	if li == nil {
		li = match(func(li upstream.ListItem) bool { return strings.EqualFold(li.Label, s) })
	}
	if li != nil && !li.Archived {
		return li.ID, ""
	}
	var allowed []string
	for _, it := range a.ListItems {
		if !it.Archived {
			allowed = append(allowed, strconv.Quote(it.Label))
		}
	}
	if li != nil {
		return nil, fmt.Sprintf("list item %q is archived; allowed: %s", li.Label, strings.Join(allowed, ", "))
	}
	return nil, fmt.Sprintf("is not an item of this list: allowed %s (label or id)", strings.Join(allowed, ", "))
}
