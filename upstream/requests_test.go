package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Canned success bodies, just enough for the client to decode.
const (
	ticketBody   = `{"type":"ticket","id":"7","ticket_id":"3","category":"Customer","ticket_attributes":{},"ticket_state":"submitted","ticket_type":null,"contacts":{"type":"contact.list","contacts":[]}}`
	typeBody     = `{"type":"ticket_type","id":"9","name":"Bug","category":"Customer","icon":"🐞","workspace_id":"w","archived":false,"created_at":1,"ticket_type_attributes":{"type":"list","data":[]}}`
	attrBody     = `{"type":"ticket_type_attribute","id":"44","name":"Sev","data_type":"list","ticket_type_id":9}`
	tagBody      = `{"type":"tag","id":"t1","name":"vip"}`
	listBody     = `{"type":"list","data":[]}`
	partBody     = `{"type":"ticket_part","id":"p1","part_type":"note","body":"hi","created_at":1}`
	searchBody   = `{"type":"ticket.list","tickets":[],"total_count":0,"pages":{"type":"pages","page":1,"per_page":50,"total_pages":0}}`
	deletedBody  = `{"id":"7","object":"ticket","deleted":true}`
	preview      = upstream.VersionPreview
	v211         = upstream.Version211
	contentJSON  = "application/json"
	noBody       = ""
	adminID      = "11"
	exampleEmoji = "🐞"
)

// requestCase is one client call and the exact HTTP request it must produce.
type requestCase struct {
	name string
	// version is the client-wide Intercom-Version (WithVersion).
	version  upstream.Version
	call     func(context.Context, *upstream.Client) error
	response string

	wantMethod  string
	wantPath    string
	wantVersion upstream.Version
	// wantBody is compared as decoded JSON, so the JSON type of every value counts ("11" ≠ 11).
	wantBody string
}

func ignore[T any](_ T, err error) error { return err }

// requestCases covers every method of the client at least once, and every version-dependent encoding
// in both 2.11 and Preview.
func requestCases() []requestCase {
	search := upstream.SearchParams{
		Query: upstream.SearchQuery{Operator: "AND", Children: []upstream.SearchQuery{
			{Field: "state", Operator: "=", Value: "resolved"},
			{Field: "admin_assignee_id", Operator: "IN", Value: []string{"1", "2"}},
			{Operator: "OR", Children: []upstream.SearchQuery{
				{Field: "team_assignee_id", Operator: "=", Value: "3"},
				{Field: "created_at", Operator: ">", Value: int64(1700000000)},
			}},
		}},
		PerPage:       50,
		StartingAfter: "WzE3MDAwMDAwMDAwMDAsIjEiXQ==",
	}
	searchQuery := func(assignees, team string) string {
		// The filters beside the OR group are gathered into their own AND group (see encodeQuery).
		return `{"query":{"operator":"AND","value":[
			{"operator":"AND","value":[
				{"field":"state","operator":"=","value":"resolved"},
				{"field":"admin_assignee_id","operator":"IN","value":` + assignees + `}]},
			{"operator":"OR","value":[
				{"field":"team_assignee_id","operator":"=","value":` + team + `},
				{"field":"created_at","operator":">","value":1700000000}]}]},
			"pagination":{"per_page":50,"starting_after":"WzE3MDAwMDAwMDAwMDAsIjEiXQ=="}}`
	}
	return []requestCase{
		{
			name: "createTicket 2.11", version: v211, response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{
					TicketTypeID: "12", Contacts: []upstream.ContactIdentifier{{ID: "c1"}}, CompanyID: "co",
					CreatedAt: 1700000000, Attributes: map[string]any{"_default_title_": "Help"},
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets", wantVersion: v211,
			wantBody: `{"ticket_type_id":"12","contacts":[{"id":"c1"}],"company_id":"co","created_at":1700000000,
				"ticket_attributes":{"_default_title_":"Help"}}`,
		},
		{
			name: "createTicket Preview with assignment", version: preview, response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{
					TicketTypeID: "12", Contacts: []upstream.ContactIdentifier{{Email: "a@example.com"}},
					AdminAssigneeID: "5", TeamAssigneeID: "6", SkipNotifications: true,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets", wantVersion: preview,
			wantBody: `{"ticket_type_id":"12","contacts":[{"email":"a@example.com"}],
				"assignment":{"admin_assignee_id":"5","team_assignee_id":"6"},"skip_notifications":true}`,
		},
		{
			name: "getTicket", version: v211, response: ticketBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTicket(ctx, "7")) },
			wantMethod: http.MethodGet, wantPath: "/tickets/7", wantVersion: v211,
		},
		{
			name: "getTicket keeps an id with every allowed character", version: v211, response: ticketBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTicket(ctx, "a9_-.:Z")) },
			wantMethod: http.MethodGet, wantPath: "/tickets/a9_-.:Z", wantVersion: v211,
		},
		{
			name: "updateTicket 2.11", version: v211, response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{
					Attributes: map[string]any{"_default_title_": "New"}, StateCategory: ptr("resolved"),
					Open: ptr(false), IsShared: ptr(true), SnoozedUntil: ptr(int64(1700000500)),
					AdminID: ptr(adminID), AssigneeID: ptr("0"),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: v211,
			wantBody: `{"ticket_attributes":{"_default_title_":"New"},"state":"resolved","open":false,"is_shared":true,
				"snoozed_until":1700000500,"assignment":{"admin_id":"11","assignee_id":"0"}}`,
		},
		{
			name: "updateTicket Preview", version: preview, response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{
					StateID: ptr("8537"), AdminID: ptr(adminID), AssigneeID: ptr("22"), CompanyID: ptr("co1"),
					SkipNotifications: ptr(true),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: preview,
			// admin_id is `type: integer` in unstable.yaml update_ticket_request; assignee_id stays a string.
			wantBody: `{"ticket_state_id":"8537","company_id":"co1","admin_id":11,"assignee_id":"22","skip_notifications":true}`,
		},
		{
			name: "updateTicket Preview removes company", version: preview, response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{CompanyID: ptr("")}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: preview,
			wantBody: `{"company_id":null}`,
		},
		{
			name: "createTicket 2.13 skips notifications", version: "2.13", response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{
					TicketTypeID: "12", Contacts: []upstream.ContactIdentifier{{ExternalID: "u1"}}, SkipNotifications: true,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets", wantVersion: "2.13",
			wantBody: `{"ticket_type_id":"12","contacts":[{"external_id":"u1"}],"skip_notifications":true}`,
		},
		{
			name: "updateTicket 2.12 state id with assignment{}", version: "2.12", response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{
					StateID: ptr("8537"), CompanyID: ptr("co1"), AdminID: ptr(adminID), AssigneeID: ptr("22"),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: "2.12",
			// 2.12.yaml update_ticket_request: ticket_state_id and company_id, and still assignment{} of strings.
			wantBody: `{"ticket_state_id":"8537","company_id":"co1","assignment":{"admin_id":"11","assignee_id":"22"}}`,
		},
		{
			name: "updateTicket 2.13 unassigns with assignment{}", version: "2.13", response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{
					AdminID: ptr(adminID), AssigneeID: ptr("0"), SkipNotifications: ptr(true),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: "2.13",
			wantBody: `{"assignment":{"admin_id":"11","assignee_id":"0"},"skip_notifications":true}`,
		},
		{
			name: "updateTicket 2.14 top-level admin_id and assignee_id", version: "2.14", response: ticketBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicket(ctx, "7", upstream.UpdateTicketParams{
					StateID: ptr("8537"), AdminID: ptr(adminID), AssigneeID: ptr("22"),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/tickets/7", wantVersion: "2.14",
			wantBody: `{"ticket_state_id":"8537","admin_id":11,"assignee_id":"22"}`,
		},
		{
			name: "replyTicket 2.14 contact reply with reply_options", version: "2.14", response: partBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{
					AuthorType: "user", IntercomUserID: "c1", Body: "which one?",
					ReplyOptions: []upstream.ReplyOption{{Text: "A", UUID: "0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d12"}},
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/7/reply", wantVersion: "2.14",
			wantBody: `{"message_type":"comment","type":"user","intercom_user_id":"c1","body":"which one?",
				"reply_options":[{"text":"A","uuid":"0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d12"}]}`,
		},
		{
			name: "searchTickets 2.15 sends assignee ids as strings", version: "2.15", response: searchBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.SearchTickets(ctx, search)) },
			wantMethod: http.MethodPost, wantPath: "/tickets/search", wantVersion: "2.15",
			wantBody: searchQuery(`["1","2"]`, `"3"`),
		},
		{
			name: "searchTickets 2.16 sends assignee ids as integers", version: "2.16", response: searchBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.SearchTickets(ctx, search)) },
			wantMethod: http.MethodPost, wantPath: "/tickets/search", wantVersion: "2.16",
			wantBody: searchQuery(`[1,2]`, `3`),
		},
		{
			name: "deleteTicket 2.13 uses its own version", version: "2.13", response: deletedBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.DeleteTicket(ctx, "7")) },
			wantMethod: http.MethodDelete, wantPath: "/tickets/7", wantVersion: "2.13",
		},
		{
			name: "listTicketStates 2.12 uses its own version", version: "2.12", response: listBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.ListTicketStates(ctx)) },
			wantMethod: http.MethodGet, wantPath: "/ticket_states", wantVersion: "2.12",
		},
		{
			name: "deleteTicket uses Preview on a 2.11 client", version: v211, response: deletedBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.DeleteTicket(ctx, "7")) },
			wantMethod: http.MethodDelete, wantPath: "/tickets/7", wantVersion: preview,
		},
		{
			name: "replyTicket admin note", version: v211, response: partBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{
					MessageType: "note", AuthorType: "admin", AdminID: adminID, Body: "<p>hi</p>",
					AttachmentURLs: []string{"https://example.com/a.png"}, CrossPost: true,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/7/reply", wantVersion: v211,
			wantBody: `{"message_type":"note","type":"admin","admin_id":"11","body":"<p>hi</p>",
				"attachment_urls":["https://example.com/a.png"],"cross_post":true}`,
		},
		{
			name: "replyTicket contact comment", version: v211, response: partBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{
					AuthorType: "user", Email: "a@example.com", Body: "thanks", CreatedAt: 1700000000,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/7/reply", wantVersion: v211,
			wantBody: `{"message_type":"comment","type":"user","email":"a@example.com","body":"thanks","created_at":1700000000}`,
		},
		{
			name: "replyTicket Preview quick reply", version: preview, response: partBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.ReplyToTicket(ctx, "7", upstream.ReplyParams{
					MessageType: "quick_reply", AuthorType: "admin", AdminID: adminID,
					ReplyOptions:      []upstream.ReplyOption{{Text: "Yes", UUID: "0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d11"}},
					SkipNotifications: true,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/7/reply", wantVersion: preview,
			wantBody: `{"message_type":"quick_reply","type":"admin","admin_id":"11",
				"reply_options":[{"text":"Yes","uuid":"0b5c8d53-8b0c-4a4f-9d7e-2f0c3c1a9d11"}],"skip_notifications":true}`,
		},
		{
			name: "searchTickets 2.11 sends assignee ids as strings", version: v211, response: searchBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.SearchTickets(ctx, search)) },
			wantMethod: http.MethodPost, wantPath: "/tickets/search", wantVersion: v211,
			wantBody: searchQuery(`["1","2"]`, `"3"`),
		},
		{
			name: "searchTickets Preview sends assignee ids as integers", version: preview, response: searchBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.SearchTickets(ctx, search)) },
			wantMethod: http.MethodPost, wantPath: "/tickets/search", wantVersion: preview,
			wantBody: searchQuery(`[1,2]`, `3`),
		},
		{
			name: "searchTickets 2.11 single filter, default page size with a cursor", version: v211, response: searchBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.SearchTickets(ctx, upstream.SearchParams{
					Query:         upstream.SearchQuery{Field: "admin_assignee_id", Operator: "=", Value: int64(5)},
					StartingAfter: "abc",
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/search", wantVersion: v211,
			wantBody: `{"query":{"field":"admin_assignee_id","operator":"=","value":"5"},"pagination":{"per_page":20,"starting_after":"abc"}}`,
		},
		{
			name: "attachTagToTicket", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.AttachTagToTicket(ctx, "7", "t1", adminID))
			},
			wantMethod: http.MethodPost, wantPath: "/tickets/7/tags", wantVersion: v211,
			wantBody: `{"id":"t1","admin_id":"11"}`,
		},
		{
			name: "detachTagFromTicket", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.DetachTagFromTicket(ctx, "7", "t1", adminID))
			},
			wantMethod: http.MethodDelete, wantPath: "/tickets/7/tags/t1", wantVersion: v211,
			wantBody: `{"admin_id":"11"}`,
		},
		{
			name: "listTicketTypes", version: v211, response: listBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.ListTicketTypes(ctx)) },
			wantMethod: http.MethodGet, wantPath: "/ticket_types", wantVersion: v211,
		},
		{
			name: "getTicketType", version: v211, response: typeBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTicketType(ctx, "9")) },
			wantMethod: http.MethodGet, wantPath: "/ticket_types/9", wantVersion: v211,
		},
		{
			name: "createTicketType", version: v211, response: typeBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.CreateTicketType(ctx, upstream.CreateTicketTypeParams{
					Name: "Bug", Description: "Bugs", Category: "Customer", Icon: exampleEmoji, IsInternal: true,
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/ticket_types", wantVersion: v211,
			wantBody: `{"name":"Bug","description":"Bugs","category":"Customer","icon":"🐞","is_internal":true}`,
		},
		{
			name: "updateTicketType", version: v211, response: typeBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicketType(ctx, "9", upstream.UpdateTicketTypeParams{
					Name: ptr("Bug 2"), Archived: ptr(true), IsInternal: ptr(false),
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/ticket_types/9", wantVersion: v211,
			wantBody: `{"name":"Bug 2","archived":true,"is_internal":false}`,
		},
		{
			name: "createTicketTypeAttribute", version: v211, response: attrBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.CreateTicketTypeAttribute(ctx, "9", upstream.CreateAttributeParams{
					Name: "Sev", Description: "Severity", DataType: "list", RequiredToCreate: ptr(true),
					VisibleToContacts: ptr(false), ListItems: []string{"Low", "High"},
				}))
			},
			wantMethod: http.MethodPost, wantPath: "/ticket_types/9/attributes", wantVersion: v211,
			wantBody: `{"name":"Sev","description":"Severity","data_type":"list","required_to_create":true,
				"visible_to_contacts":false,"list_items":"Low,High"}`,
		},
		{
			name: "updateTicketTypeAttribute", version: v211, response: attrBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UpdateTicketTypeAttribute(ctx, "9", "44", upstream.UpdateAttributeParams{
					Description: ptr("Impact"), Archived: ptr(true), ListItems: []string{"Low", "High", "Urgent"},
				}))
			},
			wantMethod: http.MethodPut, wantPath: "/ticket_types/9/attributes/44", wantVersion: v211,
			wantBody: `{"description":"Impact","archived":true,"list_items":"Low,High,Urgent"}`,
		},
		{
			name: "listTicketStates uses Preview on a 2.11 client", version: v211, response: listBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.ListTicketStates(ctx)) },
			wantMethod: http.MethodGet, wantPath: "/ticket_states", wantVersion: preview,
		},
		{
			name: "listTags", version: v211, response: listBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.ListTags(ctx)) },
			wantMethod: http.MethodGet, wantPath: "/tags", wantVersion: v211,
		},
		{
			name: "findTag", version: v211, response: tagBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.GetTag(ctx, "t1")) },
			wantMethod: http.MethodGet, wantPath: "/tags/t1", wantVersion: v211,
		},
		{
			name: "createTag", version: v211, response: tagBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.CreateTag(ctx, "vip")) },
			wantMethod: http.MethodPost, wantPath: "/tags", wantVersion: v211,
			wantBody: `{"name":"vip"}`,
		},
		{
			name: "createTag renames", version: v211, response: tagBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.RenameTag(ctx, "t1", "vip2")) },
			wantMethod: http.MethodPost, wantPath: "/tags", wantVersion: v211,
			wantBody: `{"id":"t1","name":"vip2"}`,
		},
		{
			name: "createTag tags companies", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.TagCompanies(ctx, "vip", []upstream.CompanyRef{{ID: "co1"}, {CompanyID: "ext-2"}}))
			},
			wantMethod: http.MethodPost, wantPath: "/tags", wantVersion: v211,
			wantBody: `{"name":"vip","companies":[{"id":"co1"},{"company_id":"ext-2"}]}`,
		},
		{
			name: "createTag untags companies", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UntagCompanies(ctx, "vip", []upstream.CompanyRef{{ID: "co1", CompanyID: "ext-1"}}))
			},
			wantMethod: http.MethodPost, wantPath: "/tags", wantVersion: v211,
			wantBody: `{"name":"vip","companies":[{"id":"co1","company_id":"ext-1","untag":true}]}`,
		},
		{
			name: "deleteTag", version: v211, response: noBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return c.DeleteTag(ctx, "t1") },
			wantMethod: http.MethodDelete, wantPath: "/tags/t1", wantVersion: v211,
		},
		{
			name: "listTagsForAContact", version: v211, response: listBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.ListContactTags(ctx, "c1")) },
			wantMethod: http.MethodGet, wantPath: "/contacts/c1/tags", wantVersion: v211,
		},
		{
			name: "attachTagToContact", version: v211, response: tagBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.TagContact(ctx, "c1", "t1")) },
			wantMethod: http.MethodPost, wantPath: "/contacts/c1/tags", wantVersion: v211,
			wantBody: `{"id":"t1"}`,
		},
		{
			name: "detachTagFromContact", version: v211, response: tagBody,
			call:       func(ctx context.Context, c *upstream.Client) error { return ignore(c.UntagContact(ctx, "c1", "t1")) },
			wantMethod: http.MethodDelete, wantPath: "/contacts/c1/tags/t1", wantVersion: v211,
		},
		{
			name: "attachTagToConversation", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.TagConversation(ctx, "cv1", "t1", adminID))
			},
			wantMethod: http.MethodPost, wantPath: "/conversations/cv1/tags", wantVersion: v211,
			wantBody: `{"id":"t1","admin_id":"11"}`,
		},
		{
			name: "detachTagFromConversation", version: v211, response: tagBody,
			call: func(ctx context.Context, c *upstream.Client) error {
				return ignore(c.UntagConversation(ctx, "cv1", "t1", adminID))
			},
			wantMethod: http.MethodDelete, wantPath: "/conversations/cv1/tags/t1", wantVersion: v211,
			wantBody: `{"admin_id":"11"}`,
		},
	}
}

// runCase sends tc through a client aimed at a recording server and returns the one request it made.
func runCase(t *testing.T, tc requestCase) recorded {
	t.Helper()
	rec := newRecorder(t, fixed(http.StatusOK, tc.response))
	c := newClient(t, rec.srv.URL, upstream.WithVersion(tc.version))
	if err := tc.call(t.Context(), c); err != nil {
		t.Fatalf("call: %v", err)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("sent %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func TestRequestsAreExact(t *testing.T) {
	t.Parallel()
	for _, tc := range requestCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := runCase(t, tc)
			if got.Method != tc.wantMethod || got.Path != tc.wantPath {
				t.Errorf("request = %s %s, want %s %s", got.Method, got.Path, tc.wantMethod, tc.wantPath)
			}
			wantHeaders := map[string]string{
				"Authorization":    "Bearer " + testToken,
				"Intercom-Version": string(tc.wantVersion),
				"Accept":           contentJSON,
			}
			if tc.wantBody != "" {
				wantHeaders["Content-Type"] = contentJSON
			}
			gotHeaders := map[string]string{}
			for k := range wantHeaders {
				gotHeaders[k] = got.Header.Get(k)
			}
			if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if tc.wantBody == "" && got.Header.Get("Content-Type") != "" {
				t.Errorf("Content-Type %q sent without a body", got.Header.Get("Content-Type"))
			}
			if got.Header.Get("User-Agent") == "" || got.Header.Get("User-Agent") == "Go-http-client/1.1" {
				t.Errorf("User-Agent = %q, want the client's own", got.Header.Get("User-Agent"))
			}
			if diff := cmp.Diff(decodeJSON(t, tc.wantBody), decodeJSON(t, string(got.Body))); diff != "" {
				t.Errorf("body (-want +got):\n%s\ngot: %s", diff, got.Body)
			}
		})
	}
}

// decodeJSON decodes s for comparison; numbers stay float64 and strings stay strings, so a diff shows
// any change of JSON type. An empty s decodes to nil.
func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

// TestEncodingAtVersionBoundaries sends the version-dependent fields with the numbered versions on
// either side of each change (INTERCOM-API.md §10.1): ticket_state_id and company_id from 2.12,
// skip_notifications from 2.13, the flat integer admin_id and create's assignment from 2.14, and
// integer assignee ids in search from 2.16. The 2.11 and Preview cases above cannot tell a gate that
// is off by one version from a correct one.
func TestEncodingAtVersionBoundaries(t *testing.T) {
	t.Parallel()
	update := func(p upstream.UpdateTicketParams) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error { return ignore(c.UpdateTicket(ctx, "7", p)) }
	}
	searchAssignee := func(ctx context.Context, c *upstream.Client) error {
		return ignore(c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "admin_assignee_id", Operator: "=", Value: "5"}}))
	}
	tests := []struct {
		version  upstream.Version
		call     func(context.Context, *upstream.Client) error
		response string
		wantPath string
		wantBody string
	}{
		{"2.12", update(upstream.UpdateTicketParams{StateID: ptr("8"), CompanyID: ptr("co"), AdminID: ptr(adminID), AssigneeID: ptr("5")}), ticketBody,
			"/tickets/7", `{"ticket_state_id":"8","company_id":"co","assignment":{"admin_id":"11","assignee_id":"5"}}`},
		{"2.13", update(upstream.UpdateTicketParams{AdminID: ptr(adminID), AssigneeID: ptr("5"), SkipNotifications: ptr(true)}), ticketBody,
			"/tickets/7", `{"assignment":{"admin_id":"11","assignee_id":"5"},"skip_notifications":true}`},
		{"2.14", update(upstream.UpdateTicketParams{AdminID: ptr(adminID), AssigneeID: ptr("5")}), ticketBody,
			"/tickets/7", `{"admin_id":11,"assignee_id":"5"}`},
		{"2.14", func(ctx context.Context, c *upstream.Client) error {
			return ignore(c.CreateTicket(ctx, upstream.CreateTicketParams{TicketTypeID: "1", Contacts: []upstream.ContactIdentifier{{ID: "c"}}, TeamAssigneeID: "6"}))
		}, ticketBody, "/tickets", `{"ticket_type_id":"1","contacts":[{"id":"c"}],"assignment":{"team_assignee_id":"6"}}`},
		{"2.15", searchAssignee, searchBody, "/tickets/search", `{"query":{"field":"admin_assignee_id","operator":"=","value":"5"}}`},
		{"2.16", searchAssignee, searchBody, "/tickets/search", `{"query":{"field":"admin_assignee_id","operator":"=","value":5}}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.version)+" "+tt.wantPath, func(t *testing.T) {
			t.Parallel()
			got := runCase(t, requestCase{version: tt.version, call: tt.call, response: tt.response})
			if got.Path != tt.wantPath || got.Header.Get("Intercom-Version") != string(tt.version) {
				t.Errorf("sent %s with Intercom-Version %q, want %s with %s", got.Path, got.Header.Get("Intercom-Version"), tt.wantPath, tt.version)
			}
			if diff := cmp.Diff(decodeJSON(t, tt.wantBody), decodeJSON(t, string(got.Body))); diff != "" {
				t.Errorf("body (-want +got):\n%s\ngot: %s", diff, got.Body)
			}
		})
	}
}
