package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/ratelimit"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// writeFile writes a config file in a fresh directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envOnly is the workspace that today's env-only configuration becomes.
func envOnly(f func(*config.Workspace)) []config.Workspace {
	on := true
	w := config.Workspace{Name: "default", Region: "us", TokenEnv: "INTERCOM_TOKEN", Version: "2.11", Timeout: 20 * time.Second, PreviewFallback: &on,
		RateLimit: config.RateBudget{AppPer10s: config.DefaultAppPer10s, WorkspacePer10s: config.DefaultWorkspacePer10s}}
	if f != nil {
		f(&w)
	}
	return []config.Workspace{w}
}

// Key hashes of three keys under hmacSecret, as `gateway keys new` prints them.
var (
	hmacSecret = strings.Repeat("k", 32)
	h1, h2, h3 = keyHash(1), keyHash(2), keyHash(3)
)

func keyHash(n int) string {
	return auth.HashKey([]byte(hmacSecret), fmt.Sprintf("igw_key%d", n)).Reveal()
}

var twoWorkspaces = `# two workspaces, two callers
listen:
  grpc_addr: 127.0.0.1:1
  shutdown_grace: 5s
intercom:
  version: "2.12"
workspaces:
  - name: acme
    token_file: /run/secrets/acme
    operation_versions: {deleteTicket: Preview}
    rate_limit: {app_per_10s: 100, app: acme-gateway, max_in_flight: 8}
  - name: acme-eu
    region: EU
    token_env: ACME_EU_TOKEN
    version: "2.12"
    timeout: 3s
    preview_fallback: false
auth:
  hmac_secret_env: KEY_SECRET
callers:
  - id: billing
    key_hashes: [` + h1 + `, ` + h2 + `]
    workspaces: [acme]
    permissions:
      services: {TicketService: write}
      methods: {TicketService/DeleteTicket: deny}
  - id: support
    key_hashes: [` + h3 + `]
    cert_identities: [uri:spiffe://example.org/support]
    workspaces: [acme, acme-eu]
    default_workspace: acme-eu
    permissions: {services: {"*": read}}
    weight: 3
`

func TestLoad(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "gateway.yaml", twoWorkspaces)
	tokenFile := writeFile(t, "token", "tok\n")
	with := func(f func(*config.Config)) config.Config {
		c := config.Defaults()
		c.Workspaces = envOnly(nil)
		c.Auth.InsecureNoAuth = true
		f(&c)
		return c
	}
	baseEnv := map[string]string{"INTERCOM_TOKEN": "tok", "GATEWAY_INSECURE_NO_AUTH": "true"}
	plus := func(kv map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range baseEnv {
			m[k] = v
		}
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want config.Config
	}{
		{"env only: one workspace named default", baseEnv, nil, with(func(*config.Config) {})},
		{"env", plus(map[string]string{
			"GATEWAY_GRPC_ADDR": "127.0.0.1:1", "GATEWAY_HTTP_ADDR": "127.0.0.1:2", "GATEWAY_SHUTDOWN_GRACE": "3s",
			"INTERCOM_REGION": "EU", "INTERCOM_VERSION": "Preview", "INTERCOM_BASE_URL": "http://127.0.0.1:8081",
			"GATEWAY_UPSTREAM_TIMEOUT": "4s", "GATEWAY_LOG_LEVEL": "debug", "GATEWAY_LOG_FORMAT": "text",
			"GATEWAY_ADMIN_ADDR": "127.0.0.1:3",
		}), nil, with(func(c *config.Config) {
			c.Listen.GRPCAddr, c.Listen.HTTPAddr, c.Listen.ShutdownGrace, c.Listen.AdminAddr = "127.0.0.1:1", "127.0.0.1:2", 3*time.Second, "127.0.0.1:3"
			c.Intercom = config.Intercom{Region: "eu", Version: "Preview", Timeout: 4 * time.Second, BaseURL: "http://127.0.0.1:8081", PreviewFallback: true}
			c.Log = config.Log{Level: slog.LevelDebug, Format: "text"}
			c.Workspaces = envOnly(func(w *config.Workspace) {
				w.Region, w.Version, w.Timeout, w.BaseURL = "eu", "Preview", 4*time.Second, "http://127.0.0.1:8081"
			})
		})},
		{"token file", map[string]string{"INTERCOM_TOKEN_FILE": tokenFile}, []string{"--insecure-no-auth"},
			with(func(c *config.Config) {
				c.Intercom.TokenFile = tokenFile
				c.Workspaces = envOnly(func(w *config.Workspace) { w.TokenEnv, w.TokenFile = "", tokenFile })
			})},
		{"flags override env", plus(map[string]string{"GATEWAY_GRPC_ADDR": ":1", "GATEWAY_UPSTREAM_TIMEOUT": "4s", "INTERCOM_REGION": "eu"}),
			[]string{"--grpc-addr", ":7", "--upstream-timeout=9s", "-intercom-region", "au", "--log-level", "warn"},
			with(func(c *config.Config) {
				c.Listen.GRPCAddr = ":7"
				c.Intercom.Timeout = 9 * time.Second
				c.Intercom.Region = "au"
				c.Log.Level = slog.LevelWarn
				c.Workspaces = envOnly(func(w *config.Workspace) { w.Region, w.Timeout = "au", 9*time.Second })
			})},
		{"schema cache from file, env and flags", plus(map[string]string{"GATEWAY_SCHEMA_TTL": "10m", "GATEWAY_SCHEMA_MAX_TYPES": "50"}),
			[]string{"--config", writeFile(t, "schema.yaml", "schema_cache:\n  refresh: 2m\n  max_stale: 0s\n  max_tickets: 1000\n  ttl: 1m\n"),
				"--schema-min-reload", "250ms"},
			with(func(c *config.Config) {
				c.SchemaCache = config.SchemaCache{TTL: 10 * time.Minute, Refresh: 2 * time.Minute, MaxStale: 0,
					MinReload: 250 * time.Millisecond, MaxTypes: 50, MaxTickets: 1000}
			})},
		{"request_id bound from file", baseEnv,
			[]string{"--config", writeFile(t, "rid.yaml", "request_id:\n  max_records: 500\n")},
			with(func(c *config.Config) { c.RequestID.MaxRecords = 500 })},
		{"request_id bound from env", plus(map[string]string{"GATEWAY_REQUEST_ID_MAX_RECORDS": "2000"}), nil,
			with(func(c *config.Config) { c.RequestID.MaxRecords = 2000 })},
		{"sandbox on needs no token and no callers", nil, []string{"--sandbox", "ON", "--sandbox-addr", "127.0.0.1:23001"},
			with(func(c *config.Config) {
				c.Auth.InsecureNoAuth = false
				c.Sandbox.Mode, c.Sandbox.Addr = config.SandboxOn, "127.0.0.1:23001"
			})},
		{"file, then env, then flags", map[string]string{"GATEWAY_CONFIG": file, "GATEWAY_GRPC_ADDR": "127.0.0.1:2", "ACME_EU_TOKEN": "x", "KEY_SECRET": hmacSecret},
			[]string{"--grpc-addr", "127.0.0.1:3", "--sandbox=on"},
			func() config.Config {
				c := config.Defaults()
				c.Listen.GRPCAddr = "127.0.0.1:3"        // flag over env over file
				c.Listen.ShutdownGrace = 5 * time.Second // file over default
				c.Intercom.Version = "2.12"
				c.Sandbox.Mode = config.SandboxOn
				on, off := true, false
				budget := config.RateBudget{AppPer10s: config.DefaultAppPer10s, WorkspacePer10s: config.DefaultWorkspacePer10s}
				c.Workspaces = []config.Workspace{
					{Name: "acme", Region: "us", TokenFile: "/run/secrets/acme", Version: "2.12",
						OperationVersions: map[string]string{"deleteTicket": "Preview"}, Timeout: 20 * time.Second, PreviewFallback: &on,
						RateLimit: config.RateBudget{AppPer10s: 100, WorkspacePer10s: config.DefaultWorkspacePer10s, App: "acme-gateway", MaxInFlight: 8}},
					{Name: "acme-eu", Region: "eu", TokenEnv: "ACME_EU_TOKEN", Version: "2.12", Timeout: 3 * time.Second, PreviewFallback: &off, RateLimit: budget},
				}
				c.Auth.HMACSecretEnv = "KEY_SECRET"
				c.Callers = []config.Caller{
					{ID: "billing", KeyHashes: []config.Secret{config.Secret(h1), config.Secret(h2)}, Workspaces: []string{"acme"}, DefaultWorkspace: "acme", Weight: 1,
						Permissions: config.Permissions{Services: map[string]config.Access{"TicketService": "write"},
							Methods: map[string]config.Rule{"TicketService/DeleteTicket": "deny"}}},
					{ID: "support", KeyHashes: []config.Secret{config.Secret(h3)}, CertIdentities: []string{"uri:spiffe://example.org/support"}, Workspaces: []string{"acme", "acme-eu"}, DefaultWorkspace: "acme-eu",
						Weight: 3, Permissions: config.Permissions{Services: map[string]config.Access{"*": "read"}}},
				}
				return c
			}()},
		{"--config flag", map[string]string{"KEY_SECRET": hmacSecret}, []string{"--config", file, "--sandbox=on"}, func() config.Config {
			c, err := config.Check(file, env(nil))
			if err != nil {
				t.Fatal(err)
			}
			c.Sandbox.Mode = config.SandboxOn
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load("gateway", tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := map[string]string{"INTERCOM_TOKEN": "t", "GATEWAY_INSECURE_NO_AUTH": "1"}
	withToken := func(kv map[string]string) map[string]string {
		m := map[string]string{"INTERCOM_TOKEN": "t", "GATEWAY_INSECURE_NO_AUTH": "1"}
		for k, v := range kv {
			m[k] = v
		}
		return m
	}
	ts := map[string]string{"T": "t", "S": hmacSecret}
	callers := func(body string) string {
		return "workspaces: [{name: a, token_env: T}, {name: b, token_env: T}]\nauth: {hmac_secret_env: S}\ncallers:\n" + body
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the whole error line
	}{
		{"no token", nil, nil,
			`config: workspace "default" has no Intercom token: INTERCOM_TOKEN is not set; set it, or run the built-in simulator with --sandbox=on (GATEWAY_SANDBOX=on)`},
		{"real token and no callers", map[string]string{"INTERCOM_TOKEN": "t"}, nil,
			"config: no callers are configured, so anyone who can connect would act with the gateway's Intercom token; configure callers (README, production) or pass --insecure-no-auth (GATEWAY_INSECURE_NO_AUTH=true)"},
		{"auto is gone", map[string]string{"GATEWAY_SANDBOX": "auto"}, nil,
			`config: sandbox.mode (GATEWAY_SANDBOX) "auto" is gone: a gateway without a token no longer falls back to simulated data; use on for the sandbox`},
		{"bad sandbox mode", map[string]string{"GATEWAY_SANDBOX": "maybe"}, nil,
			`config: sandbox.mode (GATEWAY_SANDBOX) must be on or off, got "maybe"`},
		{"bad sandbox addr", nil, []string{"--sandbox=on", "--sandbox-addr", "23000"},
			`config: sandbox.addr (GATEWAY_SANDBOX_ADDR) must be host:port or :port, got "23000"`},
		{"bad region", withToken(map[string]string{"INTERCOM_REGION": "mars"}), nil,
			`config: intercom.region (INTERCOM_REGION) must be us, eu, au, got "mars"`},
		{"bad duration in env", map[string]string{"GATEWAY_UPSTREAM_TIMEOUT": "soon"}, nil,
			`config: GATEWAY_UPSTREAM_TIMEOUT: not a duration (want e.g. 20s or 1m30s): "soon"`},
		{"bad duration in a flag", nil, []string{"--shutdown-grace", "10"},
			`config: invalid value "10" for flag -shutdown-grace: not a duration (want e.g. 20s or 1m30s): "10"`},
		{"bad bool", map[string]string{"GATEWAY_INSECURE_NO_AUTH": "sure"}, nil,
			`config: GATEWAY_INSECURE_NO_AUTH: not true or false: "sure"`},
		{"zero grace", withToken(map[string]string{"GATEWAY_SHUTDOWN_GRACE": "0s"}), nil,
			"config: listen.shutdown_grace (GATEWAY_SHUTDOWN_GRACE) must be positive, got 0s"},
		{"negative timeout", token, []string{"--upstream-timeout", "-1s"},
			"config: intercom.timeout (GATEWAY_UPSTREAM_TIMEOUT) must be positive, got -1s"},
		{"bad address", withToken(map[string]string{"GATEWAY_HTTP_ADDR": "8080"}), nil,
			`config: listen.http_addr (GATEWAY_HTTP_ADDR) must be host:port or :port, got "8080"`},
		{"client certificates without a CA", token, []string{"--config", file("tls1.yaml", "listen: {grpc_tls: {cert_file: c.pem, key_file: k.pem, client_certs: required}}\n")},
			"config: listen.grpc_tls: client_ca_file is required to verify client certificates"},
		{"TLS key without certificate", token, []string{"--config", file("tls2.yaml", "listen: {http_tls: {key_file: k.pem}}\n")},
			"config: listen.http_tls: cert_file and key_file are required for TLS"},
		{"bad client_certs", token, []string{"--config", file("tls3.yaml", "listen: {http_tls: {cert_file: c.pem, key_file: k.pem, client_certs: maybe}}\n")},
			`config: listen.http_tls.client_certs must be none, optional, required, got "maybe"`},
		{"bad admin address", token, []string{"--admin-addr", "6060"},
			`config: listen.admin_addr (GATEWAY_ADMIN_ADDR) must be host:port or :port, got "6060"`},
		{"bad base URL, password redacted", withToken(map[string]string{"INTERCOM_BASE_URL": "ftp://u:hunter2@api.intercom.io"}), nil,
			`config: workspace "default": base_url must be an absolute http(s) URL, got "ftp://u:xxxxx@api.intercom.io"`},
		{"unparseable base URL", withToken(map[string]string{"INTERCOM_BASE_URL": "http://u:hunter2@[::1"}), nil,
			`config: workspace "default": base_url must be an absolute http(s) URL, got "REDACTED"`},
		{"base URL but sandbox", map[string]string{"INTERCOM_BASE_URL": "https://api.intercom.io", "GATEWAY_SANDBOX": "on"}, nil,
			"config: INTERCOM_BASE_URL is set but the sandbox replaces Intercom (GATEWAY_SANDBOX=on); unset one of them"},
		{"bad version", withToken(map[string]string{"INTERCOM_VERSION": "3"}), nil,
			`config: intercom.version (INTERCOM_VERSION): upstream: unknown Intercom-Version "3" (want e.g. "2.11" or "Preview")`},
		{"bad log level", map[string]string{"GATEWAY_LOG_LEVEL": "loud"}, nil,
			`config: GATEWAY_LOG_LEVEL: not a log level (want debug, info, warn or error): "loud"`},
		{"bad log format", token, []string{"--log-format", "xml"},
			`config: log.format (GATEWAY_LOG_FORMAT) must be json, text, got "xml"`},
		{"unknown flag", nil, []string{"--verbose"}, "config: flag provided but not defined: -verbose"},
		{"no token flag", nil, []string{"--intercom-token", "x"}, "config: flag provided but not defined: -intercom-token"},
		{"stray argument", nil, []string{"serve"}, `config: unexpected argument "serve"`},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")},
			"config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"unknown key", nil, []string{"--config", file("typo.yaml", "listen:\n  grpc_addr: :1\n  grcp_addr: :2\n")},
			"config: " + filepath.Join(dir, "typo.yaml") + `:3: unknown key "grcp_addr"`},
		{"unknown key in a list", nil, []string{"--config", file("typo2.yaml", "workspaces:\n  - name: a\n    token: abc\n")},
			"config: " + filepath.Join(dir, "typo2.yaml") + `:3: unknown key "token"`},
		{"wrong type, value not shown", nil, []string{"--config", file("type.yaml", "listen:\n  shutdown_grace: [s3cr3t]\n")},
			"config: " + filepath.Join(dir, "type.yaml") + ":2: cannot unmarshal !!seq into time.Duration"},
		{"bad YAML", nil, []string{"--config", file("bad.yaml", "listen: [\n")},
			"config: " + filepath.Join(dir, "bad.yaml") + ":1: did not find expected node content"},
		{"env-only keys beside workspaces", map[string]string{"INTERCOM_BASE_URL": "http://x"}, []string{"--config", file("ws.yaml", "workspaces: [{name: a, token_env: T}]\n")},
			"config: intercom.base_url and intercom.token_file (INTERCOM_BASE_URL, INTERCOM_TOKEN_FILE) describe the env-only workspace; with workspaces listed, set base_url and token_file on each"},
		{"workspace token from env missing", map[string]string{"GATEWAY_INSECURE_NO_AUTH": "1"}, []string{"--config", file("ws2.yaml", "workspaces: [{name: a, token_env: A_TOKEN}]\n")},
			`config: workspace "a" has no Intercom token: A_TOKEN is not set; set it, or run the built-in simulator with --sandbox=on (GATEWAY_SANDBOX=on)`},
		{"workspace token file missing", nil, []string{"--config", file("ws3.yaml", "workspaces: [{name: a, token_file: "+filepath.Join(dir, "none")+"}]\n")},
			`config: workspace "a": token_file: open ` + filepath.Join(dir, "none") + ": no such file or directory"},
		{"two token sources", nil, []string{"--config", file("ws4.yaml", "workspaces: [{name: a, token_env: A, token_file: /x}]\n")},
			`config: workspace "a": set exactly one of token_env and token_file`},
		{"bad workspace name", nil, []string{"--config", file("ws5.yaml", "workspaces: [{name: Acme Corp, token_env: A}]\n")},
			`config: workspaces[0]: name must be 1-63 lower-case letters, digits, _ or - (starting with a letter or digit), got "Acme Corp"`},
		{"duplicate workspace", nil, []string{"--config", file("ws6.yaml", "workspaces: [{name: a, token_env: A}, {name: a, token_env: B}]\n")},
			`config: workspace "a" is listed twice`},
		{"unknown operation", nil, []string{"--config", file("ws7.yaml", "workspaces: [{name: a, token_env: A, operation_versions: {deleteTickets: Preview}}]\n")},
			`config: workspace "a": operation_versions: unknown Intercom operation "deleteTickets" (want an operationId such as deleteTicket)`},
		{"operation missing in its version", nil, []string{"--config", file("ws8.yaml", "workspaces: [{name: a, token_env: A, operation_versions: {deleteTicket: \"2.11\"}}]\n")},
			`config: workspace "a": upstream: not supported by the configured Intercom-Version: deleteTicket does not exist in Intercom-Version 2.11`},
		{"negative budget", nil, []string{"--config", file("ws9.yaml", "workspaces: [{name: a, token_env: A, rate_limit: {app_per_10s: -1}}]\n")},
			`config: workspace "a": rate_limit values must not be negative`},
		{"three keys", ts, []string{"--config", file("c1.yaml", callers("  - {id: x, key_hashes: ["+h1+", "+h2+", "+h3+"], workspaces: [a]}\n"))},
			`config: auth: caller "x": 3 key hashes; at most 2 may be active (one old, one new while rotating)`},
		{"not a key hash, not shown", ts, []string{"--config", file("c1b.yaml", callers("  - {id: x, key_hashes: [s3cr3t], workspaces: [a]}\n"))},
			`config: caller "x": key_hashes[0]: auth: a key hash must start with "hmac-sha256:"`},
		{"unknown caller workspace", ts, []string{"--config", file("c2.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [c]}\n"))},
			`config: auth: caller "x": workspace "c" is not configured`},
		{"no default workspace", ts, []string{"--config", file("c3.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a, b]}\n"))},
			`config: auth: caller "x": default workspace required when a caller has more than one workspace`},
		{"bad access", ts, []string{"--config", file("c4.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a], permissions: {services: {TicketService: admin}}}\n"))},
			`config: caller "x": permissions.services.TicketService: auth: access "admin" is not one of none, read, write`},
		{"bad rule", ts, []string{"--config", file("c4b.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a], permissions: {methods: {TicketService/DeleteTicket: none}}}\n"))},
			`config: caller "x": permissions.methods.TicketService/DeleteTicket: auth: rule "none" is not allow or deny`},
		{"unknown method", ts, []string{"--config", file("c5.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a], permissions: {methods: {TicketService/Explode: allow}}}\n"))},
			`config: auth: caller "x": permissions: unknown method "TicketService/Explode" (want <Service>/<Method>, for example TicketService/DeleteTicket)`},
		{"duplicate caller", ts, []string{"--config", file("c6.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a]}\n  - {id: x, key_hashes: ["+h2+"], workspaces: [a]}\n"))},
			`config: auth: caller "x" is configured twice`},
		{"callers without the HMAC secret", map[string]string{"T": "t"}, []string{"--config", file("c7.yaml", "workspaces: [{name: a, token_env: T}]\ncallers: [{id: x, key_hashes: ["+h1+"], workspaces: [a]}]\n")},
			"config: callers need the key-hash secret: set auth.hmac_secret_env or auth.hmac_secret_file"},
		{"HMAC secret missing", map[string]string{"T": "t"}, []string{"--config", file("c8.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a]}\n"))},
			"config: the key-hash secret is missing: S (auth.hmac_secret_env) is not set"},
		{"HMAC secret too short", map[string]string{"T": "t", "S": "s3cr3t"}, []string{"--config", file("c9.yaml", callers("  - {id: x, key_hashes: ["+h1+"], workspaces: [a]}\n"))},
			"config: auth: the key-hash secret has 6 bytes, want at least 32"},
		{"schema TTL zero", withToken(map[string]string{"GATEWAY_SCHEMA_TTL": "0s"}), nil,
			"config: schema_cache.ttl (GATEWAY_SCHEMA_TTL) must be positive, got 0s"},
		{"schema refresh negative", withToken(nil), []string{"--schema-refresh", "-1s"},
			"config: schema_cache.refresh (GATEWAY_SCHEMA_REFRESH) must be positive, got -1s"},
		{"schema refresh beyond TTL", withToken(map[string]string{"GATEWAY_SCHEMA_TTL": "1m", "GATEWAY_SCHEMA_REFRESH": "2m"}), nil,
			"config: schema_cache.refresh (GATEWAY_SCHEMA_REFRESH) 2m0s must not exceed schema_cache.ttl (GATEWAY_SCHEMA_TTL) 1m0s: a schema would expire before its background refresh"},
		{"schema max stale negative", token, []string{"--config", file("s1.yaml", "schema_cache: {max_stale: -5m}\n")},
			"config: schema_cache.max_stale (GATEWAY_SCHEMA_MAX_STALE) must not be negative, got -5m0s"},
		{"schema min reload negative", withToken(map[string]string{"GATEWAY_SCHEMA_MIN_RELOAD": "-1ms"}), nil,
			"config: schema_cache.min_reload (GATEWAY_SCHEMA_MIN_RELOAD) must not be negative, got -1ms"},
		{"schema max types zero", withToken(map[string]string{"GATEWAY_SCHEMA_MAX_TYPES": "0"}), nil,
			"config: schema_cache.max_types (GATEWAY_SCHEMA_MAX_TYPES) must be positive, got 0"},
		{"schema max tickets negative", token, []string{"--config", file("s2.yaml", "schema_cache:\n  max_tickets: -3\n")},
			"config: schema_cache.max_tickets (GATEWAY_SCHEMA_MAX_TICKETS) must be positive, got -3"},
		{"request_id max records zero", token, []string{"--request-id-max-records", "0"},
			"config: request_id.max_records (GATEWAY_REQUEST_ID_MAX_RECORDS) must be positive, got 0"},
		{"schema TTL not a duration", withToken(map[string]string{"GATEWAY_SCHEMA_TTL": "soon"}), nil,
			`config: GATEWAY_SCHEMA_TTL: not a duration (want e.g. 20s or 1m30s): "soon"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Load("gateway", tc.args, env(tc.env), io.Discard)
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			for _, secret := range []string{"hunter2", "s3cr3t"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %s", err)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	// Values from the environment are not defaults: -h must not show them.
	_, err := config.Load("gateway", []string{"-h"}, env(map[string]string{"INTERCOM_BASE_URL": "http://u:hunter2@h", "INTERCOM_TOKEN": "tok_s3cr3t"}), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load -h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"-grpc-addr address", "GATEWAY_GRPC_ADDR", "-sandbox mode", "GATEWAY_SANDBOX", "(default 2.11)", "-config file", "-insecure-no-auth"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"hunter2", "s3cr3t"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("usage shows a secret:\n%s", out.String())
		}
	}
}

func TestLoadSandbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    config.SandboxServer
		wantErr string
	}{
		{name: "defaults", want: config.DefaultsSandboxServer()},
		{name: "flags", env: map[string]string{"GATEWAY_SANDBOX_ADDR": ":1"}, args: []string{"--addr", "127.0.0.1:23081", "--rate-limit", "0"},
			want: config.SandboxServer{Addr: "127.0.0.1:23081", RateLimit: 0, Log: config.Log{Level: slog.LevelInfo, Format: "json"}}},
		{name: "bad addr", args: []string{"--addr", "nowhere"}, wantErr: `config: GATEWAY_SANDBOX_ADDR (--addr) must be host:port or :port, got "nowhere"`},
		{name: "bad rate", env: map[string]string{"GATEWAY_SANDBOX_RATE_LIMIT": "lots"}, wantErr: `config: GATEWAY_SANDBOX_RATE_LIMIT: not an integer: "lots"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.LoadSandbox(tc.args, env(tc.env), io.Discard)
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

func TestRateLimitMapping(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "gateway.yaml", twoWorkspaces)
	c, err := config.Check(file, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Workspaces[0].Budget(), (ratelimit.Budget{Limit: 100, WorkspaceLimit: config.DefaultWorkspacePer10s, App: "acme-gateway", MaxInFlight: 8}); got != want {
		t.Errorf("Budget() = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff(map[string]float64{"billing": 1, "support": 3}, c.CallerWeights()); diff != "" {
		t.Errorf("CallerWeights (-want +got):\n%s", diff)
	}
}
