package service

import (
	"context"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// TicketAPI is the part of the Intercom client that TicketService uses.
// *upstream.Client implements it; a schema cache or other decorator can wrap
// it without TicketService knowing.
type TicketAPI interface {
	CreateTicket(ctx context.Context, p upstream.CreateTicketParams) (*upstream.Ticket, error)
	GetTicket(ctx context.Context, id string) (*upstream.Ticket, error)
	UpdateTicket(ctx context.Context, id string, p upstream.UpdateTicketParams) (*upstream.Ticket, error)
	DeleteTicket(ctx context.Context, id string) (*upstream.DeletedTicket, error)
	ReplyToTicket(ctx context.Context, id string, p upstream.ReplyParams) (*upstream.TicketPart, error)
	SearchTickets(ctx context.Context, p upstream.SearchParams) (*upstream.TicketPage, error)
	AttachTagToTicket(ctx context.Context, ticketID, tagID, adminID string) (*upstream.Tag, error)
	DetachTagFromTicket(ctx context.Context, ticketID, tagID, adminID string) (*upstream.Tag, error)
}

// TicketTypeAPI is the part of the Intercom client that TicketTypeService
// uses. The schema cache of a later wave decorates it.
type TicketTypeAPI interface {
	ListTicketTypes(ctx context.Context) ([]upstream.TicketType, error)
	GetTicketType(ctx context.Context, id string) (*upstream.TicketType, error)
	CreateTicketType(ctx context.Context, p upstream.CreateTicketTypeParams) (*upstream.TicketType, error)
	UpdateTicketType(ctx context.Context, id string, p upstream.UpdateTicketTypeParams) (*upstream.TicketType, error)
	CreateTicketTypeAttribute(ctx context.Context, typeID string, p upstream.CreateAttributeParams) (*upstream.TicketTypeAttribute, error)
	UpdateTicketTypeAttribute(ctx context.Context, typeID, attrID string, p upstream.UpdateAttributeParams) (*upstream.TicketTypeAttribute, error)
	ListTicketStates(ctx context.Context) ([]upstream.TicketState, error)
}

// TagAPI is the part of the Intercom client that TagService uses.
type TagAPI interface {
	ListTags(ctx context.Context) ([]upstream.Tag, error)
	GetTag(ctx context.Context, id string) (*upstream.Tag, error)
	CreateTag(ctx context.Context, name string) (*upstream.Tag, error)
	RenameTag(ctx context.Context, id, name string) (*upstream.Tag, error)
	DeleteTag(ctx context.Context, id string) error
	ListContactTags(ctx context.Context, contactID string) ([]upstream.Tag, error)
	TagContact(ctx context.Context, contactID, tagID string) (*upstream.Tag, error)
	UntagContact(ctx context.Context, contactID, tagID string) (*upstream.Tag, error)
	TagConversation(ctx context.Context, conversationID, tagID, adminID string) (*upstream.Tag, error)
	UntagConversation(ctx context.Context, conversationID, tagID, adminID string) (*upstream.Tag, error)
	TagCompanies(ctx context.Context, name string, companies []upstream.CompanyRef) (*upstream.Tag, error)
	UntagCompanies(ctx context.Context, name string, companies []upstream.CompanyRef) (*upstream.Tag, error)
}

// Compile-time proof that the real client fits.
var (
	_ TicketAPI     = (*upstream.Client)(nil)
	_ TicketTypeAPI = (*upstream.Client)(nil)
	_ TagAPI        = (*upstream.Client)(nil)
)
