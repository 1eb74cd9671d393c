package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponseBytes bounds what is read from one response. A ticket carries at most 500 parts
// (schema ticket_parts), far below this.
const maxResponseBytes = 32 << 20

// call describes one HTTP exchange with Intercom.
type call struct {
	op     Operation
	method string
	// path is already escaped (see pathf).
	path string
	// body is marshalled as JSON when non-nil.
	body any
	// out receives the decoded success body; nil means the body is ignored.
	out any
	// readOnly marks a POST without side effects, which the retry policy may then resend like a GET.
	readOnly bool
}

// pathf builds a path from a format and ids, refusing any id that is not a plain segment (ValidID):
// an empty id would address another endpoint (/tickets/ instead of /tickets/{id}), and "." or ".."
// would do the same once anything on the way normalises the path.
func pathf(format string, ids ...string) (string, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		if !ValidID(id) {
			return "", invalidf("id %q in %s is not a plain Intercom id (%s)", truncate(id, 40), format, IDRule)
		}
		// ValidID's alphabet needs no escaping; PathEscape stays as a second guard.
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...), nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// do sends c and decodes the answer. Every call carries the caller's context; when it has no deadline
// the client's default timeout applies.
func (cl *Client) do(ctx context.Context, c call) error {
	if cl.missing[c.op] {
		return requireOperation(c.op, cl.version, " and its Preview fallback is off")
	}
	if cl.fallback[c.op] {
		// Valid, but it mixes versions within one workspace: say so on every call (WithPreviewFallback).
		cl.logger.LogAttrs(ctx, slog.LevelInfo, "intercom call sent as Preview: the configured version lacks it",
			slog.String("operation", string(c.op)), slog.String("intercom_version", string(VersionPreview)),
			slog.String("configured_version", string(cl.version)), slog.Bool("version_fallback", true))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cl.timeout)
		defer cancel()
	}
	// Every method the client uses except POST is idempotent (RFC 9110 §9.2.2).
	ctx = withCallInfo(ctx, c.op, c.method != http.MethodPost || c.readOnly)

	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return fmt.Errorf("intercom %s: encoding request: %w", c.op, err)
		}
		// A *bytes.Reader lets http.NewRequest set GetBody, which the retry policy needs to replay.
		body = bytes.NewReader(b)
	}
	// RawPath keeps escaped ids (an id "a/b" travels as a%2Fb) intact.
	u := *cl.baseURL
	u.RawPath = strings.TrimRight(u.EscapedPath(), "/") + c.path
	u.Path, _ = url.PathUnescape(u.RawPath)
	req, err := http.NewRequestWithContext(ctx, c.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("intercom %s: building request: %w", c.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+cl.token())
	req.Header.Set("Intercom-Version", string(cl.versions[c.op]))
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.userAgent != "" {
		req.Header.Set("User-Agent", cl.userAgent)
	}

	resp, err := cl.http.Do(req)
	if err != nil {
		return fmt.Errorf("intercom %s: %w", c.op, err)
	}
	defer resp.Body.Close()
	// One byte more than the cap tells a body at the cap from a longer one. A longer body is not
	// drained: closing it drops the connection, which is cheaper than reading on without bound.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("intercom %s: reading HTTP %d response: %w", c.op, resp.StatusCode, err)
	}
	tooLarge := len(data) > maxResponseBytes
	if tooLarge {
		data = data[:maxResponseBytes]
	}
	if resp.StatusCode >= 400 {
		// The status says what happened; a cut error body at worst loses its error.list detail.
		return decodeError(c.op, resp, data, time.Now())
	}
	if c.out == nil {
		return nil
	}
	if tooLarge {
		return &DecodeError{Operation: c.op, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
			Err: fmt.Errorf("body larger than %d MiB", maxResponseBytes>>20)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &DecodeError{Operation: c.op, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"),
			Err: fmt.Errorf("empty body")}
	}
	if err := decodeBody(data, c.out); err != nil {
		return &DecodeError{Operation: c.op, StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Err: err}
	}
	return nil
}

// fetch sends cl and converts the decoded body with model: the decode-then-convert step of every
// method that answers one resource. Methods cannot have type parameters, hence a function.
func fetch[W, M any](ctx context.Context, c *Client, cl call, model func(*W) M) (*M, error) {
	var w W
	cl.out = &w
	if err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	m := model(&w)
	return &m, nil
}

// fetchList is fetch for list answers, in any of the container shapes wireList accepts.
func fetchList[W, M any](ctx context.Context, c *Client, cl call, model func(*W) M) ([]M, error) {
	var w wireList[W]
	cl.out = &w
	if err := c.do(ctx, cl); err != nil {
		return nil, err
	}
	return models(&w, model), nil
}

// decodeError turns an HTTP error response into *Error. The body is decoded when it is an error.list
// (schema `error`, identical in 2.9, 2.11 and Unstable); any other body still yields an *Error that
// carries the status.
func decodeError(op Operation, resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{
		Operation:  op,
		StatusCode: resp.StatusCode,
		RateLimit:  ParseRateLimit(resp.Header),
	}
	var w wireError
	if decodeBody(body, &w) == nil {
		e.RequestID = w.RequestID
		for _, it := range w.Errors {
			e.Errors = append(e.Errors, ErrorItem{Code: it.Code, Message: it.Message, Field: it.Field})
		}
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-Id")
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retryAfter(resp.Header, now); ok {
			e.RetryAfter = d
		}
	}
	return e
}
