package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Search limits from the ticket search documentation (2.11.yaml searchTickets):
// "at most 2 levels of nested filters" and "at most 15 filters in each AND/OR group".
const (
	maxSearchDepth  = 2
	maxGroupFilters = 15
	defaultPerPage  = 20
	maxPerPage      = 150 // the documented maximum of the other search endpoints
)

type valueKind int

const (
	kindString valueKind = iota // free text and string ids: = != IN NIN ~ !~ ^ $
	kindInt                     // integers and dates: = != IN NIN > < >= <=
	kindFloat                   // decimals: like integers
	kindBool                    // = != only
)

// searchField is a resolved query field: its kind, how query values are
// normalised, and how to read it from a ticket (several values for
// contact_ids and teammate_ids; none when unset).
type searchField struct {
	name     string
	kind     valueKind
	acceptID bool                         // a string field that also takes JSON integers (ids)
	norm     func(string) (string, error) // normalises string query values
	get      func(*ticket) []any
}

type predicate func(*ticket) bool

func searchErr(format string, args ...any) error {
	return errInvalid("query", format, args...)
}

// searchTickets implements POST /tickets/search (search_request: query is a
// single filter {field, operator, value} or a group {operator: AND|OR, value:
// [...]}; pagination {per_page, starting_after}).
func (s *Server) searchTickets(c *call) (int, any, error) {
	body, err := decodeObject(c.body, "")
	if err != nil {
		return 0, nil, err
	}
	rawQuery, ok := body["query"]
	if !ok || isNull(rawQuery) {
		return 0, nil, errMissing("query")
	}
	pred, err := s.compileFilter(rawQuery, 0, c.version)
	if err != nil {
		return 0, nil, err
	}
	perPage := int64(defaultPerPage)
	var after *cursor
	if pg, ok, err := body.object("pagination"); err != nil {
		return 0, nil, err
	} else if ok {
		if n, ok, err := pg.integer("per_page"); err != nil {
			return 0, nil, errInvalid("pagination.per_page", "per_page must be an integer")
		} else if ok {
			if n < 1 || n > maxPerPage {
				return 0, nil, errInvalid("pagination.per_page", "per_page must be between 1 and %d", maxPerPage)
			}
			perPage = n
		}
		sa, ok, err := pg.str("starting_after")
		if err != nil {
			return 0, nil, errInvalid("pagination.starting_after", "starting_after must be a string")
		}
		if ok && sa != "" {
			cur, err := decodeCursor(sa)
			if err != nil {
				return 0, nil, err
			}
			after = &cur
		}
	}

	var matches []*ticket
	for _, t := range s.ws.tickets {
		if pred(t) {
			matches = append(matches, t)
		}
	}
	// Results are ordered by (created_at, id), and the cursor holds the last
	// key returned, so a page boundary does not move when tickets are created
	// between requests: no ticket is returned twice and none that existed
	// before the first page is skipped.
	slices.SortFunc(matches, func(a, b *ticket) int { return compareKey(a.createdAt, a.id, b.createdAt, b.id) })
	start, page := 0, int64(1)
	if after != nil {
		page = after.Page + 1
		start = len(matches)
		for i, t := range matches {
			if compareKey(t.createdAt, t.id, after.CreatedAt, after.ID) > 0 {
				start = i
				break
			}
		}
	}
	end := min(start+int(perPage), len(matches))
	out := ticketListJSON{Type: "ticket.list", Tickets: []ticketJSON{}, TotalCount: len(matches),
		Pages: pagesJSON{Type: "pages", Page: page, PerPage: perPage,
			TotalPages: int64(math.Ceil(float64(len(matches)) / float64(perPage)))}}
	for _, t := range matches[start:end] {
		out.Tickets = append(out.Tickets, s.renderTicket(t, c.version))
	}
	if end < len(matches) && end > start {
		last := matches[end-1]
		out.Pages.Next = &nextJSON{PerPage: perPage, StartingAfter: encodeCursor(cursor{CreatedAt: last.createdAt, ID: last.id, Page: page})}
	}
	return http.StatusOK, out, nil
}

type ticketListJSON struct {
	Type       string       `json:"type"`
	Tickets    []ticketJSON `json:"tickets"`
	TotalCount int          `json:"total_count"`
	Pages      pagesJSON    `json:"pages"`
}

// pagesJSON is 2.11.yaml cursor_pages; next is absent on the last page.
type pagesJSON struct {
	Type       string    `json:"type"`
	Page       int64     `json:"page"`
	PerPage    int64     `json:"per_page"`
	TotalPages int64     `json:"total_pages"`
	Next       *nextJSON `json:"next,omitempty"`
}

type nextJSON struct {
	PerPage       int64  `json:"per_page"`
	StartingAfter string `json:"starting_after"`
}

// cursor is the opaque starting_after: the sort key of the last ticket
// returned and that page's number, as base64 JSON (Intercom's cursors are
// base64 too, e.g. "WzE3…").
type cursor struct {
	CreatedAt int64
	ID        string
	Page      int64
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal([]any{c.CreatedAt, c.ID, c.Page})
	return base64.StdEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	bad := errInvalid("pagination.starting_after", "starting_after is not a valid cursor")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	var parts []json.RawMessage
	if json.Unmarshal(b, &parts) != nil || len(parts) != 3 {
		return cursor{}, bad
	}
	var c cursor
	if json.Unmarshal(parts[0], &c.CreatedAt) != nil || json.Unmarshal(parts[1], &c.ID) != nil ||
		json.Unmarshal(parts[2], &c.Page) != nil || c.Page < 1 {
		return cursor{}, bad
	}
	return c, nil
}

func compareKey(at1 int64, id1 string, at2 int64, id2 string) int {
	if at1 != at2 {
		if at1 < at2 {
			return -1
		}
		return 1
	}
	n1, err1 := strconv.ParseInt(id1, 10, 64)
	n2, err2 := strconv.ParseInt(id2, 10, 64)
	if err1 == nil && err2 == nil && n1 != n2 {
		if n1 < n2 {
			return -1
		}
		return 1
	}
	return strings.Compare(id1, id2)
}

// compileFilter turns a single_filter_search_request or
// multiple_filter_search_request into a predicate, checking the grammar,
// the nesting and group-size limits, operators and value types.
func (s *Server) compileFilter(raw json.RawMessage, depth int, v apiVersion) (predicate, error) {
	o, err := decodeObject(raw, "query")
	if err != nil {
		return nil, err
	}
	op, ok, err := o.str("operator")
	if err != nil {
		return nil, searchErr("operator must be a string")
	}
	if !ok {
		return nil, searchErr("Each filter needs an operator")
	}
	if op == "AND" || op == "OR" {
		if o.has("field") {
			return nil, searchErr("A %s group takes no field", op)
		}
		if depth+1 > maxSearchDepth {
			return nil, searchErr("Filters can be nested at most %d levels deep", maxSearchDepth)
		}
		items, ok, err := o.array("value")
		if err != nil || !ok {
			return nil, searchErr("The value of a %s group must be an array of filters", op)
		}
		if len(items) == 0 {
			return nil, searchErr("A %s group needs at least one filter", op)
		}
		if len(items) > maxGroupFilters {
			return nil, searchErr("A %s group can hold at most %d filters, got %d", op, maxGroupFilters, len(items))
		}
		preds := make([]predicate, 0, len(items))
		for _, it := range items {
			p, err := s.compileFilter(it, depth+1, v)
			if err != nil {
				return nil, err
			}
			preds = append(preds, p)
		}
		if op == "AND" {
			return func(t *ticket) bool {
				for _, p := range preds {
					if !p(t) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(t *ticket) bool {
			for _, p := range preds {
				if p(t) {
					return true
				}
			}
			return false
		}, nil
	}
	name, ok, err := o.str("field")
	if err != nil || !ok {
		return nil, searchErr("Each filter needs a field (or an AND/OR operator)")
	}
	f, err := s.resolveField(name, v)
	if err != nil {
		return nil, err
	}
	return compileSingle(f, op, o["value"])
}

var operators = []string{"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"}

func compileSingle(f searchField, op string, raw json.RawMessage) (predicate, error) {
	if !slices.Contains(operators, op) {
		return nil, searchErr("Unknown operator %q", op)
	}
	switch op {
	case "<", "<=", ">", ">=":
		if f.kind != kindInt && f.kind != kindFloat {
			return nil, searchErr("Operator %s applies to integer and date fields only, not %s", op, f.name)
		}
	case "~", "!~", "^", "$":
		if f.kind != kindString {
			return nil, searchErr("Operator %s applies to string fields only, not %s", op, f.name)
		}
	case "IN", "NIN":
	default: // = !=
		if f.kind == kindBool && op != "=" && op != "!=" {
			return nil, searchErr("Operator %s does not apply to boolean field %s", op, f.name)
		}
	}
	if raw == nil || isNull(raw) {
		if op != "=" && op != "!=" {
			return nil, searchErr("Operator %s needs a value", op)
		}
		want := op == "="
		return func(t *ticket) bool { return (len(f.get(t)) == 0) == want }, nil
	}
	if op == "IN" || op == "NIN" {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, searchErr("Operator %s takes an array value", op)
		}
		set := make([]any, 0, len(items))
		for _, it := range items {
			val, err := f.parse(it)
			if err != nil {
				return nil, err
			}
			set = append(set, val)
		}
		in := op == "IN"
		return func(t *ticket) bool {
			for _, have := range f.get(t) {
				for _, want := range set {
					if equalValues(have, want) {
						return in
					}
				}
			}
			return !in
		}, nil
	}
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		return nil, searchErr("Operator %s takes a single value, not an array", op)
	}
	want, err := f.parse(raw)
	if err != nil {
		return nil, err
	}
	if op == "!=" || op == "!~" {
		// Negations hold when no value of the ticket matches.
		pos := "="
		if op == "!~" {
			pos = "~"
		}
		return func(t *ticket) bool {
			for _, have := range f.get(t) {
				if matchOp(pos, have, want) {
					return false
				}
			}
			return true
		}, nil
	}
	return func(t *ticket) bool {
		for _, have := range f.get(t) {
			if matchOp(op, have, want) {
				return true
			}
		}
		return false
	}, nil
}

// parse checks one query value against the field's type.
func (f searchField) parse(raw json.RawMessage) (any, error) {
	mismatch := func(want string) error {
		return searchErr("Field %s takes %s values, got %s", f.name, want, strings.TrimSpace(string(raw)))
	}
	switch f.kind {
	case kindString:
		var s string
		if json.Unmarshal(raw, &s) != nil {
			if !f.acceptID {
				return nil, mismatch("string")
			}
			i, err := rawInt(raw)
			if err != nil {
				return nil, mismatch("string")
			}
			s = strconv.FormatInt(i, 10)
		}
		if f.norm != nil {
			return f.norm(s)
		}
		return s, nil
	case kindInt:
		i, err := rawInt(raw)
		if err != nil {
			return nil, mismatch("integer")
		}
		return float64(i), nil
	case kindFloat:
		var x float64
		if json.Unmarshal(raw, &x) != nil {
			return nil, mismatch("number")
		}
		return x, nil
	default:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return nil, mismatch("boolean")
		}
		return b, nil
	}
}

func equalValues(have, want any) bool {
	if hs, ok := have.(string); ok {
		ws, ok := want.(string)
		return ok && hs == ws
	}
	return have == want
}

func matchOp(op string, have, want any) bool {
	switch op {
	case "=":
		return equalValues(have, want)
	case "~", "^", "$":
		hs, ok1 := have.(string)
		ws, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false
		}
		hs, ws = strings.ToLower(hs), strings.ToLower(ws)
		switch op {
		case "~":
			return strings.Contains(hs, ws)
		case "^":
			return strings.HasPrefix(hs, ws)
		default:
			return strings.HasSuffix(hs, ws)
		}
	}
	hn, ok1 := have.(float64)
	wn, ok2 := want.(float64)
	if !ok1 || !ok2 {
		return false
	}
	switch op {
	case ">":
		return hn > wn
	case ">=":
		return hn >= wn
	case "<":
		return hn < wn
	case "<=":
		return hn <= wn
	}
	return false
}

func one(v any) []any { return []any{v} }

func intValue(n int64) []any { return one(float64(n)) }

func optionalDate(n int64) []any {
	if n == 0 {
		return nil
	}
	return intValue(n)
}

// categoryAliases: unstable.yaml documents that category search also takes
// request (Customer), task (Back-office) and tracker (Tracker).
var categoryAliases = map[string]string{
	"customer": categoryCustomer, "request": categoryCustomer,
	"back-office": categoryBackOffice, "task": categoryBackOffice,
	"tracker": categoryTracker,
}

// resolveField maps a search field name (INTERCOM-API.md §8 ticket fields) to
// its type and getter. Types follow the ticket search table: admin and team
// assignee ids are strings up to 2.15 and integers in 2.16 and Preview. The
// 2.16.yaml table still says String, but its ticket schema says integer and
// Preview's table, revised with the same schema change, says Integer; the
// sandbox follows the schema (see integerAssignees).
func (s *Server) resolveField(name string, v apiVersion) (searchField, error) {
	w := s.ws
	str := func(get func(*ticket) []any) searchField {
		return searchField{name: name, kind: kindString, get: get}
	}
	id := func(get func(*ticket) []any) searchField {
		return searchField{name: name, kind: kindString, acceptID: true, get: get}
	}
	attrText := func(attr string) func(*ticket) []any {
		return func(t *ticket) []any {
			if s, ok := t.attrs[attr].(string); ok {
				return one(s)
			}
			return nil
		}
	}
	assignee := func(get func(*ticket) int64) searchField {
		if !v.has(integerAssignees) {
			return searchField{name: name, kind: kindString, get: func(t *ticket) []any {
				return one(strconv.FormatInt(get(t), 10))
			}}
		}
		return searchField{name: name, kind: kindInt, get: func(t *ticket) []any { return intValue(get(t)) }}
	}
	switch name {
	case "id":
		return id(func(t *ticket) []any { return one(t.id) }), nil
	case "created_at":
		return searchField{name: name, kind: kindInt, get: func(t *ticket) []any { return intValue(t.createdAt) }}, nil
	case "updated_at":
		return searchField{name: name, kind: kindInt, get: func(t *ticket) []any { return intValue(t.updatedAt) }}, nil
	case "snoozed_until":
		return searchField{name: name, kind: kindInt, get: func(t *ticket) []any { return optionalDate(t.snoozedUntil) }}, nil
	case "title", "default_title", attrTitle:
		return str(attrText(attrTitle)), nil
	case "description", "default_description", attrDescription:
		return str(attrText(attrDescription)), nil
	case "category":
		f := str(func(t *ticket) []any { return one(t.category) })
		f.norm = func(s string) (string, error) {
			if c, ok := categoryAliases[strings.ToLower(s)]; ok {
				return c, nil
			}
			return "", searchErr("Unknown category %q", s)
		}
		return f, nil
	case "state":
		f := str(func(t *ticket) []any {
			if st := w.state(t.stateID); st != nil {
				return one(st.category)
			}
			return nil
		})
		f.norm = func(s string) (string, error) {
			switch s {
			case stateSubmitted, stateInProgress, stateWaitingOnCustomer, stateResolved:
				return s, nil
			}
			return "", searchErr("Unknown state %q", s)
		}
		return f, nil
	case "ticket_type_id":
		return id(func(t *ticket) []any { return one(t.typeID) }), nil
	case "contact_ids":
		return id(func(t *ticket) []any {
			out := make([]any, 0, len(t.contactIDs))
			for _, c := range t.contactIDs {
				out = append(out, c)
			}
			return out
		}), nil
	case "teammate_ids":
		// Teammates involved: the admin assignee and admins who wrote parts.
		return id(func(t *ticket) []any {
			seen := map[string]bool{}
			var out []any
			if t.adminAssignee != 0 {
				a := strconv.FormatInt(t.adminAssignee, 10)
				seen[a] = true
				out = append(out, a)
			}
			for _, p := range t.parts {
				if p.author.typ == "admin" && !seen[p.author.id] {
					seen[p.author.id] = true
					out = append(out, p.author.id)
				}
			}
			return out
		}), nil
	case "admin_assignee_id":
		return assignee(func(t *ticket) int64 { return t.adminAssignee }), nil
	case "team_assignee_id":
		return assignee(func(t *ticket) int64 { return t.teamAssignee }), nil
	case "open":
		return searchField{name: name, kind: kindBool, get: func(t *ticket) []any { return one(t.open) }}, nil
	}
	if key, ok := strings.CutPrefix(name, "ticket_attribute."); ok && key != "" {
		return s.attributeField(name, key)
	}
	return searchField{}, searchErr("Unknown search field %q", name)
}

// attributeField resolves ticket_attribute.{id}; the attribute's name is accepted too.
func (s *Server) attributeField(name, key string) (searchField, error) {
	var attrs []*attribute
	for _, tt := range s.ws.ticketTypes {
		for _, a := range tt.attributes {
			if a.id == key || a.name == key {
				attrs = append(attrs, a)
			}
		}
	}
	if len(attrs) == 0 {
		return searchField{}, searchErr("Unknown ticket attribute %q", key)
	}
	first := attrs[0]
	byType := map[string]*attribute{}
	for _, a := range attrs {
		if a.dataType == first.dataType {
			byType[a.ticketTypeID] = a
		}
	}
	f := searchField{name: name, get: func(t *ticket) []any {
		a := byType[t.typeID]
		if a == nil {
			return nil
		}
		val, ok := t.attrs[a.name]
		if !ok || val == nil {
			return nil
		}
		switch x := val.(type) {
		case int64:
			return one(float64(x))
		case float64, bool, string:
			return one(x)
		}
		return nil
	}}
	switch first.dataType {
	case "integer", "datetime":
		f.kind = kindInt
	case "decimal":
		f.kind = kindFloat
	case "boolean":
		f.kind = kindBool
	case "list":
		// Values are list item ids; labels are accepted and mapped to ids.
		f.kind = kindString
		f.norm = func(v string) (string, error) {
			for _, a := range byType {
				if li := a.item(v); li != nil {
					return li.id, nil
				}
			}
			return v, nil
		}
	default:
		f.kind = kindString
	}
	return f, nil
}
