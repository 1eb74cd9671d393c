package upstream_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// newSandbox serves a fresh, seeded simulator on loopback. Its rate windows last one second instead of
// Intercom's ten, so that a 429's X-RateLimit-Reset is never far away.
func newSandbox(t *testing.T) (*sandbox.Server, *upstream.Client) {
	t.Helper()
	sb := sandbox.New(sandbox.WithRateLimit(1000, time.Second))
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, newClient(t, srv.URL, upstream.WithTransport(&http.Transport{}))
}

// TestAgainstSandbox drives every operation through the simulator in both versions, end to end: the
// simulator was written from the descriptions independently of this client, so agreement here checks
// both.
func TestAgainstSandbox(t *testing.T) {
	t.Parallel()
	for _, version := range []upstream.Version{upstream.Version211, upstream.VersionPreview} {
		t.Run(string(version), func(t *testing.T) {
			t.Parallel()
			sb := sandbox.New()
			srv := httptest.NewServer(sb)
			defer srv.Close()
			c := newClient(t, srv.URL, upstream.WithVersion(version))
			ctx := t.Context()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}

			types, err := c.ListTicketTypes(ctx)
			must(err)
			bug := slices.IndexFunc(types, func(tt upstream.TicketType) bool { return tt.ID == sandbox.SeedTicketTypeBug })
			if bug < 0 {
				t.Fatalf("seeded Bug type missing from %d types", len(types))
			}
			prio := slices.IndexFunc(types[bug].Attributes, func(a upstream.TicketTypeAttribute) bool { return a.ID == sandbox.SeedAttributePriority })
			if prio < 0 || len(types[bug].Attributes[prio].ListItems) != 3 || types[bug].Attributes[prio].TicketTypeID != sandbox.SeedTicketTypeBug {
				t.Errorf("Priority attribute = %+v, want 3 list items and ticket type %s", types[bug].Attributes, sandbox.SeedTicketTypeBug)
			}

			tk, err := c.CreateTicket(ctx, upstream.CreateTicketParams{
				TicketTypeID: sandbox.SeedTicketTypeBug,
				Contacts:     []upstream.ContactIdentifier{{ID: sandbox.SeedContactAlice}},
				Attributes: map[string]any{"_default_title_": "Cannot log in", "_default_description_": "since today",
					"Priority": sandbox.SeedPriorityHigh},
			})
			must(err)
			if tk.ID == "" || tk.State.Category != "submitted" || tk.Type == nil || tk.Type.ID != sandbox.SeedTicketTypeBug {
				t.Errorf("created ticket = %+v", tk)
			}
			got, err := c.GetTicket(ctx, tk.ID)
			must(err)
			if len(got.Contacts) != 1 || got.Contacts[0].ID != sandbox.SeedContactAlice {
				t.Errorf("contacts = %+v", got.Contacts)
			}

			// A category works in both versions: sent as `state` in 2.11, resolved to an id in Preview.
			up, err := c.UpdateTicket(ctx, tk.ID, upstream.UpdateTicketParams{
				StateCategory: ptr("in_progress"), AdminID: ptr(sandbox.SeedAdminAda), AssigneeID: ptr(sandbox.SeedAdminBo),
			})
			must(err)
			if up.State.Category != "in_progress" || up.AdminAssigneeID != sandbox.SeedAdminBo {
				t.Errorf("after update: state %+v, admin assignee %q", up.State, up.AdminAssigneeID)
			}
			if version == upstream.VersionPreview {
				up, err := c.UpdateTicket(ctx, tk.ID, upstream.UpdateTicketParams{StateID: ptr(sandbox.SeedStateWontFix)})
				must(err)
				if up.State.ID != sandbox.SeedStateWontFix || up.State.Category != "resolved" {
					t.Errorf("after ticket_state_id update: %+v", up.State)
				}
			}

			part, err := c.ReplyToTicket(ctx, tk.ID, upstream.ReplyParams{MessageType: "note", AuthorType: "admin",
				AdminID: sandbox.SeedAdminAda, Body: "<p>looking</p>"})
			must(err)
			if part.PartType != "note" || part.Author == nil || part.Author.ID != sandbox.SeedAdminAda {
				t.Errorf("reply = %+v", part)
			}

			page, err := c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "id", Operator: "=", Value: tk.ID}})
			must(err)
			if len(page.Tickets) != 1 || page.Tickets[0].ID != tk.ID {
				t.Errorf("search = %+v", page)
			}
			page, err = c.SearchTickets(ctx, upstream.SearchParams{Query: upstream.SearchQuery{Field: "admin_assignee_id", Operator: "=", Value: sandbox.SeedAdminBo}})
			must(err)
			if !slices.ContainsFunc(page.Tickets, func(x upstream.Ticket) bool { return x.ID == tk.ID }) {
				t.Errorf("search by admin_assignee_id did not find %s: %+v", tk.ID, page.Tickets)
			}

			tag, err := c.AttachTagToTicket(ctx, tk.ID, sandbox.SeedTagVIP, sandbox.SeedAdminAda)
			must(err)
			if tag.ID != sandbox.SeedTagVIP {
				t.Errorf("attached tag = %+v", tag)
			}
			_, err = c.DetachTagFromTicket(ctx, tk.ID, sandbox.SeedTagVIP, sandbox.SeedAdminAda)
			must(err)

			states, err := c.ListTicketStates(ctx)
			must(err)
			if i := slices.IndexFunc(states, func(s upstream.TicketState) bool { return s.ID == sandbox.SeedStateInvestigating }); i < 0 ||
				!slices.Contains(states[i].TicketTypeIDs, sandbox.SeedTicketTypeBug) {
				t.Errorf("ticket states = %+v", states)
			}

			nt, err := c.CreateTicketType(ctx, upstream.CreateTicketTypeParams{Name: "Feature " + string(version), Category: "Customer"})
			must(err)
			_, err = c.UpdateTicketType(ctx, nt.ID, upstream.UpdateTicketTypeParams{Description: ptr("Ideas")})
			must(err)
			attr, err := c.CreateTicketTypeAttribute(ctx, nt.ID, upstream.CreateAttributeParams{Name: "Area", Description: "Product area",
				DataType: "list", ListItems: []string{"Inbox", "Messenger"}})
			must(err)
			if len(attr.ListItems) != 2 || attr.TicketTypeID != nt.ID {
				t.Errorf("attribute = %+v", attr)
			}
			_, err = c.UpdateTicketTypeAttribute(ctx, nt.ID, attr.ID, upstream.UpdateAttributeParams{Description: ptr("Where")})
			must(err)
			gt, err := c.GetTicketType(ctx, nt.ID)
			must(err)
			if gt.Description != "Ideas" || !slices.ContainsFunc(gt.Attributes, func(a upstream.TicketTypeAttribute) bool { return a.Description == "Where" }) {
				t.Errorf("ticket type = %+v", gt)
			}

			nt2, err := c.CreateTag(ctx, "beta-"+string(version))
			must(err)
			_, err = c.RenameTag(ctx, nt2.ID, "beta2-"+string(version))
			must(err)
			_, err = c.TagCompanies(ctx, "beta2-"+string(version), []upstream.CompanyRef{{ID: sandbox.SeedCompanyAcme}})
			must(err)
			_, err = c.UntagCompanies(ctx, "beta2-"+string(version), []upstream.CompanyRef{{ID: sandbox.SeedCompanyAcme, CompanyID: "acme"}})
			must(err)
			_, err = c.TagContact(ctx, sandbox.SeedContactAlice, nt2.ID)
			must(err)
			ctags, err := c.ListContactTags(ctx, sandbox.SeedContactAlice)
			must(err)
			if !slices.ContainsFunc(ctags, func(x upstream.Tag) bool { return x.ID == nt2.ID }) {
				t.Errorf("contact tags = %+v", ctags)
			}
			_, err = c.UntagContact(ctx, sandbox.SeedContactAlice, nt2.ID)
			must(err)
			_, err = c.TagConversation(ctx, sandbox.SeedConversation1, nt2.ID, sandbox.SeedAdminAda)
			must(err)
			_, err = c.UntagConversation(ctx, sandbox.SeedConversation1, nt2.ID, sandbox.SeedAdminAda)
			must(err)
			all, err := c.ListTags(ctx)
			must(err)
			if !slices.ContainsFunc(all, func(x upstream.Tag) bool { return x.Name == "beta2-"+string(version) }) {
				t.Errorf("tags = %+v", all)
			}
			must(c.DeleteTag(ctx, nt2.ID))
			_, err = c.GetTag(ctx, nt2.ID)
			var apiErr *upstream.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
				t.Errorf("GetTag after delete: err = %v, want a 404 *Error", err)
			}

			del, err := c.DeleteTicket(ctx, tk.ID)
			must(err)
			if !del.Deleted || del.ID != tk.ID {
				t.Errorf("delete = %+v", del)
			}
			_, err = c.GetTicket(ctx, tk.ID)
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
				t.Errorf("GetTicket after delete: err = %v, want a 404 *Error", err)
			}
			for _, r := range sb.Requests() {
				if want := string(c.Version(upstream.Operation(r.Route))); r.Version != want {
					t.Errorf("%s %s sent Intercom-Version %q, want %q", r.Method, r.Path, r.Version, want)
				}
			}
		})
	}
}

// TestSandboxFaults: the retry policy against the simulator's injected faults.
func TestSandboxFaults(t *testing.T) {
	t.Parallel()
	create := upstream.CreateTicketParams{TicketTypeID: sandbox.SeedTicketTypeBug,
		Contacts:   []upstream.ContactIdentifier{{ID: sandbox.SeedContactAlice}},
		Attributes: map[string]any{"_default_title_": "t", "_default_description_": "d"}}
	tests := []struct {
		name   string
		route  string
		fault  sandbox.Fault
		call   func(*testing.T, *upstream.Client) error
		wantOK bool
		// wantSent is how many requests for route reached the simulator.
		wantSent int
	}{
		{"GET survives one 503", "getTicket", sandbox.Fault{ErrorRate: 1, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error {
				return ignore(c.GetTicket(t.Context(), sandbox.SeedTicketLogin))
			}, true, 2},
		{"GET survives one reset", "getTicket", sandbox.Fault{ResetRate: 1, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error {
				return ignore(c.GetTicket(t.Context(), sandbox.SeedTicketLogin))
			}, true, 2},
		{"create is not resent after a 502", "createTicket", sandbox.Fault{ErrorRate: 1, ErrorStatus: 502, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error { return ignore(c.CreateTicket(t.Context(), create)) }, false, 1},
		{"create is not resent after a reset", "createTicket", sandbox.Fault{ResetRate: 1, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error { return ignore(c.CreateTicket(t.Context(), create)) }, false, 1},
		{"create is resent after a 429", "createTicket", sandbox.Fault{RateLimitRate: 1, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error { return ignore(c.CreateTicket(t.Context(), create)) }, true, 2},
		{"a malformed create answer is a DecodeError, not resent", "createTicket", sandbox.Fault{MalformedRate: 1, Remaining: 1},
			func(t *testing.T, c *upstream.Client) error {
				_, err := c.CreateTicket(t.Context(), create)
				if de := new(upstream.DecodeError); err != nil && !errors.As(err, &de) {
					t.Errorf("err = %v, want *DecodeError", err)
				}
				return err
			}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, c := newSandbox(t)
			sb.SetFault(tt.route, tt.fault)
			err := tt.call(t, c)
			if (err == nil) != tt.wantOK {
				t.Errorf("err = %v, want success %v", err, tt.wantOK)
			}
			sent := 0
			for _, r := range sb.Requests() {
				if r.Route == tt.route {
					sent++
				}
			}
			if sent != tt.wantSent {
				t.Errorf("%s requests = %d, want %d", tt.route, sent, tt.wantSent)
			}
		})
	}
}
