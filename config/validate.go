package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// Regions maps the region names of the config to Intercom's hosts.
var Regions = map[string]upstream.Region{
	"us": upstream.RegionUS,
	"eu": upstream.RegionEU,
	"au": upstream.RegionAU,
}

// workspaceName is what x-intercom-workspace may carry: short, printable,
// no spaces or separators that would need quoting in logs and metric labels.
var workspaceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// normalize fills what the rest of the config implies: lower-case enums,
// the env-only workspace, and workspace and caller defaults.
func (c *Config) normalize() (listedWorkspaces bool) {
	c.Sandbox.Mode = SandboxMode(strings.ToLower(string(c.Sandbox.Mode)))
	c.Intercom.Region = strings.ToLower(c.Intercom.Region)
	c.Log.Format = strings.ToLower(c.Log.Format)
	c.Auth.Reflection = strings.ToLower(c.Auth.Reflection)
	listedWorkspaces = len(c.Workspaces) > 0
	if !listedWorkspaces {
		ws := Workspace{Name: DefaultWorkspace, BaseURL: c.Intercom.BaseURL, TokenFile: c.Intercom.TokenFile}
		if ws.TokenFile == "" {
			ws.TokenEnv = DefaultTokenEnv
		}
		c.Workspaces = []Workspace{ws}
	}
	for i := range c.Workspaces {
		w := &c.Workspaces[i]
		w.Region = strings.ToLower(w.Region)
		if w.Region == "" {
			w.Region = c.Intercom.Region
		}
		if w.Version == "" {
			w.Version = c.Intercom.Version
		}
		if w.Timeout == 0 {
			w.Timeout = c.Intercom.Timeout
		}
		if w.PreviewFallback == nil {
			on := c.Intercom.PreviewFallback
			w.PreviewFallback = &on
		}
		if w.RateLimit.AppPer10s == 0 {
			w.RateLimit.AppPer10s = DefaultAppPer10s
		}
		if w.RateLimit.WorkspacePer10s == 0 {
			w.RateLimit.WorkspacePer10s = DefaultWorkspacePer10s
		}
	}
	for i := range c.Callers {
		cl := &c.Callers[i]
		if cl.Weight == 0 {
			cl.Weight = 1
		}
		if cl.DefaultWorkspace == "" && len(cl.Workspaces) == 1 {
			cl.DefaultWorkspace = cl.Workspaces[0]
		}
	}
	return listedWorkspaces
}

// validate normalizes c and returns its first error (one line: the first
// problem is the one to fix first). With tokens, every workspace's token
// must be present, unless the sandbox replaces Intercom.
func (c *Config) validate(getenv func(string) string, tokens bool) error {
	listed := c.normalize()
	check := []func() error{
		func() error { return addr("listen.grpc_addr (GATEWAY_GRPC_ADDR)", c.Listen.GRPCAddr) },
		func() error { return addr("listen.http_addr (GATEWAY_HTTP_ADDR)", c.Listen.HTTPAddr) },
		func() error {
			return positive("listen.shutdown_grace (GATEWAY_SHUTDOWN_GRACE)", c.Listen.ShutdownGrace)
		},
		func() error {
			if c.Listen.AdminAddr == "" {
				return nil
			}
			return addr("listen.admin_addr (GATEWAY_ADMIN_ADDR)", c.Listen.AdminAddr)
		},
		func() error { return c.Listen.GRPCTLS.validate("listen.grpc_tls") },
		func() error { return c.Listen.HTTPTLS.validate("listen.http_tls") },
		func() error {
			return oneOf("log.format (GATEWAY_LOG_FORMAT)", c.Log.Format, "json", "text")
		},
		c.validateSandbox,
		func() error { return oneOf("intercom.region (INTERCOM_REGION)", c.Intercom.Region, "us", "eu", "au") },
		func() error {
			return positive("intercom.timeout (GATEWAY_UPSTREAM_TIMEOUT)", c.Intercom.Timeout)
		},
		func() error {
			if _, err := upstream.New(upstream.WithToken("placeholder"), upstream.WithVersion(upstream.Version(c.Intercom.Version))); err != nil {
				return fmt.Errorf("config: intercom.version (INTERCOM_VERSION): %w", err)
			}
			return nil
		},
		func() error {
			if listed && (c.Intercom.BaseURL != "" || c.Intercom.TokenFile != "") {
				return errors.New("config: intercom.base_url and intercom.token_file (INTERCOM_BASE_URL, INTERCOM_TOKEN_FILE) describe the env-only workspace; with workspaces listed, set base_url and token_file on each")
			}
			if c.UseSandbox() && !listed && c.Intercom.BaseURL != "" {
				// Most likely a forgotten token: say so rather than serve
				// simulated data in place of the URL the operator gave.
				return errors.New("config: INTERCOM_BASE_URL is set but the sandbox replaces Intercom (GATEWAY_SANDBOX=on); unset one of them")
			}
			return nil
		},
		c.validateWorkspaces,
		c.SchemaCache.validate,
		c.RequestID.validate,
		func() error {
			if !tokens || c.UseSandbox() {
				return nil
			}
			for _, w := range c.Workspaces {
				if err := w.checkToken(getenv); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			return oneOf("auth.reflection (GATEWAY_REFLECTION)", c.Auth.Reflection, "on", "off", "authenticated")
		},
		func() error {
			if len(c.Callers) == 0 {
				return nil
			}
			// auth owns the rules for callers (key hashes, permissions,
			// workspaces); building its configuration checks them. Without
			// tokens the real secret need not be present.
			var secret Secret
			if !tokens {
				secret = placeholderSecret
			}
			_, err := c.authenticator(getenv, secret)
			return err
		},
		func() error {
			if len(c.Callers) == 0 && !c.Auth.InsecureNoAuth && !c.UseSandbox() {
				return errors.New("config: no callers are configured, so anyone who can connect would act with the gateway's Intercom token; configure callers (README, production) or pass --insecure-no-auth (GATEWAY_INSECURE_NO_AUTH=true)")
			}
			return nil
		},
	}
	for _, f := range check {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateSandbox() error {
	switch c.Sandbox.Mode {
	case SandboxOn, SandboxOff:
	case "auto":
		return errors.New(`config: sandbox.mode (GATEWAY_SANDBOX) "auto" is gone: a gateway without a token no longer falls back to simulated data; use on for the sandbox`)
	default:
		return fmt.Errorf("config: sandbox.mode (GATEWAY_SANDBOX) must be on or off, got %q", string(c.Sandbox.Mode))
	}
	return addr("sandbox.addr (GATEWAY_SANDBOX_ADDR)", c.Sandbox.Addr)
}

func (c *Config) validateWorkspaces() error {
	seen := map[string]bool{}
	for i, w := range c.Workspaces {
		where := fmt.Sprintf("workspaces[%d]", i)
		if !workspaceName.MatchString(w.Name) {
			return fmt.Errorf("config: %s: name must be 1-63 lower-case letters, digits, _ or - (starting with a letter or digit), got %q", where, w.Name)
		}
		where = fmt.Sprintf("workspace %q", w.Name)
		if seen[w.Name] {
			return fmt.Errorf("config: %s is listed twice", where)
		}
		seen[w.Name] = true
		if _, ok := Regions[w.Region]; !ok {
			return fmt.Errorf("config: %s: region must be us, eu or au, got %q", where, w.Region)
		}
		if w.BaseURL != "" {
			// The URL is printed redacted (URL.String): its password is a
			// credential. url.Parse's own error would quote it whole.
			u, err := url.Parse(w.BaseURL.Reveal())
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("config: %s: base_url must be an absolute http(s) URL, got %q", where, w.BaseURL.String())
			}
		}
		if !c.UseSandbox() && (w.TokenEnv == "") == (w.TokenFile == "") {
			return fmt.Errorf("config: %s: set exactly one of token_env and token_file", where)
		}
		if err := positive(where+": timeout", w.Timeout); err != nil {
			return err
		}
		if w.RateLimit.AppPer10s < 0 || w.RateLimit.WorkspacePer10s < 0 || w.RateLimit.MaxInFlight < 0 {
			return fmt.Errorf("config: %s: rate_limit values must not be negative", where)
		}
		for op := range w.OperationVersions {
			if !slices.Contains(upstream.Operations(), upstream.Operation(op)) {
				return fmt.Errorf("config: %s: operation_versions: unknown Intercom operation %q (want an operationId such as deleteTicket)", where, op)
			}
		}
		if _, err := upstream.New(w.UpstreamOptions(func() string { return "placeholder" })...); err != nil {
			return fmt.Errorf("config: %s: %w", where, err)
		}
	}
	return nil
}

// UpstreamOptions are the upstream client options that w describes, with
// token as its token source.
func (w Workspace) UpstreamOptions(token func() string) []upstream.Option {
	opts := []upstream.Option{
		upstream.WithTokenSource(token),
		upstream.WithRegion(Regions[w.Region]),
		upstream.WithVersion(upstream.Version(w.Version)),
		upstream.WithTimeout(w.Timeout),
	}
	if w.PreviewFallback != nil {
		opts = append(opts, upstream.WithPreviewFallback(*w.PreviewFallback))
	}
	if w.BaseURL != "" {
		opts = append(opts, upstream.WithBaseURL(w.BaseURL.Reveal()))
	}
	for op, v := range w.OperationVersions {
		opts = append(opts, upstream.WithOperationVersion(upstream.Operation(op), upstream.Version(v)))
	}
	return opts
}

// checkToken says whether w's token is there. It does not keep it: the
// workspace registry reads it (and watches the file).
func (w Workspace) checkToken(getenv func(string) string) error {
	if w.TokenEnv != "" {
		if strings.TrimSpace(getenv(w.TokenEnv)) == "" {
			return fmt.Errorf("config: workspace %q has no Intercom token: %s is not set; set it, or run the built-in simulator with --sandbox=on (GATEWAY_SANDBOX=on)", w.Name, w.TokenEnv)
		}
		return nil
	}
	b, err := os.ReadFile(w.TokenFile)
	if err != nil {
		// The path error names the file, never its content.
		return fmt.Errorf("config: workspace %q: token_file: %w", w.Name, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return fmt.Errorf("config: workspace %q: token_file %s is empty", w.Name, w.TokenFile)
	}
	return nil
}

func addr(what, a string) error {
	if _, _, err := net.SplitHostPort(a); err != nil {
		return fmt.Errorf("config: %s must be host:port or :port, got %q", what, a)
	}
	return nil
}

func positive(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("config: %s must be positive, got %v", what, d)
	}
	return nil
}

func oneOf(what, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("config: %s must be %s, got %q", what, strings.Join(allowed, ", "), v)
}

func (t *TLS) validate(where string) error {
	t.ClientCerts = strings.ToLower(t.ClientCerts)
	if err := oneOf(where+".client_certs", t.ClientCerts, "none", "optional", "required"); err != nil {
		return err
	}
	switch {
	case t.CertFile == "" && (t.KeyFile != "" || t.ClientCAFile != "" || t.ClientCerts != "none"):
		return fmt.Errorf("config: %s: cert_file and key_file are required for TLS", where)
	case t.CertFile != "" && t.KeyFile == "":
		return fmt.Errorf("config: %s: key_file is required with cert_file", where)
	case t.ClientCerts != "none" && t.ClientCAFile == "":
		return fmt.Errorf("config: %s: client_ca_file is required to verify client certificates", where)
	}
	return nil
}
