package schemacache

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Cache.
type Option func(*options)

type options struct {
	workspace  string
	ttl        time.Duration
	refresh    time.Duration
	maxStale   time.Duration
	minReload  time.Duration
	maxTypes   int
	maxTickets int
	now        func() time.Time // nil: the real clock
	logger     *slog.Logger
	bus        Bus
}

// The defaults a Cache starts from, which the gateway's configuration also
// takes as its own. Schemas change rarely and every ticket write reads one,
// so entries live for minutes; a busy entry is reloaded in the background
// every minute, a quarter of an hour of Intercom outage is bridged, and
// another replica's write arrives at once through the Bus when there is one.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultRefresh    = time.Minute
	DefaultMaxStale   = 15 * time.Minute
	DefaultMinReload  = time.Second
	DefaultMaxTypes   = 10_000
	DefaultMaxTickets = 100_000
)

func defaultOptions() options {
	return options{
		workspace:  "default",
		ttl:        DefaultTTL,
		refresh:    DefaultRefresh,
		maxStale:   DefaultMaxStale,
		minReload:  DefaultMinReload,
		maxTypes:   DefaultMaxTypes,
		maxTickets: DefaultMaxTickets,
		logger:     slog.New(slog.DiscardHandler),
	}
}

// WithWorkspace names the workspace, for metric labels and for routing Bus
// messages (default "default").
func WithWorkspace(name string) Option { return func(o *options) { o.workspace = name } }

// WithTTL sets how long an entry is answered without asking Intercom
// (default 5 minutes).
func WithTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithRefresh sets the age after which a read reloads an entry in the
// background while still answering from it (default 1 minute). It must not
// exceed the TTL.
func WithRefresh(d time.Duration) Option { return func(o *options) { o.refresh = d } }

// WithMaxStale bounds how long past its TTL an entry is still served when
// Intercom fails (default 15 minutes). 0 never serves a stale entry.
func WithMaxStale(d time.Duration) Option { return func(o *options) { o.maxStale = d } }

// WithMinReload sets how recently loaded an entry must be for a fresh read
// (cache-control: no-cache) to be answered from it (default 1 second).
func WithMinReload(d time.Duration) Option { return func(o *options) { o.minReload = d } }

// WithMaxEntries bounds the number of ticket types kept (default 10,000) and
// of remembered ticket-to-type ids (default 100,000). The least useful
// entries are evicted first (otter's W-TinyLFU).
func WithMaxEntries(types, tickets int) Option {
	return func(o *options) { o.maxTypes, o.maxTickets = types, tickets }
}

// WithClock sets the time source, so that tests move time instead of
// sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger sets the logger for failed background reloads and Bus
// problems. By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithBus tells other replicas about writes made through this one, and
// applies theirs (see RedisBus). Without one, other replicas see a write
// when they next reload the entry.
func WithBus(b Bus) Option { return func(o *options) { o.bus = b } }

func (o options) validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"TTL", o.ttl}, {"refresh interval", o.refresh}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("schemacache: the %s must be positive, got %v", d.name, d.v))
		}
	}
	if o.refresh > o.ttl {
		errs = append(errs, fmt.Errorf("schemacache: the refresh interval (%v) must not exceed the TTL (%v)", o.refresh, o.ttl))
	}
	if o.maxStale < 0 || o.minReload < 0 {
		errs = append(errs, errors.New("schemacache: max stale and min reload must not be negative"))
	}
	if o.maxTypes <= 0 || o.maxTickets <= 0 {
		errs = append(errs, fmt.Errorf("schemacache: entry bounds must be positive, got %d and %d", o.maxTypes, o.maxTickets))
	}
	if o.workspace == "" {
		errs = append(errs, errors.New("schemacache: the workspace name must not be empty"))
	}
	return errors.Join(errs...)
}
