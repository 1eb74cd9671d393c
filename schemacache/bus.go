package schemacache

import (
	"context"
)

// Bus carries "this ticket type changed" between the replicas of the
// gateway. Delivery is at most once (Redis pub/sub drops messages while a
// subscriber is disconnected), so a lost message only delays the change
// until the entry's next reload: the periodic refresh is the backstop.
type Bus interface {
	// Publish tells the other replicas that a ticket type of workspace
	// changed. It must return promptly; the write it follows has already
	// succeeded.
	Publish(ctx context.Context, m Message) error
	// Subscribe calls fn for every message about workspace, including the
	// publisher's own (fn skips those by Origin), and with Resubscribed set
	// after a lost connection came back, when messages may have been
	// missed. The returned function stops the calls.
	Subscribe(workspace string, fn func(Message)) (unsubscribe func())
}

// Message is one Bus message.
type Message struct {
	// Origin is the publishing Cache's random id.
	Origin string `json:"origin"`
	// Workspace is the configured workspace name.
	Workspace string `json:"workspace"`
	// TicketTypeID is the ticket type that changed.
	TicketTypeID string `json:"ticket_type_id"`
	// Resubscribed is set (locally, never published) when the bus
	// reconnected and messages may have been lost.
	Resubscribed bool `json:"-"`
}

// publish tells the other replicas; a failure is logged and counted, and
// the periodic refresh covers it.
func (c *Cache) publish(ctx context.Context, typeID string) {
	if c.o.bus == nil {
		return
	}
	err := c.o.bus.Publish(context.WithoutCancel(ctx), Message{Origin: c.origin, Workspace: c.o.workspace, TicketTypeID: typeID})
	if err != nil {
		c.metrics.invalidated(ctx, "publish_error")
		c.o.logger.WarnContext(ctx, "schema cache: could not tell other replicas about a ticket type change; they see it at their next refresh",
			"workspace", c.o.workspace, "ticket_type_id", typeID, "error", err.Error())
	}
}

// receive applies another replica's message.
func (c *Cache) receive(m Message) {
	ctx := context.Background()
	switch {
	case m.Resubscribed:
		// Messages may have been lost while disconnected: forget everything
		// but the ticket-to-type ids (those change only with a ticket).
		c.types.c.InvalidateAll()
		c.list.invalidate(allKey)
		c.states.invalidate(allKey)
		c.metrics.invalidated(ctx, "resubscribed")
	case m.Origin == c.origin || m.Workspace != c.o.workspace:
	default:
		c.dropType(ctx, m.TicketTypeID, true)
	}
}
