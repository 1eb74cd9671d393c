package main

// These tests are in package main because a command has no importable API:
// loadConfig is the seam between the environment and everything else.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	def := defaultConfig()
	with := func(f func(*Config)) Config {
		c := defaultConfig()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want Config
	}{
		{"defaults", nil, nil, def},
		{"env", map[string]string{
			"GATEWAY_GRPC_ADDR": "127.0.0.1:1", "GATEWAY_HTTP_ADDR": "127.0.0.1:2", "GATEWAY_SHUTDOWN_GRACE": "3s",
			"INTERCOM_TOKEN": "tok", "INTERCOM_REGION": "EU", "INTERCOM_VERSION": "Preview",
			"GATEWAY_UPSTREAM_TIMEOUT": "4s", "GATEWAY_SANDBOX": "off", "GATEWAY_LOG_LEVEL": "debug", "GATEWAY_LOG_FORMAT": "text",
			"GATEWAY_ADMIN_ADDR": "127.0.0.1:3",
		}, nil, Config{
			Listen:   ListenConfig{GRPCAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", ShutdownGrace: 3 * time.Second, AdminAddr: "127.0.0.1:3"},
			Intercom: IntercomConfig{Token: "tok", Region: "eu", Version: "Preview", Timeout: 4 * time.Second},
			Sandbox:  SandboxOff,
			Log:      LogConfig{Level: slog.LevelDebug, Format: "text"},
		}},
		{"flags override env", map[string]string{"GATEWAY_GRPC_ADDR": ":1", "GATEWAY_UPSTREAM_TIMEOUT": "4s", "INTERCOM_REGION": "eu"},
			[]string{"--grpc-addr", ":7", "--upstream-timeout=9s", "-intercom-region", "au", "--log-level", "warn"},
			with(func(c *Config) {
				c.Listen.GRPCAddr = ":7"
				c.Intercom.Timeout = 9 * time.Second
				c.Intercom.Region = "au"
				c.Log.Level = slog.LevelWarn
			})},
		{"token with a base URL", map[string]string{"INTERCOM_TOKEN": "tok", "INTERCOM_BASE_URL": "http://127.0.0.1:8081"}, nil,
			with(func(c *Config) { c.Intercom.Token = "tok"; c.Intercom.BaseURL = "http://127.0.0.1:8081" })},
		{"sandbox on despite a token", map[string]string{"INTERCOM_TOKEN": "tok"}, []string{"--sandbox", "ON"},
			with(func(c *Config) { c.Intercom.Token = "tok"; c.Sandbox = SandboxOn })},
		{"Unstable is accepted", map[string]string{"INTERCOM_VERSION": "Unstable"}, nil,
			with(func(c *Config) { c.Intercom.Version = "Unstable" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadConfig(tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the whole error line
	}{
		{"sandbox off without token", map[string]string{"GATEWAY_SANDBOX": "off"}, nil,
			"config: INTERCOM_TOKEN is required when GATEWAY_SANDBOX=off"},
		{"bad sandbox mode", map[string]string{"GATEWAY_SANDBOX": "maybe"}, nil,
			`config: GATEWAY_SANDBOX must be auto, on or off, got "maybe"`},
		{"bad region", map[string]string{"INTERCOM_REGION": "mars"}, nil,
			`config: INTERCOM_REGION must be us, eu or au, got "mars"`},
		{"bad duration in env", map[string]string{"GATEWAY_UPSTREAM_TIMEOUT": "soon"}, nil,
			`config: GATEWAY_UPSTREAM_TIMEOUT: not a duration (want e.g. 20s or 1m30s): "soon"`},
		{"bad duration in a flag", nil, []string{"--shutdown-grace", "10"},
			`config: invalid value "10" for flag -shutdown-grace: not a duration (want e.g. 20s or 1m30s): "10"`},
		{"zero grace", map[string]string{"GATEWAY_SHUTDOWN_GRACE": "0s"}, nil,
			"config: GATEWAY_SHUTDOWN_GRACE must be positive, got 0s"},
		{"negative timeout", nil, []string{"--upstream-timeout", "-1s"},
			"config: GATEWAY_UPSTREAM_TIMEOUT must be positive, got -1s"},
		{"bad address", map[string]string{"GATEWAY_HTTP_ADDR": "8080"}, nil,
			`config: GATEWAY_HTTP_ADDR must be host:port or :port, got "8080"`},
		{"bad admin address", nil, []string{"--admin-addr", "6060"},
			`config: GATEWAY_ADMIN_ADDR must be host:port or :port, got "6060"`},
		{"bad base URL", map[string]string{"INTERCOM_TOKEN": "t", "INTERCOM_BASE_URL": "api.intercom.io"}, nil,
			`config: INTERCOM_BASE_URL must be an absolute http(s) URL, got "api.intercom.io"`},
		{"base URL but sandbox", map[string]string{"INTERCOM_BASE_URL": "https://api.intercom.io"}, nil,
			"config: INTERCOM_BASE_URL is set but the sandbox would be used (no INTERCOM_TOKEN, or GATEWAY_SANDBOX=on); set INTERCOM_TOKEN or unset INTERCOM_BASE_URL"},
		{"bad version", map[string]string{"INTERCOM_VERSION": "3"}, nil,
			`config: INTERCOM_VERSION: upstream: unknown Intercom-Version "3" (want e.g. "2.11" or "Preview")`},
		{"bad log level", map[string]string{"GATEWAY_LOG_LEVEL": "loud"}, nil,
			`config: GATEWAY_LOG_LEVEL: not a log level (want debug, info, warn or error): "loud"`},
		{"bad log format", nil, []string{"--log-format", "xml"},
			`config: GATEWAY_LOG_FORMAT must be json or text, got "xml"`},
		{"unknown flag", nil, []string{"--verbose"}, "config: flag provided but not defined: -verbose"},
		{"no token flag", nil, []string{"--intercom-token", "x"}, "config: flag provided but not defined: -intercom-token"},
		{"stray argument", nil, []string{"serve"}, `config: unexpected argument "serve"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(tc.args, env(tc.env), io.Discard)
			if err == nil {
				t.Fatalf("loadConfig succeeded, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}

func TestHelpPrintsFlagsAndEnvNames(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := loadConfig([]string{"-h"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("loadConfig -h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-grpc-addr", "GATEWAY_GRPC_ADDR", "-sandbox", "GATEWAY_SANDBOX", "default 2.11", "INTERCOM_TOKEN (env only)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestTokenIsNeverPrinted(t *testing.T) {
	t.Parallel()
	const token = "dG9rOmFiY2RlZg==" // shaped like an Intercom access token
	cfg, err := loadConfig(nil, env(map[string]string{"INTERCOM_TOKEN": token}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Intercom.Token.Reveal() != token {
		t.Fatalf("Reveal() = %q, want the token", cfg.Intercom.Token.Reveal())
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("starting", "config", cfg, "token", cfg.Intercom.Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("starting", "config", cfg, "token", cfg.Intercom.Token)
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"String": cfg.String(), "%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg), "%#v token": fmt.Sprintf("%#v", cfg.Intercom.Token),
		"%s token": fmt.Sprintf("%s", cfg.Intercom.Token), "%x token": fmt.Sprintf("%x", cfg.Intercom.Token),
		"%q token": fmt.Sprintf("%q", cfg.Intercom.Token), "%+v intercom": fmt.Sprintf("%+v", cfg.Intercom),
		"slog": logged.String(), "json": string(asJSON),
	} {
		if strings.Contains(s, token) || strings.Contains(s, "dG9r") {
			t.Errorf("%s shows the token: %s", name, s)
		}
		if !strings.Contains(s, redacted) {
			t.Errorf("%s does not say the token is %s: %s", name, redacted, s)
		}
	}
}

func TestUseSandbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode  SandboxMode
		token Secret
		want  bool
	}{
		{SandboxAuto, "", true},
		{SandboxAuto, "tok", false},
		{SandboxOn, "tok", true},
		{SandboxOff, "tok", false},
	} {
		c := Config{Sandbox: tc.mode, Intercom: IntercomConfig{Token: tc.token}}
		if got := c.UseSandbox(); got != tc.want {
			t.Errorf("mode %s, token set %v: UseSandbox() = %v, want %v", tc.mode, tc.token != "", got, tc.want)
		}
	}
}

func TestLoadSandboxConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    SandboxConfig
		wantErr string
	}{
		{name: "defaults", want: defaultSandboxConfig()},
		{name: "flags", env: map[string]string{"GATEWAY_SANDBOX_ADDR": ":1"}, args: []string{"--addr", "127.0.0.1:8081", "--rate-limit", "0"},
			want: SandboxConfig{Addr: "127.0.0.1:8081", RateLimit: 0, Log: LogConfig{Level: slog.LevelInfo, Format: "json"}}},
		{name: "bad addr", args: []string{"--addr", "nowhere"}, wantErr: `config: GATEWAY_SANDBOX_ADDR must be host:port or :port, got "nowhere"`},
		{name: "bad rate", env: map[string]string{"GATEWAY_SANDBOX_RATE_LIMIT": "lots"}, wantErr: `config: GATEWAY_SANDBOX_RATE_LIMIT: not an integer: "lots"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadSandboxConfig(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
