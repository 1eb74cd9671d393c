package upstream

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Region is the base URL of one of Intercom's regional API hosts (the `servers` list of every spec
// file). A token belongs to one region's workspace.
type Region string

// Intercom's regional hosts.
const (
	RegionUS Region = "https://api.intercom.io"
	RegionEU Region = "https://api.eu.intercom.io"
	RegionAU Region = "https://api.au.intercom.io"
)

// Version is a value of the Intercom-Version header.
type Version string

const (
	// Version211 is the default: the newest version whose description we pin (2.11.yaml).
	Version211 Version = "2.11"
	// VersionPreview is what Intercom used to call Unstable (renamed in April 2026, INTERCOM-API.md §2).
	// WithVersion accepts "Unstable" as an alias and sends "Preview".
	VersionPreview Version = "Preview"
)

var numberedVersion = regexp.MustCompile(`^([12])\.([0-9]{1,2})$`)

// canonical validates v and maps the Unstable alias to Preview.
func (v Version) canonical() (Version, error) {
	switch strings.ToLower(string(v)) {
	case "preview", "unstable":
		return VersionPreview, nil
	}
	if numberedVersion.MatchString(string(v)) {
		return v, nil
	}
	return "", fmt.Errorf("upstream: unknown Intercom-Version %q (want e.g. \"2.11\" or \"Preview\")", string(v))
}

// atLeast reports whether v has the features of the numbered version major.minor. Preview is treated
// as newer than every numbered version, because it is where features appear first.
func (v Version) atLeast(major, minor int) bool {
	if v == VersionPreview {
		return true
	}
	var vMajor, vMinor int
	if _, err := fmt.Sscanf(string(v), "%d.%d", &vMajor, &vMinor); err != nil {
		return false
	}
	return vMajor > major || (vMajor == major && vMinor >= minor)
}

// Operation names one Intercom endpoint, after its operationId in the spec. It selects the
// Intercom-Version sent (WithOperationVersion) and is visible to transport middleware through
// OperationFromContext.
type Operation string

// One Operation per endpoint the gateway uses (operationIds from 2.11.yaml and unstable.yaml).
const (
	OpCreateTicket              Operation = "createTicket"
	OpGetTicket                 Operation = "getTicket"
	OpUpdateTicket              Operation = "updateTicket"
	OpDeleteTicket              Operation = "deleteTicket"
	OpReplyTicket               Operation = "replyTicket"
	OpSearchTickets             Operation = "searchTickets"
	OpAttachTagToTicket         Operation = "attachTagToTicket"
	OpDetachTagFromTicket       Operation = "detachTagFromTicket"
	OpListTicketTypes           Operation = "listTicketTypes"
	OpCreateTicketType          Operation = "createTicketType"
	OpGetTicketType             Operation = "getTicketType"
	OpUpdateTicketType          Operation = "updateTicketType"
	OpCreateTicketTypeAttribute Operation = "createTicketTypeAttribute"
	OpUpdateTicketTypeAttribute Operation = "updateTicketTypeAttribute"
	OpListTicketStates          Operation = "listTicketStates"
	OpListTags                  Operation = "listTags"
	// OpCreateTag is POST /tags in all its forms: create, rename, tag and untag companies.
	OpCreateTag                 Operation = "createTag"
	OpFindTag                   Operation = "findTag"
	OpDeleteTag                 Operation = "deleteTag"
	OpListTagsForAContact       Operation = "listTagsForAContact"
	OpAttachTagToContact        Operation = "attachTagToContact"
	OpDetachTagFromContact      Operation = "detachTagFromContact"
	OpAttachTagToConversation   Operation = "attachTagToConversation"
	OpDetachTagFromConversation Operation = "detachTagFromConversation"
)

// Operations lists every Operation, in the order above.
func Operations() []Operation {
	return []Operation{
		OpCreateTicket, OpGetTicket, OpUpdateTicket, OpDeleteTicket, OpReplyTicket, OpSearchTickets,
		OpAttachTagToTicket, OpDetachTagFromTicket, OpListTicketTypes, OpCreateTicketType, OpGetTicketType,
		OpUpdateTicketType, OpCreateTicketTypeAttribute, OpUpdateTicketTypeAttribute, OpListTicketStates,
		OpListTags, OpCreateTag, OpFindTag, OpDeleteTag, OpListTagsForAContact, OpAttachTagToContact,
		OpDetachTagFromContact, OpAttachTagToConversation, OpDetachTagFromConversation,
	}
}

// Middleware wraps a RoundTripper; it is how tracing joins the chain. It wraps the whole retry loop, so
// rate limiting is not middleware: it must see every attempt (WithLimiter).
type Middleware func(http.RoundTripper) http.RoundTripper

// Option configures a Client.
type Option func(*options)

type options struct {
	token      func() string
	region     Region
	baseURL    string // overrides region when set
	httpClient *http.Client
	transport  http.RoundTripper
	version    Version
	opVersions map[Operation]Version // explicit overrides only
	timeout    time.Duration
	retry      RetryPolicy
	observer   func(RateLimit)
	userAgent  string
	middleware []Middleware
	// previewFallback sends operations the version lacks as Preview (default true).
	previewFallback bool
	logger          *slog.Logger
	workspace       string
	limiter         Limiter
	tracerProvider  trace.TracerProvider
}

// defaultOptions are the settings a Client starts from.
func defaultOptions() options {
	return options{
		region:     RegionUS,
		version:    Version211,
		opVersions: map[Operation]Version{},
		// 20 s matches the timeout of Intercom's own generated SDKs (INTERCOM-API.md §11) and stays
		// below typical gateway deadlines.
		timeout:         20 * time.Second,
		retry:           DefaultRetryPolicy(),
		userAgent:       "intercom-gateway/1 (+https://github.com/intercom-gateway/intercom-gateway)",
		previewFallback: true,
		workspace:       "default",
	}
}

// WithToken sets the access token sent as `Authorization: Bearer <token>` (securitySchemes.bearerAuth).
// The token is never logged and never appears in errors.
func WithToken(token string) Option {
	return func(o *options) { o.token = func() string { return token } }
}

// WithTokenSource makes the client ask token for the access token on every call, so that a rotated
// token is used from the next call on without a new Client (the attempts of one call share a token).
// token must be fast and safe for concurrent use (an atomic load, not a file read); it must not return
// "" once New has succeeded. The last of WithToken and WithTokenSource wins.
func WithTokenSource(token func() string) Option { return func(o *options) { o.token = token } }

// WithRegion selects Intercom's regional host. WithBaseURL, when also given, wins.
func WithRegion(r Region) Option { return func(o *options) { o.region = r } }

// WithBaseURL points the client at another host, such as the sandbox or a test server.
func WithBaseURL(u string) Option {
	return func(o *options) { o.baseURL = u }
}

// WithHTTPClient uses c's settings (redirect policy, cookie jar) and its Transport as the base of the
// transport chain. c itself is not modified.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithTransport sets the base of the transport chain (default: one shared NewTransport()). Per-attempt
// instrumentation (a client span and metrics per attempt) wraps it, the retry policy wraps that, and
// middleware wraps the retry policy.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// WithMiddleware wraps the retry transport, outermost first: WithMiddleware(a, b) gives
// a → b → retry → limiter (WithLimiter) → rate-limit header capture → base.
func WithMiddleware(mw ...Middleware) Option {
	return func(o *options) { o.middleware = append(o.middleware, mw...) }
}

// WithVersion sets the Intercom-Version of every operation that has no explicit override
// (default "2.11"). An operation v lacks (DELETE /tickets/{id} before 2.13, GET /ticket_states before
// 2.12; see operationSince) is sent as Preview unless WithPreviewFallback(false).
func WithVersion(v Version) Option { return func(o *options) { o.version = v } }

// WithPreviewFallback says whether an operation the client's version lacks is sent with
// Intercom-Version Preview, which has it (default true). That is valid, but it mixes versions within one
// workspace, so every such call is logged (WithLogger) with version_fallback=true. With false, such an
// operation fails with ErrUnsupported before anything is sent, naming the first version that has it.
// An explicit WithOperationVersion wins over both.
func WithPreviewFallback(on bool) Option { return func(o *options) { o.previewFallback = on } }

// WithoutPreviewFallback is WithPreviewFallback(false).
func WithoutPreviewFallback() Option { return WithPreviewFallback(false) }

// WithLogger receives one Info record per call sent with the Preview fallback (see WithPreviewFallback)
// and one when New sets such a fallback up. Nothing else is logged, and never a token. Default: no logging.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithOperationVersion overrides the Intercom-Version of one operation.
func WithOperationVersion(op Operation, v Version) Option {
	return func(o *options) { o.opVersions[op] = v }
}

// WithTimeout is applied to a call whose context has no deadline (default 20 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetryPolicy replaces DefaultRetryPolicy().
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithRateLimitObserver is called with the X-RateLimit-* headers of every HTTP response that carries
// them, success or error, including each attempt the retry policy repeats. It runs on the request's
// goroutine, so it must be fast and safe for concurrent use.
func WithRateLimitObserver(f func(RateLimit)) Option { return func(o *options) { o.observer = f } }

// WithWorkspace names the Intercom workspace this client calls, for the
// workspace label of its metrics and spans (default "default"). Names come
// from configuration, which keeps the label bounded.
func WithWorkspace(name string) Option { return func(o *options) { o.workspace = name } }

// WithTracerProvider traces every attempt with tp: a client span each
// (otelhttp), whose traceparent Intercom receives. Without it, or with a
// nil tp (telemetry.Telemetry's TracerProvider when tracing is off), the
// client makes no spans and runs no span instrumentation at all; a caller's
// trace context and baggage in the request's context still reach Intercom.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// Client calls Intercom. It is safe for concurrent use.
type Client struct {
	baseURL   *url.URL
	token     func() string // never printed (see Format)
	userAgent string
	versions  map[Operation]Version
	// version is the client's own version (WithVersion); fallback marks operations sent as Preview
	// because version lacks them, and missing the ones that fail instead (WithPreviewFallback(false)).
	version  Version
	fallback map[Operation]bool
	missing  map[Operation]bool
	logger   *slog.Logger
	timeout  time.Duration
	http     *http.Client
	// schema, when set, serves UpdateTicket's nested reads (see WithSchemaReader).
	schema SchemaReader
}

// New returns a Client. It fails on a missing token, a bad base URL or an unknown version.
func New(opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.token == nil || o.token() == "" {
		return nil, errors.New("upstream: an Intercom access token is required (WithToken or WithTokenSource)")
	}
	rawBase := o.baseURL
	if rawBase == "" {
		rawBase = string(o.region)
	}
	// Errors name the base URL without its userinfo password, which is a credential too; url.Parse's
	// own error would quote it whole.
	base, err := url.Parse(strings.TrimRight(rawBase, "/"))
	if err != nil {
		return nil, fmt.Errorf("upstream: base URL: %w", errors.Unwrap(err))
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("upstream: base URL %q must be an absolute http(s) URL", base.Redacted())
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("upstream: timeout must be positive, got %v", o.timeout)
	}
	if err := o.retry.validate(); err != nil {
		return nil, err
	}
	def, err := o.version.canonical()
	if err != nil {
		return nil, err
	}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	versions := make(map[Operation]Version, len(Operations()))
	fallback, missing := map[Operation]bool{}, map[Operation]bool{}
	for _, op := range Operations() {
		// An explicit override wins; otherwise the client version, unless it lacks the operation, in
		// which case Preview (which has every operation) or, with the fallback off, a refusal per call.
		v := def
		if override, ok := o.opVersions[op]; ok {
			if v, err = override.canonical(); err != nil {
				return nil, fmt.Errorf("%w (operation %s)", err, op)
			}
			if !hasOperation(v, op) {
				return nil, fmt.Errorf("%w: %s does not exist in Intercom-Version %s", ErrUnsupported, op, v)
			}
		} else if !hasOperation(def, op) {
			if !fallbackOps[op] {
				return nil, fmt.Errorf("%w: %s does not exist in Intercom-Version %s", ErrUnsupported, op, def)
			}
			if o.previewFallback {
				v, fallback[op] = VersionPreview, true
				logger.Info("intercom operation will be sent as Preview: the configured version lacks it",
					slog.String("operation", string(op)), slog.String("intercom_version", string(def)),
					slog.String("first_version", operationSince[op].String()), slog.Bool("version_fallback", true))
			} else {
				missing[op] = true
			}
		}
		versions[op] = v
	}

	hc := &http.Client{}
	baseRT := o.transport
	if o.httpClient != nil {
		*hc = *o.httpClient
		if hc.Transport != nil {
			baseRT = hc.Transport
		}
	}
	if baseRT == nil {
		baseRT = defaultTransport()
	}
	// The client-level timeout is replaced by per-call context deadlines (WithTimeout), which the
	// retry policy can see and respect.
	hc.Timeout = 0
	var attempt http.RoundTripper = &rateLimitTransport{base: newAttemptTransport(baseRT, o.workspace, o.tracerProvider), observe: o.observer}
	if o.limiter != nil {
		attempt = &limitTransport{base: attempt, limiter: o.limiter}
	}
	rt := NewRetryTransport(attempt, o.retry)
	for i := len(o.middleware) - 1; i >= 0; i-- {
		rt = o.middleware[i](rt)
	}
	hc.Transport = rt

	return &Client{
		baseURL:   base,
		token:     o.token,
		userAgent: o.userAgent,
		versions:  versions,
		version:   def,
		fallback:  fallback,
		missing:   missing,
		logger:    logger,
		timeout:   o.timeout,
		http:      hc,
	}, nil
}

// Version returns the Intercom-Version the client sends for op.
func (c *Client) Version(op Operation) Version { return c.versions[op] }

// PreviewFallback reports whether op is sent as Preview because the client's version lacks it.
func (c *Client) PreviewFallback(op Operation) bool { return c.fallback[op] }

// Format prints the client without its token (or a password in the base URL), so that %v or %+v in a
// log line cannot leak it.
func (c *Client) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "upstream.Client{baseURL: %s, token: REDACTED}", c.baseURL.Redacted())
}
