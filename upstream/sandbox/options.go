package sandbox

import (
	"log/slog"
	"time"
)

// Option configures a Server.
type Option func(*options)

type options struct {
	seed       bool
	rateLimit  int
	rateWindow time.Duration
	clock      func() time.Time
	logger     *slog.Logger
	tokens     map[string]bool
	randSeed   uint64
	requestLog int
}

// defaultOptions are the settings New starts from. The rate budget follows
// Intercom's documented scheme of fixed 10-second windows (developers.intercom.com,
// rate limiting: "We evenly distribute this into 10 second windows"); 1000 per
// window is generous so that ordinary tests never hit it.
func defaultOptions() options {
	return options{
		seed:       true,
		rateLimit:  1000,
		rateWindow: 10 * time.Second,
		clock:      time.Now,
		logger:     slog.New(slog.DiscardHandler),
		randSeed:   1,
		requestLog: DefaultRequestLog,
	}
}

// DefaultRequestLog is how many requests Requests keeps by default: far more than any test sends,
// a few megabytes at most.
const DefaultRequestLog = 10000

// WithRequestLog sets how many of the newest requests Requests keeps (default DefaultRequestLog);
// n <= 0 keeps none. Older requests are dropped, so memory stays bounded however long the sandbox
// runs.
func WithRequestLog(n int) Option { return func(o *options) { o.requestLog = n } }

// WithSeedData controls whether the server starts with demo data (ticket types,
// states, tickets, tags, contacts, companies, admins, conversations). Default true.
func WithSeedData(seed bool) Option { return func(o *options) { o.seed = seed } }

// WithRateLimit sets the request budget per bearer token per fixed window.
// limit <= 0 disables rate limiting and the X-RateLimit-* headers.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(o *options) {
		o.rateLimit = limit
		if window > 0 {
			o.rateWindow = window
		}
	}
}

// WithClock replaces time.Now, for timestamps and rate windows.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithLogger sets the logger; by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTokens restricts the accepted bearer tokens. By default any non-empty
// token is accepted.
func WithTokens(tokens ...string) Option {
	return func(o *options) {
		o.tokens = map[string]bool{}
		for _, t := range tokens {
			o.tokens[t] = true
		}
	}
}

// WithRandSeed seeds the source used to pick which requests a fractional fault
// rate hits, so that runs are repeatable. Default 1.
func WithRandSeed(seed uint64) Option { return func(o *options) { o.randSeed = seed } }
