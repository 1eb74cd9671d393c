package service

import (
	"log/slog"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

// Option configures the services.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	idempotency IdempotencyStore
}

func defaultOptions() options {
	return options{
		logger:      slog.New(slog.DiscardHandler),
		idempotency: NewMemoryIdempotencyStore(defaultIdempotencyTTL),
	}
}

// WithLogger sets the logger for events the caller does not see.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithIdempotencyStore replaces the in-memory store that remembers
// CreateTicket results by request_id (for example with a shared one when
// several replicas run).
func WithIdempotencyStore(s IdempotencyStore) Option {
	return func(o *options) { o.idempotency = s }
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// TicketService implements gatewayv1.TicketServiceServer.
type TicketService struct {
	gatewayv1.UnimplementedTicketServiceServer
	api  TicketAPI
	opts options
}

// NewTicketService returns a TicketService that calls Intercom through api.
func NewTicketService(api TicketAPI, opts ...Option) *TicketService {
	return &TicketService{api: api, opts: buildOptions(opts)}
}

// TicketTypeService implements gatewayv1.TicketTypeServiceServer.
type TicketTypeService struct {
	gatewayv1.UnimplementedTicketTypeServiceServer
	api  TicketTypeAPI
	opts options
}

// NewTicketTypeService returns a TicketTypeService that calls Intercom
// through api.
func NewTicketTypeService(api TicketTypeAPI, opts ...Option) *TicketTypeService {
	return &TicketTypeService{api: api, opts: buildOptions(opts)}
}

// TagService implements gatewayv1.TagServiceServer.
type TagService struct {
	gatewayv1.UnimplementedTagServiceServer
	api  TagAPI
	opts options
}

// NewTagService returns a TagService that calls Intercom through api.
func NewTagService(api TagAPI, opts ...Option) *TagService {
	return &TagService{api: api, opts: buildOptions(opts)}
}
