package upstream

import "fmt"

// This file is the client's version model: every behaviour that differs between Intercom-Versions is
// decided by one row of one table below, and each row cites the published description that defines it
// (Intercom's OpenAPI descriptions, github.com/intercom/Intercom-OpenAPI, descriptions/<version>/
// api.intercom.io.yaml; "Preview" is descriptions/0, formerly called Unstable). The sandbox keeps its own,
// independent table (upstream/sandbox/versions.go), so that the two check each other.
//
// Versions the gateway supports: 2.11, 2.12, 2.13, 2.14, 2.15, 2.16 and Preview. Older numbered
// versions are accepted and behave as 2.11 (the oldest shapes the client encodes).

// SupportedVersions lists the Intercom-Versions whose descriptions the client is tested against, oldest
// first.
func SupportedVersions() []Version {
	return []Version{"2.11", "2.12", "2.13", "2.14", "2.15", "2.16", VersionPreview}
}

// since is the first numbered version that has something, as [major, minor]. Preview has everything
// that some numbered version has (it is where features appear first).
type since [2]int

func (s since) String() string { return fmt.Sprintf("%d.%d", s[0], s[1]) }

// operationSince is the endpoint table: the first version whose description has each operation.
// Operations not listed are in every supported version (2.11.yaml has them all).
var operationSince = map[Operation]since{
	// GET /ticket_states, operationId listTicketStates: first in 2.12.yaml (absent from 2.11.yaml).
	OpListTicketStates: {2, 12},
	// DELETE /tickets/{id}, operationId deleteTicket: first in 2.13.yaml (absent from 2.11.yaml and 2.12.yaml).
	OpDeleteTicket: {2, 13},
	// POST /tickets/search and the ticket tag endpoints are in 2.10.yaml and later (2.9.yaml lacks them).
	OpSearchTickets:       {2, 10},
	OpAttachTagToTicket:   {2, 10},
	OpDetachTagFromTicket: {2, 10},
}

// fallbackOps are the operations that a supported version may lack (2.11 and 2.12 lack deleteTicket, 2.11
// lacks listTicketStates) and that are then sent as Preview (WithPreviewFallback). A client on a version
// that lacks any other operation (2.9 has no ticket search) is refused by New.
var fallbackOps = map[Operation]bool{OpDeleteTicket: true, OpListTicketStates: true}

// feature is one version-dependent part of a request body.
type feature int

const (
	// featureStateID: update_ticket_request.ticket_state_id and company_id replace `state`.
	featureStateID feature = iota
	// featureSkipNotifications: skip_notifications on createTicket, updateTicket and replyTicket.
	featureSkipNotifications
	// featureFlatAssignment: update_ticket_request.admin_id (integer) + assignee_id replace assignment{}.
	featureFlatAssignment
	// featureCreateAssignment: create_ticket_request.assignment{admin_assignee_id, team_assignee_id}.
	featureCreateAssignment
	// featureContactReplyOptions: reply_options on a contact reply (contact_reply_base_request).
	featureContactReplyOptions
	// featureIntegerAssigneeSearch: admin_assignee_id / team_assignee_id search values are integers.
	featureIntegerAssigneeSearch
)

// featureRow is one row of the feature table.
type featureRow struct {
	// what names the feature in errors, the way the description spells it.
	what  string
	since since
}

// features is the request-shape table. Each row: the first version whose description has the feature,
// and where.
var features = map[feature]featureRow{
	// 2.12.yaml components/schemas/update_ticket_request: ticket_state_id and company_id appear and
	// `state` is gone (2.11.yaml has only state).
	featureStateID: {"ticket_state_id and company_id on update (update_ticket_request)", since{2, 12}},
	// 2.13.yaml: the createTicket, updateTicket and replyTicket request bodies add skip_notifications
	// beside their schema (allOf); 2.12.yaml has no skip_notifications anywhere.
	featureSkipNotifications: {"skip_notifications", since{2, 13}},
	// 2.14.yaml components/schemas/update_ticket_request: top-level admin_id (integer) and assignee_id
	// (string); 2.12.yaml and 2.13.yaml have assignment{admin_id, assignee_id} (strings) instead.
	featureFlatAssignment: {"admin_id and assignee_id on update (update_ticket_request)", since{2, 14}},
	// 2.14.yaml components/schemas/create_ticket_request.assignment; absent from 2.13.yaml.
	featureCreateAssignment: {"assigning on create (create_ticket_request.assignment)", since{2, 14}},
	// 2.14.yaml components/schemas/contact_reply_base_request.reply_options; 2.13.yaml has reply_options
	// only on admin_reply_ticket_request.
	featureContactReplyOptions: {"reply_options on a contact reply (contact_reply_base_request)", since{2, 14}},
	// 2.16.yaml components/schemas/ticket: admin_assignee_id and team_assignee_id become `type: integer`
	// (strings in 2.11.yaml to 2.15.yaml). The 2.16.yaml searchTickets description still lists both
	// fields as String in its field table while the same table in Preview (unstable.yaml) says Integer.
	// We follow the ticket schema: a search value is compared with the ticket's field, the 2.16 table is
	// word for word the table of 2.11 to 2.15 (it was not revised with the schema), and Preview, where the
	// schema change came from, revised the table to Integer. So 2.16 sends integers.
	featureIntegerAssigneeSearch: {"integer admin_assignee_id/team_assignee_id search values", since{2, 16}},
}

// has reports whether v's description has feature f.
func has(v Version, f feature) bool {
	s := features[f].since
	return v.atLeast(s[0], s[1])
}

// hasOperation reports whether v's description has op.
func hasOperation(v Version, op Operation) bool {
	s, ok := operationSince[op]
	return !ok || v.atLeast(s[0], s[1])
}

// require fails with ErrUnsupported when v lacks f, naming the first version that has it. The message
// reaches callers as FAILED_PRECONDITION (service/errors.go).
func require(op Operation, v Version, f feature) error {
	if has(v, f) {
		return nil
	}
	row := features[f]
	return unsupportedf("%s: %s requires Intercom-Version %s or later (or Preview); this workspace uses %s",
		op, row.what, row.since, v)
}

// requireOperation is require for a whole endpoint.
func requireOperation(op Operation, v Version, why string) error {
	if hasOperation(v, op) {
		return nil
	}
	return unsupportedf("%s requires Intercom-Version %s or later (or Preview); this workspace uses %s%s",
		op, operationSince[op], v, why)
}
