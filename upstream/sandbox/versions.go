package sandbox

import (
	"net/http"
	"strconv"
	"strings"
)

// The sandbox's version model. It is deliberately separate from the client's (upstream/versions.go):
// the sandbox is the independent check of what the gateway sends, so it reads the descriptions on its
// own. Each row names the first description that has the behaviour; the descriptions are Intercom's
// published OpenAPI files (github.com/intercom/Intercom-OpenAPI, descriptions/<version>/
// api.intercom.io.yaml, with descriptions/0 labelled Preview).

// apiVersion is a requested Intercom-Version: the minor number of a 2.x version (2.11 and older are all
// 11, the oldest shapes the sandbox answers), or versionPreview.
type apiVersion int

const (
	version211     apiVersion = 11   // 2.11 and older: the shapes of 2.11.yaml
	versionPreview apiVersion = 1000 // Preview (Unstable): the shapes of unstable.yaml
)

func (v apiVersion) String() string {
	if v == versionPreview {
		return "Preview"
	}
	return "2." + strconv.Itoa(int(v))
}

// behaviour is one thing that differs between versions.
type behaviour int

const (
	// stateObject: ticket.ticket_state is a ticket_state object (with the labels inside it) and
	// ticket_type has ticket_states, instead of 2.11's category string and top-level labels.
	stateObject behaviour = iota
	// previousStateID: ticket.previous_ticket_state_id.
	previousStateID
	// integerAssignees: ticket.admin_assignee_id/team_assignee_id are integers, and so are the values
	// of those fields in a search.
	integerAssignees
	// updateStateID: update_ticket_request has ticket_state_id and company_id, and no `state`.
	updateStateID
	// flatAssignment: update_ticket_request has top-level admin_id (integer) and assignee_id, and no
	// assignment{admin_id, assignee_id}.
	flatAssignment
	// createAssignment: create_ticket_request.assignment{admin_assignee_id, team_assignee_id}.
	createAssignment
	// skipNotifications: createTicket, updateTicket and replyTicket bodies take skip_notifications.
	skipNotifications
	// contactReplyOptions: a contact reply may carry reply_options.
	contactReplyOptions
	// companyByIntercomID: create_ticket_request.company_id is Intercom's company id, not the
	// company_id you set.
	companyByIntercomID
	// tagCreateResponse: createTag answers tag_create_response (with users/companies and a tagged flag)
	// and documents no 404 for unknown users or companies.
	tagCreateResponse
	// opListTicketStates: GET /ticket_states exists.
	opListTicketStates
	// opDeleteTicket: DELETE /tickets/{id} exists.
	opDeleteTicket
)

// firstVersion is the version table: the first minor 2.x version whose description has each behaviour.
// Preview has all of them.
var firstVersion = map[behaviour]apiVersion{
	stateObject:         12, // 2.12.yaml schemas ticket.ticket_state ($ref ticket_state), ticket_type.ticket_states
	previousStateID:     16, // 2.16.yaml schemas ticket.previous_ticket_state_id (absent from 2.12 to 2.15)
	integerAssignees:    16, // 2.16.yaml schemas ticket.admin_assignee_id: integer (string in 2.11 to 2.15)
	updateStateID:       12, // 2.12.yaml schemas update_ticket_request.ticket_state_id, company_id
	flatAssignment:      14, // 2.14.yaml schemas update_ticket_request.admin_id, assignee_id
	createAssignment:    14, // 2.14.yaml schemas create_ticket_request.assignment
	skipNotifications:   13, // 2.13.yaml paths /tickets post, /tickets/{id} put, /tickets/{id}/reply post
	contactReplyOptions: 14, // 2.14.yaml schemas contact_reply_base_request.reply_options
	companyByIntercomID: 12, // 2.12.yaml create_ticket_request.company_id: "given by Intercom"
	tagCreateResponse:   16, // 2.16.yaml paths /tags post: 200 tag_create_response, no 404
	opListTicketStates:  12, // 2.12.yaml paths /ticket_states get
	opDeleteTicket:      13, // 2.13.yaml paths /tickets/{id} delete
}

// opBehaviour names the behaviour of the operations that not every version has.
var opBehaviour = map[string]behaviour{"listTicketStates": opListTicketStates, "deleteTicket": opDeleteTicket}

// has reports whether v's description has b.
func (v apiVersion) has(b behaviour) bool { return v >= firstVersion[b] }

// notInVersion is the answer to a request field that v's description does not have: 400
// parameter_invalid naming the field, so that nothing is silently dropped.
func notInVersion(field string, v apiVersion, hint string) error {
	msg := field + " is not supported in Intercom-Version " + v.String()
	if hint != "" {
		msg += "; " + hint
	}
	return errInvalid(field, "%s", msg)
}

// parseVersion maps the Intercom-Version header. A missing header means 2.11
// (the gateway's default and the default of 2.11.yaml's intercom_version).
// "Unstable" is accepted as the pre-2026 name of "Preview". Numbered versions
// newer than the newest description the sandbox knows (2.16) answer as Preview.
func parseVersion(h string) (apiVersion, error) {
	h = strings.TrimSpace(h)
	switch strings.ToLower(h) {
	case "":
		return version211, nil
	case "preview", "unstable":
		return versionPreview, nil
	}
	major, minor, ok := strings.Cut(h, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if !ok || err1 != nil || err2 != nil || ma < 1 || ma > 2 || mi < 0 {
		return 0, &apiError{status: http.StatusBadRequest, code: "intercom_version_invalid",
			message: "The requested version could not be found: " + h, field: "Intercom-Version"}
	}
	switch {
	case ma < 2 || mi <= 11:
		return version211, nil
	case mi > 16:
		return versionPreview, nil
	}
	return apiVersion(mi), nil
}
