package service

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/intercom-gateway/intercom-gateway/ratelimit"
	"github.com/intercom-gateway/intercom-gateway/upstream"
)

// ErrorDomain is the ErrorInfo domain of every error the gateway reports.
const ErrorDomain = "intercom-gateway"

// Reasons put in ErrorInfo.Reason for errors that do not come with an
// Intercom error code. Errors from Intercom use "INTERCOM_" followed by the
// upper-cased Intercom code, for example INTERCOM_TICKET_NOT_FOUND.
const (
	ReasonInvalidRequest      = "INVALID_REQUEST"
	ReasonVersionUnsupported  = "INTERCOM_VERSION_UNSUPPORTED"
	ReasonUpstreamUnavailable = "INTERCOM_UNAVAILABLE"
	ReasonUpstreamMalformed   = "INTERCOM_MALFORMED_RESPONSE"
	ReasonUpstreamTimeout     = "INTERCOM_TIMEOUT"
	ReasonInternal            = "INTERNAL"
	// ReasonUpstreamCredentials: Intercom answered 401 or 403 to the
	// gateway's own access token.
	ReasonUpstreamCredentials = "INTERCOM_CREDENTIALS_REJECTED"
	// ReasonRateLimited: the gateway's own limiter did not send the call,
	// because the workspace's Intercom budget (or its cap on calls in
	// flight) is spent for now. Metadata "limit_reason" says which.
	ReasonRateLimited = "GATEWAY_RATE_LIMITED"
)

// statusCodes maps Intercom's HTTP statuses to gRPC codes. Intercom documents
// few statuses per endpoint (INTERCOM-API.md §3, §10.7), so the mapping is by
// status class first and refined by error code in codeOverrides.
var statusCodes = map[int]codes.Code{
	http.StatusBadRequest:          codes.InvalidArgument,   // parameter_invalid, parameter_not_found, …
	http.StatusUnauthorized:        codes.Unavailable,       // the gateway's token, not the caller's: see fromUpstream
	http.StatusForbidden:           codes.Unavailable,       // api_plan_restricted, forbidden: the gateway's token too
	http.StatusNotFound:            codes.NotFound,          // not_found, ticket_not_found, tag_not_found, …
	http.StatusRequestTimeout:      codes.DeadlineExceeded,  // Intercom gave up waiting for the request
	http.StatusConflict:            codes.Aborted,           // a concurrent change won; retry the sequence
	http.StatusUnprocessableEntity: codes.InvalidArgument,   // body well-formed JSON but semantically wrong
	http.StatusTooManyRequests:     codes.ResourceExhausted, // rate limit; RetryInfo says when to come back
}

// codeOverrides refines statusCodes for Intercom error codes whose meaning is
// clearer than their HTTP status.
var codeOverrides = map[string]codes.Code{
	// 400 on DELETE /tags/{id}: the tag is in use, for example by a segment.
	// The request is fine; the workspace's state prevents it.
	"tag_has_dependent_objects": codes.FailedPrecondition,
	// 400 on reply: user replies are not allowed on back-office tickets.
	"parameter_mismatch": codes.FailedPrecondition,
	// 409s that say the thing exists already.
	"already_exists":            codes.AlreadyExists,
	"already_linked_to_tracker": codes.AlreadyExists,
}

// ToStatus maps any error a handler returns to a gRPC status. It is the one
// place where Intercom errors become gRPC errors:
//
//   - an error that already is a status passes unchanged;
//   - *ratelimit.Refusal (the gateway's limiter did not send the call)
//     becomes RESOURCE_EXHAUSTED with RetryInfo and the window's
//     limit/remaining/reset in ErrorInfo;
//   - *upstream.Error becomes the code for its HTTP status (statusCodes,
//     refined by codeOverrides), with ErrorInfo carrying Intercom's
//     request_id and error code, BadRequest field violations for errors that
//     name a field, and RetryInfo for 429s;
//   - deadline and cancellation become DEADLINE_EXCEEDED and CANCELLED;
//   - upstream.ErrUnsupported (the configured Intercom-Version cannot do it)
//     becomes FAILED_PRECONDITION, and upstream.ErrInvalidArgument (input the
//     client refused to send) INVALID_ARGUMENT;
//   - a malformed Intercom answer or a transport failure becomes UNAVAILABLE;
//   - anything else is INTERNAL, without details that could leak secrets.
func ToStatus(err error) *status.Status {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	var uerr *upstream.Error
	var derr *upstream.DecodeError
	var nerr net.Error
	var refusal *ratelimit.Refusal
	switch {
	case errors.As(err, &refusal):
		// Checked first: the refusal travels inside the *url.Error of the
		// HTTP client, which is also a net.Error.
		return fromRefusal(refusal)
	case errors.As(err, &uerr):
		return fromUpstream(uerr)
	case errors.Is(err, context.DeadlineExceeded):
		return withInfo(codes.DeadlineExceeded, "the call to Intercom did not finish before the deadline", ReasonUpstreamTimeout, nil)
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, "the call was cancelled")
	case errors.Is(err, upstream.ErrInvalidArgument):
		// The client refused input it cannot encode for the configured
		// version, such as a non-numeric admin_id where Preview wants an
		// integer. Nothing was sent.
		return withInfo(codes.InvalidArgument, strings.TrimPrefix(err.Error(), "upstream: "), ReasonInvalidRequest, nil)
	case errors.Is(err, upstream.ErrUnsupported):
		return withInfo(codes.FailedPrecondition, err.Error(), ReasonVersionUnsupported, nil)
	case errors.As(err, &derr):
		return withInfo(codes.Unavailable, "Intercom sent a response the gateway could not read", ReasonUpstreamMalformed, nil)
	case errors.As(err, &nerr), isTransportError(err):
		return withInfo(codes.Unavailable, "could not reach Intercom", ReasonUpstreamUnavailable, nil)
	default:
		return withInfo(codes.Internal, "internal error", ReasonInternal, nil)
	}
}

// isTransportError reports errors of a broken HTTP exchange that do not
// implement net.Error, such as an unexpected EOF while reading a body.
func isTransportError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"EOF", "connection reset", "broken pipe", "connection refused"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func fromUpstream(e *upstream.Error) *status.Status {
	code, ok := statusCodes[e.StatusCode]
	switch {
	case ok:
	case e.StatusCode >= 500:
		// Intercom documents no 5xx, but they happen; some 503s are
		// temporary global rate limits (INTERCOM-API.md §9).
		code = codes.Unavailable
	case e.StatusCode >= 400:
		code = codes.FailedPrecondition
	default:
		code = codes.Unknown
	}
	if c, ok := codeOverrides[e.Code()]; ok {
		code = c
	}

	msg := "intercom: " + strings.ToLower(http.StatusText(e.StatusCode))
	if len(e.Errors) > 0 && e.Errors[0].Message != "" {
		msg = "intercom: " + e.Errors[0].Message
	}
	reason := "INTERCOM_HTTP_" + strconv.Itoa(e.StatusCode)
	if c := e.Code(); c != "" {
		reason = "INTERCOM_" + strings.ToUpper(c)
	}
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		// Intercom refused the gateway's own token (2.11.yaml: 401
		// "unauthorized", "Access Token Invalid"; 403 "api_plan_restricted"
		// or a token without the needed scope). The caller did nothing
		// wrong, so it must not see UNAUTHENTICATED or PERMISSION_DENIED:
		// a client that re-authenticates on those would loop, and one that
		// reads them blames its own key. UNAVAILABLE (HTTP 503) says the
		// gateway cannot serve until its operator fixes the workspace's
		// token; the reason names it, and the interceptor logs and counts it.
		code = codes.Unavailable
		reason = ReasonUpstreamCredentials
		msg = "intercom refused the gateway's credentials for this workspace (not the caller's): " + strings.TrimPrefix(msg, "intercom: ")
	}
	meta := map[string]string{
		"http_status": strconv.Itoa(e.StatusCode),
		"operation":   string(e.Operation),
	}
	if e.RequestID != "" {
		meta["request_id"] = e.RequestID
	}
	if c := e.Code(); c != "" {
		meta["intercom_code"] = c
	}
	if e.RateLimit.Present {
		meta[MetaRateLimitLimit] = strconv.Itoa(e.RateLimit.Limit)
		meta[MetaRateLimitRemaining] = strconv.Itoa(e.RateLimit.Remaining)
		if !e.RateLimit.Reset.IsZero() {
			meta[MetaRateLimitReset] = strconv.FormatInt(e.RateLimit.Reset.Unix(), 10)
		}
	}

	details := []protoadaptMessage{&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}}
	var fv []*errdetails.BadRequest_FieldViolation
	for _, it := range e.Errors {
		if it.Field != "" {
			fv = append(fv, &errdetails.BadRequest_FieldViolation{Field: it.Field, Description: it.Message, Reason: strings.ToUpper(it.Code)})
		}
	}
	if len(fv) > 0 {
		details = append(details, &errdetails.BadRequest{FieldViolations: fv})
	}
	if code == codes.ResourceExhausted {
		wait := e.RetryAfter
		if wait <= 0 {
			// No reset header: Intercom's windows are 10 s long
			// (INTERCOM-API.md §9), so one window is a safe guess.
			wait = 10 * time.Second
		}
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
	}
	return mustWithDetails(status.New(code, msg), details...)
}

// credentialsRejected counts Intercom's 401/403 answers to the gateway's
// token, for an alert: each one is a failed call the caller cannot fix.
var credentialsRejected, _ = otel.Meter("github.com/intercom-gateway/intercom-gateway/service").Int64Counter(
	"gateway.upstream.credentials_rejected", metric.WithUnit("{response}"),
	metric.WithDescription("Intercom 401/403 answers to the gateway's own access token, by operation and HTTP status."))

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// fromRefusal maps a call the limiter did not send. It is RESOURCE_EXHAUSTED
// like Intercom's own 429 (the budget is Intercom's), with RetryInfo saying
// when the caller's share will next have capacity, and the limiter's view of
// the window in ErrorInfo metadata, which REST turns into RateLimit-* headers.
func fromRefusal(r *ratelimit.Refusal) *status.Status {
	msg := "the Intercom rate budget of workspace " + strconv.Quote(r.Workspace) + " is spent for now; nothing was sent to Intercom"
	switch r.Reason {
	case ratelimit.ReasonConcurrency:
		msg = "too many calls to Intercom in flight for workspace " + strconv.Quote(r.Workspace) + "; nothing was sent to Intercom"
	case ratelimit.ReasonPaused:
		msg = "Intercom answered 429 for workspace " + strconv.Quote(r.Workspace) + "; calls wait for its reset and nothing was sent"
	}
	meta := map[string]string{
		"workspace":    r.Workspace,
		"limit_reason": string(r.Reason),
	}
	if r.Limit > 0 {
		meta[MetaRateLimitLimit] = strconv.Itoa(r.Limit)
		meta[MetaRateLimitRemaining] = strconv.Itoa(r.Remaining)
	}
	if !r.Reset.IsZero() {
		meta[MetaRateLimitReset] = strconv.FormatInt(ceilUnix(r.Reset), 10)
	}
	wait := r.RetryAfter
	if wait <= 0 {
		wait = time.Millisecond
	}
	return mustWithDetails(status.New(codes.ResourceExhausted, msg),
		&errdetails.ErrorInfo{Reason: ReasonRateLimited, Domain: ErrorDomain, Metadata: meta},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.After(time.Unix(s, 0)) {
		s++
	}
	return s
}

// ErrorInfo metadata keys that describe a rate window, on Intercom's 429s
// and on the gateway's own refusals. The reset is Unix seconds, as in
// Intercom's X-RateLimit-Reset.
const (
	MetaRateLimitLimit     = "ratelimit_limit"
	MetaRateLimitRemaining = "ratelimit_remaining"
	MetaRateLimitReset     = "ratelimit_reset"
)

// RateLimitInfo returns the rate window a RESOURCE_EXHAUSTED status
// describes in its ErrorInfo metadata: the limit, what is left and when the
// window resets. The REST error handler turns it into RateLimit-* headers.
func RateLimitInfo(st *status.Status) (limit, remaining int, reset time.Time, ok bool) {
	if st == nil || st.Code() != codes.ResourceExhausted {
		return 0, 0, time.Time{}, false
	}
	for _, d := range st.Details() {
		info, isInfo := d.(*errdetails.ErrorInfo)
		if !isInfo {
			continue
		}
		md := info.GetMetadata()
		l, errL := strconv.Atoi(md[MetaRateLimitLimit])
		r, errR := strconv.Atoi(md[MetaRateLimitRemaining])
		if errL != nil || errR != nil {
			return 0, 0, time.Time{}, false
		}
		if s, err := strconv.ParseInt(md[MetaRateLimitReset], 10, 64); err == nil {
			reset = time.Unix(s, 0)
		}
		return l, r, reset, true
	}
	return 0, 0, time.Time{}, false
}

// RetryAfter returns the delay in the status's RetryInfo detail, if any. The
// REST error handler turns it into a Retry-After header.
func RetryAfter(st *status.Status) (time.Duration, bool) {
	if st == nil {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// UnaryErrorInterceptor maps the errors of unary handlers with ToStatus. It
// logs INTERNAL errors with their cause, which the caller never sees.
func UnaryErrorInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return resp, mapAndLog(ctx, logger, info.FullMethod, err)
		}
		return resp, nil
	}
}

// StreamErrorInterceptor is UnaryErrorInterceptor for streaming handlers.
func StreamErrorInterceptor(logger *slog.Logger) grpc.StreamServerInterceptor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := handler(srv, ss); err != nil {
			return mapAndLog(ss.Context(), logger, info.FullMethod, err)
		}
		return nil
	}
}

func mapAndLog(ctx context.Context, logger *slog.Logger, method string, err error) error {
	st := ToStatus(err)
	if reasonOf(st) == ReasonUpstreamCredentials {
		// The operator's problem, not the caller's: say so where the
		// operator looks, without the token.
		var uerr *upstream.Error
		op, httpStatus := "", 0
		if errors.As(err, &uerr) {
			op, httpStatus = string(uerr.Operation), uerr.StatusCode
		}
		logger.ErrorContext(ctx, "Intercom refused the gateway's access token; check the workspace's token",
			"method", method, "operation", op, "http_status", httpStatus)
		credentialsRejected.Add(ctx, 1, metric.WithAttributes(attribute.String("operation", op), attribute.Int("http_status", httpStatus)))
	}
	if st.Code() == codes.Internal {
		if _, isStatus := status.FromError(err); !isStatus {
			// The cause comes from our own code or the client library, which
			// never put the token in errors (upstream.Error is redacted).
			logger.ErrorContext(ctx, "internal error", "method", method, "error", err.Error())
		}
	}
	return st.Err()
}
