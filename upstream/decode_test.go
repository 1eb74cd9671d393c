package upstream_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// TestResponsesDecode pins how answers in the shapes Intercom really sends become the model: ids as
// numbers (§10.2), timestamps as numeric strings or decimals (§2), every ticket field that the
// fixture-based tests leave at its zero value, list containers as bare arrays (§10.3), list items of
// an attribute, a tag's applied_by, search pagination and a delete that did not happen.
func TestResponsesDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		version  upstream.Version
		response string
		call     func(context.Context, *upstream.Client) (any, error)
		want     any
	}{
		{
			name:    "ticket with every field, ids as numbers and times as strings or decimals",
			version: preview,
			response: `{"type":"ticket","id":7,"ticket_id":"3","category":"Customer","ticket_attributes":{"n":1},
				"ticket_state":{"type":"ticket_state","id":8,"category":"in_progress","internal_label":"Doing","external_label":"On it"},
				"previous_ticket_state_id":5,"admin_assignee_id":991,"team_assignee_id":null,
				"created_at":"1700000000","updated_at":1700000001.4,"snoozed_until":1700000100,"open":true,"is_shared":true,
				"linked_objects":{"type":"list","total_count":2,"has_more":true,"data":[{"type":"ticket","id":9,"category":"Tracker"}]},
				"ticket_parts":{"type":"ticket_part.list","total_count":1,"ticket_parts":[{"type":"ticket_part","id":"p1",
					"part_type":"comment","body":"<p>hi</p>","created_at":1,"updated_at":2,"assigned_to":{"type":"admin","id":5},
					"author":{"type":"user","id":"c1","name":"A","email":"a@example.com"},
					"attachments":[{"type":"upload","name":"a.png","url":"https://example.com/a.png","content_type":"image/png","filesize":1024,"width":"10","height":20}],
					"external_id":"e1","redacted":true}]}}`,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.GetTicket(ctx, "7") },
			want: &upstream.Ticket{
				ID: "7", TicketID: "3", Category: "Customer", Attributes: map[string]any{"n": float64(1)},
				State:           upstream.TicketState{ID: "8", Category: "in_progress", InternalLabel: "Doing", ExternalLabel: "On it"},
				PreviousStateID: "5", AdminAssigneeID: "991",
				CreatedAt: 1700000000, UpdatedAt: 1700000001, SnoozedUntil: 1700000100, Open: true, IsShared: true,
				LinkedObjects:      []upstream.LinkedObject{{Type: "ticket", ID: "9", Category: "Tracker"}},
				LinkedObjectsTotal: 2, LinkedObjectsHasMore: true,
				Parts: []upstream.TicketPart{{
					ID: "p1", PartType: "comment", Body: "<p>hi</p>", CreatedAt: 1, UpdatedAt: 2,
					AssignedTo: &upstream.Ref{Type: "admin", ID: "5"},
					Author:     &upstream.Author{Type: "user", ID: "c1", Name: "A", Email: "a@example.com"},
					Attachments: []upstream.Attachment{{Type: "upload", Name: "a.png", URL: "https://example.com/a.png",
						ContentType: "image/png", FileSize: 1024, Width: 10, Height: 20}},
					ExternalID: "e1", Redacted: true,
				}},
				PartsTotal: 1,
			},
		},
		{
			name:     "tag with applied_by",
			version:  v211,
			response: `{"type":"tag","id":"t1","name":"vip","applied_at":1700000000,"applied_by":{"type":"admin","id":11}}`,
			call:     func(ctx context.Context, c *upstream.Client) (any, error) { return c.GetTag(ctx, "t1") },
			want:     &upstream.Tag{ID: "t1", Name: "vip", AppliedAt: 1700000000, AppliedBy: &upstream.Ref{Type: "admin", ID: "11"}},
		},
		{
			name:     "tag list as a bare array",
			version:  v211,
			response: `[{"type":"tag","id":"t1","name":"vip"},{"type":"tag","id":2,"name":"new"}]`,
			call:     func(ctx context.Context, c *upstream.Client) (any, error) { return c.ListTags(ctx) },
			want:     []upstream.Tag{{ID: "t1", Name: "vip"}, {ID: "2", Name: "new"}},
		},
		{
			name:    "list attribute with numeric and string item ids",
			version: v211,
			response: `{"type":"ticket_type","id":"9","name":"Bug","ticket_type_attributes":{"type":"list","data":[
				{"type":"ticket_type_attribute","id":44,"name":"Sev","data_type":"list","ticket_type_id":9,"order":"2",
				 "input_options":{"allow_multiple_values":true,"multiline":true,
				   "list_items":[{"id":17,"label":"High","archived":true},{"id":"18","label":"Low"}]}}]}}`,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.GetTicketType(ctx, "9") },
			want: &upstream.TicketType{ID: "9", Name: "Bug", Attributes: []upstream.TicketTypeAttribute{{
				ID: "44", Name: "Sev", DataType: "list", TicketTypeID: "9", Order: 2,
				InputOptions: map[string]any{"allow_multiple_values": true, "multiline": true, "list_items": []any{
					map[string]any{"id": float64(17), "label": "High", "archived": true},
					map[string]any{"id": "18", "label": "Low"},
				}},
				ListItems:           []upstream.ListItem{{ID: "17", Label: "High", Archived: true}, {ID: "18", Label: "Low"}},
				Multiline:           true,
				AllowMultipleValues: true,
			}}},
		},
		{
			name:    "search page with a next cursor",
			version: v211,
			response: `{"type":"ticket.list","tickets":[{"type":"ticket","id":"7","ticket_state":"submitted"}],"total_count":3,
				"pages":{"type":"pages","page":2,"per_page":1,"total_pages":3,"next":{"per_page":1,"starting_after":"WzE3XQ=="}}}`,
			call: func(ctx context.Context, c *upstream.Client) (any, error) {
				return c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "open", Operator: "=", Value: true}})
			},
			want: &upstream.TicketPage{
				Tickets:    []upstream.Ticket{{ID: "7", State: upstream.TicketState{Category: "submitted"}}},
				TotalCount: 3, Page: 2, PerPage: 1, TotalPages: 3, NextStartingAfter: "WzE3XQ==",
			},
		},
		{
			name:     "delete that Intercom reports as not done",
			version:  v211,
			response: `{"id":7,"object":"ticket","deleted":false}`,
			call:     func(ctx context.Context, c *upstream.Client) (any, error) { return c.DeleteTicket(ctx, "7") },
			want:     &upstream.DeletedTicket{ID: "7", Deleted: false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t, fixed(http.StatusOK, tt.response))
			c := newClient(t, rec.srv.URL, upstream.WithVersion(tt.version))
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}
