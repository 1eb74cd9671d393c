package sandbox

import (
	"strconv"
)

// The in-memory workspace. Everything is guarded by Server.mu.

// Ticket categories (2.11.yaml ticket.category, ticket_type.category).
const (
	categoryCustomer   = "Customer"
	categoryBackOffice = "Back-office"
	categoryTracker    = "Tracker"
)

// State categories (2.11.yaml ticket.ticket_state; unstable.yaml ticket_state.category).
const (
	stateSubmitted         = "submitted"
	stateInProgress        = "in_progress"
	stateWaitingOnCustomer = "waiting_on_customer"
	stateResolved          = "resolved"
)

// workspaceID is what every object reports as workspace_id.
const workspaceID = "sandbox1"

type ticketType struct {
	id          string
	name        string
	description string
	category    string
	icon        string
	isInternal  bool
	archived    bool
	createdAt   int64
	updatedAt   int64
	attributes  []*attribute
	stateIDs    []string // workspace states this type uses, in order
}

// attribute is a ticket_type_attribute (2.11.yaml).
type attribute struct {
	id                  string
	ticketTypeID        string
	name                string
	description         string
	dataType            string
	multiline           bool
	allowMultiple       bool
	listItems           []*listItem
	order               int
	requiredToCreate    bool
	requiredForContacts bool
	visibleOnCreate     bool
	visibleToContacts   bool
	isDefault           bool
	archived            bool
	createdAt           int64
	updatedAt           int64
}

type listItem struct {
	id       string
	label    string
	archived bool
}

// ticketState is a workspace-level state (unstable.yaml ticket_state_detailed);
// ticket types link to a subset of them, as in the listTicketStates example.
type ticketState struct {
	id            string
	category      string
	internalLabel string
	externalLabel string
	archived      bool
}

type ticket struct {
	id              string
	ticketID        string // the Inbox number; a different sequence from id (2.11.yaml ticket.ticket_id)
	typeID          string
	category        string
	attrs           map[string]any // by attribute name; list attributes hold the list item id
	stateID         string
	previousStateID string
	contactIDs      []string
	companyID       string
	adminAssignee   int64 // 0 = unassigned
	teamAssignee    int64
	createdAt       int64
	updatedAt       int64
	open            bool
	snoozedUntil    int64
	isShared        bool
	parts           []*ticketPart
	tags            []applied
}

type ticketPart struct {
	id            string
	partType      string
	body          *string
	previousState string
	state         string
	createdAt     int64
	updatedAt     int64
	assignedTo    *ref
	author        author
}

type author struct {
	typ   string // admin | bot | team | user
	id    string
	name  string
	email string
}

type ref struct {
	typ string
	id  string
}

type tag struct {
	id   string
	name string
}

// applied is a tag on an object, with who applied it and when (2.11.yaml tag.applied_at/applied_by).
type applied struct {
	tagID     string
	appliedAt int64
	adminID   string // "" when applied without an admin (contacts)
}

type contact struct {
	id         string
	externalID string
	email      string
	name       string
	tags       []applied
}

type company struct {
	id        string // Intercom's id
	companyID string // the id set by the customer on creation
	name      string
	tags      []applied
}

type admin struct {
	id    string
	name  string
	email string
	team  bool
}

type conversation struct {
	id   string
	tags []applied
}

// workspace is the whole mutable state. It is replaced wholesale by Reset.
type workspace struct {
	ticketTypes   []*ticketType // in creation order
	states        []*ticketState
	tickets       []*ticket // in creation order; search sorts itself
	tags          []*tag
	contacts      []*contact
	companies     []*company
	admins        []*admin
	conversations []*conversation

	seq map[string]int64 // next id per kind
}

func newWorkspace() *workspace {
	return &workspace{seq: map[string]int64{
		"ticket_type": 1, "attribute": 101, "state": 201, "ticket": 4001, "ticket_number": 1,
		"part": 7001, "tag": 9001, "contact": 1, "company": 1, "conversation": 1001,
	}}
}

// find returns the first item that match accepts, or nil: the lookup behind every finder below.
func find[T any](items []*T, match func(*T) bool) *T {
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	return nil
}

func (w *workspace) next(kind string) string {
	n := w.seq[kind]
	w.seq[kind] = n + 1
	return strconv.FormatInt(n, 10)
}

func (w *workspace) ticketType(id string) *ticketType {
	return find(w.ticketTypes, func(t *ticketType) bool { return t.id == id })
}

func (w *workspace) state(id string) *ticketState {
	return find(w.states, func(s *ticketState) bool { return s.id == id })
}

func (w *workspace) ticket(id string) *ticket {
	return find(w.tickets, func(t *ticket) bool { return t.id == id })
}

func (w *workspace) tag(id string) *tag {
	return find(w.tags, func(t *tag) bool { return t.id == id })
}

func (w *workspace) contact(id string) *contact {
	return find(w.contacts, func(c *contact) bool { return c.id == id })
}

// contactBy finds a contact the ways Intercom's request bodies name one: by "id", "external_id" or
// "email" (case-insensitively).
func (w *workspace) contactBy(key, val string) *contact {
	return find(w.contacts, func(c *contact) bool {
		return (key == "id" && c.id == val) || (key == "external_id" && c.externalID == val) ||
			(key == "email" && equalFold(c.email, val))
	})
}

func (w *workspace) admin(id string) *admin {
	return find(w.admins, func(a *admin) bool { return a.id == id })
}

func (w *workspace) conversation(id string) *conversation {
	return find(w.conversations, func(c *conversation) bool { return c.id == id })
}

func (t *ticketType) attribute(idOrName string) *attribute {
	return find(t.attributes, func(a *attribute) bool { return a.id == idOrName || a.name == idOrName })
}

// stateOf returns the type's first non-archived state in category, preferring
// the workspace default (the lowest id).
func (w *workspace) stateOf(t *ticketType, category string) *ticketState {
	for _, id := range t.stateIDs {
		if s := w.state(id); s != nil && s.category == category && !s.archived {
			return s
		}
	}
	return nil
}

func hasState(t *ticketType, id string) bool {
	for _, s := range t.stateIDs {
		if s == id {
			return true
		}
	}
	return false
}

// applyTag adds tagID to list unless present, returning the (new or existing) entry.
func applyTag(list *[]applied, tagID, adminID string, now int64) applied {
	for _, a := range *list {
		if a.tagID == tagID {
			return a
		}
	}
	a := applied{tagID: tagID, appliedAt: now, adminID: adminID}
	*list = append(*list, a)
	return a
}

func hasTag(list []applied, tagID string) bool {
	for _, a := range list {
		if a.tagID == tagID {
			return true
		}
	}
	return false
}

// removeTag removes tagID from list and returns the removed entry.
func removeTag(list *[]applied, tagID string) (applied, bool) {
	for i, a := range *list {
		if a.tagID == tagID {
			*list = append((*list)[:i], (*list)[i+1:]...)
			return a, true
		}
	}
	return applied{}, false
}

// tokenAdmin is the admin an access token acts as: Intercom records it as
// applied_by when a contact is tagged, an operation whose request names no
// admin (2.11.yaml attachTagToContact answers applied_by {type: admin}).
// The sandbox's tokens all act as its first admin.
func (w *workspace) tokenAdmin() string {
	for _, a := range w.admins {
		if !a.team {
			return a.id
		}
	}
	return ""
}
