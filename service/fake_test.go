package service_test

import (
	"context"
	"sync"

	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// recordingAPI is an in-memory stand-in for the Intercom client in unit
// tests. It records every call so tests can prove that invalid input never
// reaches Intercom. End-to-end behaviour is tested against the sandbox.
type recordingAPI struct {
	mu       sync.Mutex
	calls    []string
	args     [][]any // the arguments of each call after ctx, in order
	searches []upstream.SearchParams
	creates  int
	err      error
	page     func(p upstream.SearchParams) *upstream.TicketPage
	block    chan struct{}
	// schema, when set, is the ticket type every schema read returns;
	// otherwise testType. fresh, when set, is what a fresh read
	// (service.WithFreshSchema) returns instead. schemaReads and
	// freshReads count the reads.
	schema, fresh           *upstream.TicketType
	schemaReads, freshReads int
}

// testType is the fake workspace's ticket type: the two built-in
// attributes and one of each other data type.
var testType = &upstream.TicketType{ID: "1", Name: "Test", Attributes: []upstream.TicketTypeAttribute{
	{ID: "101", Name: "_default_title_", DataType: "string", Default: true},
	{ID: "102", Name: "_default_description_", DataType: "string", Default: true},
	{ID: "103", Name: "count", DataType: "integer"},
	{ID: "104", Name: "done", DataType: "boolean"},
}}

// TicketType implements service.SchemaSource, like a warm schema cache:
// schema reads are not Intercom calls here.
func (f *recordingAPI) TicketType(ctx context.Context, id string) (*upstream.TicketType, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schemaReads++
	if service.FreshSchema(ctx) {
		f.freshReads++
		if f.fresh != nil {
			return f.fresh, nil
		}
	}
	if f.schema != nil {
		return f.schema, nil
	}
	t := *testType
	t.ID = id
	return &t, nil
}

// TicketTypeOf implements service.SchemaSource: every ticket has testType.
func (f *recordingAPI) TicketTypeOf(ctx context.Context, ticketID string) (string, error) {
	return testType.ID, nil
}

func (f *recordingAPI) record(name string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	f.args = append(f.args, args)
	return f.err
}

// recorded returns the names and arguments of the calls so far.
func (f *recordingAPI) recorded() ([]string, [][]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([][]any(nil), f.args...)
}

func (f *recordingAPI) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *recordingAPI) CreateTicket(ctx context.Context, p upstream.CreateTicketParams) (*upstream.Ticket, error) {
	if f.block != nil {
		<-f.block
	}
	if err := f.record("CreateTicket", p); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.creates++
	n := f.creates
	f.mu.Unlock()
	return &upstream.Ticket{ID: string(rune('0' + n)), Category: "Customer", Attributes: p.Attributes}, nil
}

func (f *recordingAPI) GetTicket(ctx context.Context, id string) (*upstream.Ticket, error) {
	return &upstream.Ticket{ID: id}, f.record("GetTicket", id)
}

func (f *recordingAPI) UpdateTicket(ctx context.Context, id string, p upstream.UpdateTicketParams) (*upstream.Ticket, error) {
	return &upstream.Ticket{ID: id}, f.record("UpdateTicket", id, p)
}

func (f *recordingAPI) DeleteTicket(ctx context.Context, id string) (*upstream.DeletedTicket, error) {
	return &upstream.DeletedTicket{ID: id, Deleted: true}, f.record("DeleteTicket", id)
}

func (f *recordingAPI) ReplyToTicket(ctx context.Context, id string, p upstream.ReplyParams) (*upstream.TicketPart, error) {
	return &upstream.TicketPart{ID: "1"}, f.record("ReplyToTicket", id, p)
}

func (f *recordingAPI) SearchTickets(ctx context.Context, p upstream.SearchParams) (*upstream.TicketPage, error) {
	if err := f.record("SearchTickets", p); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.searches = append(f.searches, p)
	f.mu.Unlock()
	if f.page != nil {
		return f.page(p), nil
	}
	return &upstream.TicketPage{}, nil
}

func (f *recordingAPI) AttachTagToTicket(ctx context.Context, ticketID, tagID, adminID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("AttachTagToTicket", ticketID, tagID, adminID)
}

func (f *recordingAPI) DetachTagFromTicket(ctx context.Context, ticketID, tagID, adminID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("DetachTagFromTicket", ticketID, tagID, adminID)
}

func (f *recordingAPI) ListTicketTypes(ctx context.Context) ([]upstream.TicketType, error) {
	return nil, f.record("ListTicketTypes")
}

func (f *recordingAPI) GetTicketType(ctx context.Context, id string) (*upstream.TicketType, error) {
	return &upstream.TicketType{ID: id}, f.record("GetTicketType", id)
}

func (f *recordingAPI) CreateTicketType(ctx context.Context, p upstream.CreateTicketTypeParams) (*upstream.TicketType, error) {
	return &upstream.TicketType{ID: "1"}, f.record("CreateTicketType", p)
}

func (f *recordingAPI) UpdateTicketType(ctx context.Context, id string, p upstream.UpdateTicketTypeParams) (*upstream.TicketType, error) {
	return &upstream.TicketType{ID: id}, f.record("UpdateTicketType", id, p)
}

func (f *recordingAPI) CreateTicketTypeAttribute(ctx context.Context, typeID string, p upstream.CreateAttributeParams) (*upstream.TicketTypeAttribute, error) {
	return &upstream.TicketTypeAttribute{ID: "1"}, f.record("CreateTicketTypeAttribute", typeID, p)
}

func (f *recordingAPI) UpdateTicketTypeAttribute(ctx context.Context, typeID, attrID string, p upstream.UpdateAttributeParams) (*upstream.TicketTypeAttribute, error) {
	return &upstream.TicketTypeAttribute{ID: attrID}, f.record("UpdateTicketTypeAttribute", typeID, attrID, p)
}

func (f *recordingAPI) ListTicketStates(ctx context.Context) ([]upstream.TicketState, error) {
	return nil, f.record("ListTicketStates")
}

func (f *recordingAPI) ListTags(ctx context.Context) ([]upstream.Tag, error) {
	return nil, f.record("ListTags")
}

func (f *recordingAPI) GetTag(ctx context.Context, id string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: id}, f.record("GetTag", id)
}

func (f *recordingAPI) CreateTag(ctx context.Context, name string) (*upstream.Tag, error) {
	return &upstream.Tag{Name: name}, f.record("CreateTag", name)
}

func (f *recordingAPI) RenameTag(ctx context.Context, id, name string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: id, Name: name}, f.record("RenameTag", id, name)
}

func (f *recordingAPI) DeleteTag(ctx context.Context, id string) error {
	return f.record("DeleteTag", id)
}

func (f *recordingAPI) ListContactTags(ctx context.Context, contactID string) ([]upstream.Tag, error) {
	return nil, f.record("ListContactTags", contactID)
}

func (f *recordingAPI) TagContact(ctx context.Context, contactID, tagID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("TagContact", contactID, tagID)
}

func (f *recordingAPI) UntagContact(ctx context.Context, contactID, tagID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("UntagContact", contactID, tagID)
}

func (f *recordingAPI) TagConversation(ctx context.Context, conversationID, tagID, adminID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("TagConversation", conversationID, tagID, adminID)
}

func (f *recordingAPI) UntagConversation(ctx context.Context, conversationID, tagID, adminID string) (*upstream.Tag, error) {
	return &upstream.Tag{ID: tagID}, f.record("UntagConversation", conversationID, tagID, adminID)
}

func (f *recordingAPI) TagCompanies(ctx context.Context, name string, companies []upstream.CompanyRef) (*upstream.Tag, error) {
	return &upstream.Tag{Name: name}, f.record("TagCompanies", name, companies)
}

func (f *recordingAPI) UntagCompanies(ctx context.Context, name string, companies []upstream.CompanyRef) (*upstream.Tag, error) {
	return &upstream.Tag{Name: name}, f.record("UntagCompanies", name, companies)
}
