package sandbox_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/internal/intercomspec"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

type conformanceCase struct {
	op     string
	method string
	path   string
	body   any
	// from and upto bound the descriptions (intercomspec.Versions spelling) that have the operation or
	// body; empty means unbounded.
	from, upto string
}

// in reports whether version is within the case's bounds.
func (c conformanceCase) in(version string) bool {
	i := slices.Index(intercomspec.Versions, version)
	return (c.from == "" || i >= slices.Index(intercomspec.Versions, c.from)) &&
		(c.upto == "" || i <= slices.Index(intercomspec.Versions, c.upto))
}

// conformanceCases has one valid request per operation the gateway uses.
// Each case runs against a fresh seeded sandbox.
func conformanceCases() []conformanceCase {
	prioHigh := "b0000001-0000-4000-8000-000000000003"
	return []conformanceCase{
		{op: "listTicketTypes", method: "GET", path: "/ticket_types"},
		{op: "createTicketType", method: "POST", path: "/ticket_types", body: map[string]any{
			"name": "Conformance", "description": "Made by a test", "category": "Back-office", "icon": "🧪", "is_internal": false}},
		{op: "getTicketType", method: "GET", path: "/ticket_types/" + sandbox.SeedTicketTypeBug},
		{op: "updateTicketType", method: "PUT", path: "/ticket_types/" + sandbox.SeedTicketTypeBug, body: map[string]any{
			"description": "Bugs, updated", "archived": false}},
		{op: "createTicketTypeAttribute", method: "POST", path: "/ticket_types/1/attributes", body: map[string]any{
			"name": "Component", "description": "Which part", "data_type": "list", "list_items": "API,UI", "required_to_create": false}},
		{op: "updateTicketTypeAttribute", method: "PUT", path: "/ticket_types/1/attributes/" + sandbox.SeedAttributePriority + "", body: map[string]any{
			"description": "Updated", "list_items": "Low,Medium,High,Critical"}},
		{op: "createTicket", method: "POST", path: "/tickets", body: map[string]any{
			"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}},
			"ticket_attributes": map[string]any{"_default_title_": "Broken", "_default_description_": "It broke", "Priority": prioHigh}}},
		{op: "createTicket", method: "POST", path: "/tickets", body: map[string]any{
			"ticket_type_id": "3", "contacts": []any{map[string]any{"email": "new@example.com"}},
			"ticket_attributes": map[string]any{"_default_title_": "Outage", "Severity": "SEV1"}}},
		{op: "createTicket", method: "POST", path: "/tickets", from: "2.14", body: map[string]any{
			"ticket_type_id": "1", "contacts": []any{map[string]any{"email": "carol@example.com"}}, "skip_notifications": true,
			"ticket_attributes": map[string]any{"_default_title_": "Assigned", "_default_description_": "On create"},
			"assignment":        map[string]any{"admin_assignee_id": sandbox.SeedAdminBo, "team_assignee_id": sandbox.SeedTeamSupport}}},
		{op: "getTicket", method: "GET", path: "/tickets/4002"},
		{op: "updateTicket", method: "PUT", path: "/tickets/4001", upto: "2.11", body: map[string]any{
			"state": "in_progress", "is_shared": true, "ticket_attributes": map[string]any{"Regression": false},
			"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": sandbox.SeedAdminBo}}},
		// 2.12.yaml and 2.13.yaml: ticket_state_id and company_id, and still assignment{}.
		{op: "updateTicket", method: "PUT", path: "/tickets/4001", from: "2.12", upto: "2.12", body: map[string]any{
			"ticket_state_id": "205", "company_id": sandbox.SeedCompanyAcme,
			"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": sandbox.SeedAdminBo}}},
		{op: "updateTicket", method: "PUT", path: "/tickets/4001", from: "2.13", upto: "2.13", body: map[string]any{
			"ticket_state_id": "205", "skip_notifications": true,
			"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": "0"}}},
		{op: "updateTicket", method: "PUT", path: "/tickets/4001", from: "2.14", body: map[string]any{
			"ticket_state_id": "205", "is_shared": true, "admin_id": 991267943, "assignee_id": sandbox.SeedTeamSupport,
			"skip_notifications": true}},
		{op: "updateTicket", method: "PUT", path: "/tickets/4003", body: map[string]any{"open": false}},
		{op: "replyTicket", method: "POST", path: "/tickets/4001/reply", body: map[string]any{
			"message_type": "comment", "type": "admin", "admin_id": sandbox.SeedAdminAda, "body": "Looking into it"}},
		{op: "replyTicket", method: "POST", path: "/tickets/4001/reply", body: map[string]any{
			"message_type": "note", "type": "admin", "admin_id": sandbox.SeedAdminBo, "body": "<p>Internal</p>"}},
		{op: "replyTicket", method: "POST", path: "/tickets/4001/reply", body: map[string]any{
			"message_type": "comment", "type": "user", "intercom_user_id": sandbox.SeedContactAlice, "body": "Thanks"}},
		{op: "replyTicket", method: "POST", path: "/tickets/4001/reply", from: "2.14", body: map[string]any{
			"message_type": "comment", "type": "user", "email": "alice@example.com", "body": "Which one?",
			"reply_options": []any{map[string]any{"text": "A", "uuid": "0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d12"}}}},
		// Assignee values are strings in every search table up to 2.15 and integers from 2.16 on.
		{op: "searchTickets", method: "POST", path: "/tickets/search", upto: "2.15", body: map[string]any{
			"query": map[string]any{"field": "admin_assignee_id", "operator": "IN", "value": []any{"991267943", "991267944"}}}},
		{op: "searchTickets", method: "POST", path: "/tickets/search", from: "2.16", body: map[string]any{
			"query": map[string]any{"field": "admin_assignee_id", "operator": "IN", "value": []any{991267943, 991267944}}}},
		{op: "deleteTicket", method: "DELETE", path: "/tickets/4004", from: "2.13"},
		{op: "searchTickets", method: "POST", path: "/tickets/search", body: map[string]any{
			"query": map[string]any{"operator": "AND", "value": []any{
				map[string]any{"field": "open", "operator": "=", "value": true},
				map[string]any{"field": "category", "operator": "=", "value": "Customer"},
			}},
			"pagination": map[string]any{"per_page": 2}}},
		{op: "attachTagToTicket", method: "POST", path: "/tickets/4001/tags", body: map[string]any{
			"id": sandbox.SeedTagVIP, "admin_id": sandbox.SeedAdminAda}},
		{op: "detachTagFromTicket", method: "DELETE", path: "/tickets/4002/tags/" + sandbox.SeedTagBilling, body: map[string]any{
			"admin_id": sandbox.SeedAdminAda}},
		{op: "listTicketStates", method: "GET", path: "/ticket_states", from: "2.12"},
		{op: "listTags", method: "GET", path: "/tags"},
		{op: "createTag", method: "POST", path: "/tags", body: map[string]any{"name": "New tag"}},
		{op: "createTag", method: "POST", path: "/tags", body: map[string]any{"id": sandbox.SeedTagUrgent, "name": "Very urgent"}},
		{op: "createTag", method: "POST", path: "/tags", body: map[string]any{"name": "Enterprise",
			"companies": []any{map[string]any{"id": sandbox.SeedCompanyAcme}, map[string]any{"company_id": "globex"}}}},
		{op: "createTag", method: "POST", path: "/tags", body: map[string]any{"name": "VIP",
			"companies": []any{map[string]any{"id": sandbox.SeedCompanyAcme, "company_id": "acme", "untag": true}}}},
		{op: "createTag", method: "POST", path: "/tags", body: map[string]any{"name": "Beta",
			"users": []any{map[string]any{"id": sandbox.SeedContactBob}}}},
		{op: "findTag", method: "GET", path: "/tags/" + sandbox.SeedTagVIP},
		{op: "deleteTag", method: "DELETE", path: "/tags/" + sandbox.SeedTagBilling},
		{op: "listTagsForAContact", method: "GET", path: "/contacts/" + sandbox.SeedContactAlice + "/tags"},
		{op: "attachTagToContact", method: "POST", path: "/contacts/" + sandbox.SeedContactBob + "/tags", body: map[string]any{
			"id": sandbox.SeedTagUrgent}},
		{op: "detachTagFromContact", method: "DELETE", path: "/contacts/" + sandbox.SeedContactAlice + "/tags/" + sandbox.SeedTagVIP},
		{op: "attachTagToConversation", method: "POST", path: "/conversations/" + sandbox.SeedConversation1 + "/tags", body: map[string]any{
			"id": sandbox.SeedTagVIP, "admin_id": sandbox.SeedAdminAda}},
		{op: "detachTagFromConversation", method: "DELETE", path: "/conversations/" + sandbox.SeedConversation1 + "/tags/" + sandbox.SeedTagVIP,
			body: map[string]any{"admin_id": sandbox.SeedAdminAda}},
	}
}

// headerFor is the Intercom-Version each description documents as its own.
var headerFor = map[string]string{"2.11": "2.11", "2.12": "2.12", "2.13": "2.13", "2.14": "2.14", "2.15": "2.15",
	"2.16": "2.16", "unstable": "Preview"}

// TestConformance sends one valid request per operation and body shape to each
// of 2.11 to 2.16 and Preview, and checks both the request and the sandbox's
// answer against that version's OpenAPI description (with the patches listed
// in intercomspec.KnownSpecErrors). Each description is loaded once.
func TestConformance(t *testing.T) {
	t.Parallel()
	intercomspec.Load(t, "2.11") // skips when the descriptions are absent
	for _, version := range intercomspec.Versions {
		for i, tc := range conformanceCases() {
			if !tc.in(version) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s#%d", version, tc.op, i), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				r := e.do(tc.method, tc.path, headerFor[version], tc.body)
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				if got := intercomspec.OperationID(t, version, r.req); got != tc.op {
					t.Fatalf("spec operation = %q, want %q", got, tc.op)
				}
				if err := intercomspec.ValidateRequest(t, version, r.req, r.sent); err != nil {
					t.Errorf("request does not conform: %v", err)
				}
				if err := intercomspec.ValidateResponse(t, version, r.req, r.sent, r.status, r.header, r.body); err != nil {
					t.Errorf("response does not conform: %v\n%s", err, r.body)
				}
				reqs := e.srv.Requests()
				if len(reqs) != 1 || reqs[0].Route != tc.op {
					t.Errorf("recorded route = %+v, want one request for %s", reqs, tc.op)
				}
			})
		}
	}
}

// TestConformanceErrors checks documented error answers against the descriptions.
func TestConformanceErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, version, method, path string
		body                        any
		auth                        bool
		status                      int
	}{
		{"401 on get ticket", "2.11", "GET", "/tickets/4001", nil, false, 401},
		{"401 on list tags", "unstable", "GET", "/tags", nil, false, 401},
		{"404 tag", "2.11", "GET", "/tags/1", nil, true, 404},
		{"404 delete ticket", "unstable", "DELETE", "/tickets/99", nil, true, 404},
		{"404 contact tags", "2.11", "GET", "/contacts/nope/tags", nil, true, 404},
		{"400 user reply on back-office", "2.11", "POST", "/tickets/4005/reply", map[string]any{
			"message_type": "comment", "type": "user", "intercom_user_id": sandbox.SeedContactAlice, "body": "hi"}, true, 400},
		{"404 attach tag to unknown ticket", "2.11", "POST", "/tickets/1/tags", map[string]any{
			"id": sandbox.SeedTagVIP, "admin_id": sandbox.SeedAdminAda}, true, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			intercomspec.Load(t, tc.version)
			e := newEnv(t)
			var r response
			if tc.auth {
				r = e.do(tc.method, tc.path, headerFor[tc.version], tc.body)
			} else {
				r = e.doWith(tc.method, tc.path, headerFor[tc.version], tc.body, nil)
			}
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if err := intercomspec.ValidateResponse(t, tc.version, r.req, r.sent, r.status, r.header, r.body); err != nil {
				t.Errorf("response does not conform: %v\n%s", err, r.body)
			}
		})
	}
}
