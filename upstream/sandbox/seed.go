package sandbox

import "fmt"

// Stable seed ids, exported so that tests and people exploring `make run` can
// address seeded objects directly.
const (
	// Admins and the team exist in every workspace, seeded or not.
	SeedAdminAda    = "991267943"
	SeedAdminBo     = "991267944"
	SeedAdminCy     = "991267945"
	SeedTeamSupport = "5017691"

	// Demo data (WithSeedData(true)).
	SeedTicketTypeBug      = "1" // Customer
	SeedTicketTypeInternal = "2" // Back-office
	SeedTicketTypeIncident = "3" // Tracker

	SeedContactAlice = "6610f0c0a1b2c3d4e5f60001"
	SeedContactBob   = "6610f0c0a1b2c3d4e5f60002"
	SeedContactCarol = "6610f0c0a1b2c3d4e5f60003"

	SeedCompanyAcme   = "6610f0c0a1b2c3d4e5f7c001" // company_id "acme"
	SeedCompanyGlobex = "6610f0c0a1b2c3d4e5f7c002" // company_id "globex"

	SeedConversation1 = "1001"
	SeedConversation2 = "1002"

	// Attributes of the Bug type: 101 _default_title_, 102 _default_description_,
	// then these. Priority is a list; its items have fixed ids.
	SeedAttributePriority      = "103"
	SeedAttributeAffectedUsers = "104" // integer
	SeedAttributeRegression    = "105" // boolean
	SeedPriorityLow            = "b0000001-0000-4000-8000-000000000001"
	SeedPriorityMedium         = "b0000001-0000-4000-8000-000000000002"
	SeedPriorityHigh           = "b0000001-0000-4000-8000-000000000003"

	// Custom states of the Bug type, beside the default states 201 submitted,
	// 202 in_progress, 203 waiting_on_customer and 204 resolved.
	SeedStateInvestigating = "205" // in_progress
	SeedStateWontFix       = "206" // resolved

	// Seeded tickets 4001..4006 (ticket_id 1..6); see seedWorkspace.
	SeedTicketLogin  = "4001" // Bug, submitted, Alice
	SeedTicketExport = "4002" // Bug, Investigating, Bob, assigned to Ada, tagged Billing
	SeedTicketTypo   = "4003" // Bug, waiting_on_customer, Carol, snoozed
	SeedTicketDark   = "4004" // Bug, resolved, closed
	SeedTicketRefund = "4005" // Internal task, in_progress, team Support
	SeedTicketOutage = "4006" // Incident, submitted, shared

	SeedTagVIP     = "9001"
	SeedTagBilling = "9002"
	SeedTagUrgent  = "9003"
)

// Fin is the bot that authors automatic ticket parts, as in the createTicket
// example of unstable.yaml.
var botFin = author{typ: "bot", id: "991267999", name: "Fin", email: "operator+" + workspaceID + "@intercom.io"}

// seedTime is the base of seeded timestamps (2025-01-06T09:00:00Z), fixed so
// that seeded data sorts the same on every run and before anything created
// at run time.
const seedTime int64 = 1736154000

func contactID(n int64) string { return fmt.Sprintf("6610f0c0a1b2c3d4e5f6%04d", n) }

// baseWorkspace is what every workspace has: admins, a team and the four
// default ticket states.
func baseWorkspace() *workspace {
	w := newWorkspace()
	w.admins = []*admin{
		{id: SeedAdminAda, name: "Ada Lovelace", email: "ada@sandbox.example"},
		{id: SeedAdminBo, name: "Bo Builder", email: "bo@sandbox.example"},
		{id: SeedAdminCy, name: "Cy Support", email: "cy@sandbox.example"},
		{id: SeedTeamSupport, name: "Support", email: "support@sandbox.example", team: true},
	}
	// Default states 201..204, shared by every ticket type (the listTicketStates
	// example shows one state listing several ticket types).
	for _, s := range []struct{ cat, internal, external string }{
		{stateSubmitted, "Submitted", "Submitted"},
		{stateInProgress, "In progress", "In progress"},
		{stateWaitingOnCustomer, "Waiting on customer", "Waiting on you"},
		{stateResolved, "Resolved", "Resolved"},
	} {
		w.states = append(w.states, &ticketState{id: w.next("state"), category: s.cat, internalLabel: s.internal, externalLabel: s.external})
	}
	return w
}

func defaultStateIDs(w *workspace) []string {
	var ids []string
	for _, s := range w.states[:4] {
		ids = append(ids, s.id)
	}
	return ids
}

// newTicketType creates a type with the two built-in attributes and the four
// default states that Intercom gives every new type.
func (w *workspace) newTicketType(name, description, category, icon string, internal bool, now int64) *ticketType {
	t := &ticketType{
		id: w.next("ticket_type"), name: name, description: description, category: category,
		icon: icon, isInternal: internal, createdAt: now, updatedAt: now, stateIDs: defaultStateIDs(w),
	}
	t.addAttribute(w, &attribute{name: "_default_title_", description: "Ticket title", dataType: "string",
		requiredToCreate: false, visibleOnCreate: true, visibleToContacts: true, isDefault: true}, now)
	t.addAttribute(w, &attribute{name: "_default_description_", description: "Ticket description", dataType: "string",
		multiline: true, visibleOnCreate: true, visibleToContacts: true, isDefault: true}, now)
	w.ticketTypes = append(w.ticketTypes, t)
	return t
}

func (t *ticketType) addAttribute(w *workspace, a *attribute, now int64) *attribute {
	a.id = w.next("attribute")
	a.ticketTypeID = t.id
	a.order = len(t.attributes)
	a.createdAt, a.updatedAt = now, now
	t.attributes = append(t.attributes, a)
	return a
}

func seedListItems(prefix string, labels ...string) []*listItem {
	var items []*listItem
	for i, l := range labels {
		items = append(items, &listItem{id: fmt.Sprintf("%s-0000-4000-8000-%012d", prefix, i+1), label: l})
	}
	return items
}

// seedWorkspace builds the demo workspace.
func seedWorkspace() *workspace {
	w := baseWorkspace()
	t0 := seedTime

	// Custom states for the Bug type, to make ticket_state_id meaningful.
	investigating := &ticketState{id: w.next("state"), category: stateInProgress, internalLabel: "Investigating", externalLabel: "We're looking into it"}
	wontFix := &ticketState{id: w.next("state"), category: stateResolved, internalLabel: "Won't fix", externalLabel: "Closed"}
	w.states = append(w.states, investigating, wontFix)

	bug := w.newTicketType("Bug", "A bug reported by a customer.", categoryCustomer, "🐞", false, t0)
	bug.stateIDs = append(bug.stateIDs, investigating.id, wontFix.id)
	bug.addAttribute(w, &attribute{name: "Priority", description: "How urgent the fix is", dataType: "list",
		listItems: seedListItems("b0000001", "Low", "Medium", "High"), visibleOnCreate: true, visibleToContacts: true}, t0)
	bug.addAttribute(w, &attribute{name: "Affected users", description: "How many users are affected", dataType: "integer",
		visibleOnCreate: true}, t0)
	bug.addAttribute(w, &attribute{name: "Regression", description: "Did this work before?", dataType: "boolean",
		visibleOnCreate: true, visibleToContacts: true}, t0)

	internal := w.newTicketType("Internal task", "Work done by the back office.", categoryBackOffice, "🗂️", true, t0+60)
	internal.addAttribute(w, &attribute{name: "Due date", description: "When it must be done", dataType: "datetime", visibleOnCreate: true}, t0+60)
	internal.addAttribute(w, &attribute{name: "Estimate", description: "Estimated hours", dataType: "decimal", visibleOnCreate: true}, t0+60)

	incident := w.newTicketType("Incident", "A problem affecting many customers.", categoryTracker, "🚨", false, t0+120)
	incident.addAttribute(w, &attribute{name: "Severity", description: "Incident severity", dataType: "list",
		listItems: seedListItems("b0000002", "SEV1", "SEV2", "SEV3"), requiredToCreate: true, visibleOnCreate: true}, t0+120)
	incident.addAttribute(w, &attribute{name: "Customer facing", description: "Do customers notice it?", dataType: "boolean", visibleOnCreate: true}, t0+120)

	for i, c := range []struct{ ext, email, name string }{
		{"ext-alice", "alice@example.com", "Alice Archer"},
		{"ext-bob", "bob@example.com", "Bob Baker"},
		{"ext-carol", "carol@example.com", "Carol Cole"},
	} {
		w.contacts = append(w.contacts, &contact{id: contactID(int64(i + 1)), externalID: c.ext, email: c.email, name: c.name})
		w.seq["contact"]++
	}
	w.companies = []*company{
		{id: SeedCompanyAcme, companyID: "acme", name: "Acme Corp"},
		{id: SeedCompanyGlobex, companyID: "globex", name: "Globex"},
	}
	w.seq["company"] = 3
	w.conversations = []*conversation{{id: w.next("conversation")}, {id: w.next("conversation")}}
	for _, name := range []string{"VIP", "Billing", "Urgent"} {
		w.tags = append(w.tags, &tag{id: w.next("tag"), name: name})
	}
	applyTag(&w.contacts[0].tags, SeedTagVIP, SeedAdminAda, t0)
	applyTag(&w.companies[0].tags, SeedTagVIP, SeedAdminAda, t0)

	prio := bug.attribute("Priority").listItems
	sev := incident.attribute("Severity").listItems
	type seedTicket struct {
		typ     *ticketType
		contact string
		title   string
		desc    string
		attrs   map[string]any
		state   *ticketState
		open    bool
		admin   int64
		team    int64
		shared  bool
		snoozed int64
		tags    []string
		offset  int64
	}
	st := func(t *ticketType, cat string) *ticketState { return w.stateOf(t, cat) }
	seeds := []seedTicket{
		{typ: bug, contact: SeedContactAlice, title: "Login button does nothing", desc: "Clicking Log in on Safari has no effect.",
			attrs: map[string]any{"Priority": prio[2].id, "Affected users": int64(120), "Regression": true}, state: st(bug, stateSubmitted), open: true, offset: 3600},
		{typ: bug, contact: SeedContactBob, title: "Export to CSV times out", desc: "Exports over 10k rows fail after 30 seconds.",
			attrs: map[string]any{"Priority": prio[1].id}, state: investigating, open: true, admin: 991267943, offset: 7200, tags: []string{SeedTagBilling}},
		{typ: bug, contact: SeedContactCarol, title: "Typo on the pricing page", desc: "\"Anual\" should be \"Annual\".",
			attrs: map[string]any{"Priority": prio[0].id, "Regression": false}, state: st(bug, stateWaitingOnCustomer), open: true, admin: 991267944, snoozed: seedTime + 30*86400, offset: 10800},
		{typ: bug, contact: SeedContactAlice, title: "Dark mode colours", desc: "Buttons are unreadable in dark mode.",
			attrs: map[string]any{"Priority": prio[0].id}, state: st(bug, stateResolved), open: false, admin: 991267943, offset: 14400},
		{typ: internal, contact: SeedContactAlice, title: "Refund invoice 1234", desc: "Customer was charged twice.",
			attrs: map[string]any{"Estimate": 1.5, "Due date": seedTime + 7*86400}, state: st(internal, stateInProgress), open: true, team: 5017691, offset: 18000, tags: []string{SeedTagBilling, SeedTagUrgent}},
		{typ: incident, contact: SeedContactBob, title: "EU region latency", desc: "p99 latency above 2 s in the EU region.",
			attrs: map[string]any{"Severity": sev[1].id, "Customer facing": true}, state: st(incident, stateSubmitted), open: true, shared: true, offset: 21600, tags: []string{SeedTagUrgent}},
	}
	for _, s := range seeds {
		at := t0 + s.offset
		attrs := map[string]any{"_default_title_": s.title, "_default_description_": s.desc}
		for k, v := range s.attrs {
			attrs[k] = v
		}
		tk := &ticket{
			id: w.next("ticket"), ticketID: w.next("ticket_number"), typeID: s.typ.id, category: s.typ.category,
			attrs: attrs, stateID: s.state.id, contactIDs: []string{s.contact}, adminAssignee: s.admin, teamAssignee: s.team,
			createdAt: at, updatedAt: at, open: s.open, snoozedUntil: s.snoozed, isShared: s.shared,
		}
		submitted := w.stateOf(s.typ, stateSubmitted)
		tk.parts = append(tk.parts, &ticketPart{id: w.next("part"), partType: "ticket_state_updated_by_admin",
			previousState: stateSubmitted, state: stateSubmitted, createdAt: at, updatedAt: at, author: botFin})
		if s.state.id != submitted.id {
			tk.previousStateID = submitted.id
			tk.parts = append(tk.parts, &ticketPart{id: w.next("part"), partType: "ticket_state_updated_by_admin",
				previousState: stateSubmitted, state: s.state.category, createdAt: at + 60, updatedAt: at + 60,
				author: adminAuthor(w.admin(SeedAdminAda))})
			tk.updatedAt = at + 60
		}
		for _, tg := range s.tags {
			applyTag(&tk.tags, tg, SeedAdminAda, at)
		}
		w.tickets = append(w.tickets, tk)
	}
	return w
}

func adminAuthor(a *admin) author {
	typ := "admin"
	if a.team {
		typ = "team"
	}
	return author{typ: typ, id: a.id, name: a.name, email: a.email}
}
