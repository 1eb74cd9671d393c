package service

import (
	"context"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// observed records every call's caller and workspace in the call's
// telemetry.CallStats as soon as they are known, for the access-log line
// that the server writes when the call ends.
type observed struct{ Backends }

func observe(b Backends) Backends {
	if _, ok := b.(observed); ok || b == nil {
		return b
	}
	return observed{b}
}

func (o observed) Backend(ctx context.Context) (Backend, error) {
	b, err := o.Backends.Backend(ctx)
	if err == nil {
		if s := telemetry.CallStatsFrom(ctx); s != nil {
			s.SetIdentity(b.Caller, b.Workspace)
		}
	}
	return b, err
}
