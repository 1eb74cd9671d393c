package service

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Search limits from Intercom's ticket search documentation (2.11.yaml
// `/tickets/search`, INTERCOM-API.md §8): "at most 2 levels of nested
// filters; at most 15 filters in each AND/OR group". Intercom documents a
// default page of 20 and, for its other search endpoints, a maximum of 150.
const (
	maxGroupDepth      = 2
	maxQueriesPerGroup = 15
	defaultPageSize    = 20
	maxPageSize        = 150
)

// valueKind is the type of a search field per Intercom's field table.
type valueKind int

const (
	kindString valueKind = iota
	kindDate
	kindBool
	kindAttribute // ticket_attribute.{id}: string, boolean, date, float or integer
)

// searchFields gives the wire name and type of each field (seed table
// "Field | Type" of the ticket search documentation).
var searchFields = map[gatewayv1.TicketSearchField]struct {
	name string
	kind valueKind
}{
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_ID:                  {"id", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CREATED_AT:          {"created_at", kindDate},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_UPDATED_AT:          {"updated_at", kindDate},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_DEFAULT_TITLE:       {"default_title", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_DEFAULT_DESCRIPTION: {"default_description", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CATEGORY:            {"category", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_TYPE_ID:      {"ticket_type_id", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_CONTACT_IDS:         {"contact_ids", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TEAMMATE_IDS:        {"teammate_ids", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_ADMIN_ASSIGNEE_ID:   {"admin_assignee_id", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TEAM_ASSIGNEE_ID:    {"team_assignee_id", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_OPEN:                {"open", kindBool},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_STATE:               {"state", kindString},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_SNOOZED_UNTIL:       {"snoozed_until", kindDate},
	gatewayv1.TicketSearchField_TICKET_SEARCH_FIELD_TICKET_ATTRIBUTE:    {"ticket_attribute", kindAttribute},
}

// operatorClass groups operators by the values they take (the search
// operator table: "Operator | Valid Types").
type operatorClass int

const (
	opAny              operatorClass = iota // = and !=: any scalar
	opList                                  // IN and NIN: a list
	opOrdered                               // > and <: integers and dates
	opOrderedCreatedAt                      // >= and <=: only created_at
	opText                                  // ~ !~ ^ $: strings
)

var searchOperators = map[gatewayv1.FilterOperator]struct {
	symbol string
	class  operatorClass
}{
	gatewayv1.FilterOperator_FILTER_OPERATOR_EQUALS:                {"=", opAny},
	gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_EQUALS:            {"!=", opAny},
	gatewayv1.FilterOperator_FILTER_OPERATOR_IN:                    {"IN", opList},
	gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_IN:                {"NIN", opList},
	gatewayv1.FilterOperator_FILTER_OPERATOR_GREATER_THAN:          {">", opOrdered},
	gatewayv1.FilterOperator_FILTER_OPERATOR_LESS_THAN:             {"<", opOrdered},
	gatewayv1.FilterOperator_FILTER_OPERATOR_GREATER_THAN_OR_EQUAL: {">=", opOrderedCreatedAt},
	gatewayv1.FilterOperator_FILTER_OPERATOR_LESS_THAN_OR_EQUAL:    {"<=", opOrderedCreatedAt},
	gatewayv1.FilterOperator_FILTER_OPERATOR_CONTAINS:              {"~", opText},
	gatewayv1.FilterOperator_FILTER_OPERATOR_NOT_CONTAINS:          {"!~", opText},
	gatewayv1.FilterOperator_FILTER_OPERATOR_STARTS_WITH:           {"^", opText},
	gatewayv1.FilterOperator_FILTER_OPERATOR_ENDS_WITH:             {"$", opText},
}

// compileQuery validates q against Intercom's search grammar and translates
// it. Every problem is recorded in v under field paths rooted at path.
func compileQuery(q *gatewayv1.TicketQuery, path string, v *violations) upstream.SearchQuery {
	if q == nil {
		v.add(path, "is required")
		return upstream.SearchQuery{}
	}
	if d := groupDepth(q); d > maxGroupDepth {
		v.add(path, fmt.Sprintf("nests groups %d levels deep; Intercom allows at most %d", d, maxGroupDepth))
		return upstream.SearchQuery{}
	}
	return compileNode(q, path, v)
}

func groupDepth(q *gatewayv1.TicketQuery) int {
	g := q.GetGroup()
	if g == nil {
		return 0
	}
	deepest := 0
	for _, c := range g.GetQueries() {
		deepest = max(deepest, groupDepth(c))
	}
	return 1 + deepest
}

func compileNode(q *gatewayv1.TicketQuery, path string, v *violations) upstream.SearchQuery {
	switch k := q.GetKind().(type) {
	case *gatewayv1.TicketQuery_Filter:
		return compileFilter(k.Filter, path+".filter", v)
	case *gatewayv1.TicketQuery_Group:
		return compileGroup(k.Group, path+".group", v)
	default:
		v.add(path, "needs either a filter or a group")
		return upstream.SearchQuery{}
	}
}

func compileGroup(g *gatewayv1.TicketFilterGroup, path string, v *violations) upstream.SearchQuery {
	out := upstream.SearchQuery{Children: []upstream.SearchQuery{}}
	switch g.GetOperator() {
	case gatewayv1.LogicalOperator_LOGICAL_OPERATOR_AND:
		out.Operator = "AND"
	case gatewayv1.LogicalOperator_LOGICAL_OPERATOR_OR:
		out.Operator = "OR"
	default:
		v.add(path+".operator", "must be LOGICAL_OPERATOR_AND or LOGICAL_OPERATOR_OR")
	}
	n := len(g.GetQueries())
	switch {
	case n == 0:
		v.add(path+".queries", "must hold at least one query")
	case n > maxQueriesPerGroup:
		v.add(path+".queries", fmt.Sprintf("holds %d queries; Intercom allows at most %d per group", n, maxQueriesPerGroup))
	}
	for i, c := range g.GetQueries() {
		out.Children = append(out.Children, compileNode(c, fmt.Sprintf("%s.queries[%d]", path, i), v))
	}
	return out
}

func compileFilter(f *gatewayv1.TicketFilter, path string, v *violations) upstream.SearchQuery {
	field, okField := searchFields[f.GetField()]
	op, okOp := searchOperators[f.GetOperator()]
	if !okField {
		v.add(path+".field", "must be a TICKET_SEARCH_FIELD_* value")
	}
	if !okOp {
		v.add(path+".operator", "must be a FILTER_OPERATOR_* value")
	}
	name := field.name
	if field.kind == kindAttribute {
		if !upstream.ValidID(f.GetAttributeId()) {
			v.add(path+".attribute_id", "is required for TICKET_SEARCH_FIELD_TICKET_ATTRIBUTE and must be an attribute id")
		}
		name = "ticket_attribute." + f.GetAttributeId()
	} else if f.GetAttributeId() != "" {
		v.add(path+".attribute_id", "is only allowed with TICKET_SEARCH_FIELD_TICKET_ATTRIBUTE")
	}
	if f.GetValue() == nil || f.GetValue().GetKind() == nil {
		v.add(path+".value", "is required")
		return upstream.SearchQuery{}
	}
	if !okField || !okOp {
		return upstream.SearchQuery{}
	}
	value, problem := filterValue(field.kind, name, op.class, f.GetValue())
	if problem == "" {
		problem = closedValue(name, value)
	}
	if problem != "" {
		v.add(path+".value", fmt.Sprintf("%s with operator %s: %s", name, op.symbol, problem))
	}
	return upstream.SearchQuery{Field: name, Operator: op.symbol, Value: value}
}

// filterValue checks that value suits the field type and operator class and
// converts it to the JSON value Intercom expects. Dates are Unix seconds.
func filterValue(kind valueKind, field string, class operatorClass, value *gatewayv1.FilterValue) (any, string) {
	var isList bool
	var out any
	var typ string // "string", "integer", "double", "bool", "date"
	switch k := value.GetKind().(type) {
	case *gatewayv1.FilterValue_StringValue:
		out, typ = k.StringValue, "string"
	case *gatewayv1.FilterValue_IntValue:
		out, typ = k.IntValue, "integer"
	case *gatewayv1.FilterValue_DoubleValue:
		out, typ = k.DoubleValue, "double"
	case *gatewayv1.FilterValue_BoolValue:
		out, typ = k.BoolValue, "bool"
	case *gatewayv1.FilterValue_TimestampValue:
		if err := k.TimestampValue.CheckValid(); err != nil {
			return nil, "timestamp_value is not a valid time"
		}
		out, typ = k.TimestampValue.GetSeconds(), "date"
	case *gatewayv1.FilterValue_StringList:
		isList, typ = true, "string"
		vals := k.StringList.GetValues()
		if len(vals) == 0 {
			return nil, "the list must not be empty"
		}
		out = append([]string(nil), vals...)
	case *gatewayv1.FilterValue_IntList:
		isList, typ = true, "integer"
		vals := k.IntList.GetValues()
		if len(vals) == 0 {
			return nil, "the list must not be empty"
		}
		out = append([]int64(nil), vals...)
	}

	switch class {
	case opList:
		if !isList {
			return nil, "IN and NIN take string_list or int_list"
		}
	default:
		if isList {
			return nil, "lists are only allowed with IN and NIN"
		}
	}

	// Which value types each field type takes.
	allowed := map[valueKind][]string{
		kindString:    {"string"},
		kindDate:      {"date", "integer"},
		kindBool:      {"bool"},
		kindAttribute: {"string", "integer", "double", "bool", "date"},
	}[kind]
	if !contains(allowed, typ) {
		return nil, fmt.Sprintf("the field takes %s values, not %s", strings.Join(allowed, " or "), typ)
	}

	switch class {
	case opOrdered:
		if typ != "integer" && typ != "double" && typ != "date" {
			return nil, "> and < compare only integers, decimals and timestamps"
		}
	case opOrderedCreatedAt:
		if field != "created_at" {
			return nil, ">= and <= are only allowed on created_at"
		}
	case opText:
		if typ != "string" {
			return nil, "~, !~, ^ and $ compare only strings"
		}
	}
	return out, ""
}

// closedValues are the fields whose string values come from a fixed set,
// which Intercom refuses otherwise ("Unknown state"): state takes the
// ticket_state enum of the ticket schema (Intercom's OpenAPI, e.g. 2.11.yaml
// components.schemas.ticket), category the ticket categories (Customer,
// Back-office, Tracker) or the aliases unstable.yaml documents for search
// (request, task), in any case. Checked here so that such a query is
// refused before it costs an Intercom request (FuzzSearchQuery found state
// "" passing).
var closedValues = map[string]struct {
	values []string
	fold   bool
}{
	"state":    {values: []string{"submitted", "in_progress", "waiting_on_customer", "resolved"}},
	"category": {values: []string{"customer", "back-office", "tracker", "request", "task"}, fold: true},
}

func closedValue(field string, value any) string {
	c, ok := closedValues[field]
	if !ok {
		return ""
	}
	var vals []string
	switch v := value.(type) {
	case string:
		vals = []string{v}
	case []string:
		vals = v
	}
	for _, s := range vals {
		if c.fold {
			s = strings.ToLower(s)
		}
		if !contains(c.values, s) {
			return fmt.Sprintf("%q is not one of %s", s, strings.Join(c.values, ", "))
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pageToken is the content of an opaque page_token (AIP-158). It wraps
// Intercom's `starting_after` cursor with a fingerprint of the query, so a
// token cannot silently be used with another query.
type pageToken struct {
	Version       int    `json:"v"`
	StartingAfter string `json:"c"`
	Query         string `json:"q"`
}

// pageTokenVersion 2 tokens carry a MAC; version 1 tokens (unsigned) are no
// longer accepted.
const pageTokenVersion = 2

// pageMACSize is the length of a token's MAC: 128 bits cannot be guessed.
const pageMACSize = 16

// errForeignToken is what a caller is told about any token the gateway did
// not issue to it: the same words whether it was garbled, forged, or issued
// for another caller or workspace, so the answer reveals nothing.
const errForeignToken = "is not a page token issued by this gateway to this caller"

// pageTokens issues and checks page tokens. A token is
// base64url(JSON) "." base64url(MAC), the MAC taken over the payload and the
// scope of the call (workspace and caller, see Backend.Key), so a token
// cannot be forged, edited to point Intercom at another cursor, or replayed
// by another caller or against another workspace.
type pageTokens struct{ key []byte }

func newRandomPageTokens() pageTokens {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return pageTokens{key: key}
}

func (p pageTokens) mac(scope string, payload []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:pageMACSize]
}

func queryFingerprint(q *gatewayv1.TicketQuery) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(q)
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func (p pageTokens) encode(scope string, q *gatewayv1.TicketQuery, startingAfter string) string {
	if startingAfter == "" {
		return ""
	}
	payload, _ := json.Marshal(pageToken{Version: pageTokenVersion, StartingAfter: startingAfter, Query: queryFingerprint(q)})
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(p.mac(scope, payload))
}

// decode returns the starting_after cursor in token, or a description of
// what is wrong with it.
func (p pageTokens) decode(scope string, q *gatewayv1.TicketQuery, token string) (string, string) {
	if token == "" {
		return "", ""
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", errForeignToken
	}
	// Only the issued spelling is accepted: the decoder ignores the unused
	// low bits of the last character (unless Strict) and, even when Strict,
	// skips '\r' and '\n' anywhere, so several strings would decode to one
	// token. Re-encoding and comparing rules out every other spelling.
	payload, err1 := base64.RawURLEncoding.Strict().DecodeString(body)
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err1 != nil || err2 != nil || base64.RawURLEncoding.EncodeToString(payload) != body ||
		base64.RawURLEncoding.EncodeToString(mac) != sig || !hmac.Equal(mac, p.mac(scope, payload)) {
		return "", errForeignToken
	}
	var t pageToken
	if err := json.Unmarshal(payload, &t); err != nil || t.Version != pageTokenVersion || t.StartingAfter == "" {
		return "", errForeignToken
	}
	if t.Query != queryFingerprint(q) {
		return "", "was issued for a different query; send the same query as for the previous page"
	}
	return t.StartingAfter, ""
}
