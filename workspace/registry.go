// Package workspace serves the Intercom workspaces of the configuration:
// one upstream client per workspace, each with its own token (from the
// environment, or a file re-read when it changes), region or base URL and
// versions. Its Registry implements service.Backends: it picks the
// workspace of each call from the caller identity in the context
// (auth.FromContext), and refuses a workspace it does not serve with
// PERMISSION_DENIED before anything is sent to Intercom.
//
// It does not decide which workspaces a caller may use; package auth does,
// before the call reaches a service.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/service"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// ErrorInfo reasons of the refusals of Backend.
const (
	// ReasonWorkspaceUnknown: the call names a workspace this gateway does
	// not serve.
	ReasonWorkspaceUnknown = "WORKSPACE_UNKNOWN"
	// ReasonWorkspaceRequired: several workspaces are served and the call
	// names none.
	ReasonWorkspaceRequired = "WORKSPACE_REQUIRED"
)

// Option configures New.
type Option func(*options)

type options struct {
	log        *slog.Logger
	getenv     func(string) string
	poll       time.Duration
	sandboxURL string
	extra      []func(config.Workspace) []upstream.Option
	wrap       func(config.Workspace, *upstream.Client) (service.Client, error)
}

func defaultOptions() options {
	return options{
		log: slog.New(slog.DiscardHandler),
		// Kubernetes itself propagates a Secret update to the mounted file
		// only after up to a minute (kubelet sync period plus cache TTL), so
		// a 30 s poll behind the watch costs little and bounds the delay.
		poll: 30 * time.Second,
	}
}

// WithLogger logs token reloads and their failures.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithGetenv replaces os.Getenv for token_env.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithReloadPoll sets how often token files are re-read besides on change
// events (default 30 s).
func WithReloadPoll(d time.Duration) Option { return func(o *options) { o.poll = d } }

// WithSandbox sends every workspace to the simulator at baseURL, each with
// its own placeholder token, instead of Intercom: sandbox mode.
func WithSandbox(baseURL string) Option { return func(o *options) { o.sandboxURL = baseURL } }

// WithClientOptions adds upstream options to every workspace's client, after
// the workspace's own: the seam for transport middleware (rate limiting,
// tracing) that needs to know the workspace.
func WithClientOptions(f func(config.Workspace) []upstream.Option) Option {
	return func(o *options) { o.extra = append(o.extra, f) }
}

// WithClientWrapper serves each workspace through wrap(w, client) instead of
// the bare client: the seam for the workspace's schema cache
// (schemacache.New), which must wrap exactly one client. A wrapper that is
// an io.Closer is closed by Close.
func WithClientWrapper(wrap func(config.Workspace, *upstream.Client) (service.Client, error)) Option {
	return func(o *options) { o.wrap = wrap }
}

// Registry is the set of configured workspaces. It implements
// service.Backends.
type Registry struct {
	clients map[string]service.Client
	names   []string
	closers []io.Closer
}

var _ service.Backends = (*Registry)(nil)

// New builds one upstream client per workspace of cfg (a Config that
// config.Load validated). Close stops the token file watchers.
func New(cfg config.Config, opts ...Option) (*Registry, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.getenv == nil {
		return nil, errors.New("workspace: WithGetenv is required")
	}
	r := &Registry{clients: map[string]service.Client{}}
	for _, w := range cfg.Workspaces {
		token, err := r.tokenSource(w, o)
		if err != nil {
			_ = r.Close()
			return nil, err
		}
		// Calls sent as Preview because the workspace's version lacks them
		// are logged with version_fallback=true.
		copts := append(w.UpstreamOptions(token),
			upstream.WithLogger(o.log.With("component", "upstream", "workspace", w.Name)),
			upstream.WithWorkspace(w.Name)) // the workspace label of metrics and spans
		if o.sandboxURL != "" {
			copts = append(copts, upstream.WithBaseURL(o.sandboxURL))
		}
		for _, f := range o.extra {
			copts = append(copts, f(w)...)
		}
		c, err := upstream.New(copts...)
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("workspace %q: %w", w.Name, err)
		}
		var sc service.Client = c
		if o.wrap != nil {
			if sc, err = o.wrap(w, c); err != nil {
				_ = r.Close()
				return nil, fmt.Errorf("workspace %q: %w", w.Name, err)
			}
			if cl, ok := sc.(io.Closer); ok {
				r.closers = append(r.closers, cl)
			}
		}
		r.clients[w.Name] = sc
		r.names = append(r.names, w.Name)
	}
	if len(r.names) == 0 {
		return nil, errors.New("workspace: no workspaces configured")
	}
	return r, nil
}

func (r *Registry) tokenSource(w config.Workspace, o options) (func() string, error) {
	switch {
	case o.sandboxURL != "":
		tok := "sandbox-" + w.Name
		return func() string { return tok }, nil
	case w.TokenFile != "":
		ft, err := WatchFile(w.TokenFile, o.poll, o.log.With("workspace", w.Name), ReportAs(w.Name))
		if err != nil {
			return nil, fmt.Errorf("workspace %q: %w", w.Name, err)
		}
		r.closers = append(r.closers, ft)
		return ft.Token, nil
	default:
		tok := strings.TrimSpace(o.getenv(w.TokenEnv))
		if tok == "" {
			return nil, fmt.Errorf("workspace %q: no Intercom token: %s is not set", w.Name, w.TokenEnv)
		}
		return func() string { return tok }, nil
	}
}

// Workspaces returns the names of the workspaces, in configuration order.
func (r *Registry) Workspaces() []string { return slices.Clone(r.names) }

// Backend implements service.Backends. A call without a workspace in its
// identity is served by the only workspace, when there is one.
func (r *Registry) Backend(ctx context.Context) (service.Backend, error) {
	id, _ := auth.FromContext(ctx)
	name := id.Workspace
	if name == "" {
		if len(r.names) != 1 {
			return service.Backend{}, refuse(ReasonWorkspaceRequired,
				"this gateway serves several Intercom workspaces; name one in x-intercom-workspace", nil)
		}
		name = r.names[0]
	}
	c, ok := r.clients[name]
	if !ok {
		return service.Backend{}, refuse(ReasonWorkspaceUnknown,
			fmt.Sprintf("workspace %q is not served by this gateway", clip(name)), map[string]string{"workspace": clip(name)})
	}
	return service.BackendFor(name, id.Caller, c), nil
}

// Close stops watching token files and closes the client wrappers.
func (r *Registry) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	r.closers = nil
	return errors.Join(errs...)
}

func refuse(reason, msg string, meta map[string]string) error {
	st := status.New(codes.PermissionDenied, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: service.ErrorDomain, Metadata: meta}); err == nil {
		st = d
	}
	return st.Err()
}

// clip bounds a caller-supplied name before it is echoed in an error.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
