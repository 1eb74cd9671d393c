package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
)

// Redis is the one shared store of a fleet of gateways: rate budgets and
// request_id results. Without Addr each replica keeps both in memory, which
// is right for one replica only.
type Redis struct {
	// Addr is host:port, or several separated by commas for a Cluster (or
	// the Sentinels, with MasterName).
	Addr       string `yaml:"addr" env:"GATEWAY_REDIS_ADDR" flag:"redis-addr" help:"Redis 'host:port' (comma-separated for Cluster or Sentinel); empty keeps budgets and request_id results in this process"`
	MasterName string `yaml:"master_name,omitempty"`
	Username   string `yaml:"username,omitempty"`
	// PasswordEnv names the variable holding the password.
	PasswordEnv string `yaml:"password_env,omitempty"`
	DB          int    `yaml:"db,omitempty"`
}

// RateLimit is how the gateway spends each workspace's Intercom budget
// (workspaces[].rate_limit holds the budgets themselves).
type RateLimit struct {
	// Off sends every call without asking the limiter: only for a
	// simulator without a budget (benchmarks), never in front of Intercom.
	Off bool `yaml:"off" env:"GATEWAY_RATE_LIMIT_OFF" flag:"rate-limit-off" help:"send calls without the gateway's rate limiter (benchmarks against a simulator without a budget only)"`
	// MaxWait caps how long a call waits for capacity before it is refused
	// with RESOURCE_EXHAUSTED and a retry hint.
	MaxWait time.Duration `yaml:"max_wait" env:"GATEWAY_RATE_MAX_WAIT" flag:"rate-max-wait" help:"longest wait for rate budget before a call is refused (a 'duration')"`
	// RedisTimeout bounds every Redis command of the limiter.
	RedisTimeout time.Duration `yaml:"redis_timeout" env:"GATEWAY_RATE_REDIS_TIMEOUT" flag:"rate-redis-timeout" help:"timeout of each Redis command of the rate limiter (a 'duration'); past it a call is decided locally"`
	// Safety is the part of budget ÷ live replicas each replica spends on
	// its own while Redis is unreachable.
	Safety float64 `yaml:"safety" env:"GATEWAY_RATE_SAFETY" flag:"rate-safety" help:"fraction of budget ÷ live replicas each replica spends while Redis is unreachable"`
}

// redisBufferSize is the read and write buffer of each Redis connection.
const redisBufferSize = 4 << 10

// RedisClient returns a client for r (single node, Sentinel or Cluster:
// redis.NewUniversalClient decides from the addresses), or nil when no
// address is configured. timeout bounds dialing and each command.
func (r Redis) RedisClient(getenv func(string) string, timeout time.Duration) (redis.UniversalClient, error) {
	if strings.TrimSpace(r.Addr) == "" {
		return nil, nil
	}
	var addrs []string
	for _, a := range strings.Split(r.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("config: redis.addr has no address")
	}
	var password string
	if r.PasswordEnv != "" {
		if password = getenv(r.PasswordEnv); password == "" {
			return nil, fmt.Errorf("config: redis.password_env names %s, which is not set", r.PasswordEnv)
		}
	}
	if timeout <= 0 {
		timeout = ratelimit.DefaultConfig().RedisTimeout
	}
	return redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: addrs, MasterName: r.MasterName, Username: r.Username, Password: password, DB: r.DB,
		// Every command is bounded by its context (the limiter's Redis
		// timeout), never by a default of seconds: a call must not stall
		// on Redis (envoyproxy/ratelimit #462).
		ContextTimeoutEnabled: true,
		DialTimeout:           max(timeout, 100*time.Millisecond),
		ReadTimeout:           max(timeout, 100*time.Millisecond),
		WriteTimeout:          max(timeout, 100*time.Millisecond),
		PoolTimeout:           max(timeout, 100*time.Millisecond),
		MaxRetries:            -1,
		// The gateway's commands and replies are small (lease scripts,
		// request_id records of a few hundred bytes; a larger one is read in
		// pieces), but go-redis gives every pooled connection 32 KiB read and
		// write buffers, and its pipeline connections 128 KiB each. The pool
		// grows to the busiest moment's concurrency and keeps its idle
		// connections, so a burst left ~1 MiB of buffers in the soak's heap
		// for good (twice that in RSS under GOGC=100).
		ReadBufferSize:          redisBufferSize,
		WriteBufferSize:         redisBufferSize,
		PipelineReadBufferSize:  redisBufferSize,
		PipelineWriteBufferSize: redisBufferSize,
	}), nil
}

// RateLimitConfig is the ratelimit package's configuration for c.
func (c Config) RateLimitConfig() ratelimit.Config {
	rc := ratelimit.DefaultConfig()
	if c.RateLimit.MaxWait > 0 {
		rc.MaxWait = c.RateLimit.MaxWait
	}
	if c.RateLimit.RedisTimeout > 0 {
		rc.RedisTimeout = c.RateLimit.RedisTimeout
	}
	if c.RateLimit.Safety > 0 && c.RateLimit.Safety <= 1 {
		rc.Safety = c.RateLimit.Safety
	}
	rc.CallerWeights = c.CallerWeights()
	return rc
}
