package config

import "github.com/intercom-gateway/intercom-gateway/ratelimit"

// Budget is w's rate budget in the ratelimit package's terms.
func (w Workspace) Budget() ratelimit.Budget {
	return ratelimit.Budget{
		Limit:          w.RateLimit.AppPer10s,
		WorkspaceLimit: w.RateLimit.WorkspacePer10s,
		App:            w.RateLimit.App,
		MaxInFlight:    w.RateLimit.MaxInFlight,
	}
}

// CallerWeights are the callers' shares of a workspace's budget, for
// ratelimit.Config.CallerWeights.
func (c Config) CallerWeights() map[string]float64 {
	m := make(map[string]float64, len(c.Callers))
	for _, cl := range c.Callers {
		m[cl.ID] = cl.Weight
	}
	return m
}
