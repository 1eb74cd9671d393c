package intercomspec

import (
	"fmt"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// KnownSpecError is a place where Intercom's published description disagrees
// with what Intercom's API really does (per Intercom's own examples, its docs
// or its SDK issues). Each entry is patched into the loaded document, in one
// place (applyKnownSpecErrors), so that validation checks the real behaviour.
type KnownSpecError struct {
	// Versions are the description versions the entry applies to.
	Versions []string
	// Where names what is patched: a components/schemas name, or an
	// operation's request body.
	Where string
	// Operations are the operationIds whose validation the patch affects.
	Operations []string
	// Why explains the disagreement and cites the evidence.
	Why string

	patch func(doc *openapi3.T) error
}

// KnownSpecErrors is the complete list of patches applied by Load. Keep it
// short: add an entry only with evidence that the description is wrong.
var KnownSpecErrors = []KnownSpecError{
	{
		Versions:   []string{"2.9", "2.11"},
		Where:      "components/schemas/ticket_type_list",
		Operations: []string{"listTicketTypes"},
		Why: "The schema says {type:\"ticket_type_attributes.list\", ticket_types:[...]}, but the operation's own " +
			"example, the Unstable description and the real API answer {type:\"list\", data:[ticket_type]} " +
			"(intercom-node issues #485 and #499).",
		patch: schema("ticket_type_list", realList("ticket_type")),
	},
	{
		Versions:   []string{"2.9", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "unstable"},
		Where:      "components/schemas/ticket_type_attribute_list",
		Operations: []string{"listTicketTypes", "getTicketType", "createTicketType", "updateTicketType", "getTicket", "createTicket", "updateTicket", "searchTickets"},
		Why: "The container inside ticket_type is described as {type:\"ticket_type_attributes.list\", " +
			"ticket_type_attributes:[...]}, but every example in 2.11 and Unstable shows {type:\"list\", data:[...]}, " +
			"which is what the API returns.",
		patch: schema("ticket_type_attribute_list", realList("ticket_type_attribute")),
	},
	{
		Versions:   []string{"2.9", "2.11"},
		Where:      "components/schemas/tag",
		Operations: []string{"listTags", "listTagsForAContact"},
		Why: "applied_at and applied_by are marked required, yet their own descriptions say they are present only " +
			"when the tag comes back from a tagging operation, and the GET /tags examples omit them.",
		patch: schema("tag", func(s *openapi3.Schema, _ *openapi3.T) error {
			s.Required = slices.DeleteFunc(s.Required, func(n string) bool { return n == "applied_at" || n == "applied_by" })
			return nil
		}),
	},
	{
		Versions:   []string{"2.9", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "unstable"},
		Where:      "POST /tags requestBody",
		Operations: []string{"createTag"},
		Why: "The body is oneOf create_or_update_tag_request, tag_company_request, untag_company_request and " +
			"tag_multiple_users_request, none of which forbids extra properties, so every company or user payload " +
			"also matches create_or_update_tag_request ({name}) and no valid tagging request can pass a oneOf. " +
			"The operation's description says these are alternative payloads; checked as anyOf.",
		patch: oneOfToAnyOf("/tags", "POST"),
	},
	{
		Versions:   []string{"2.9", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "unstable"},
		Where:      "components/schemas/ticket_type_attribute",
		Operations: []string{"listTicketTypes", "getTicketType", "createTicketType", "updateTicketType", "getTicket", "createTicket", "updateTicket", "searchTickets"},
		Why: "input_options is a non-nullable object, yet the ticket type and ticket examples of every version send " +
			"input_options: null for attributes without options (for example the listTicketTypes and getTicketType " +
			"examples of 2.11.yaml and unstable.yaml).",
		patch: schema("ticket_type_attribute", func(s *openapi3.Schema, _ *openapi3.T) error {
			p := s.Properties["input_options"]
			if p == nil || p.Value == nil {
				return fmt.Errorf("no input_options property")
			}
			p.Value.Nullable = true
			return nil
		}),
	},
	{
		// Only 2.11 lists required properties for ticket_part.
		Versions:   []string{"2.11"},
		Where:      "components/schemas/ticket_part",
		Operations: []string{"getTicket", "createTicket", "updateTicket", "searchTickets"},
		Why: "body is listed as required (and nullable), yet the getTicket and createTicket examples show " +
			"ticket_state_updated_by_admin parts with no body at all: a part without a message leaves it out.",
		patch: schema("ticket_part", func(s *openapi3.Schema, _ *openapi3.T) error {
			s.Required = slices.DeleteFunc(s.Required, func(n string) bool { return n == "body" })
			return nil
		}),
	},
	{
		Versions:   []string{"2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "unstable"},
		Where:      "components/schemas/single_filter_search_request",
		Operations: []string{"searchTickets"},
		Why: "The searchTickets description's field table allows Float values for ticket_attribute.{id} " +
			"(\"String or Boolean or Date (UNIX timestamp) or Float or Integer\"), but the filter's value schema " +
			"is oneOf string, integer, boolean and arrays, with no number type, so a search on a decimal attribute " +
			"(1.5) could not validate. The table is the more specific statement; the scalar integer branch is " +
			"checked as number (which still takes integers, and keeps the oneOf exclusive).",
		patch: schema("single_filter_search_request", func(s *openapi3.Schema, _ *openapi3.T) error {
			v := s.Properties["value"]
			if v == nil || v.Value == nil {
				return fmt.Errorf("no value property")
			}
			for _, alt := range v.Value.OneOf {
				if alt.Value != nil && alt.Value.Type.Is(openapi3.TypeInteger) {
					alt.Value.Type = &openapi3.Types{openapi3.TypeNumber}
					return nil
				}
			}
			return fmt.Errorf("value has no integer alternative")
		}),
	},
}

// schema applies fix to the named component schema.
func schema(name string, fix func(*openapi3.Schema, *openapi3.T) error) func(*openapi3.T) error {
	return func(doc *openapi3.T) error {
		ref := doc.Components.Schemas[name]
		if ref == nil || ref.Value == nil {
			return fmt.Errorf("schema %q not found", name)
		}
		return fix(ref.Value, doc)
	}
}

// oneOfToAnyOf turns the oneOf of an operation's JSON request body into anyOf.
func oneOfToAnyOf(path, method string) func(*openapi3.T) error {
	return func(doc *openapi3.T) error {
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			return fmt.Errorf("operation %s %s not found", method, path)
		}
		rb := item.GetOperation(method).RequestBody
		if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
			return fmt.Errorf("%s %s has no JSON request body", method, path)
		}
		s := rb.Value.Content.Get("application/json").Schema
		if s == nil || s.Value == nil || len(s.Value.OneOf) == 0 {
			return fmt.Errorf("%s %s request body has no oneOf", method, path)
		}
		s.Value.AnyOf, s.Value.OneOf = s.Value.OneOf, nil
		return nil
	}
}

// realList rewrites a list schema to the shape the API really answers:
// {type: "list", data: [item]}.
func realList(item string) func(*openapi3.Schema, *openapi3.T) error {
	return func(s *openapi3.Schema, doc *openapi3.T) error {
		ref := doc.Components.Schemas[item]
		if ref == nil {
			return fmt.Errorf("schema %q not found", item)
		}
		s.Properties = openapi3.Schemas{
			"type": openapi3.NewSchemaRef("", &openapi3.Schema{
				Type: &openapi3.Types{openapi3.TypeString},
				Enum: []any{"list"},
			}),
			"data": openapi3.NewSchemaRef("", &openapi3.Schema{
				Type:  &openapi3.Types{openapi3.TypeArray},
				Items: openapi3.NewSchemaRef("#/components/schemas/"+item, ref.Value),
			}),
		}
		s.Required = []string{"type", "data"}
		return nil
	}
}

// applyKnownSpecErrors is the one place where the loaded document is changed.
// Schemas are shared by pointer after $ref resolution, so patching the
// component changes every use of it.
func applyKnownSpecErrors(doc *openapi3.T, version string) error {
	for _, e := range KnownSpecErrors {
		if !slices.Contains(e.Versions, version) {
			continue
		}
		if err := e.patch(doc); err != nil {
			return fmt.Errorf("known spec error %q (%s): %w", e.Where, version, err)
		}
	}
	return nil
}
