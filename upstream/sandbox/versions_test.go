package sandbox_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

func TestVersionShapes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	legacy := map[string]any{
		"ticket_state": "in_progress", "ticket_state_internal_label": "Investigating",
		"ticket_state_external_label": "We're looking into it",
		"admin_assignee_id":           "991267943", "team_assignee_id": "0",
	}
	preview := map[string]any{
		"ticket_state": map[string]any{"type": "ticket_state", "id": sandbox.SeedStateInvestigating, "category": "in_progress",
			"internal_label": "Investigating", "external_label": "We're looking into it"},
		"previous_ticket_state_id": "201",
		"admin_assignee_id":        float64(991267943), "team_assignee_id": float64(0),
	}
	// 2.12.yaml to 2.15.yaml: the ticket_state object, but string assignee ids and no
	// previous_ticket_state_id (both arrive in 2.16.yaml).
	middle := map[string]any{
		"ticket_state":      preview["ticket_state"],
		"admin_assignee_id": "991267943", "team_assignee_id": "0",
	}
	cases := []struct {
		header string
		want   map[string]any
	}{
		{"", legacy}, {"2.11", legacy}, {"2.9", legacy}, {"1.4", legacy},
		{"2.12", middle}, {"2.13", middle}, {"2.14", middle}, {"2.15", middle},
		{"Preview", preview}, {"Unstable", preview}, {"unstable", preview}, {"2.16", preview},
	}
	keys := []string{"ticket_state", "ticket_state_internal_label", "ticket_state_external_label",
		"previous_ticket_state_id", "admin_assignee_id", "team_assignee_id"}
	for _, tc := range cases {
		t.Run("version "+tc.header, func(t *testing.T) {
			t.Parallel()
			got := e.mustOK("GET", "/tickets/"+sandbox.SeedTicketExport, tc.header, nil).json(t)
			sub := map[string]any{}
			for _, k := range keys {
				if v, ok := got[k]; ok {
					sub[k] = v
				}
			}
			if diff := cmp.Diff(tc.want, sub); diff != "" {
				t.Errorf("version fields (-want +got):\n%s", diff)
			}
			_, hasStates := got["ticket_type"].(map[string]any)["ticket_states"]
			_, stateObject := tc.want["ticket_state"].(map[string]any)
			if wantStates := stateObject; hasStates != wantStates {
				t.Errorf("ticket_type.ticket_states present = %v, want %v", hasStates, wantStates)
			}
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		t.Parallel()
		r := e.do("GET", "/tickets/4001", "banana", nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != "intercom_version_invalid" {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	})
}

func TestPreviewOnlyOperations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, v := range []string{"2.11", ""} {
		for _, path := range []string{"/ticket_states"} {
			if r := e.do("GET", path, v, nil); r.status != 404 || r.errorCode(t) != "not_found" {
				t.Errorf("GET %s in %q: %d %s", path, v, r.status, r.body)
			}
		}
		if r := e.do("DELETE", "/tickets/4001", v, nil); r.status != 404 || r.errorCode(t) != "not_found" {
			t.Errorf("DELETE ticket in %q: %d %s", v, r.status, r.body)
		}
	}
	// The ticket survived the 2.11 delete; Preview deletes it.
	var del map[string]any
	e.mustOK("DELETE", "/tickets/4001", "Preview", nil).decode(t, &del)
	if diff := cmp.Diff(map[string]any{"id": "4001", "object": "ticket", "deleted": true}, del); diff != "" {
		t.Errorf("delete answer (-want +got):\n%s", diff)
	}
	if r := e.do("GET", "/tickets/4001", "Preview", nil); r.status != 404 || r.errorCode(t) != "ticket_not_found" {
		t.Errorf("GET deleted ticket: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/tickets/4001", "Preview", nil); r.status != 404 || r.errorCode(t) != "ticket_not_found" {
		t.Errorf("second delete: %d %s", r.status, r.body)
	}

	var states struct {
		Type string `json:"type"`
		Data []struct {
			Type, ID, Category string
			TicketTypes        struct {
				Data []struct{ ID string } `json:"data"`
			} `json:"ticket_types"`
		} `json:"data"`
	}
	e.mustOK("GET", "/ticket_states", "Preview", nil).decode(t, &states)
	if states.Type != "list" || len(states.Data) != 6 {
		t.Fatalf("ticket states: %+v", states)
	}
	// The default submitted state is shared by all three seeded types;
	// Investigating belongs to Bug only.
	if n := len(states.Data[0].TicketTypes.Data); states.Data[0].Category != "submitted" || n != 3 {
		t.Errorf("submitted state lists %d types", n)
	}
	if d := states.Data[4]; d.ID != sandbox.SeedStateInvestigating || len(d.TicketTypes.Data) != 1 || d.TicketTypes.Data[0].ID != "1" {
		t.Errorf("investigating state: %+v", d)
	}
}

func TestUpdateBodyByVersion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		version string
		ticket  string
		body    map[string]any
		status  int
		code    string
	}{
		{"2.11 state", "2.11", "4001", map[string]any{"state": "resolved"}, 200, ""},
		{"2.11 submitted cannot be set", "2.11", "4002", map[string]any{"state": "submitted"}, 400, "parameter_invalid"},
		{"2.11 rejects ticket_state_id", "2.11", "4001", map[string]any{"ticket_state_id": "202"}, 400, "parameter_invalid"},
		{"Preview rejects state", "Preview", "4001", map[string]any{"state": "resolved"}, 400, "parameter_invalid"},
		{"Preview ticket_state_id", "Preview", "4001", map[string]any{"ticket_state_id": sandbox.SeedStateWontFix}, 200, ""},
		{"Preview state of another type", "Preview", sandbox.SeedTicketRefund, map[string]any{"ticket_state_id": sandbox.SeedStateWontFix}, 400, "ticket_state_id_invalid"},
		{"Preview unknown state", "Preview", "4001", map[string]any{"ticket_state_id": "999"}, 400, "ticket_state_id_invalid"},
		{"2.11 unknown assignee", "2.11", "4001", map[string]any{"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": "123"}}, 404, "assignee_not_found"},
		{"2.11 unknown acting admin", "2.11", "4001", map[string]any{"assignment": map[string]any{"admin_id": "123", "assignee_id": "0"}}, 404, "assignee_not_found"},
		{"Preview admin_id as integer", "Preview", "4001", map[string]any{"admin_id": 991267943, "assignee_id": "991267944"}, 200, ""},
		// 2.12 and 2.13 document assignment{} beside ticket_state_id; 2.14 on the top-level fields.
		{"2.12 assignment{}", "2.12", "4001", map[string]any{"ticket_state_id": sandbox.SeedStateWontFix,
			"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": sandbox.SeedAdminBo}}, 200, ""},
		{"2.13 rejects top-level admin_id", "2.13", "4001", map[string]any{"admin_id": 991267943, "assignee_id": "991267944"}, 400, "parameter_invalid"},
		{"2.14 rejects assignment{}", "2.14", "4001", map[string]any{"assignment": map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": "0"}}, 400, "parameter_invalid"},
		{"2.11 rejects company_id", "2.11", "4001", map[string]any{"company_id": "acme"}, 400, "parameter_invalid"},
		{"2.12 rejects skip_notifications", "2.12", "4001", map[string]any{"open": true, "skip_notifications": true}, 400, "parameter_invalid"},
		{"2.13 skip_notifications", "2.13", "4001", map[string]any{"open": true, "skip_notifications": true}, 200, ""},
		{"wrong type for open", "2.11", "4001", map[string]any{"open": "no"}, 400, "parameter_invalid"},
		{"unknown attribute", "2.11", "4001", map[string]any{"ticket_attributes": map[string]any{"Colour": "red"}}, 400, "parameter_invalid"},
		{"attribute of wrong type", "2.11", "4001", map[string]any{"ticket_attributes": map[string]any{"Affected users": "many"}}, 400, "parameter_invalid"},
		{"unknown ticket", "2.11", "1", map[string]any{"open": false}, 404, "ticket_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			before := e.mustOK("GET", "/tickets/"+sandbox.SeedTicketLogin, tc.version, nil).body
			r := e.do("PUT", "/tickets/"+tc.ticket, tc.version, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if code := r.errorCode(t); code != tc.code {
					t.Errorf("code %q, want %q", code, tc.code)
				}
				// A rejected update changes nothing.
				after := e.mustOK("GET", "/tickets/"+sandbox.SeedTicketLogin, tc.version, nil).body
				if string(before) != string(after) {
					t.Errorf("rejected update changed the ticket")
				}
			}
		})
	}
}

func TestUpdateSemantics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Closing a snoozed ticket unsnoozes it.
	got := e.mustOK("PUT", "/tickets/"+sandbox.SeedTicketTypo, "2.11", map[string]any{"open": false}).json(t)
	if got["open"] != false || got["snoozed_until"] != nil {
		t.Errorf("closed ticket: open=%v snoozed_until=%v", got["open"], got["snoozed_until"])
	}
	// 2.11 assignment to a team, state change and attributes in one update.
	got = e.mustOK("PUT", "/tickets/"+sandbox.SeedTicketLogin, "2.11", map[string]any{
		"state": "waiting_on_customer", "snoozed_until": 1900000000, "is_shared": true,
		"ticket_attributes": map[string]any{"Priority": sandbox.SeedPriorityLow, "Affected users": 3},
		"assignment":        map[string]any{"admin_id": sandbox.SeedAdminAda, "assignee_id": sandbox.SeedTeamSupport},
	}).json(t)
	want := map[string]any{"ticket_state": "waiting_on_customer", "snoozed_until": float64(1900000000), "is_shared": true,
		"team_assignee_id": sandbox.SeedTeamSupport, "admin_assignee_id": "0"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	attrs := got["ticket_attributes"].(map[string]any)
	if attrs["Priority"] != "Low" || attrs["Affected users"] != float64(3) || attrs["_default_title_"] != "Login button does nothing" {
		t.Errorf("attributes after partial update: %v", attrs)
	}
	// Preview shows the previous state id and the part history.
	pv := e.mustOK("GET", "/tickets/"+sandbox.SeedTicketLogin, "Preview", nil).json(t)
	if pv["previous_ticket_state_id"] != "201" || pv["team_assignee_id"] != float64(5017691) {
		t.Errorf("preview view: previous %v team %v", pv["previous_ticket_state_id"], pv["team_assignee_id"])
	}
	parts := pv["ticket_parts"].(map[string]any)
	if parts["total_count"] != float64(3) {
		t.Errorf("parts: %v", parts)
	}
}

// TestAssignmentByVersion: in every version the shape that version documents assigns and unassigns
// (2.12 and 2.13 used to drop assignment{} silently), read back in that version's own shape.
func TestAssignmentByVersion(t *testing.T) {
	t.Parallel()
	flat := func(admin any, assignee string) map[string]any {
		return map[string]any{"admin_id": admin, "assignee_id": assignee}
	}
	nested := func(admin, assignee string) map[string]any {
		return map[string]any{"assignment": map[string]any{"admin_id": admin, "assignee_id": assignee}}
	}
	cases := []struct {
		version          string
		assign, unassign map[string]any
		assigned, none   any // admin_assignee_id as that version renders it
	}{
		{"2.11", nested(sandbox.SeedAdminAda, sandbox.SeedAdminBo), nested(sandbox.SeedAdminAda, "0"), sandbox.SeedAdminBo, "0"},
		{"2.12", nested(sandbox.SeedAdminAda, sandbox.SeedAdminBo), nested(sandbox.SeedAdminAda, "0"), sandbox.SeedAdminBo, "0"},
		{"2.13", nested(sandbox.SeedAdminAda, sandbox.SeedAdminBo), nested(sandbox.SeedAdminAda, "0"), sandbox.SeedAdminBo, "0"},
		{"2.14", flat(991267943, sandbox.SeedAdminBo), flat(991267943, "0"), sandbox.SeedAdminBo, "0"},
		{"2.15", flat(991267943, sandbox.SeedAdminBo), flat(991267943, "0"), sandbox.SeedAdminBo, "0"},
		{"2.16", flat(991267943, sandbox.SeedAdminBo), flat(991267943, "0"), float64(991267944), float64(0)},
		{"Preview", flat(991267943, sandbox.SeedAdminBo), flat(991267943, "0"), float64(991267944), float64(0)},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			path := "/tickets/" + sandbox.SeedTicketLogin
			e.mustOK("PUT", path, tc.version, tc.assign)
			if got := e.mustOK("GET", path, tc.version, nil).json(t)["admin_assignee_id"]; got != tc.assigned {
				t.Fatalf("after assigning: admin_assignee_id = %#v, want %#v", got, tc.assigned)
			}
			e.mustOK("PUT", path, tc.version, tc.unassign)
			if got := e.mustOK("GET", path, tc.version, nil).json(t)["admin_assignee_id"]; got != tc.none {
				t.Fatalf("after unassigning: admin_assignee_id = %#v, want %#v", got, tc.none)
			}
		})
	}
}

// TestVersionedOperationsAndFields: endpoints and request fields exist from the version whose
// description first has them, and are refused before.
func TestVersionedOperationsAndFields(t *testing.T) {
	t.Parallel()
	opts := []any{map[string]any{"text": "A", "uuid": "0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d12"}}
	cases := []struct {
		name, method, path string
		body               map[string]any
		before, first      string
		wantCode           string
	}{
		{"list ticket states", "GET", "/ticket_states", nil, "2.11", "2.12", "not_found"},
		{"delete ticket", "DELETE", "/tickets/" + sandbox.SeedTicketTypo, nil, "2.12", "2.13", "not_found"},
		{"create with assignment", "POST", "/tickets", map[string]any{"ticket_type_id": "1",
			"contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "ticket_attributes": map[string]any{"_default_title_": "x"},
			"assignment": map[string]any{"admin_assignee_id": sandbox.SeedAdminBo}}, "2.13", "2.14", "parameter_invalid"},
		{"create with skip_notifications", "POST", "/tickets", map[string]any{"ticket_type_id": "1",
			"contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "ticket_attributes": map[string]any{"_default_title_": "x"},
			"skip_notifications": true}, "2.12", "2.13", "parameter_invalid"},
		{"contact reply with reply_options", "POST", "/tickets/" + sandbox.SeedTicketLogin + "/reply", map[string]any{
			"message_type": "comment", "type": "user", "intercom_user_id": sandbox.SeedContactAlice, "body": "pick one",
			"reply_options": opts}, "2.13", "2.14", "parameter_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if r := e.do(tc.method, tc.path, tc.before, tc.body); r.status/100 != 4 || r.errorCode(t) != tc.wantCode {
				t.Errorf("%s: %d %s, want %s", tc.before, r.status, r.body, tc.wantCode)
			}
			e.mustOK(tc.method, tc.path, tc.first, tc.body)
		})
	}
}

// TestSearchAssigneeValuesByVersion: admin_assignee_id takes strings up to 2.15 (every search table
// says String) and integers from 2.16 on (the ticket schema's type; see integerAssignees).
func TestSearchAssigneeValuesByVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	query := func(v any) map[string]any {
		return map[string]any{"query": map[string]any{"field": "admin_assignee_id", "operator": "IN", "value": v}}
	}
	strs, ints := []any{"991267943", "991267944"}, []any{991267943, 991267944}
	for _, tc := range []struct {
		version   string
		good, bad []any
	}{
		{"2.11", strs, ints}, {"2.12", strs, ints}, {"2.13", strs, ints}, {"2.14", strs, ints}, {"2.15", strs, ints},
		{"2.16", ints, strs}, {"Preview", ints, strs},
	} {
		var page struct {
			TotalCount int `json:"total_count"`
		}
		e.mustOK("POST", "/tickets/search", tc.version, query(tc.good)).decode(t, &page)
		if page.TotalCount == 0 {
			t.Errorf("%s: no ticket assigned to the seeded admins found", tc.version)
		}
		if r := e.do("POST", "/tickets/search", tc.version, query(tc.bad)); r.status != 400 {
			t.Errorf("%s: values of the other type: %d %s", tc.version, r.status, r.body)
		}
	}
}
