package upstream

import (
	"context"
	"errors"
)

// errNotImplemented marks the methods of the step-1 skeleton; they are replaced by real ones.
var errNotImplemented = errors.New("upstream: not implemented yet")

func (c *Client) CreateTicket(ctx context.Context, p CreateTicketParams) (*Ticket, error) {
	return nil, errNotImplemented
}
func (c *Client) GetTicket(ctx context.Context, id string) (*Ticket, error) {
	return nil, errNotImplemented
}
func (c *Client) UpdateTicket(ctx context.Context, id string, p UpdateTicketParams) (*Ticket, error) {
	return nil, errNotImplemented
}
func (c *Client) DeleteTicket(ctx context.Context, id string) (*DeletedTicket, error) {
	return nil, errNotImplemented
}
func (c *Client) ReplyToTicket(ctx context.Context, id string, p ReplyParams) (*TicketPart, error) {
	return nil, errNotImplemented
}
func (c *Client) SearchTickets(ctx context.Context, p SearchParams) (*TicketPage, error) {
	return nil, errNotImplemented
}
func (c *Client) AttachTagToTicket(ctx context.Context, ticketID, tagID, adminID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) DetachTagFromTicket(ctx context.Context, ticketID, tagID, adminID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) ListTicketTypes(ctx context.Context) ([]TicketType, error) {
	return nil, errNotImplemented
}
func (c *Client) GetTicketType(ctx context.Context, id string) (*TicketType, error) {
	return nil, errNotImplemented
}
func (c *Client) CreateTicketType(ctx context.Context, p CreateTicketTypeParams) (*TicketType, error) {
	return nil, errNotImplemented
}
func (c *Client) UpdateTicketType(ctx context.Context, id string, p UpdateTicketTypeParams) (*TicketType, error) {
	return nil, errNotImplemented
}
func (c *Client) CreateTicketTypeAttribute(ctx context.Context, typeID string, p CreateAttributeParams) (*TicketTypeAttribute, error) {
	return nil, errNotImplemented
}
func (c *Client) UpdateTicketTypeAttribute(ctx context.Context, typeID, attrID string, p UpdateAttributeParams) (*TicketTypeAttribute, error) {
	return nil, errNotImplemented
}
func (c *Client) ListTicketStates(ctx context.Context) ([]TicketState, error) {
	return nil, errNotImplemented
}
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) { return nil, errNotImplemented }
func (c *Client) GetTag(ctx context.Context, id string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) CreateTag(ctx context.Context, name string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) RenameTag(ctx context.Context, id, name string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) DeleteTag(ctx context.Context, id string) error { return errNotImplemented }
func (c *Client) ListContactTags(ctx context.Context, contactID string) ([]Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) TagContact(ctx context.Context, contactID, tagID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) UntagContact(ctx context.Context, contactID, tagID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) TagConversation(ctx context.Context, conversationID, tagID, adminID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) UntagConversation(ctx context.Context, conversationID, tagID, adminID string) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) TagCompanies(ctx context.Context, name string, companies []CompanyRef) (*Tag, error) {
	return nil, errNotImplemented
}
func (c *Client) UntagCompanies(ctx context.Context, name string, companies []CompanyRef) (*Tag, error) {
	return nil, errNotImplemented
}
