package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupported is wrapped by errors for requests the configured Intercom-Version cannot express, such
// as a ticket_state_id under 2.11. Such calls fail before anything is sent.
var ErrUnsupported = errors.New("upstream: not supported by the configured Intercom-Version")

// Error is an HTTP error response from Intercom (any status ≥ 400), decoded from the `error` schema
// (type "error.list", request_id, errors[]) when the body has that shape. It never contains the token.
type Error struct {
	Operation  Operation
	StatusCode int
	// RequestID is error.request_id, or the X-Request-Id response header when the body has none.
	RequestID string
	Errors    []ErrorItem
	RateLimit RateLimit
	// RetryAfter is how long Intercom asks us to wait: until X-RateLimit-Reset (or Retry-After) for a
	// 429, zero when unknown.
	RetryAfter time.Duration
}

// ErrorItem is one entry of error.errors[].
type ErrorItem struct {
	Code    string
	Message string
	// Field names the field or parameter that was wrong, when Intercom says.
	Field string
}

// Error renders status, operation and every error code and message.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "intercom %s: HTTP %d", e.Operation, e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	for i, it := range e.Errors {
		if i == 0 {
			b.WriteString(":")
		} else {
			b.WriteString(";")
		}
		if it.Code != "" {
			b.WriteString(" " + it.Code)
		}
		if it.Message != "" {
			b.WriteString(" (" + it.Message + ")")
		}
		if it.Field != "" {
			b.WriteString(" field=" + it.Field)
		}
	}
	if e.RequestID != "" {
		b.WriteString(" request_id=" + e.RequestID)
	}
	if e.RetryAfter > 0 {
		b.WriteString(" retry_after=" + e.RetryAfter.String())
	}
	return b.String()
}

// Code returns the first error code, or "" when Intercom sent none.
func (e *Error) Code() string {
	if len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// DecodeError reports a response Intercom sent with a success status whose body could not be decoded
// into the expected shape. The call may have taken effect (a create, for example), so it must not be
// retried blindly.
type DecodeError struct {
	Operation   Operation
	StatusCode  int
	ContentType string
	Err         error
}

// Error names the operation, status and content type; the body itself is left out because it may hold
// customer data.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("intercom %s: cannot decode HTTP %d response (Content-Type %q): %v",
		e.Operation, e.StatusCode, e.ContentType, e.Err)
}

// Unwrap returns the JSON error.
func (e *DecodeError) Unwrap() error { return e.Err }

// RateLimit is the X-RateLimit-* headers of one response (INTERCOM-API.md §9: Limit is the request
// budget of the app, Remaining what is left in the current 10-second window, Reset the Unix time the
// window resets). Present is false when the response carried none of them.
type RateLimit struct {
	Limit     int
	Remaining int
	Reset     time.Time
	Present   bool
}

// ParseRateLimit reads the X-RateLimit-* headers. Malformed values are ignored.
func ParseRateLimit(h http.Header) RateLimit {
	var rl RateLimit
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit"))); err == nil {
		rl.Limit, rl.Present = n, true
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining"))); err == nil {
		rl.Remaining, rl.Present = n, true
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && n > 0 {
		rl.Reset, rl.Present = time.Unix(n, 0), true
	}
	return rl
}

// retryAfter returns the wait Intercom asks for: Retry-After (not documented by Intercom, honoured
// when present) or else X-RateLimit-Reset, relative to now. ok is false when neither is usable.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if s := strings.TrimSpace(h.Get("Retry-After")); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if rl := ParseRateLimit(h); !rl.Reset.IsZero() {
		return max(rl.Reset.Sub(now), 0), true
	}
	return 0, false
}

// rateLimitTransport reports the rate-limit headers of every response it sees to observe. It sits
// inside the retry transport so that every attempt is reported, not just the last one.
type rateLimitTransport struct {
	base    http.RoundTripper
	observe func(RateLimit)
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil && t.observe != nil {
		if rl := ParseRateLimit(resp.Header); rl.Present {
			t.observe(rl)
		}
	}
	return resp, err
}

// ErrInvalidArgument is wrapped by errors for parameters the client rejects before sending anything,
// such as an empty id (which would address a different endpoint) or a non-numeric admin id where the
// version needs an integer.
var ErrInvalidArgument = errors.New("upstream: invalid argument")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}
