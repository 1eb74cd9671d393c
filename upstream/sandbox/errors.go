package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// apiError is answered as Intercom's error.list (2.11.yaml components/schemas/error):
// {"type":"error.list","request_id":"<uuid>","errors":[{"code","message","field"?}]}.
type apiError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func apiErr(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

// Common errors. Codes are the ones Intercom's descriptions show for these
// resources (see INTERCOM-API.md §3).
func errNotFound(code, message string) error { return apiErr(http.StatusNotFound, code, message) }

func errInvalid(field, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: "parameter_invalid", message: fmt.Sprintf(format, args...), field: field}
}

func errMissing(field string) error {
	return &apiError{status: http.StatusBadRequest, code: "parameter_not_found", message: field + " is required", field: field}
}

type errorList struct {
	Type      string      `json:"type"`
	RequestID string      `json:"request_id"`
	Errors    []errorItem `json:"errors"`
}

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func errorBody(requestID string, err error) (int, errorList) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = apiErr(http.StatusInternalServerError, "server_error", err.Error())
	}
	return ae.status, errorList{Type: "error.list", RequestID: requestID,
		Errors: []errorItem{{Code: ae.code, Message: ae.message, Field: ae.field}}}
}

func writeError(w http.ResponseWriter, requestID string, err error) {
	status, body := errorBody(requestID, err)
	writeJSON(w, status, body)
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only our own response types are encoded; they always marshal.
		panic(err)
	}
	return buf.Bytes()
}

// noBody is returned by handlers that answer 200 without content
// (2.11.yaml deleteTag documents a 200 response with no body).
type noBody struct{}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if _, ok := v.(noBody); ok {
		w.WriteHeader(status)
		return
	}
	b := marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---- request bodies ----

// object is a decoded JSON object whose fields are read with type checks, so
// that a wrong JSON type becomes a 400 parameter_invalid naming the field.
type object map[string]json.RawMessage

func decodeObject(body []byte, field string) (object, error) {
	var o object
	if len(bytes.TrimSpace(body)) == 0 {
		return object{}, nil
	}
	if err := json.Unmarshal(body, &o); err != nil || o == nil {
		if field == "" {
			return nil, errInvalid("", "The request body is not a JSON object")
		}
		return nil, errInvalid(field, "%s must be an object", field)
	}
	return o, nil
}

func (o object) has(name string) bool {
	v, ok := o[name]
	return ok && !isNull(v)
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func (o object) str(name string) (string, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, errInvalid(name, "%s must be a string", name)
	}
	return s, true, nil
}

// onlyOne returns the one of keys that o has (non-null); ok is false when it has none or several.
func (o object) onlyOne(keys ...string) (key string, ok bool) {
	n := 0
	for _, k := range keys {
		if o.has(k) {
			key, n = k, n+1
		}
	}
	return key, n == 1
}

// requiredStr reads a string that must be present and not blank: a blank one counts as missing.
func (o object) requiredStr(name string) (string, error) {
	s, ok, err := o.str(name)
	if err != nil {
		return "", err
	}
	if !ok || strings.TrimSpace(s) == "" {
		return "", errMissing(name)
	}
	return s, nil
}

// id reads an id sent as a JSON string or a JSON integer. Intercom's request
// examples send ticket_type_id, tag id and admin_id as numbers although the
// schemas say string (INTERCOM-API.md §10.2).
func (o object) id(name string) (string, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return "", false, nil
	}
	return rawID(v, name)
}

func rawID(v json.RawMessage, name string) (string, bool, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, true, nil
	}
	if i, err := rawInt(v); err == nil {
		return strconv.FormatInt(i, 10), true, nil
	}
	return "", true, errInvalid(name, "%s must be a string", name)
}

func (o object) boolean(name string) (bool, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return false, false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return false, true, errInvalid(name, "%s must be a boolean", name)
	}
	return b, true, nil
}

func (o object) integer(name string) (int64, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return 0, false, nil
	}
	i, err := rawInt(v)
	if err != nil {
		return 0, true, errInvalid(name, "%s must be an integer", name)
	}
	return i, true, nil
}

func rawInt(v json.RawMessage) (int64, error) {
	// json.Number would also accept a quoted number; a string is not an integer.
	if t := bytes.TrimSpace(v); len(t) == 0 || t[0] == '"' {
		return 0, errors.New("not an integer")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, err
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, errors.New("not an integer")
	}
	return int64(f), nil
}

func (o object) object(name string) (object, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return nil, false, nil
	}
	var sub object
	if err := json.Unmarshal(v, &sub); err != nil || sub == nil {
		return nil, true, errInvalid(name, "%s must be an object", name)
	}
	return sub, true, nil
}

func (o object) array(name string) ([]json.RawMessage, bool, error) {
	v, ok := o[name]
	if !ok || isNull(v) {
		return nil, false, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, true, errInvalid(name, "%s must be an array", name)
	}
	return a, true, nil
}

// firstErr returns the first non-nil error, for reading several fields at once.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
