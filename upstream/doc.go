// Package upstream is the gateway's typed client for Intercom's REST API: tickets, ticket types, ticket
// type attributes, ticket states and tags.
//
// It exists so that nothing above it has to know which Intercom-Version an endpoint was called with.
// Every method sends an explicit Intercom-Version (per operation), encodes the request in the shape that
// version's description expects, and decodes the response, whatever its version shape, into one
// internal model (Ticket, TicketType, Tag, ...). The shapes differ in ways that matter: for example
// ticket.ticket_state is a string enum in 2.11 and an object from 2.12 on, and assignee ids are strings
// up to 2.15 and integers from 2.16 on. Every such difference is one row of the tables in versions.go,
// which cite the descriptions (github.com/intercom/Intercom-OpenAPI, descriptions/<version>).
//
// It also decodes Intercom's error.list bodies into *Error, captures the X-RateLimit-* headers of every
// response, and retries through an http.RoundTripper whose policy is documented on RetryPolicy.
//
// It is not the place for gRPC or proto types (the service package translates to and from them), for
// mapping errors to gRPC codes (service does that once), for deciding rate budgets (package ratelimit does;
// the client asks its Limiter before every attempt, retries included, see WithLimiter), for tracing (it
// wraps this client's transport chain, see WithMiddleware), or for the Intercom simulator (upstream/sandbox).
package upstream
