// Package config is the gateway's configuration: one typed Config, read
// from an optional YAML file, then environment variables, then command-line
// flags (each overriding the one before), and validated once by Load.
//
// A field is one line: its struct tags say its YAML key (`yaml`), and, when
// it may also come from the environment or the command line, its variable
// (`env`), flag (`flag`) and the help text (`help`). Defaults live in
// Defaults. Unknown YAML keys are errors that name the file and line.
//
// Credentials never live in the Config: a workspace names the environment
// variable or file its Intercom token comes from, and callers' key hashes
// are Secrets. Secret and URL redact themselves in every printer, so the
// whole Config can be logged, printed by `gateway config check` and put in
// errors.
//
// It is not where the configuration is used: the workspace registry
// (package workspace) turns Workspaces into upstream clients, and package
// auth turns Callers into identities and permissions.
package config

import (
	"log/slog"
	"time"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/schemacache"
	"github.com/intercom-gateway/intercom-gateway/service"
)

// Config is everything the gateway reads at startup.
type Config struct {
	Listen  Listen  `yaml:"listen"`
	Log     Log     `yaml:"log"`
	Sandbox Sandbox `yaml:"sandbox"`
	// Intercom holds what every workspace inherits (region, version,
	// timeout), and, when no workspaces are listed, describes the single
	// workspace "default" whose token is INTERCOM_TOKEN (or
	// INTERCOM_TOKEN_FILE): the env-only configuration.
	Intercom   Intercom    `yaml:"intercom"`
	Workspaces []Workspace `yaml:"workspaces"`
	Auth       Auth        `yaml:"auth"`
	Callers    []Caller    `yaml:"callers"`
	// Redis is shared by the replicas (rate budgets, request_id results);
	// RateLimit says how budgets are spent.
	Redis     Redis     `yaml:"redis"`
	RateLimit RateLimit `yaml:"rate_limit"`
	// SchemaCache keeps ticket-type schemas in memory, per workspace.
	SchemaCache SchemaCache `yaml:"schema_cache"`
	// RequestID bounds the request_id results kept in memory.
	RequestID RequestID `yaml:"request_id"`
}

// Listen is where the gateway serves and how it stops.
type Listen struct {
	GRPCAddr      string        `yaml:"grpc_addr" env:"GATEWAY_GRPC_ADDR" flag:"grpc-addr" help:"gRPC listen 'address'"`
	HTTPAddr      string        `yaml:"http_addr" env:"GATEWAY_HTTP_ADDR" flag:"http-addr" help:"HTTP (REST) listen 'address'"`
	ShutdownGrace time.Duration `yaml:"shutdown_grace" env:"GATEWAY_SHUTDOWN_GRACE" flag:"shutdown-grace" help:"how long in-flight calls may run after SIGTERM (a 'duration')"`
	// MaxRequestBytes bounds a request: a larger REST body is refused with
	// 413 while it is read, a larger gRPC message with RESOURCE_EXHAUSTED.
	MaxRequestBytes int `yaml:"max_request_bytes" env:"GATEWAY_MAX_REQUEST_BYTES" flag:"max-request-bytes" help:"largest request body or message in 'bytes' (REST 413 beyond it)"`
	// AdminAddr serves Go's profiles (/debug/pprof/); empty, the default,
	// serves none. Keep it on a private address.
	AdminAddr string `yaml:"admin_addr,omitempty" env:"GATEWAY_ADMIN_ADDR" flag:"admin-addr" help:"listen 'address' for /debug/pprof/ profiles; empty (default) to serve none"`
	// GRPCTLS and HTTPTLS make a listener speak TLS (file only).
	GRPCTLS TLS `yaml:"grpc_tls"`
	HTTPTLS TLS `yaml:"http_tls"`
}

// TLS is one listener's TLS setup, from PEM files; without CertFile the
// listener is plain TCP.
type TLS struct {
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// ClientCerts says whether client certificates are asked for: none,
	// optional (verified when sent, so callers may use a certificate or a
	// key) or required. Their identities can name a caller
	// (callers[].cert_identities).
	ClientCerts  string `yaml:"client_certs,omitempty"`
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
}

// Log is how the gateway logs.
type Log struct {
	Level  slog.Level `yaml:"level" env:"GATEWAY_LOG_LEVEL" flag:"log-level" help:"log 'level': debug, info, warn or error"`
	Format string     `yaml:"format" env:"GATEWAY_LOG_FORMAT" flag:"log-format" help:"log 'format': json or text"`
}

// SandboxMode says whether the built-in Intercom simulator replaces Intercom.
type SandboxMode string

// Sandbox modes. There is no "auto": a production pod whose token secret is
// missing must fail to start, not serve simulated data (and the simulator's
// unauthenticated fault-injection endpoints).
const (
	SandboxOff SandboxMode = "off"
	SandboxOn  SandboxMode = "on"
)

// Sandbox is the built-in Intercom simulator.
type Sandbox struct {
	Mode SandboxMode `yaml:"mode" env:"GATEWAY_SANDBOX" flag:"sandbox" help:"'mode' on: serve the built-in Intercom simulator instead of Intercom (no token needed, no caller auth); off: real Intercom"`
	// Addr is where the simulator itself listens: the in-process one in
	// sandbox mode, or `gateway sandbox`.
	Addr string `yaml:"addr" env:"GATEWAY_SANDBOX_ADDR" flag:"sandbox-addr" help:"listen 'address' of the simulator in sandbox mode"`
	// RateLimit is the simulator's budget per token per 10-second window;
	// 0 turns it off and a negative value keeps the simulator's default.
	RateLimit int `yaml:"rate_limit" env:"GATEWAY_SANDBOX_RATE_LIMIT" flag:"sandbox-rate-limit" help:"simulator 'requests' per token per 10 s window; 0 disables, negative keeps the default"`
}

// Intercom is how the gateway reaches Intercom by default.
type Intercom struct {
	Region string `yaml:"region" env:"INTERCOM_REGION" flag:"intercom-region" help:"default Intercom 'region': us, eu or au"`
	// BaseURL applies to the env-only workspace only; listed workspaces set
	// their own.
	BaseURL URL           `yaml:"base_url,omitempty" env:"INTERCOM_BASE_URL" flag:"intercom-base-url" help:"Intercom base 'URL' of the env-only workspace; overrides the region"`
	Version string        `yaml:"version" env:"INTERCOM_VERSION" flag:"intercom-version" help:"default 'Intercom-Version' (e.g. 2.11, Preview)"`
	Timeout time.Duration `yaml:"timeout" env:"GATEWAY_UPSTREAM_TIMEOUT" flag:"upstream-timeout" help:"timeout of one Intercom call when the caller sets no deadline (a 'duration')"`
	// PreviewFallback sends an operation the workspace's version lacks (for
	// example DeleteTicket before 2.13) as Intercom-Version Preview, which
	// has it, logging each such call; false refuses such calls instead.
	PreviewFallback bool `yaml:"preview_fallback" env:"INTERCOM_PREVIEW_FALLBACK" flag:"intercom-preview-fallback" help:"send operations the configured version lacks as Preview (default true); false refuses them"`
	// TokenFile is the token file of the env-only workspace; without it,
	// its token is INTERCOM_TOKEN (env only: command lines are visible to
	// every user of the machine).
	TokenFile string `yaml:"token_file,omitempty" env:"INTERCOM_TOKEN_FILE" flag:"intercom-token-file" help:"'file' holding the Intercom token of the env-only workspace (re-read when it changes); default: env INTERCOM_TOKEN"`
}

// DefaultWorkspace is the name of the workspace of the env-only
// configuration.
const DefaultWorkspace = "default"

// DefaultTokenEnv is the variable the env-only workspace reads its token from.
const DefaultTokenEnv = "INTERCOM_TOKEN"

// Workspace is one Intercom workspace, reached with one access token.
type Workspace struct {
	// Name is what callers send in x-intercom-workspace.
	Name string `yaml:"name"`
	// Region is us, eu or au (default intercom.region); BaseURL, when set,
	// wins over it.
	Region  string `yaml:"region"`
	BaseURL URL    `yaml:"base_url,omitempty"`
	// The token comes from exactly one of TokenEnv (a variable name) and
	// TokenFile (a path, re-read when it changes, for example a mounted
	// Kubernetes Secret).
	TokenEnv  string `yaml:"token_env,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
	// Version is the default Intercom-Version (default intercom.version);
	// OperationVersions overrides it per Intercom operation id (for example
	// deleteTicket: Preview).
	Version           string            `yaml:"version"`
	OperationVersions map[string]string `yaml:"operation_versions,omitempty"`
	Timeout           time.Duration     `yaml:"timeout"`
	// PreviewFallback: see Intercom.PreviewFallback (the default).
	PreviewFallback *bool      `yaml:"preview_fallback"`
	RateLimit       RateBudget `yaml:"rate_limit"`
}

// RateBudget is how many requests Intercom allows, per fixed 10-second
// window: Intercom counts per app (one access token) and per workspace (all
// apps together), and spreads its per-minute limits evenly over 10-second
// windows (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting).
// Zero means the default. The ratelimit package consumes these.
type RateBudget struct {
	// AppPer10s is the budget of the gateway's app in this workspace.
	AppPer10s int `yaml:"app_per_10s"`
	// WorkspacePer10s is the budget of the whole workspace, shared with
	// apps outside the gateway.
	WorkspacePer10s int `yaml:"workspace_per_10s"`
	// App names the Intercom app whose token this workspace uses: gateway
	// workspaces with the same app share its budget (default: one app per
	// workspace).
	App string `yaml:"app,omitempty"`
	// MaxInFlight caps this workspace's upstream attempts in flight on one
	// replica; 0, the default, sets no cap.
	MaxInFlight int `yaml:"max_in_flight,omitempty"`
}

// Intercom's documented default limits for a private app: 10,000 calls per
// minute per app and 25,000 per workspace, in 10-second windows.
const (
	DefaultAppPer10s       = 10000 / 6
	DefaultWorkspacePer10s = 25000 / 6
)

// Auth is how callers authenticate to the gateway.
type Auth struct {
	// The server-side secret that caller key hashes are keyed with
	// (HMAC-SHA256), from exactly one of a variable and a file.
	HMACSecretEnv  string `yaml:"hmac_secret_env,omitempty"`
	HMACSecretFile string `yaml:"hmac_secret_file,omitempty"`
	// InsecureNoAuth lets a gateway with a real token and no callers start:
	// every request then reaches Intercom with the gateway's token.
	InsecureNoAuth bool `yaml:"insecure_no_auth" env:"GATEWAY_INSECURE_NO_AUTH" flag:"insecure-no-auth" help:"serve without caller authentication even with a real Intercom token (anyone who can connect acts with the gateway's token)"`
	// Reflection is gRPC server reflection: on, off or authenticated.
	Reflection string `yaml:"reflection" env:"GATEWAY_REFLECTION" flag:"reflection" help:"gRPC server 'reflection': on, off or authenticated"`
}

// Access is what a caller may do with a service: none, read or write
// (write includes read).
type Access string

// Rule overrides a service's Access for one method: allow or deny.
type Rule string

// Caller is a service that calls the gateway with its own keys (package
// auth checks them).
type Caller struct {
	ID string `yaml:"id"`
	// KeyHashes are the hashes of the caller's active keys (at most two, so
	// a key can be rotated without downtime), as printed by
	// `gateway keys new`. The keys themselves are never stored.
	KeyHashes []Secret `yaml:"key_hashes,omitempty"`
	// CertIdentities name the caller by its mTLS client certificate:
	// "uri:<SAN URI>", "dns:<SAN DNS name>" or "cn:<common name>".
	CertIdentities []string `yaml:"cert_identities,omitempty"`
	// Workspaces the caller may use; DefaultWorkspace (required when there
	// are several) serves calls without x-intercom-workspace.
	Workspaces       []string    `yaml:"workspaces"`
	DefaultWorkspace string      `yaml:"default_workspace,omitempty"`
	Permissions      Permissions `yaml:"permissions"`
	// Weight is the caller's share of a workspace's rate budget relative
	// to other callers (default 1).
	Weight float64 `yaml:"weight,omitempty"`
}

// Permissions say which RPCs a caller may call; nothing is allowed unless
// granted. Services maps TicketService, TicketTypeService or TagService
// (or "*", every other service) to an Access; Methods overrides single
// RPCs ("TicketService/DeleteTicket": deny).
type Permissions struct {
	Services map[string]Access `yaml:"services,omitempty"`
	Methods  map[string]Rule   `yaml:"methods,omitempty"`
}

// Defaults returns every default in one place.
func Defaults() Config {
	return Config{
		Listen: Listen{
			GRPCAddr: ":9090",
			HTTPAddr: ":8080",
			// 20 s is the upstream call timeout, so a call that started just
			// before shutdown can still finish.
			ShutdownGrace:   20 * time.Second,
			MaxRequestBytes: 4 << 20,
			GRPCTLS:         TLS{ClientCerts: "none"},
			HTTPTLS:         TLS{ClientCerts: "none"},
		},
		Log: Log{Level: slog.LevelInfo, Format: "json"},
		Sandbox: Sandbox{
			Mode: SandboxOff,
			// Loopback only: the simulator answers any token.
			Addr:      "127.0.0.1:0",
			RateLimit: -1,
		},
		Intercom: Intercom{
			Region:  "us",
			Version: "2.11",
			// Intercom's own generated SDKs use 20 s.
			Timeout:         20 * time.Second,
			PreviewFallback: true,
		},
		Auth: Auth{Reflection: "on"},
		RateLimit: RateLimit{
			MaxWait:      ratelimit.DefaultConfig().MaxWait,
			RedisTimeout: ratelimit.DefaultConfig().RedisTimeout,
			Safety:       ratelimit.DefaultConfig().Safety,
		},
		SchemaCache: SchemaCache{
			TTL:        schemacache.DefaultTTL,
			Refresh:    schemacache.DefaultRefresh,
			MaxStale:   schemacache.DefaultMaxStale,
			MinReload:  schemacache.DefaultMinReload,
			MaxTypes:   schemacache.DefaultMaxTypes,
			MaxTickets: schemacache.DefaultMaxTickets,
		},
		RequestID: RequestID{MaxRecords: service.DefaultStoreMaxEntries},
	}
}

// UseSandbox reports whether the built-in simulator replaces Intercom.
func (c Config) UseSandbox() bool { return c.Sandbox.Mode == SandboxOn }

// SandboxServer is the configuration of `gateway sandbox`: the simulator on
// its own, for example as the upstream of a benchmark.
type SandboxServer struct {
	Addr      string `yaml:"addr" env:"GATEWAY_SANDBOX_ADDR" flag:"addr" help:"listen 'address' of the simulator"`
	RateLimit int    `yaml:"rate_limit" env:"GATEWAY_SANDBOX_RATE_LIMIT" flag:"rate-limit" help:"'requests' per token per 10 s window; 0 disables, negative keeps the simulator's default"`
	Log       Log    `yaml:"log"`
}

// DefaultsSandboxServer returns the defaults of `gateway sandbox`.
func DefaultsSandboxServer() SandboxServer {
	return SandboxServer{
		// Loopback: the simulator answers any token and its /__sandbox/
		// endpoints inject faults, so it is not for other machines.
		Addr:      "127.0.0.1:8081",
		RateLimit: -1,
		Log:       Defaults().Log,
	}
}
