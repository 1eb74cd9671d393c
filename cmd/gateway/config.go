package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Config is everything the gateway reads at startup. defaultConfig holds
// every default; gatewaySettings says which env variable and flag set each
// field. Env is read first and flags override it.
type Config struct {
	Listen   ListenConfig
	Intercom IntercomConfig
	Sandbox  SandboxMode
	Log      LogConfig
}

// ListenConfig is where the gateway serves and how it stops.
type ListenConfig struct {
	GRPCAddr      string
	HTTPAddr      string
	ShutdownGrace time.Duration
	// AdminAddr is where Go's profiles (/debug/pprof/) are served; empty,
	// the default, serves none. Keep it on a private address.
	AdminAddr string
}

// IntercomConfig is how the gateway reaches Intercom.
type IntercomConfig struct {
	// Token is the Intercom access token. It has no flag, because command
	// lines are visible to every user of the machine (ps, /proc).
	Token   Secret
	Region  string // us, eu or au
	BaseURL string // overrides Region
	Version string
	Timeout time.Duration
}

// LogConfig is how the gateway logs.
type LogConfig struct {
	Level  slog.Level
	Format string // json or text
}

// SandboxMode says whether the built-in Intercom simulator replaces Intercom.
type SandboxMode string

// Sandbox modes. Auto uses the sandbox exactly when no token is configured,
// so that `make run` works out of the box and a configured token is never
// silently ignored.
const (
	SandboxAuto SandboxMode = "auto"
	SandboxOn   SandboxMode = "on"
	SandboxOff  SandboxMode = "off"
)

// SandboxConfig is the configuration of `gateway sandbox`.
type SandboxConfig struct {
	Addr string
	// RateLimit is the request budget per token per 10-second window; 0
	// disables rate limiting and a negative value keeps the sandbox default.
	RateLimit int
	Log       LogConfig
}

func defaultConfig() Config {
	return Config{
		Listen: ListenConfig{
			GRPCAddr:      ":9090",
			HTTPAddr:      ":8080",
			ShutdownGrace: 20 * time.Second,
		},
		Intercom: IntercomConfig{
			Region:  "us",
			Version: string(upstream.Version211),
			// Intercom's own SDKs use 20 s (INTERCOM-API.md §11).
			Timeout: 20 * time.Second,
		},
		Sandbox: SandboxAuto,
		Log:     LogConfig{Level: slog.LevelInfo, Format: "json"},
	}
}

func defaultSandboxConfig() SandboxConfig {
	return SandboxConfig{
		Addr:      ":8081",
		RateLimit: -1,
		Log:       LogConfig{Level: slog.LevelInfo, Format: "json"},
	}
}

// setting binds one Config field to an env variable and (unless flag is
// empty) a flag. It is a flag.Value over the field.
type setting struct {
	env, flag, usage string
	get              func() string
	set              func(string) error
}

func (s *setting) String() string {
	if s == nil || s.get == nil {
		return ""
	}
	return s.get()
}
func (s *setting) Set(v string) error { return s.set(v) }

func gatewaySettings(c *Config) []*setting {
	return []*setting{
		str("GATEWAY_GRPC_ADDR", "grpc-addr", "gRPC listen `address`", &c.Listen.GRPCAddr),
		str("GATEWAY_HTTP_ADDR", "http-addr", "HTTP (REST) listen `address`", &c.Listen.HTTPAddr),
		str("GATEWAY_ADMIN_ADDR", "admin-addr", "listen `address` for /debug/pprof/ profiles; empty (default) to serve none", &c.Listen.AdminAddr),
		dur("GATEWAY_SHUTDOWN_GRACE", "shutdown-grace", "how long in-flight calls may run after SIGTERM (a `duration`)", &c.Listen.ShutdownGrace),
		{env: "INTERCOM_TOKEN", usage: "Intercom access token; without one the sandbox is used (GATEWAY_SANDBOX=auto)",
			get: func() string { return c.Intercom.Token.String() },
			set: func(v string) error { c.Intercom.Token = Secret(v); return nil }},
		str("INTERCOM_REGION", "intercom-region", "Intercom `region`: us, eu or au", &c.Intercom.Region),
		str("INTERCOM_BASE_URL", "intercom-base-url", "Intercom base `URL`; overrides the region", &c.Intercom.BaseURL),
		str("INTERCOM_VERSION", "intercom-version", "`Intercom-Version` sent by default (e.g. 2.11, Preview)", &c.Intercom.Version),
		dur("GATEWAY_UPSTREAM_TIMEOUT", "upstream-timeout", "timeout of one Intercom call when the caller sets no deadline (a `duration`)", &c.Intercom.Timeout),
		{env: "GATEWAY_SANDBOX", flag: "sandbox", usage: "whether to use the built-in Intercom simulator (`mode`): auto (when no token), on or off",
			get: func() string { return string(c.Sandbox) },
			set: func(v string) error { c.Sandbox = SandboxMode(strings.ToLower(v)); return nil }},
		level("GATEWAY_LOG_LEVEL", "log-level", &c.Log.Level),
		str("GATEWAY_LOG_FORMAT", "log-format", "log `format`: json or text", &c.Log.Format),
	}
}

func sandboxSettings(c *SandboxConfig) []*setting {
	return []*setting{
		str("GATEWAY_SANDBOX_ADDR", "addr", "listen `address` of the standalone sandbox", &c.Addr),
		{env: "GATEWAY_SANDBOX_RATE_LIMIT", flag: "rate-limit",
			usage: "`requests` per token per 10 s window; 0 disables, negative keeps the sandbox default",
			get:   func() string { return strconv.Itoa(c.RateLimit) },
			set: func(v string) error {
				n, err := strconv.Atoi(v)
				if err != nil {
					return fmt.Errorf("not an integer: %q", v)
				}
				c.RateLimit = n
				return nil
			}},
		level("GATEWAY_LOG_LEVEL", "log-level", &c.Log.Level),
		str("GATEWAY_LOG_FORMAT", "log-format", "log `format`: json or text", &c.Log.Format),
	}
}

func str(env, flag, usage string, p *string) *setting {
	return &setting{env: env, flag: flag, usage: usage,
		get: func() string { return *p },
		set: func(v string) error { *p = v; return nil }}
}

func dur(env, flag, usage string, p *time.Duration) *setting {
	return &setting{env: env, flag: flag, usage: usage,
		get: func() string { return p.String() },
		set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("not a duration (want e.g. 20s or 1m30s): %q", v)
			}
			*p = d
			return nil
		}}
}

func level(env, flag string, p *slog.Level) *setting {
	return &setting{env: env, flag: flag, usage: "log `level`: debug, info, warn or error",
		get: func() string { return strings.ToLower(p.String()) },
		set: func(v string) error {
			if err := p.UnmarshalText([]byte(v)); err != nil {
				return fmt.Errorf("not a log level (want debug, info, warn or error): %q", v)
			}
			return nil
		}}
}

// parseSettings applies env, then flags, to the fields bound by settings.
// Errors name the env variable or flag that was wrong. -h prints the flags to
// usage and returns flag.ErrHelp.
func parseSettings(name string, settings []*setting, args []string, getenv func(string) string, usage io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned as one line, not printed with the usage
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			if err := s.set(v); err != nil {
				return fmt.Errorf("config: %s: %w", s.env, err)
			}
		}
		if s.flag != "" {
			fs.Var(s, s.flag, fmt.Sprintf("%s (env %s)", s.usage, s.env))
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(usage, "Usage: %s [flags]\n", name)
			fs.SetOutput(usage)
			fs.PrintDefaults()
			for _, s := range settings {
				if s.flag == "" {
					fmt.Fprintf(usage, "  %s (env only)\n    \t%s\n", s.env, s.usage)
				}
			}
			return err
		}
		return fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// loadConfig reads the gateway's Config from env and args and validates it.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c := defaultConfig()
	if err := parseSettings("gateway", gatewaySettings(&c), args, getenv, usage); err != nil {
		return Config{}, err
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// loadSandboxConfig reads the configuration of `gateway sandbox`.
func loadSandboxConfig(args []string, getenv func(string) string, usage io.Writer) (SandboxConfig, error) {
	c := defaultSandboxConfig()
	if err := parseSettings("gateway sandbox", sandboxSettings(&c), args, getenv, usage); err != nil {
		return SandboxConfig{}, err
	}
	if err := validateAddr("GATEWAY_SANDBOX_ADDR", c.Addr); err != nil {
		return SandboxConfig{}, err
	}
	if err := c.Log.validate(); err != nil {
		return SandboxConfig{}, err
	}
	return c, nil
}

var regions = map[string]upstream.Region{
	"us": upstream.RegionUS,
	"eu": upstream.RegionEU,
	"au": upstream.RegionAU,
}

func (c *Config) validate() error {
	c.Intercom.Region = strings.ToLower(c.Intercom.Region)
	var errs []error
	errs = append(errs,
		validateAddr("GATEWAY_GRPC_ADDR", c.Listen.GRPCAddr),
		validateAddr("GATEWAY_HTTP_ADDR", c.Listen.HTTPAddr),
		positive("GATEWAY_SHUTDOWN_GRACE", c.Listen.ShutdownGrace),
		validateOptionalAddr("GATEWAY_ADMIN_ADDR", c.Listen.AdminAddr),
		positive("GATEWAY_UPSTREAM_TIMEOUT", c.Intercom.Timeout),
		c.Log.validate(),
	)
	if _, ok := regions[c.Intercom.Region]; !ok {
		errs = append(errs, fmt.Errorf("config: INTERCOM_REGION must be us, eu or au, got %q", c.Intercom.Region))
	}
	if c.Intercom.BaseURL != "" {
		u, err := url.Parse(c.Intercom.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("config: INTERCOM_BASE_URL must be an absolute http(s) URL, got %q", c.Intercom.BaseURL))
		}
	}
	// The client owns the grammar of versions; building one with a
	// placeholder token checks it without duplicating that grammar here.
	if _, err := upstream.New(upstream.WithToken("placeholder"), upstream.WithVersion(upstream.Version(c.Intercom.Version))); err != nil {
		errs = append(errs, fmt.Errorf("config: INTERCOM_VERSION: %w", err))
	}
	switch c.Sandbox {
	case SandboxAuto, SandboxOn:
	case SandboxOff:
		if c.Intercom.Token == "" {
			errs = append(errs, errors.New("config: INTERCOM_TOKEN is required when GATEWAY_SANDBOX=off"))
		}
	default:
		errs = append(errs, fmt.Errorf("config: GATEWAY_SANDBOX must be auto, on or off, got %q", string(c.Sandbox)))
	}
	if c.UseSandbox() && c.Intercom.BaseURL != "" {
		// Most likely a forgotten token: say so rather than silently
		// serving simulated data in place of the URL the operator gave.
		errs = append(errs, errors.New("config: INTERCOM_BASE_URL is set but the sandbox would be used (no INTERCOM_TOKEN, or GATEWAY_SANDBOX=on); set INTERCOM_TOKEN or unset INTERCOM_BASE_URL"))
	}
	// One line: the first error is the one to fix first.
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (l LogConfig) validate() error {
	switch l.Format {
	case "json", "text":
		return nil
	}
	return fmt.Errorf("config: GATEWAY_LOG_FORMAT must be json or text, got %q", l.Format)
}

func validateAddr(env, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("config: %s must be host:port or :port, got %q", env, addr)
	}
	return nil
}

func validateOptionalAddr(env, addr string) error {
	if addr == "" {
		return nil
	}
	return validateAddr(env, addr)
}

func positive(env string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("config: %s must be positive, got %v", env, d)
	}
	return nil
}

// UseSandbox reports whether the built-in simulator replaces Intercom.
func (c Config) UseSandbox() bool {
	return c.Sandbox == SandboxOn || (c.Sandbox == SandboxAuto && c.Intercom.Token == "")
}

// LogValue logs the configuration with the token redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Group("listen",
			slog.String("grpc_addr", c.Listen.GRPCAddr),
			slog.String("http_addr", c.Listen.HTTPAddr),
			slog.String("shutdown_grace", c.Listen.ShutdownGrace.String()),
			slog.String("admin_addr", c.Listen.AdminAddr)),
		slog.Group("intercom",
			slog.Any("token", c.Intercom.Token),
			slog.String("region", c.Intercom.Region),
			slog.String("base_url", c.Intercom.BaseURL),
			slog.String("version", c.Intercom.Version),
			slog.String("timeout", c.Intercom.Timeout.String())),
		slog.String("sandbox", string(c.Sandbox)),
		slog.Group("log",
			slog.String("level", c.Log.Level.String()),
			slog.String("format", c.Log.Format)),
	)
}

// String prints the configuration with the token redacted.
func (c Config) String() string {
	return fmt.Sprintf("{Listen:%+v Intercom:{Token:%s Region:%s BaseURL:%s Version:%s Timeout:%v} Sandbox:%s Log:{Level:%v Format:%s}}",
		c.Listen, c.Intercom.Token, c.Intercom.Region, c.Intercom.BaseURL, c.Intercom.Version, c.Intercom.Timeout,
		c.Sandbox, c.Log.Level, c.Log.Format)
}

// Secret is a string that never prints: every fmt verb, slog and JSON show
// "REDACTED" (or nothing when it is empty). Reveal returns the value.
type Secret string

const redacted = "REDACTED"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Format covers every verb, including %#v and %x, which would otherwise
// bypass String.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoding/json and friends from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
