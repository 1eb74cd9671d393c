package service

import (
	"log/slog"
	"time"

	gatewayv1 "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1"
)

// Option configures the services.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	idempotency IdempotencyStore // nil: an in-memory store on clock
	inDoubtTel  inDoubtTelemetry
	clock       func() time.Time
	inDoubt     InDoubtPolicy
	pageTokens  pageTokens
}

func defaultOptions() options {
	return options{
		logger:     slog.New(slog.DiscardHandler),
		clock:      time.Now,
		inDoubt:    DefaultInDoubtPolicy(),
		pageTokens: newRandomPageTokens(),
	}
}

// WithClock sets the clock of the in-doubt bookkeeping and of the default
// request_id store (default time.Now), so tests need not sleep.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithInDoubtPolicy replaces DefaultInDoubtPolicy.
func WithInDoubtPolicy(p InDoubtPolicy) Option { return func(o *options) { o.inDoubt = p } }

// WithLogger sets the logger for events the caller does not see.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithIdempotencyStore replaces the in-memory store that remembers
// CreateTicket results by request_id (for example with a shared one when
// several replicas run).
func WithIdempotencyStore(s IdempotencyStore) Option {
	return func(o *options) { o.idempotency = s }
}

// WithPageTokenKey sets the secret that signs SearchTickets page tokens.
// Replicas behind one load balancer must share it, or a caller's next page
// may land on a replica that refuses its token; by default each process
// draws its own random key. Use at least 32 random bytes.
func WithPageTokenKey(key []byte) Option {
	return func(o *options) {
		if len(key) > 0 {
			o.pageTokens = pageTokens{key: append([]byte(nil), key...)}
		}
	}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.idempotency == nil {
		o.idempotency = NewMemoryIdempotencyStore(DefaultIdempotencyTTL, WithStoreClock(o.clock))
	}
	o.inDoubtTel = newInDoubtTelemetry()
	return o
}

// TicketService implements gatewayv1.TicketServiceServer.
type TicketService struct {
	gatewayv1.UnimplementedTicketServiceServer
	backends Backends
	opts     options
}

// NewTicketService returns a TicketService that calls Intercom through the
// Backend of each call.
func NewTicketService(b Backends, opts ...Option) *TicketService {
	return &TicketService{backends: observe(b), opts: buildOptions(opts)}
}

// TicketTypeService implements gatewayv1.TicketTypeServiceServer.
type TicketTypeService struct {
	gatewayv1.UnimplementedTicketTypeServiceServer
	backends Backends
	opts     options
}

// NewTicketTypeService returns a TicketTypeService that calls Intercom
// through the Backend of each call.
func NewTicketTypeService(b Backends, opts ...Option) *TicketTypeService {
	return &TicketTypeService{backends: observe(b), opts: buildOptions(opts)}
}

// TagService implements gatewayv1.TagServiceServer.
type TagService struct {
	gatewayv1.UnimplementedTagServiceServer
	backends Backends
	opts     options
}

// NewTagService returns a TagService that calls Intercom through the Backend
// of each call.
func NewTagService(b Backends, opts ...Option) *TagService {
	return &TagService{backends: observe(b), opts: buildOptions(opts)}
}
