package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

func TestNewTicketTypeDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.WithSeedData(false))
	var tt struct {
		ID, Category, Icon, Name string
		IsInternal               bool `json:"is_internal"`
		Attrs                    struct {
			Type string `json:"type"`
			Data []struct {
				ID           string         `json:"id"`
				Name         string         `json:"name"`
				DataType     string         `json:"data_type"`
				Default      bool           `json:"default"`
				TicketTypeID int            `json:"ticket_type_id"`
				InputOptions map[string]any `json:"input_options"`
			} `json:"data"`
		} `json:"ticket_type_attributes"`
		States struct {
			Data []struct{ Category string } `json:"data"`
		} `json:"ticket_states"`
	}
	e.mustOK("POST", "/ticket_types", "Preview", map[string]any{"name": "Feature request"}).decode(t, &tt)
	if tt.Category != "Customer" || tt.Icon != "🎟️" || tt.IsInternal || tt.Name != "Feature request" {
		t.Errorf("defaults: %+v", tt)
	}
	var names []string
	for _, a := range tt.Attrs.Data {
		names = append(names, a.Name)
		if a.DataType != "string" || !a.Default || a.TicketTypeID == 0 {
			t.Errorf("built-in attribute %+v", a)
		}
	}
	if diff := cmp.Diff([]string{"_default_title_", "_default_description_"}, names); diff != "" || tt.Attrs.Type != "list" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	var cats []string
	for _, s := range tt.States.Data {
		cats = append(cats, s.Category)
	}
	if diff := cmp.Diff([]string{"submitted", "in_progress", "waiting_on_customer", "resolved"}, cats); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}

	// A list attribute exposes its items; tickets take the item id.
	var attr struct {
		ID           string `json:"id"`
		TicketTypeID int    `json:"ticket_type_id"`
		InputOptions struct {
			ListItems []struct{ ID, Label string } `json:"list_items"`
		} `json:"input_options"`
	}
	e.mustOK("POST", "/ticket_types/"+tt.ID+"/attributes", "2.11", map[string]any{
		"name": "Area", "description": "Product area", "data_type": "list", "list_items": "Billing, Inbox ,Reports",
		"required_to_create": true}).decode(t, &attr)
	if len(attr.InputOptions.ListItems) != 3 || attr.InputOptions.ListItems[1].Label != "Inbox" {
		t.Fatalf("list items: %+v", attr.InputOptions)
	}
	create := map[string]any{"ticket_type_id": tt.ID, "contacts": []any{map[string]any{"email": "ann@example.com"}},
		"ticket_attributes": map[string]any{"_default_title_": "Dark mode"}}
	if r := e.do("POST", "/tickets", "2.11", create); r.status != 400 || !strings.Contains(string(r.body), "Area") {
		t.Errorf("missing required attribute: %d %s", r.status, r.body)
	}
	create["ticket_attributes"].(map[string]any)["Area"] = attr.InputOptions.ListItems[1].ID
	got := e.mustOK("POST", "/tickets", "2.11", create).json(t)
	if got["ticket_attributes"].(map[string]any)["Area"] != "Inbox" {
		t.Errorf("list value shown as %v", got["ticket_attributes"])
	}
	// Updating list_items keeps existing ids and archives dropped items.
	var upd struct {
		InputOptions struct {
			ListItems []struct {
				ID, Label string
				Archived  bool
			} `json:"list_items"`
		} `json:"input_options"`
	}
	e.mustOK("PUT", "/ticket_types/"+tt.ID+"/attributes/"+attr.ID, "2.11", map[string]any{"list_items": "Inbox,Mobile"}).decode(t, &upd)
	items := upd.InputOptions.ListItems
	if len(items) != 4 || items[0].ID != attr.InputOptions.ListItems[1].ID || items[1].Label != "Mobile" || !items[2].Archived {
		t.Errorf("updated items: %+v", items)
	}
}

func TestTicketTypeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"type without name", "POST", "/ticket_types", map[string]any{"description": "x"}, 400, "parameter_not_found"},
		{"type with bad category", "POST", "/ticket_types", map[string]any{"name": "X", "category": "Sales"}, 400, "parameter_invalid"},
		{"duplicate type name", "POST", "/ticket_types", map[string]any{"name": "bug"}, 400, "parameter_invalid"},
		{"unknown type", "GET", "/ticket_types/999", nil, 404, "not_found"},
		{"update unknown type", "PUT", "/ticket_types/999", map[string]any{"name": "x"}, 404, "not_found"},
		{"attribute without data_type", "POST", "/ticket_types/1/attributes", map[string]any{"name": "a", "description": "b"}, 400, "parameter_not_found"},
		{"attribute with bad data_type", "POST", "/ticket_types/1/attributes", map[string]any{"name": "a", "description": "b", "data_type": "color"}, 400, "parameter_invalid"},
		{"list without items", "POST", "/ticket_types/1/attributes", map[string]any{"name": "a", "description": "b", "data_type": "list"}, 400, "parameter_not_found"},
		{"duplicate attribute name", "POST", "/ticket_types/1/attributes", map[string]any{"name": "priority", "description": "b", "data_type": "string"}, 400, "parameter_invalid"},
		{"multiline on an integer", "POST", "/ticket_types/1/attributes", map[string]any{"name": "n", "description": "b", "data_type": "integer", "multiline": true}, 400, "parameter_invalid"},
		{"update changes data_type", "PUT", "/ticket_types/1/attributes/103", map[string]any{"data_type": "string"}, 400, "parameter_invalid"},
		{"update unknown attribute", "PUT", "/ticket_types/1/attributes/999", map[string]any{"name": "x"}, 404, "not_found"},
		{"archive a built-in attribute", "PUT", "/ticket_types/1/attributes/101", map[string]any{"archived": true}, 400, "parameter_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.do(tc.method, tc.path, "2.11", tc.body)
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
}

func TestCreateTicket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := map[string]any{"ticket_type_id": 1, "contacts": []any{map[string]any{"email": "dana@example.com"}},
		"ticket_attributes": map[string]any{"_default_title_": "Crash", "Priority": "High", "Regression": true}}
	got := e.mustOK("POST", "/tickets", "2.11", body).json(t)
	if got["id"] == got["ticket_id"] || got["id"] != "4007" || got["ticket_id"] != "7" {
		t.Errorf("id %v ticket_id %v: want separate sequences 4007 and 7", got["id"], got["ticket_id"])
	}
	if got["ticket_state"] != "submitted" || got["open"] != true || got["category"] != "Customer" {
		t.Errorf("initial ticket: state %v open %v category %v", got["ticket_state"], got["open"], got["category"])
	}
	contacts := got["contacts"].(map[string]any)["contacts"].([]any)
	newID := contacts[0].(map[string]any)["id"].(string)
	// The contact made from the email exists now and is reused by email.
	e.mustOK("GET", "/contacts/"+newID+"/tags", "2.11", nil)
	again := e.mustOK("POST", "/tickets", "2.11", body).json(t)
	if id := again["contacts"].(map[string]any)["contacts"].([]any)[0].(map[string]any)["id"]; id != newID {
		t.Errorf("second ticket contact %v, want %v", id, newID)
	}

	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"no ticket_type_id", map[string]any{"contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}}, 400, "parameter_not_found"},
		{"unknown type", map[string]any{"ticket_type_id": "99", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}}, 400, "parameter_invalid"},
		{"no contacts", map[string]any{"ticket_type_id": "1"}, 400, "parameter_not_found"},
		{"two contacts", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}, map[string]any{"id": sandbox.SeedContactBob}}}, 400, "parameter_invalid"},
		{"contact with two keys", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice, "email": "a@b.c"}}}, 400, "parameter_invalid"},
		{"unknown contact id", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": "nope"}}}, 404, "not_found"},
		{"contact by external_id", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"external_id": "ext-bob"}}}, 200, ""},
		{"unknown attribute", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "ticket_attributes": map[string]any{"Severity": "SEV1"}}, 400, "parameter_invalid"},
		{"integer attribute as string", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "ticket_attributes": map[string]any{"Affected users": "12"}}, 400, "parameter_invalid"},
		{"not a list item", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "ticket_attributes": map[string]any{"Priority": "Urgent"}}, 400, "parameter_invalid"},
		{"missing required attribute", map[string]any{"ticket_type_id": "3", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}}, 400, "parameter_invalid"},
		{"unknown company", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "company_id": "initech"}, 404, "company_not_found"},
		{"company by company_id", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}, "company_id": "acme"}, 200, ""},
		{"body not JSON", nil, 400, "parameter_invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			var body any = tc.body
			if tc.body == nil {
				body = "{not json"
			}
			r := e.do("POST", "/tickets", "2.11", body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" && r.errorCode(t) != tc.code {
				t.Errorf("code: %s, want %s", r.body, tc.code)
			}
		})
	}
	t.Run("archived type", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.mustOK("PUT", "/ticket_types/1", "2.11", map[string]any{"archived": true})
		r := e.do("POST", "/tickets", "2.11", map[string]any{"ticket_type_id": "1", "contacts": []any{map[string]any{"id": sandbox.SeedContactAlice}}})
		if r.status != 400 || r.errorCode(t) != "parameter_invalid" {
			t.Errorf("archived type: %d %s", r.status, r.body)
		}
	})
}

func TestReply(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		ticket string
		body   map[string]any
		status int
		code   string
	}{
		{"admin comment", "4001", map[string]any{"type": "admin", "message_type": "comment", "admin_id": 991267943, "body": "On it"}, 200, ""},
		{"admin note on back-office", "4005", map[string]any{"type": "admin", "message_type": "note", "admin_id": sandbox.SeedAdminBo, "body": "FYI"}, 200, ""},
		{"quick reply", "4001", map[string]any{"type": "admin", "message_type": "quick_reply", "admin_id": sandbox.SeedAdminBo,
			"reply_options": []any{map[string]any{"text": "Yes", "uuid": "0b6c8c0e-2b1d-4f55-9d5e-0d6f5d9f7a11"}}}, 200, ""},
		{"quick reply without options", "4001", map[string]any{"type": "admin", "message_type": "quick_reply", "admin_id": sandbox.SeedAdminBo}, 400, "parameter_not_found"},
		{"comment without body", "4001", map[string]any{"type": "admin", "message_type": "comment", "admin_id": sandbox.SeedAdminBo}, 400, "parameter_not_found"},
		{"unknown admin", "4001", map[string]any{"type": "admin", "message_type": "comment", "admin_id": "1", "body": "x"}, 404, "not_found"},
		{"user by email", "4001", map[string]any{"type": "user", "message_type": "comment", "email": "alice@example.com", "body": "Any news?"}, 200, ""},
		{"user by user_id", "4006", map[string]any{"type": "user", "message_type": "comment", "user_id": "ext-bob", "body": "Still slow"}, 200, ""},
		{"user note", "4001", map[string]any{"type": "user", "message_type": "note", "email": "alice@example.com", "body": "x"}, 400, "parameter_invalid"},
		{"user on back-office", "4005", map[string]any{"type": "user", "message_type": "comment", "intercom_user_id": sandbox.SeedContactAlice, "body": "x"}, 400, "parameter_mismatch"},
		{"user with two ids", "4001", map[string]any{"type": "user", "message_type": "comment", "email": "alice@example.com", "user_id": "ext-alice", "body": "x"}, 400, "parameter_invalid"},
		{"unknown user", "4001", map[string]any{"type": "user", "message_type": "comment", "email": "who@example.com", "body": "x"}, 404, "not_found"},
		{"bad type", "4001", map[string]any{"type": "bot", "message_type": "comment", "body": "x"}, 400, "parameter_invalid"},
		{"unknown ticket", "1", map[string]any{"type": "admin", "message_type": "comment", "admin_id": sandbox.SeedAdminBo, "body": "x"}, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			r := e.do("POST", "/tickets/"+tc.ticket+"/reply", "2.11", tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if code := r.errorCode(t); code != tc.code {
					t.Errorf("code %q, want %q", code, tc.code)
				}
				return
			}
			part := r.json(t)
			if part["type"] != "ticket_part" || part["part_type"] != tc.body["message_type"] {
				t.Errorf("reply: %v", part)
			}
			// The part is appended to the ticket.
			tk := e.mustOK("GET", "/tickets/"+tc.ticket, "2.11", nil).json(t)
			parts := tk["ticket_parts"].(map[string]any)["ticket_parts"].([]any)
			if last := parts[len(parts)-1].(map[string]any); last["id"] != part["id"] {
				t.Errorf("last part %v, want %v", last["id"], part["id"])
			}
		})
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := func() []string {
		var l struct {
			Type string
			Data []struct{ Name string }
		}
		e.mustOK("GET", "/tags", "2.11", nil).decode(t, &l)
		var out []string
		for _, d := range l.Data {
			out = append(out, d.Name)
		}
		return out
	}
	// Create-or-find is case-insensitive.
	if got := e.mustOK("POST", "/tags", "2.11", map[string]any{"name": "vip"}).json(t); got["id"] != sandbox.SeedTagVIP {
		t.Errorf("find by name: %v", got)
	}
	created := e.mustOK("POST", "/tags", "2.11", map[string]any{"name": "Churn risk"}).json(t)
	if diff := cmp.Diff(map[string]any{"type": "tag", "id": "9004", "name": "Churn risk"}, created); diff != "" {
		t.Errorf("2.11 create answer is tag_basic (-want +got):\n%s", diff)
	}
	e.mustOK("POST", "/tags", "2.11", map[string]any{"id": 9004, "name": "At risk"})
	if diff := cmp.Diff([]string{"VIP", "Billing", "Urgent", "At risk"}, names()); diff != "" {
		t.Errorf("tags after rename (-want +got):\n%s", diff)
	}
	// Companies: 2.11 rejects unknown ones; Preview reports tagged=false.
	if r := e.do("POST", "/tags", "2.11", map[string]any{"name": "X", "companies": []any{map[string]any{"company_id": "initech"}}}); r.status != 404 || r.errorCode(t) != "company_not_found" {
		t.Errorf("unknown company in 2.11: %d %s", r.status, r.body)
	}
	var pv struct {
		ID        string
		Companies []struct {
			ID     string
			Tagged bool
		}
	}
	e.mustOK("POST", "/tags", "Preview", map[string]any{"name": "Partner", "companies": []any{
		map[string]any{"company_id": "globex"}, map[string]any{"id": "nope"}}}).decode(t, &pv)
	if len(pv.Companies) != 2 || pv.Companies[0].ID != sandbox.SeedCompanyGlobex || !pv.Companies[0].Tagged || pv.Companies[1].Tagged {
		t.Errorf("preview companies: %+v", pv)
	}
	// Users are contacts: the tag shows up on the contact.
	beta := e.mustOK("POST", "/tags", "2.11", map[string]any{"name": "Beta", "users": []any{map[string]any{"id": sandbox.SeedContactCarol}}}).json(t)["id"].(string)
	contactTags := func(id string) []string {
		var l struct{ Data []struct{ Name string } }
		e.mustOK("GET", "/contacts/"+id+"/tags", "2.11", nil).decode(t, &l)
		out := []string{}
		for _, d := range l.Data {
			out = append(out, d.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"Beta"}, contactTags(sandbox.SeedContactCarol)); diff != "" {
		t.Errorf("carol's tags (-want +got):\n%s", diff)
	}
	// Contact attach (no admin) and detach.
	// Intercom records the token's admin (2.11.yaml attachTagToContact example: applied_by {type: admin}).
	applied := e.mustOK("POST", "/contacts/"+sandbox.SeedContactCarol+"/tags", "2.11", map[string]any{"id": 9002}).json(t)
	if by, _ := applied["applied_by"].(map[string]any); applied["applied_at"] == nil || applied["name"] != "Billing" ||
		by["type"] != "admin" || by["id"] != sandbox.SeedAdminAda {
		t.Errorf("applied tag: %v, want applied_by the token's admin", applied)
	}
	// Detaching answers applied_at and applied_by too (detachTagFromContact example).
	detached := e.mustOK("DELETE", "/contacts/"+sandbox.SeedContactCarol+"/tags/"+beta, "2.11", nil).json(t)
	if by, _ := detached["applied_by"].(map[string]any); detached["applied_at"] == nil || by["type"] != "admin" || by["id"] == nil {
		t.Errorf("detached tag: %v, want applied_at and applied_by", detached)
	}
	if diff := cmp.Diff([]string{"Billing"}, contactTags(sandbox.SeedContactCarol)); diff != "" {
		t.Errorf("after detach (-want +got):\n%s", diff)
	}
	// Conversation and ticket tagging need an admin and report who applied it.
	conv := e.mustOK("POST", "/conversations/"+sandbox.SeedConversation2+"/tags", "2.11", map[string]any{"id": sandbox.SeedTagUrgent, "admin_id": 991267944}).json(t)
	if by := conv["applied_by"].(map[string]any); by["id"] != sandbox.SeedAdminBo || by["type"] != "admin" {
		t.Errorf("applied_by: %v", conv)
	}
	if r := e.do("POST", "/tickets/4001/tags", "2.11", map[string]any{"id": sandbox.SeedTagUrgent}); r.status != 400 || r.errorCode(t) != "parameter_not_found" {
		t.Errorf("ticket tag without admin: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/tickets/4001/tags", "2.11", map[string]any{"id": "1", "admin_id": sandbox.SeedAdminAda}); r.status != 404 || r.errorCode(t) != "tag_not_found" {
		t.Errorf("unknown tag: %d %s", r.status, r.body)
	}
	e.mustOK("POST", "/tickets/4001/tags", "2.11", map[string]any{"id": sandbox.SeedTagUrgent, "admin_id": sandbox.SeedAdminAda})
	// Detaching from a ticket answers when and by whom the tag was applied (detachTagFromTicket example).
	off := e.mustOK("DELETE", "/tickets/4001/tags/"+sandbox.SeedTagUrgent, "2.11", map[string]any{"admin_id": sandbox.SeedAdminBo}).json(t)
	if by, _ := off["applied_by"].(map[string]any); off["applied_at"] == nil || by["id"] != sandbox.SeedAdminAda {
		t.Errorf("detached ticket tag: %v, want applied_by the admin who applied it", off)
	}
	e.mustOK("POST", "/tickets/4001/tags", "2.11", map[string]any{"id": sandbox.SeedTagUrgent, "admin_id": sandbox.SeedAdminAda})
	e.mustOK("DELETE", "/tickets/4001/tags/"+sandbox.SeedTagUrgent, "2.11", map[string]any{"admin_id": sandbox.SeedAdminAda})
	if r := e.do("DELETE", "/tickets/4001/tags/"+sandbox.SeedTagUrgent, "2.11", map[string]any{"admin_id": sandbox.SeedAdminAda}); r.status != 404 || r.errorCode(t) != "tag_not_found" {
		t.Errorf("detach a tag the ticket does not have: %d %s", r.status, r.body)
	}
	// Delete: 200 with no body, then gone everywhere.
	del := e.mustOK("DELETE", "/tags/9002", "2.11", nil)
	if len(del.body) != 0 {
		t.Errorf("delete body %q", del.body)
	}
	if r := e.do("GET", "/tags/9002", "2.11", nil); r.status != http.StatusNotFound || r.errorCode(t) != "not_found" {
		t.Errorf("deleted tag: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff([]string{}, contactTags(sandbox.SeedContactCarol)); diff != "" {
		t.Errorf("deleted tag still on contact (-want +got):\n%s", diff)
	}
	if r := e.do("GET", "/contacts/nobody/tags", "2.11", nil); r.status != 404 || r.errorCode(t) != "not_found" {
		t.Errorf("unknown contact: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/conversations/1/tags", "2.11", map[string]any{"id": sandbox.SeedTagVIP, "admin_id": sandbox.SeedAdminAda}); r.status != 404 {
		t.Errorf("unknown conversation: %d %s", r.status, r.body)
	}
}
