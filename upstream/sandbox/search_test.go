package sandbox_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// seedTime mirrors the sandbox's seeded created_at base: ticket 4001 is at
// seedTime+3600, each next seeded ticket 3600 s later.
const seedTime = 1736154000

type searchPage struct {
	Type    string `json:"type"`
	Tickets []struct {
		ID string `json:"id"`
	} `json:"tickets"`
	TotalCount int `json:"total_count"`
	Pages      struct {
		Type       string `json:"type"`
		Page       int    `json:"page"`
		PerPage    int    `json:"per_page"`
		TotalPages int    `json:"total_pages"`
		Next       *struct {
			PerPage       int    `json:"per_page"`
			StartingAfter string `json:"starting_after"`
		} `json:"next"`
	} `json:"pages"`
}

func (p searchPage) ids() []string {
	out := []string{}
	for _, t := range p.Tickets {
		out = append(out, t.ID)
	}
	return out
}

func f(field, op string, value any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": value}
}

func group(op string, filters ...any) map[string]any {
	return map[string]any{"operator": op, "value": filters}
}

func search(e *env, version string, query any, pagination map[string]any) response {
	e.t.Helper()
	body := map[string]any{"query": query}
	if pagination != nil {
		body["pagination"] = pagination
	}
	return e.do("POST", "/tickets/search", version, body)
}

func TestSearchOperatorsAndFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := sandbox.SeedContactAlice
	cases := []struct {
		name    string
		version string
		query   any
		want    []string
	}{
		{"id =", "2.11", f("id", "=", "4001"), []string{"4001"}},
		{"id = as integer", "2.11", f("id", "=", 4001), []string{"4001"}},
		{"id !=", "2.11", f("id", "!=", "4001"), []string{"4002", "4003", "4004", "4005", "4006"}},
		{"id IN", "2.11", f("id", "IN", []any{"4001", "4003"}), []string{"4001", "4003"}},
		{"id NIN", "2.11", f("id", "NIN", []any{"4001", "4003"}), []string{"4002", "4004", "4005", "4006"}},
		{"created_at >", "2.11", f("created_at", ">", seedTime+10800), []string{"4004", "4005", "4006"}},
		{"created_at >=", "2.11", f("created_at", ">=", seedTime+10800), []string{"4003", "4004", "4005", "4006"}},
		{"created_at <", "2.11", f("created_at", "<", seedTime+7200), []string{"4001"}},
		{"created_at <=", "2.11", f("created_at", "<=", seedTime+7200), []string{"4001", "4002"}},
		{"created_at =", "2.11", f("created_at", "=", seedTime+7200), []string{"4002"}},
		{"updated_at >", "2.11", f("updated_at", ">", seedTime+21600), []string{}},
		{"title ~ contains, case-insensitive", "2.11", f("title", "~", "PAGE"), []string{"4003"}},
		{"default_title !~", "2.11", f("default_title", "!~", "button"), []string{"4002", "4003", "4004", "4005", "4006"}},
		{"title ^", "2.11", f("title", "^", "Ex"), []string{"4002"}},
		{"title $", "2.11", f("title", "$", "latency"), []string{"4006"}},
		{"title ^ does not match inside", "2.11", f("title", "^", "pricing"), []string{}},
		{"title $ does not match inside", "2.11", f("title", "$", "pricing"), []string{}},
		{"title ^ case-insensitive", "2.11", f("title", "^", "typo"), []string{"4003"}},
		{"title =", "2.11", f("title", "=", "Dark mode colours"), []string{"4004"}},
		{"description ~", "2.11", f("description", "~", "safari"), []string{"4001"}},
		{"category =", "2.11", f("category", "=", "Back-office"), []string{"4005"}},
		{"category alias task", "unstable", f("category", "=", "task"), []string{"4005"}},
		{"category alias tracker", "2.11", f("category", "=", "tracker"), []string{"4006"}},
		{"category IN", "2.11", f("category", "IN", []any{"Tracker", "request"}), []string{"4001", "4002", "4003", "4004", "4006"}},
		{"ticket_type_id =", "2.11", f("ticket_type_id", "=", "1"), []string{"4001", "4002", "4003", "4004"}},
		{"ticket_type_id as number", "2.11", f("ticket_type_id", "=", 3), []string{"4006"}},
		{"contact_ids =", "2.11", f("contact_ids", "=", alice), []string{"4001", "4004", "4005"}},
		{"contact_ids NIN", "2.11", f("contact_ids", "NIN", []any{alice}), []string{"4002", "4003", "4006"}},
		{"teammate_ids =", "2.11", f("teammate_ids", "=", sandbox.SeedAdminBo), []string{"4003"}},
		{"admin_assignee_id string in 2.11", "2.11", f("admin_assignee_id", "=", sandbox.SeedAdminAda), []string{"4002", "4004"}},
		{"admin_assignee_id integer in Preview", "Preview", f("admin_assignee_id", "=", 991267943), []string{"4002", "4004"}},
		{"unassigned in Preview", "Preview", f("admin_assignee_id", "=", 0), []string{"4001", "4005", "4006"}},
		{"team_assignee_id", "2.11", f("team_assignee_id", "=", sandbox.SeedTeamSupport), []string{"4005"}},
		{"open = false", "2.11", f("open", "=", false), []string{"4004"}},
		{"open != true", "2.11", f("open", "!=", true), []string{"4004"}},
		{"state =", "2.11", f("state", "=", "in_progress"), []string{"4002", "4005"}},
		{"state IN", "2.11", f("state", "IN", []any{"submitted", "resolved"}), []string{"4001", "4004", "4006"}},
		{"snoozed_until >", "2.11", f("snoozed_until", ">", 0), []string{"4003"}},
		{"snoozed_until = null", "2.11", f("snoozed_until", "=", nil), []string{"4001", "4002", "4004", "4005", "4006"}},
		{"list attribute by id and item id", "2.11", f("ticket_attribute."+sandbox.SeedAttributePriority, "=", sandbox.SeedPriorityHigh), []string{"4001"}},
		{"list attribute by name and label", "2.11", f("ticket_attribute.Priority", "=", "Low"), []string{"4003", "4004"}},
		{"integer attribute >", "2.11", f("ticket_attribute."+sandbox.SeedAttributeAffectedUsers, ">", 100), []string{"4001"}},
		{"boolean attribute", "2.11", f("ticket_attribute."+sandbox.SeedAttributeRegression, "=", false), []string{"4003"}},
		{"decimal attribute <=", "2.11", f("ticket_attribute.Estimate", "<=", 2), []string{"4005"}},
		{"AND", "2.11", group("AND", f("category", "=", "Customer"), f("open", "=", true)), []string{"4001", "4002", "4003"}},
		{"OR", "2.11", group("OR", f("id", "=", "4001"), f("id", "=", "4006")), []string{"4001", "4006"}},
		{"OR of AND (2 levels)", "2.11", group("OR",
			group("AND", f("category", "=", "Customer"), f("open", "=", false)),
			f("id", "=", "4006")), []string{"4004", "4006"}},
		{"AND of OR (2 levels, Preview)", "Preview", group("AND",
			group("OR", f("state", "=", "submitted"), f("state", "=", "resolved")),
			group("OR", f("contact_ids", "=", alice))), []string{"4001", "4004"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := search(e, tc.version, tc.query, map[string]any{"per_page": 50})
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var p searchPage
			r.decode(t, &p)
			if diff := cmp.Diff(tc.want, p.ids()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if p.TotalCount != len(tc.want) || p.Type != "ticket.list" {
				t.Errorf("type %q total_count %d, want ticket.list and %d", p.Type, p.TotalCount, len(tc.want))
			}
		})
	}
}

func TestSearchRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	many := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = f("id", "=", fmt.Sprint(4001+i))
		}
		return out
	}
	cases := []struct {
		name       string
		version    string
		query      any
		pagination map[string]any
	}{
		{"3 levels of nesting", "2.11", group("AND", group("OR", group("AND", f("open", "=", true)))), nil},
		{"16 filters in a group", "2.11", group("OR", many(16)...), nil},
		{"16 filters in a nested group", "2.11", group("AND", group("OR", many(16)...)), nil},
		{"empty group", "2.11", group("AND"), nil},
		{"boolean field with a string", "2.11", f("open", "=", "yes"), nil},
		{"date field with a string", "2.11", f("created_at", ">", "yesterday"), nil},
		{"string field with a number", "2.11", f("title", "=", 5), nil},
		{"string operator on a date", "2.11", f("created_at", "~", 5), nil},
		{"ordering operator on a string", "2.11", f("title", ">", "a"), nil},
		{"ordering operator on a boolean", "2.11", f("open", ">", true), nil},
		{"IN without an array", "2.11", f("id", "IN", "4001"), nil},
		{"= with an array", "2.11", f("id", "=", []any{"4001"}), nil},
		{"IN with a wrong element type", "2.11", f("created_at", "IN", []any{"x"}), nil},
		{"integer assignee in 2.11", "2.11", f("admin_assignee_id", "=", 991267943), nil},
		{"string assignee in Preview", "Preview", f("admin_assignee_id", "=", "991267943"), nil},
		{"unknown field", "2.11", f("colour", "=", "red"), nil},
		{"unknown attribute", "2.11", f("ticket_attribute.999999", "=", "x"), nil},
		{"unknown operator", "2.11", f("id", "LIKE", "x"), nil},
		{"unknown state", "2.11", f("state", "=", "open"), nil},
		{"missing query", "2.11", nil, nil},
		{"per_page above 150", "2.11", f("open", "=", true), map[string]any{"per_page": 151}},
		{"per_page 0", "2.11", f("open", "=", true), map[string]any{"per_page": 0}},
		{"invalid cursor", "2.11", f("open", "=", true), map[string]any{"per_page": 5, "starting_after": "not-a-cursor"}},
		{"cursor for page 0", "2.11", f("open", "=", true), map[string]any{"per_page": 5, "starting_after": "WzEsIjEiLDBd"}},
		{"cursor of the wrong shape", "2.11", f("open", "=", true), map[string]any{"per_page": 5, "starting_after": "WzFd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := search(e, tc.version, tc.query, tc.pagination)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if code := r.errorCode(t); code != "parameter_invalid" && code != "parameter_not_found" {
				t.Errorf("code %q", code)
			}
		})
	}
	// The limits are inclusive: 15 filters and 2 levels are fine.
	ok := search(e, "2.11", group("AND", group("OR", many(15)...)), nil)
	if ok.status != http.StatusOK {
		t.Fatalf("15 filters at 2 levels: status %d: %s", ok.status, ok.body)
	}
}

func TestSearchPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := f("created_at", ">", 0)
	var got []string
	var pages []searchPage
	pagination := map[string]any{"per_page": 4}
	for range 5 {
		r := search(e, "2.11", q, pagination)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var p searchPage
		r.decode(t, &p)
		pages = append(pages, p)
		got = append(got, p.ids()...)
		if p.Pages.Next == nil {
			break
		}
		pagination = map[string]any{"per_page": 4, "starting_after": p.Pages.Next.StartingAfter}
	}
	if diff := cmp.Diff([]string{"4001", "4002", "4003", "4004", "4005", "4006"}, got); diff != "" {
		t.Fatalf("ids across pages (-want +got):\n%s", diff)
	}
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2", len(pages))
	}
	for i, p := range pages {
		if p.Pages.Type != "pages" || p.Pages.Page != i+1 || p.Pages.PerPage != 4 || p.Pages.TotalPages != 2 || p.TotalCount != 6 {
			t.Errorf("page %d: pages=%+v total_count=%d", i+1, p.Pages, p.TotalCount)
		}
	}
	if pages[0].Pages.Next == nil || pages[0].Pages.Next.PerPage != 4 {
		t.Errorf("first page next = %+v", pages[0].Pages.Next)
	}
	// Default per_page is 20.
	var p searchPage
	search(e, "2.11", q, nil).decode(t, &p)
	if p.Pages.PerPage != 20 || p.Pages.Next != nil || len(p.Tickets) != 6 {
		t.Errorf("default page: per_page %d, next %+v, %d tickets", p.Pages.PerPage, p.Pages.Next, len(p.Tickets))
	}
}

// TestSearchCursorStableUnderInserts pages through tickets while other
// clients create tickets, some of them back-dated before the cursor. Every
// ticket that existed before the first page must come back exactly once.
func TestSearchCursorStableUnderInserts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.WithSeedData(false))
	tt := e.mustOK("POST", "/ticket_types", "2.11", map[string]any{"name": "Load"}).json(t)
	typeID := tt["id"].(string)
	create := func(createdAt int) {
		body := map[string]any{"ticket_type_id": typeID, "contacts": []any{map[string]any{"email": "load@example.com"}},
			"ticket_attributes": map[string]any{"_default_title_": "t"}}
		if createdAt > 0 {
			body["created_at"] = createdAt
		}
		e.mustOK("POST", "/tickets", "2.11", body)
	}
	preexisting := map[string]bool{}
	for i := range 23 {
		create(seedTime + i*10) // distinct, increasing keys
	}
	var all searchPage
	search(e, "2.11", f("open", "=", true), map[string]any{"per_page": 150}).decode(t, &all)
	for _, id := range all.ids() {
		preexisting[id] = true
	}
	if len(preexisting) != 23 {
		t.Fatalf("%d pre-existing tickets, want 23", len(preexisting))
	}

	seen := map[string]int{}
	pagination := map[string]any{"per_page": 5}
	for page := 0; ; page++ {
		if page > 50 {
			t.Fatal("pagination does not end")
		}
		// Concurrent inserts between page fetches: new tickets (now) and
		// back-dated ones that sort before the cursor.
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 0 {
					create(seedTime - 1000 - page)
				} else {
					create(0)
				}
			}()
		}
		r := search(e, "2.11", f("open", "=", true), pagination)
		wg.Wait()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var p searchPage
		r.decode(t, &p)
		for _, id := range p.ids() {
			seen[id]++
		}
		if p.Pages.Next == nil {
			break
		}
		pagination = map[string]any{"per_page": 5, "starting_after": p.Pages.Next.StartingAfter}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("ticket %s returned %d times", id, n)
		}
	}
	for id := range preexisting {
		if seen[id] != 1 {
			t.Errorf("pre-existing ticket %s returned %d times, want 1", id, seen[id])
		}
	}
}

// TestSearchOrdersTiesByID: tickets created in the same second come back in id order, on one page
// and across pages (the order the cursor relies on).
func TestSearchOrdersTiesByID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.WithSeedData(false))
	typeID := e.mustOK("POST", "/ticket_types", "2.11", map[string]any{"name": "Ties"}).json(t)["id"].(string)
	var created []string
	for range 5 {
		tk := e.mustOK("POST", "/tickets", "2.11", map[string]any{"ticket_type_id": typeID, "created_at": seedTime,
			"contacts": []any{map[string]any{"email": "ties@example.com"}}, "ticket_attributes": map[string]any{"_default_title_": "t"}}).json(t)
		created = append(created, tk["id"].(string))
	}
	var got []string
	pagination := map[string]any{"per_page": 2}
	for range 5 {
		var p searchPage
		search(e, "2.11", f("open", "=", true), pagination).decode(t, &p)
		got = append(got, p.ids()...)
		if p.Pages.Next == nil {
			break
		}
		pagination = map[string]any{"per_page": 2, "starting_after": p.Pages.Next.StartingAfter}
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("ids (-created order +search order):\n%s", diff)
	}
}
