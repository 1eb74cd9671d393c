package config

import (
	"fmt"
	"time"
)

// SchemaCache is how each workspace's ticket-type schemas are kept in
// memory (package schemacache): how long they are answered without asking
// Intercom, how a failing Intercom is bridged, and how much is kept.
type SchemaCache struct {
	// TTL is how long a schema is answered from memory; a read past it
	// reloads first.
	TTL time.Duration `yaml:"ttl" env:"GATEWAY_SCHEMA_TTL" flag:"schema-ttl" help:"how long a cached ticket-type schema is answered without asking Intercom (a 'duration')"`
	// Refresh is the age after which a read still answers from memory but
	// reloads the schema in the background, so a busy one never goes cold.
	Refresh time.Duration `yaml:"refresh" env:"GATEWAY_SCHEMA_REFRESH" flag:"schema-refresh" help:"age after which a read reloads a cached schema in the background while answering from it (a 'duration', at most the TTL)"`
	// MaxStale bounds how long past the TTL a schema is still served while
	// Intercom fails (5xx, 429, timeouts); answers then say x-gateway-cache:
	// stale. 0 never serves a stale schema.
	MaxStale time.Duration `yaml:"max_stale" env:"GATEWAY_SCHEMA_MAX_STALE" flag:"schema-max-stale" help:"how long past the TTL a schema is still served while Intercom fails (a 'duration'; 0 never)"`
	// MinReload: a schema loaded less than this ago answers reads that ask
	// for a fresh one (cache-control: no-cache), so callers cannot turn
	// them into a stream of Intercom calls.
	MinReload time.Duration `yaml:"min_reload" env:"GATEWAY_SCHEMA_MIN_RELOAD" flag:"schema-min-reload" help:"a schema loaded less than this ago answers cache-control: no-cache reads (a 'duration'; 0 reloads every time)"`
	// MaxTypes and MaxTickets bound memory: at most this many ticket types
	// and ticket-to-type ids per workspace; the least useful are evicted.
	MaxTypes   int `yaml:"max_types" env:"GATEWAY_SCHEMA_MAX_TYPES" flag:"schema-max-types" help:"most ticket types kept per workspace (memory bound)"`
	MaxTickets int `yaml:"max_tickets" env:"GATEWAY_SCHEMA_MAX_TICKETS" flag:"schema-max-tickets" help:"most ticket-to-type ids kept per workspace (memory bound)"`
}

// validate says which setting is wrong, with its variable, in one line.
func (s SchemaCache) validate() error {
	for _, d := range []struct {
		what string
		v    time.Duration
	}{
		{"schema_cache.ttl (GATEWAY_SCHEMA_TTL)", s.TTL},
		{"schema_cache.refresh (GATEWAY_SCHEMA_REFRESH)", s.Refresh},
	} {
		if err := positive(d.what, d.v); err != nil {
			return err
		}
	}
	if s.Refresh > s.TTL {
		return fmt.Errorf("config: schema_cache.refresh (GATEWAY_SCHEMA_REFRESH) %v must not exceed schema_cache.ttl (GATEWAY_SCHEMA_TTL) %v: a schema would expire before its background refresh", s.Refresh, s.TTL)
	}
	if s.MaxStale < 0 {
		return fmt.Errorf("config: schema_cache.max_stale (GATEWAY_SCHEMA_MAX_STALE) must not be negative, got %v", s.MaxStale)
	}
	if s.MinReload < 0 {
		return fmt.Errorf("config: schema_cache.min_reload (GATEWAY_SCHEMA_MIN_RELOAD) must not be negative, got %v", s.MinReload)
	}
	if s.MaxTypes <= 0 {
		return fmt.Errorf("config: schema_cache.max_types (GATEWAY_SCHEMA_MAX_TYPES) must be positive, got %d", s.MaxTypes)
	}
	if s.MaxTickets <= 0 {
		return fmt.Errorf("config: schema_cache.max_tickets (GATEWAY_SCHEMA_MAX_TICKETS) must be positive, got %d", s.MaxTickets)
	}
	return nil
}
