package sandbox

import (
	"net/http"
	"strings"
)

var categories = []string{categoryCustomer, categoryBackOffice, categoryTracker}

func validCategory(s string) bool {
	for _, c := range categories {
		if c == s {
			return true
		}
	}
	return false
}

func (s *Server) findTicketType(id string) (*ticketType, error) {
	if t := s.ws.ticketType(id); t != nil {
		return t, nil
	}
	// No 404 is documented for ticket types; not_found is Intercom's generic code.
	return nil, errNotFound("not_found", "Ticket type not found")
}

// listTicketTypes answers {type:"list", data:[ticket_type]}: what the real API
// and unstable.yaml return, although 2.11.yaml's ticket_type_list schema says
// otherwise (see intercomspec.KnownSpecErrors).
func (s *Server) listTicketTypes(c *call) (int, any, error) {
	out := make([]ticketTypeJSON, 0, len(s.ws.ticketTypes))
	for _, t := range s.ws.ticketTypes {
		out = append(out, s.renderTicketType(t, c.version))
	}
	return http.StatusOK, newList(out), nil
}

func (s *Server) getTicketType(c *call) (int, any, error) {
	t, err := s.findTicketType(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.renderTicketType(t, c.version), nil
}

// createTicketType implements POST /ticket_types (create_ticket_type_request:
// name required; category default Customer; icon default 🎟️; is_internal
// default false). Every new type gets _default_title_ and
// _default_description_ and the default states.
func (s *Server) createTicketType(c *call) (int, any, error) {
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	name, err := body.requiredStr("name")
	if err != nil {
		return 0, nil, err
	}
	desc, _, err1 := body.str("description")
	cat, catSet, err2 := body.str("category")
	icon, iconSet, err3 := body.str("icon")
	internal, _, err4 := body.boolean("is_internal")
	if err := firstErr(err1, err2, err3, err4); err != nil {
		return 0, nil, err
	}
	if !catSet {
		cat = categoryCustomer
	} else if !validCategory(cat) {
		return 0, nil, errInvalid("category", "category must be one of Customer, Back-office, Tracker")
	}
	if !iconSet || icon == "" {
		icon = "🎟️"
	}
	for _, t := range s.ws.ticketTypes {
		if equalFold(t.name, name) && !t.archived {
			return 0, nil, errInvalid("name", "A ticket type named %q already exists", name)
		}
	}
	t := s.ws.newTicketType(name, desc, cat, icon, internal, c.now)
	return http.StatusOK, s.renderTicketType(t, c.version), nil
}

// updateTicketType implements PUT /ticket_types/{id}: a partial update of
// name, description, category, icon, archived and is_internal.
func (s *Server) updateTicketType(c *call) (int, any, error) {
	t, err := s.findTicketType(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	name, nameSet, err1 := body.str("name")
	desc, descSet, err2 := body.str("description")
	cat, catSet, err3 := body.str("category")
	icon, iconSet, err4 := body.str("icon")
	archived, archivedSet, err5 := body.boolean("archived")
	internal, internalSet, err6 := body.boolean("is_internal")
	if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
		return 0, nil, err
	}
	if nameSet && strings.TrimSpace(name) == "" {
		return 0, nil, errInvalid("name", "name must not be empty")
	}
	if catSet && !validCategory(cat) {
		return 0, nil, errInvalid("category", "category must be one of Customer, Back-office, Tracker")
	}
	if nameSet {
		t.name = name
	}
	if descSet {
		t.description = desc
	}
	if catSet {
		t.category = cat
	}
	if iconSet {
		t.icon = icon
	}
	if archivedSet {
		t.archived = archived
	}
	if internalSet {
		t.isInternal = internal
	}
	t.updatedAt = c.now
	return http.StatusOK, s.renderTicketType(t, c.version), nil
}

var dataTypes = []string{"string", "list", "integer", "decimal", "boolean", "datetime", "files"}

// createAttribute implements POST /ticket_types/{ticket_type_id}/attributes
// (create_ticket_type_attribute_request: name, description and data_type
// required; list_items is a comma-separated string, needed for lists).
func (s *Server) createAttribute(c *call) (int, any, error) {
	t, err := s.findTicketType(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	a := &attribute{visibleOnCreate: true, visibleToContacts: true}
	for _, f := range []string{"name", "description", "data_type"} {
		if !body.has(f) {
			return 0, nil, errMissing(f)
		}
	}
	name, _, err1 := body.str("name")
	desc, _, err2 := body.str("description")
	dt, _, err3 := body.str("data_type")
	if err := firstErr(err1, err2, err3); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(name) == "" {
		return 0, nil, errMissing("name")
	}
	valid := false
	for _, d := range dataTypes {
		valid = valid || d == dt
	}
	if !valid {
		return 0, nil, errInvalid("data_type", "data_type must be one of %s", strings.Join(dataTypes, ", "))
	}
	for _, other := range t.attributes {
		if equalFold(other.name, name) {
			return 0, nil, errInvalid("name", "An attribute named %q already exists on ticket type %s", name, t.id)
		}
	}
	a.name, a.description, a.dataType = name, desc, dt
	if err := setAttributeOptions(a, body, true); err != nil {
		return 0, nil, err
	}
	if dt == "list" && len(a.listItems) == 0 {
		return 0, nil, errMissing("list_items")
	}
	t.addAttribute(s.ws, a, c.now)
	t.updatedAt = c.now
	return http.StatusOK, renderAttribute(a), nil
}

// setAttributeOptions reads the optional fields shared by create and update.
func setAttributeOptions(a *attribute, body object, create bool) error {
	for _, f := range []struct {
		name string
		dst  *bool
	}{
		{"required_to_create", &a.requiredToCreate},
		{"required_to_create_for_contacts", &a.requiredForContacts},
		{"visible_on_create", &a.visibleOnCreate},
		{"visible_to_contacts", &a.visibleToContacts},
		{"archived", &a.archived},
	} {
		if f.name == "archived" && create {
			continue
		}
		v, ok, err := body.boolean(f.name)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = v
		}
	}
	if v, ok, err := body.boolean("multiline"); err != nil {
		return err
	} else if ok {
		if a.dataType != "string" {
			return errInvalid("multiline", "multiline applies to string attributes only")
		}
		a.multiline = v
	}
	if v, ok, err := body.boolean("allow_multiple_values"); err != nil {
		return err
	} else if ok {
		if a.dataType != "files" {
			return errInvalid("allow_multiple_values", "allow_multiple_values applies to files attributes only")
		}
		a.allowMultiple = v
	}
	items, ok, err := body.str("list_items")
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	if a.dataType != "list" {
		return errInvalid("list_items", "list_items applies to list attributes only")
	}
	var labels []string
	seen := map[string]bool{}
	for _, l := range strings.Split(items, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if seen[strings.ToLower(l)] {
			return errInvalid("list_items", "Duplicate list item %q", l)
		}
		seen[strings.ToLower(l)] = true
		labels = append(labels, l)
	}
	if len(labels) == 0 {
		return errInvalid("list_items", "list_items must name at least one item")
	}
	// Existing items keep their ids; items no longer listed are archived, so
	// tickets that hold their id stay readable.
	var out []*listItem
	for _, l := range labels {
		var found *listItem
		for _, li := range a.listItems {
			if equalFold(li.label, l) {
				found = li
			}
		}
		if found == nil {
			found = &listItem{id: newUUID(), label: l}
		}
		found.archived = false
		out = append(out, found)
	}
	for _, li := range a.listItems {
		if !seen[strings.ToLower(li.label)] {
			li.archived = true
			out = append(out, li)
		}
	}
	a.listItems = out
	return nil
}

// updateAttribute implements PUT /ticket_types/{ticket_type_id}/attributes/{id}
// (update_ticket_type_attribute_request: like create without data_type, plus archived).
func (s *Server) updateAttribute(c *call) (int, any, error) {
	t, err := s.findTicketType(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	id := c.r.PathValue("attribute_id")
	var a *attribute
	for _, x := range t.attributes {
		if x.id == id {
			a = x
		}
	}
	if a == nil {
		return 0, nil, errNotFound("not_found", "Ticket type attribute not found")
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	if body.has("data_type") {
		return 0, nil, errInvalid("data_type", "data_type cannot be changed")
	}
	name, nameSet, err1 := body.str("name")
	desc, descSet, err2 := body.str("description")
	if err := firstErr(err1, err2); err != nil {
		return 0, nil, err
	}
	if nameSet {
		if strings.TrimSpace(name) == "" {
			return 0, nil, errInvalid("name", "name must not be empty")
		}
		if a.isDefault && name != a.name {
			return 0, nil, errInvalid("name", "Built-in attributes cannot be renamed")
		}
		for _, other := range t.attributes {
			if other != a && equalFold(other.name, name) {
				return 0, nil, errInvalid("name", "An attribute named %q already exists on ticket type %s", name, t.id)
			}
		}
	}
	// Work on a copy so that a failed update changes nothing.
	cp := *a
	cp.listItems = append([]*listItem(nil), a.listItems...)
	if err := setAttributeOptions(&cp, body, false); err != nil {
		return 0, nil, err
	}
	if cp.archived && a.isDefault {
		return 0, nil, errInvalid("archived", "Built-in attributes cannot be archived")
	}
	if nameSet && name != a.name {
		// Ticket values are stored by attribute name.
		for _, tk := range s.ws.tickets {
			if tk.typeID == t.id {
				if v, ok := tk.attrs[a.name]; ok {
					delete(tk.attrs, a.name)
					tk.attrs[name] = v
				}
			}
		}
		cp.name = name
	}
	if descSet {
		cp.description = desc
	}
	cp.updatedAt = c.now
	*a = cp
	t.updatedAt = c.now
	return http.StatusOK, renderAttribute(a), nil
}

// listTicketStates implements GET /ticket_states (unstable.yaml only):
// {type:"list", data:[ticket_state_detailed]}, each with its ticket types.
func (s *Server) listTicketStates(c *call) (int, any, error) {
	out := make([]ticketStateDetailedJSON, 0, len(s.ws.states))
	for _, st := range s.ws.states {
		var types []ticketTypeBriefJSON
		for _, t := range s.ws.ticketTypes {
			if hasState(t, st.id) {
				types = append(types, ticketTypeBriefJSON{Type: "ticket_type", ID: t.id, Name: t.name, Icon: t.icon,
					Archived: t.archived, IsInternal: t.isInternal, Category: t.category})
			}
		}
		out = append(out, ticketStateDetailedJSON{ticketStateJSON: renderState(st), Archived: st.archived, TicketTypes: newList(types)})
	}
	return http.StatusOK, newList(out), nil
}
