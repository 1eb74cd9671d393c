package config

import "fmt"

// RequestID is how CreateTicket results are remembered by request_id.
type RequestID struct {
	// MaxRecords bounds the request_id results one replica keeps in memory:
	// all of them without Redis, its own creates as a copy with Redis (asked
	// when Redis lost a record). Records live 24 hours; past the bound the
	// oldest go first. Each costs ~250-285 B of heap (make soak's heap
	// profiles), and the collector lets the heap grow to five times its live
	// size at the gateway's GOGC of 400: the default 100,000, reached by a
	// replica that creates 100,000 tickets a day, is ~25 MB live and can
	// take 100 MiB or more of resident memory.
	MaxRecords int `yaml:"max_records" env:"GATEWAY_REQUEST_ID_MAX_RECORDS" flag:"request-id-max-records" help:"most request_id results each replica keeps in memory (memory bound)"`
}

func (r RequestID) validate() error {
	if r.MaxRecords <= 0 {
		return fmt.Errorf("config: request_id.max_records (GATEWAY_REQUEST_ID_MAX_RECORDS) must be positive, got %d", r.MaxRecords)
	}
	return nil
}
