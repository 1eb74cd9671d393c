package sandbox

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// Built-in attributes every ticket type has; always accepted in ticket_attributes.
const (
	attrTitle       = "_default_title_"
	attrDescription = "_default_description_"
)

func (s *Server) findTicket(id string) (*ticket, error) {
	if t := s.ws.ticket(id); t != nil {
		return t, nil
	}
	// unstable.yaml deleteTicket documents 404 ticket_not_found; the other
	// ticket operations document no 404 at all, so the same code is used.
	return nil, errNotFound("ticket_not_found", "Ticket not found")
}

// createTicket implements POST /tickets (2.11.yaml createTicket,
// create_ticket_request; unstable.yaml adds assignment and skip_notifications).
func (s *Server) createTicket(c *call) (int, any, error) {
	w := s.ws
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	typeID, ok, err := body.id("ticket_type_id")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errMissing("ticket_type_id")
	}
	tt := w.ticketType(typeID)
	if tt == nil {
		return 0, nil, errInvalid("ticket_type_id", "Ticket type %s not found", typeID)
	}
	if tt.archived {
		return 0, nil, errInvalid("ticket_type_id", "Ticket type %s is archived", typeID)
	}
	contacts, ok, err := body.array("contacts")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errMissing("contacts")
	}
	// create_ticket_request.contacts: "Currently only one is allowed".
	if len(contacts) != 1 {
		return 0, nil, errInvalid("contacts", "Exactly one contact is required, got %d", len(contacts))
	}
	ct, err := s.resolveTicketContact(contacts[0], c.now)
	if err != nil {
		return 0, nil, err
	}
	t := &ticket{
		typeID: tt.id, category: tt.category, attrs: map[string]any{}, contactIDs: []string{ct.id},
		createdAt: c.now, updatedAt: c.now, open: true,
	}
	if at, ok, err := body.integer("created_at"); err != nil {
		return 0, nil, err
	} else if ok {
		t.createdAt = at
	}
	if cid, ok, err := body.str("company_id"); err != nil {
		return 0, nil, err
	} else if ok {
		co := s.findCompany(cid, c.version)
		if co == nil {
			return 0, nil, errNotFound("company_not_found", "Company Not Found")
		}
		t.companyID = co.id
	}
	attrs, _, err := body.object("ticket_attributes")
	if err != nil {
		return 0, nil, err
	}
	if err := applyAttrValues(tt, t.attrs, attrs); err != nil {
		return 0, nil, err
	}
	var missing []string
	for _, a := range tt.attributes {
		if a.requiredToCreate && !a.archived {
			if _, ok := t.attrs[a.name]; !ok {
				missing = append(missing, a.name)
			}
		}
	}
	if len(missing) > 0 {
		// The enqueue variant of this operation documents 400 parameter_invalid
		// "Missing required ticket attributes" (unstable.yaml enqueueCreateTicket).
		return 0, nil, errInvalid("ticket_attributes", "Missing required ticket attributes: %s", strings.Join(missing, ", "))
	}
	if err := checkSkipNotifications(body, c.version); err != nil {
		return 0, nil, err
	}
	if !c.version.has(createAssignment) && body.has("assignment") {
		return 0, nil, notInVersion("assignment", c.version, "")
	}
	if c.version.has(createAssignment) {
		// 2.14.yaml create_ticket_request.assignment{admin_assignee_id, team_assignee_id}.
		if as, ok, err := body.object("assignment"); err != nil {
			return 0, nil, err
		} else if ok {
			if err := s.assignFromCreate(t, as); err != nil {
				return 0, nil, err
			}
		}
	}
	submitted := w.stateOf(tt, stateSubmitted)
	if submitted == nil {
		return 0, nil, errInvalid("ticket_type_id", "Ticket type %s has no submitted state", tt.id)
	}
	t.stateID = submitted.id
	t.id = w.next("ticket")
	t.ticketID = w.next("ticket_number")
	// Like the createTicket example in unstable.yaml: a first part by Fin.
	t.parts = append(t.parts, &ticketPart{id: w.next("part"), partType: "ticket_state_updated_by_admin",
		previousState: stateSubmitted, state: stateSubmitted, createdAt: c.now, updatedAt: c.now, author: botFin})
	w.tickets = append(w.tickets, t)
	return http.StatusOK, s.renderTicket(t, c.version), nil
}

func (s *Server) assignFromCreate(t *ticket, as object) error {
	if id, ok, err := as.id("admin_assignee_id"); err != nil {
		return err
	} else if ok && id != "0" {
		a := s.ws.admin(id)
		if a == nil || a.team {
			return errNotFound("assignee_not_found", "Assignee not found")
		}
		t.adminAssignee, _ = strconv.ParseInt(id, 10, 64)
	}
	if id, ok, err := as.id("team_assignee_id"); err != nil {
		return err
	} else if ok && id != "0" {
		a := s.ws.admin(id)
		if a == nil || !a.team {
			return errNotFound("assignee_not_found", "Assignee not found")
		}
		t.teamAssignee, _ = strconv.ParseInt(id, 10, 64)
	}
	return nil
}

// resolveTicketContact reads one create_ticket_request.contacts item: exactly
// one of {id}, {external_id}, {email}; an unknown email creates the contact.
func (s *Server) resolveTicketContact(raw json.RawMessage, now int64) (*contact, error) {
	o, err := decodeObject(raw, "contacts")
	if err != nil {
		return nil, err
	}
	key, ok := o.onlyOne("id", "external_id", "email")
	if !ok {
		return nil, errInvalid("contacts", "Each contact needs exactly one of id, external_id or email")
	}
	val, _, err := o.str(key)
	if err != nil {
		return nil, errInvalid("contacts", "contacts.%s must be a string", key)
	}
	w := s.ws
	if ct := w.contactBy(key, val); ct != nil {
		return ct, nil
	}
	if key != "email" {
		return nil, errNotFound("not_found", "User Not Found")
	}
	if !strings.Contains(val, "@") {
		return nil, errInvalid("contacts", "%q is not an email address", val)
	}
	n := w.seq["contact"]
	w.seq["contact"]++
	ct := &contact{id: contactID(n), email: val}
	w.contacts = append(w.contacts, ct)
	return ct, nil
}

// findCompany resolves create_ticket_request.company_id: the company_id you
// set (2.11.yaml) or Intercom's id (2.12.yaml on, see companyByIntercomID).
// Both are accepted in either version when unambiguous, the documented one first.
func (s *Server) findCompany(id string, v apiVersion) *company {
	byIntercomID := v.has(companyByIntercomID)
	for _, byExternal := range []bool{!byIntercomID, byIntercomID} {
		for _, co := range s.ws.companies {
			if (byExternal && co.companyID == id) || (!byExternal && co.id == id) {
				return co
			}
		}
	}
	return nil
}

// applyAttrValues checks values against the type's attributes and stores them
// into dst. Unknown names, archived attributes and values of the wrong type
// are 400 parameter_invalid; null removes a value.
func applyAttrValues(tt *ticketType, dst map[string]any, values object) error {
	for name, raw := range values {
		a := tt.attribute(name)
		if a == nil || a.name != name || a.archived {
			return errInvalid("ticket_attributes", "Unknown ticket attribute %q for ticket type %s", name, tt.id)
		}
		if isNull(raw) {
			if a.requiredToCreate {
				return errInvalid("ticket_attributes", "Ticket attribute %q is required", name)
			}
			delete(dst, name)
			continue
		}
		v, err := attrValue(a, raw)
		if err != nil {
			return err
		}
		dst[name] = v
	}
	return nil
}

func attrValue(a *attribute, raw json.RawMessage) (any, error) {
	bad := func(want string) error {
		return errInvalid("ticket_attributes", "Ticket attribute %q must be %s", a.name, want)
	}
	switch a.dataType {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, bad("a string")
		}
		return s, nil
	case "list":
		// The value is the list item's id (API docs); its label is accepted too.
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, bad("a list item id (string)")
		}
		li := a.item(s)
		if li == nil || li.archived {
			return nil, errInvalid("ticket_attributes", "%q is not a list item of ticket attribute %q", s, a.name)
		}
		return li.id, nil
	case "integer", "datetime":
		i, err := rawInt(raw)
		if err != nil {
			if a.dataType == "datetime" {
				return nil, bad("a Unix timestamp (integer)")
			}
			return nil, bad("an integer")
		}
		return i, nil
	case "decimal":
		var f float64
		if json.Unmarshal(raw, &f) != nil || math.IsInf(f, 0) {
			return nil, bad("a number")
		}
		return f, nil
	case "boolean":
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, bad("a boolean")
		}
		return b, nil
	case "files":
		var files []any
		if json.Unmarshal(raw, &files) != nil {
			return nil, bad("an array of files")
		}
		return files, nil
	}
	return nil, bad("a supported value")
}

func (s *Server) getTicket(c *call) (int, any, error) {
	t, err := s.findTicket(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.renderTicket(t, c.version), nil
}

// updateTicket implements PUT /tickets/{id}. The body differs by version:
// 2.11.yaml update_ticket_request has state and assignment{admin_id,
// assignee_id}; 2.12.yaml and 2.13.yaml replace state with ticket_state_id and
// company_id but keep assignment{}; 2.14.yaml on replace assignment{} with a
// top-level admin_id (integer) and assignee_id. A field the requested version
// does not describe is refused (notInVersion), never dropped.
func (s *Server) updateTicket(c *call) (int, any, error) {
	w := s.ws
	t, err := s.findTicket(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	tt := w.ticketType(t.typeID)
	// Validate everything before changing anything.
	var newState *ticketState
	var actor *admin
	assign := struct {
		set bool
		id  string
	}{}
	if err := checkSkipNotifications(body, c.version); err != nil {
		return 0, nil, err
	}
	if !c.version.has(updateStateID) {
		for _, f := range []string{"ticket_state_id", "company_id"} {
			if body.has(f) {
				return 0, nil, notInVersion(f, c.version, "use state")
			}
		}
		if st, ok, err := body.str("state"); err != nil {
			return 0, nil, err
		} else if ok {
			switch st {
			case stateInProgress, stateWaitingOnCustomer, stateResolved:
			default:
				// update_ticket_request.state: in_progress | waiting_on_customer | resolved.
				return 0, nil, errInvalid("state", "state must be one of in_progress, waiting_on_customer, resolved")
			}
			if newState = w.stateOf(tt, st); newState == nil {
				return 0, nil, errInvalid("state", "Ticket type %s has no %s state", tt.id, st)
			}
		}
	} else {
		if body.has("state") {
			return 0, nil, notInVersion("state", c.version, "use ticket_state_id")
		}
		if id, ok, err := body.id("ticket_state_id"); err != nil {
			return 0, nil, err
		} else if ok {
			newState = w.state(id)
			if newState == nil || !hasState(tt, id) || newState.archived {
				return 0, nil, &apiError{status: http.StatusBadRequest, code: "ticket_state_id_invalid",
					message: "Ticket state " + id + " is not valid for this ticket type", field: "ticket_state_id"}
			}
		}
	}
	// Who acts and whom to assign: assignment{admin_id, assignee_id} up to
	// 2.13, top-level admin_id and assignee_id from 2.14 on.
	from := body
	if c.version.has(flatAssignment) {
		if body.has("assignment") {
			return 0, nil, notInVersion("assignment", c.version, "use admin_id and assignee_id")
		}
	} else {
		for _, f := range []string{"admin_id", "assignee_id"} {
			if body.has(f) {
				return 0, nil, notInVersion(f, c.version, "use assignment{admin_id, assignee_id}")
			}
		}
		as, _, err := body.object("assignment")
		if err != nil {
			return 0, nil, err
		}
		from = as
	}
	if from != nil {
		if actor, err = s.actingAdmin(from, "admin_id"); err != nil {
			return 0, nil, err
		}
		if id, ok, err := from.id("assignee_id"); err != nil {
			return 0, nil, err
		} else if ok {
			assign.set, assign.id = true, id
		}
	}
	var assignee *admin
	if assign.set && assign.id != "0" {
		if assignee = w.admin(assign.id); assignee == nil {
			return 0, nil, errNotFound("assignee_not_found", "Assignee not found")
		}
	}
	attrs, _, err := body.object("ticket_attributes")
	if err != nil {
		return 0, nil, err
	}
	newAttrs := make(map[string]any, len(t.attrs))
	for k, v := range t.attrs {
		newAttrs[k] = v
	}
	if err := applyAttrValues(tt, newAttrs, attrs); err != nil {
		return 0, nil, err
	}
	open, openSet, err1 := body.boolean("open")
	shared, sharedSet, err2 := body.boolean("is_shared")
	snooze, snoozeSet, err3 := body.integer("snoozed_until")
	if err := firstErr(err1, err2, err3); err != nil {
		return 0, nil, err
	}
	var companyID string
	var companySet bool
	if c.version.has(updateStateID) && body.has("company_id") {
		id, _, err := body.str("company_id")
		if err != nil {
			return 0, nil, err
		}
		co := s.findCompany(id, c.version)
		if co == nil {
			return 0, nil, errNotFound("company_not_found", "Company Not Found")
		}
		companyID, companySet = co.id, true
	} else if c.version.has(updateStateID) {
		if raw, ok := body["company_id"]; ok && isNull(raw) {
			companySet = true // "Set to nil to remove"
		}
	}

	// Apply.
	by := botFin
	if actor != nil {
		by = adminAuthor(actor)
	}
	t.attrs = newAttrs
	if newState != nil && newState.id != t.stateID {
		prev := w.state(t.stateID)
		t.previousStateID = prev.id
		t.stateID = newState.id
		t.parts = append(t.parts, &ticketPart{id: w.next("part"), partType: "ticket_state_updated_by_admin",
			previousState: prev.category, state: newState.category, createdAt: c.now, updatedAt: c.now, author: by})
	}
	if assign.set {
		t.adminAssignee, t.teamAssignee = 0, 0
		part := &ticketPart{id: w.next("part"), partType: "assignment", state: w.state(t.stateID).category,
			createdAt: c.now, updatedAt: c.now, author: by}
		if assignee != nil {
			n, _ := strconv.ParseInt(assignee.id, 10, 64)
			typ := "admin"
			if assignee.team {
				t.teamAssignee, typ = n, "team"
			} else {
				t.adminAssignee = n
			}
			part.assignedTo = &ref{typ: typ, id: assignee.id}
		} else {
			part.partType = "unassignment"
		}
		t.parts = append(t.parts, part)
	}
	if openSet {
		t.open = open
		if !open {
			// update_ticket_request.open: closing also unsnoozes.
			t.snoozedUntil = 0
		}
	}
	if snoozeSet && (!openSet || open) {
		t.snoozedUntil = snooze
	}
	if sharedSet {
		t.isShared = shared
	}
	if companySet {
		t.companyID = companyID
	}
	t.updatedAt = c.now
	return http.StatusOK, s.renderTicket(t, c.version), nil
}

// actingAdmin reads an optional admin id (string or number) and checks it.
// 2.11.yaml updateTicket documents 404 assignee_not_found "Admin not found".
func (s *Server) actingAdmin(o object, field string) (*admin, error) {
	id, ok, err := o.id(field)
	if err != nil || !ok {
		return nil, err
	}
	a := s.ws.admin(id)
	if a == nil || a.team {
		return nil, errNotFound("assignee_not_found", "Admin not found")
	}
	return a, nil
}

// deleteTicket implements DELETE /tickets/{id} (2.13.yaml on): 200
// ticket_deleted {id, object:"ticket", deleted:true}.
func (s *Server) deleteTicket(c *call) (int, any, error) {
	id := c.r.PathValue("id")
	for i, t := range s.ws.tickets {
		if t.id == id {
			s.ws.tickets = append(s.ws.tickets[:i], s.ws.tickets[i+1:]...)
			return http.StatusOK, ticketDeletedJSON{ID: id, Object: "ticket", Deleted: true}, nil
		}
	}
	return 0, nil, errNotFound("ticket_not_found", "Ticket not found")
}

// replyTicket implements POST /tickets/{id}/reply. The body is oneOf a contact
// reply (type "user", one of intercom_user_id/user_id/email, message_type
// "comment", body) or an admin reply (type "admin", admin_id, message_type
// comment|note|quick_reply); see 2.11.yaml contact_reply_ticket_request and
// admin_reply_ticket_request.
func (s *Server) replyTicket(c *call) (int, any, error) {
	w := s.ws
	t := w.ticket(c.r.PathValue("id"))
	if t == nil {
		// replyTicket documents 404 not_found.
		return 0, nil, errNotFound("not_found", "Resource Not Found")
	}
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	typ, ok, err := body.str("type")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errMissing("type")
	}
	mt, ok, err := body.str("message_type")
	if err != nil {
		return 0, nil, err
	}
	if !ok {
		return 0, nil, errMissing("message_type")
	}
	text, hasBody, err := body.str("body")
	if err != nil {
		return 0, nil, err
	}
	createdAt := c.now
	if at, ok, err := body.integer("created_at"); err != nil {
		return 0, nil, err
	} else if ok {
		createdAt = at
	}
	if urls, _, err := body.array("attachment_urls"); err != nil {
		return 0, nil, err
	} else if len(urls) > 10 {
		return 0, nil, errInvalid("attachment_urls", "At most 10 attachment_urls are allowed")
	}
	if err := checkSkipNotifications(body, c.version); err != nil {
		return 0, nil, err
	}
	var by author
	switch typ {
	case "user":
		if body.has("reply_options") && !c.version.has(contactReplyOptions) {
			return 0, nil, notInVersion("reply_options", c.version, "only admin replies carry reply_options before 2.14")
		}
		if mt != "comment" {
			return 0, nil, errInvalid("message_type", "message_type must be comment for user replies")
		}
		if !hasBody || text == "" {
			return 0, nil, errMissing("body")
		}
		ct, err := s.replyContact(body)
		if err != nil {
			return 0, nil, err
		}
		if t.category == categoryBackOffice {
			return 0, nil, &apiError{status: http.StatusBadRequest, code: "parameter_mismatch",
				message: "User replies are not allowed on Backoffice tickets"}
		}
		by = author{typ: "user", id: ct.id, name: ct.name, email: ct.email}
	case "admin":
		switch mt {
		case "comment", "note":
			if !hasBody || text == "" {
				return 0, nil, errMissing("body")
			}
		case "quick_reply":
			opts, ok, err := body.array("reply_options")
			if err != nil {
				return 0, nil, err
			}
			if !ok || len(opts) == 0 {
				return 0, nil, errMissing("reply_options")
			}
		default:
			return 0, nil, errInvalid("message_type", "message_type must be one of comment, note, quick_reply")
		}
		id, ok, err := body.id("admin_id")
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			return 0, nil, errMissing("admin_id")
		}
		a := w.admin(id)
		if a == nil || a.team {
			return 0, nil, errNotFound("not_found", "Admin not found")
		}
		by = adminAuthor(a)
	default:
		return 0, nil, errInvalid("type", "type must be user or admin")
	}
	p := &ticketPart{id: w.next("part"), partType: mt, state: w.state(t.stateID).category,
		createdAt: createdAt, updatedAt: createdAt, author: by}
	if hasBody {
		p.body = &text
	}
	t.parts = append(t.parts, p)
	t.updatedAt = c.now
	return http.StatusOK, ticketReplyJSON{Type: "ticket_part", ID: p.id, PartType: p.partType, Body: p.body,
		CreatedAt: p.createdAt, UpdatedAt: p.updatedAt, Author: renderAuthor(p.author), Attachments: []any{}}, nil
}

// replyKeys maps contact_reply_ticket_request's ways of naming the contact to contactBy's.
var replyKeys = map[string]string{"intercom_user_id": "id", "user_id": "external_id", "email": "email"}

func (s *Server) replyContact(body object) (*contact, error) {
	key, ok := body.onlyOne("intercom_user_id", "user_id", "email")
	if !ok {
		return nil, errInvalid("intercom_user_id", "User replies need exactly one of intercom_user_id, user_id or email")
	}
	val, _, err := body.str(key)
	if err != nil {
		return nil, err
	}
	if ct := s.ws.contactBy(replyKeys[key], val); ct != nil {
		return ct, nil
	}
	return nil, errNotFound("not_found", "User Not Found")
}

// attachTagToTicket implements POST /tickets/{ticket_id}/tags {id, admin_id}.
func (s *Server) attachTagToTicket(c *call) (int, any, error) {
	t, err := s.findTicket(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	tg, a, err := s.tagAndAdmin(c, true)
	if err != nil {
		return 0, nil, err
	}
	ap := applyTag(&t.tags, tg.id, a.id, c.now)
	return http.StatusOK, renderApplied(tg, ap), nil
}

// detachTagFromTicket implements DELETE /tickets/{ticket_id}/tags/{id} with a
// JSON body {admin_id} (a DELETE with a body, as 2.11.yaml specifies).
func (s *Server) detachTagFromTicket(c *call) (int, any, error) {
	t, err := s.findTicket(c.r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	tg, adm, err := s.tagAndAdmin(c, false)
	if err != nil {
		return 0, nil, err
	}
	// Unlike contacts and conversations (where detaching is idempotent here),
	// the ticket operation documents 404 tag_not_found, which the sandbox
	// also answers for a tag the ticket does not carry.
	if !hasTag(t.tags, tg.id) {
		return 0, nil, errNotFound("tag_not_found", "Tag not found on this ticket")
	}
	return http.StatusOK, renderDetached(tg, &t.tags, adminID(adm), c.now), nil
}

// tagAndAdmin reads {id, admin_id} (attach) or the path tag id and {admin_id}
// (detach). Both ids may be strings or numbers.
func (s *Server) tagAndAdmin(c *call, fromBody bool) (*tag, *admin, error) {
	body, err := decodeObject(c.body, "")
	if err != nil {
		return nil, nil, err
	}
	tagID := c.r.PathValue("tag_id")
	if fromBody {
		id, ok, err := body.id("id")
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, errMissing("id")
		}
		tagID = id
	}
	adminID, ok, err := body.id("admin_id")
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errMissing("admin_id")
	}
	tg := s.ws.tag(tagID)
	if tg == nil {
		return nil, nil, errNotFound("tag_not_found", fmt.Sprintf("Tag %s not found", tagID))
	}
	a := s.ws.admin(adminID)
	if a == nil || a.team {
		return nil, nil, errNotFound("not_found", "Admin not found")
	}
	return tg, a, nil
}

// checkSkipNotifications refuses skip_notifications in a version whose
// description lacks it (2.11.yaml and 2.12.yaml; see skipNotifications).
func checkSkipNotifications(body object, v apiVersion) error {
	if body.has("skip_notifications") && !v.has(skipNotifications) {
		return notInVersion("skip_notifications", v, "")
	}
	if _, _, err := body.boolean("skip_notifications"); err != nil {
		return err
	}
	return nil
}
