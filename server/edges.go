package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/intercom-gateway/intercom-gateway/gen/openapiv2"
	"github.com/intercom-gateway/intercom-gateway/service"
)

// Reasons of the refusals made at the REST edge, before a request reaches
// the gRPC server. They share service.ErrorDomain with every other reason.
const (
	ReasonRequestTooLarge      = "REQUEST_TOO_LARGE"
	ReasonUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	ReasonMethodNotAllowed     = "METHOD_NOT_ALLOWED"
	ReasonMalformedJSON        = "MALFORMED_JSON"
	ReasonUnknownParameter     = "UNKNOWN_QUERY_PARAMETER"
	ReasonNonPlainPath         = "NON_PLAIN_PATH"
)

// apiOp is one REST operation of the contract.
type apiOp struct {
	segments []string // literal, "{name}", or "{name}:verb" for the last one
	hasBody  bool     // body: "*": every field comes from the JSON body
	query    map[string]bool
}

// apiRoutes is the REST surface, read from the OpenAPI document that
// protoc-gen-openapiv2 generates from the same proto annotations as the
// grpc-gateway handlers, so the two cannot disagree.
type apiRoutes map[string]map[string]apiOp // template -> method -> route

func loadAPIRoutes() (apiRoutes, error) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapiv2.JSON, &doc); err != nil {
		return nil, fmt.Errorf("server: reading the embedded OpenAPI document: %w", err)
	}
	out := apiRoutes{}
	for tmpl, ops := range doc.Paths {
		out[tmpl] = map[string]apiOp{}
		for method, op := range ops {
			r := apiOp{segments: strings.Split(strings.TrimPrefix(tmpl, "/"), "/"), query: map[string]bool{}}
			for _, p := range op.Parameters {
				switch p.In {
				case "body":
					r.hasBody = true
				case "query":
					// grpc-gateway reads a query parameter by its proto name
					// or its lowerCamelCase JSON name.
					r.query[p.Name] = true
					r.query[lowerCamel(p.Name)] = true
				}
			}
			out[tmpl][strings.ToUpper(method)] = r
		}
	}
	return out, nil
}

func lowerCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// match returns the operations of the template p matches, by method.
func (rs apiRoutes) match(p string) map[string]apiOp {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	out := map[string]apiOp{}
	for _, ops := range rs {
		for method, r := range ops {
			if segmentsMatch(r.segments, segs) {
				out[method] = r
			}
		}
	}
	return out
}

func segmentsMatch(tmpl, segs []string) bool {
	if len(tmpl) != len(segs) {
		return false
	}
	for i, t := range tmpl {
		s := segs[i]
		if !strings.HasPrefix(t, "{") {
			if t != s {
				return false
			}
			continue
		}
		if _, verb, ok := strings.Cut(t, "}:"); ok {
			if !strings.HasSuffix(s, ":"+verb) || len(s) == len(verb)+1 {
				return false
			}
		} else if s == "" {
			return false
		}
	}
	return true
}

// bodyState is shared by the edge and the error handler of one request, so
// that a body cut at the limit is reported as 413 whatever the JSON decoder
// made of the cut.
type bodyState struct{ tooLarge atomic.Bool }

type bodyStateKey struct{}

// limitedBody is http.MaxBytesReader (which also makes net/http close the
// connection instead of reading the rest) that remembers hitting the limit.
type limitedBody struct {
	io.ReadCloser
	st *bodyState
}

func (b limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.st.tooLarge.Store(true)
	}
	return n, err
}

// edges refuses, before anything is read or decoded, what the REST API will
// not use (see the README's REST section):
//   - a path with a dot or empty segment: 400 (the ServeMux behind would
//     otherwise redirect it to its cleaned form, another endpoint);
//   - a body over maxBody: 413, from Content-Length at once, or while
//     reading, before the body is buffered;
//   - a method the path does not have: 405 with Allow;
//   - a body that is not application/json: 415;
//   - a query parameter the operation does not read: 400. Operations with a
//     JSON body read nothing from the query, and the others only the fields
//     listed in the OpenAPI document; unknown body fields are 400 already.
func edges(routes apiRoutes, maxBody int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !plainPath(r.URL.Path) {
			writeEdgeError(w, r, http.StatusBadRequest, codes.InvalidArgument, ReasonNonPlainPath,
				"the path has an empty, '.' or '..' segment; ids are plain segments")
			return
		}
		if r.ContentLength > maxBody {
			writeTooLarge(w, r, maxBody)
			return
		}
		st := &bodyState{}
		r = r.WithContext(context.WithValue(r.Context(), bodyStateKey{}, st))
		r.Body = limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxBody), st: st}

		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		ops := routes.match(r.URL.Path)
		if len(ops) == 0 {
			next.ServeHTTP(w, r) // grpc-gateway answers 404
			return
		}
		op, ok := ops[r.Method]
		if !ok {
			allow := slices.Sorted(func(yield func(string) bool) {
				for m := range ops {
					if !yield(m) {
						return
					}
				}
			})
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeEdgeError(w, r, http.StatusMethodNotAllowed, codes.Unimplemented, ReasonMethodNotAllowed,
				fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
			return
		}
		if op.hasBody && r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
			writeEdgeError(w, r, http.StatusUnsupportedMediaType, codes.InvalidArgument, ReasonUnsupportedMediaType,
				fmt.Sprintf("the body must be JSON (Content-Type: application/json), got %q", r.Header.Get("Content-Type")))
			return
		}
		if unknown := unknownParams(r, op); len(unknown) > 0 {
			var v []*errdetails.BadRequest_FieldViolation
			for _, k := range unknown {
				desc := "is not a query parameter of this operation"
				if op.hasBody {
					desc = "is not read from the query string: " + r.Method + " takes every field from the JSON body"
				}
				v = append(v, &errdetails.BadRequest_FieldViolation{Field: k, Description: desc})
			}
			msg := fmt.Sprintf("unknown query parameter %q: %s", unknown[0], v[0].GetDescription())
			writeEdgeError(w, r, http.StatusBadRequest, codes.InvalidArgument, ReasonUnknownParameter, msg,
				&errdetails.BadRequest{FieldViolations: v})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unknownParams(r *http.Request, op apiOp) []string {
	var out []string
	for k := range r.URL.Query() {
		if !op.query[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// isJSON accepts application/json with any parameters (charset=utf-8).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// plainPath reports whether p (percent-decoded) has no empty, "." or ".."
// segment after its leading slash. A trailing slash ("/", "/debug/pprof/")
// is plain: it names a directory, not another path.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	p = strings.TrimSuffix(p[1:], "/")
	if p == "" {
		return true
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func writeTooLarge(w http.ResponseWriter, r *http.Request, maxBody int64) {
	// Whatever is left of the body is not read: net/http closes the
	// connection after this answer.
	w.Header().Set("Connection", "close")
	writeEdgeError(w, r, http.StatusRequestEntityTooLarge, codes.InvalidArgument, ReasonRequestTooLarge,
		fmt.Sprintf("the request body is larger than %d bytes", maxBody),
		&errdetails.ErrorInfo{Reason: ReasonRequestTooLarge, Domain: service.ErrorDomain,
			Metadata: map[string]string{"max_bytes": strconv.FormatInt(maxBody, 10)}})
}

// writeEdgeError writes a google.rpc.Status body, as grpc-gateway does for
// every other error, with an ErrorInfo detail (unless extra has one).
func writeEdgeError(w http.ResponseWriter, _ *http.Request, httpStatus int, code codes.Code, reason, msg string, extra ...protoadapt.MessageV1) {
	details := extra
	hasInfo := slices.ContainsFunc(extra, func(m protoadapt.MessageV1) bool { _, ok := m.(*errdetails.ErrorInfo); return ok })
	if !hasInfo {
		details = append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: service.ErrorDomain}}, extra...)
	}
	st, err := status.New(code, msg).WithDetails(details...)
	if err != nil {
		st = status.New(code, msg)
	}
	body, err := JSONMarshalOptions.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// decodeProblem recognises the errors grpc-gateway makes from a body that is
// not JSON of the request's shape (protojson's messages, wrapped as
// INVALID_ARGUMENT without details) and rewrites them for people: a clear
// message, the field when the parser named one, and ErrorInfo.
var (
	protojsonField   = regexp.MustCompile(`(?:unknown field|invalid value for \S+ field|field) "?([A-Za-z0-9_.]+)"?`)
	protojsonPrefix  = regexp.MustCompile(`^(?:proto:\s*)?(?:\(line \d+:\d+\):\s*)?`)
	protojsonMarkers = []string{"proto:", "unexpected EOF", "unexpected end of JSON input", "invalid character", "syntax error", "exceeded max recursion depth"}
)

func decodeProblem(st *status.Status) (*status.Status, bool) {
	if st.Code() != codes.InvalidArgument || len(st.Details()) != 0 {
		return nil, false
	}
	msg := st.Message()
	if !slices.ContainsFunc(protojsonMarkers, func(m string) bool { return strings.Contains(msg, m) }) {
		return nil, false
	}
	var clear string
	switch {
	case strings.Contains(msg, "recursion depth"):
		clear = fmt.Sprintf("the JSON body is nested deeper than %d levels", maxJSONDepth)
	case strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "unexpected end"):
		clear = "the JSON body ends early (truncated or unbalanced)"
	case strings.Contains(msg, "invalid character") || strings.Contains(msg, "syntax error"):
		clear = "the body is not valid JSON: " + protojsonPrefix.ReplaceAllString(msg, "")
	default:
		clear = "the JSON body does not match the request: " + protojsonPrefix.ReplaceAllString(msg, "")
	}
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: ReasonMalformedJSON, Domain: service.ErrorDomain}}
	if m := protojsonField.FindStringSubmatch(msg); m != nil {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: m[1], Description: clear}}})
	}
	out, err := status.New(codes.InvalidArgument, clear).WithDetails(details...)
	if err != nil {
		return nil, false
	}
	return out, true
}
