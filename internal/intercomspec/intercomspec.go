// Package intercomspec loads Intercom's published OpenAPI descriptions for tests.
//
// It is for test code only: it finds the descriptions kept beside the repository
// (../shared/intercom-openapi, see /work/shared/intercom-openapi/SOURCE.md), loads
// them once per version with kin-openapi (keeping only the operations the
// gateway calls and what they reference, see trimToGateway), patches the few
// places where the descriptions are known to be wrong (see KnownSpecErrors),
// and validates
// requests and responses against them. It is not used at run time and does not
// describe our own API.
//
// When the descriptions are absent (a user's clone has no ../shared), every
// helper that takes a testing.TB skips the test instead of failing it.
package intercomspec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Versions this package can load, mapped to their file names in the shared dir.
// "unstable" is descriptions/0, which Intercom now labels "Preview".
var files = map[string]string{
	"2.9":      "2.9.yaml",
	"2.11":     "2.11.yaml",
	"2.12":     "2.12.yaml",
	"2.13":     "2.13.yaml",
	"2.14":     "2.14.yaml",
	"2.15":     "2.15.yaml",
	"2.16":     "2.16.yaml",
	"unstable": "unstable.yaml",
}

// Versions are the descriptions of the Intercom-Versions the gateway supports, oldest first, in this
// package's spelling ("unstable" is Preview). Per-version tests range over it.
var Versions = []string{"2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "unstable"}

// Header is the Intercom-Version header value whose description is version ("unstable" → "Preview").
func Header(version string) string {
	if version == "unstable" {
		return "Preview"
	}
	return version
}

// FromHeader is the description that defines an Intercom-Version header value: "Preview" and
// "Unstable" are "unstable"; other values are returned unchanged.
func FromHeader(h string) string {
	switch h {
	case "Preview", "preview", "Unstable", "unstable":
		return "unstable"
	}
	return h
}

// EnvSharedDir overrides the shared directory (the one that contains
// intercom-openapi/). CI lays shared/ beside the clone, so the default is
// ../shared relative to the module root.
const EnvSharedDir = "INTERCOM_SHARED_DIR"

// Dir returns the directory that holds the Intercom OpenAPI description files.
// It walks up from the working directory to the directory containing go.mod and
// takes ../shared/intercom-openapi from there, unless INTERCOM_SHARED_DIR is set.
// It reports an error when the directory does not exist.
func Dir() (string, error) {
	shared := os.Getenv(EnvSharedDir)
	if shared == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		shared = filepath.Join(root, "..", "shared")
	}
	dir := filepath.Join(shared, "intercom-openapi")
	fi, err := os.Stat(dir)
	if err != nil {
		return dir, fmt.Errorf("intercomspec: %w", err)
	}
	if !fi.IsDir() {
		return dir, fmt.Errorf("intercomspec: %s is not a directory", dir)
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("intercomspec: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("intercomspec: no go.mod above the working directory")
		}
		dir = parent
	}
}

// loaded is the per-version cache. The unstable file is 1.5 MB, so each version
// is parsed at most once per test binary.
type loaded struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
	skip   string
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*loaded{}
)

func entry(version string) *loaded {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	l, ok := cache[version]
	if !ok {
		l = &loaded{}
		cache[version] = l
	}
	return l
}

func get(tb testing.TB, version string) *loaded {
	tb.Helper()
	name, ok := files[version]
	if !ok {
		tb.Fatalf("intercomspec: unknown version %q (want 2.9, 2.11 to 2.16 or unstable)", version)
	}
	l := entry(version)
	l.once.Do(func() { l.load(version, name) })
	if l.skip != "" {
		tb.Skip(l.skip)
	}
	if l.err != nil {
		tb.Fatal(l.err)
	}
	return l
}

func (l *loaded) load(version, name string) {
	dir, err := Dir()
	if err != nil {
		l.skip = fmt.Sprintf("shared Intercom OpenAPI descriptions not found at %s (%v); CI provides ../shared, or set %s", dir, err, EnvSharedDir)
		return
	}
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		l.skip = fmt.Sprintf("shared Intercom OpenAPI description not found at %s (%v); CI provides ../shared, or set %s", path, err, EnvSharedDir)
		return
	}
	if isTrimmable(data) {
		data = trimToGateway(data)
	}
	data = patchDanglingCustomAttributes(data)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		l.err = fmt.Errorf("intercomspec: load %s: %w", path, err)
		return
	}
	if err := applyKnownSpecErrors(doc, version); err != nil {
		l.err = fmt.Errorf("intercomspec: patch %s: %w", path, err)
		return
	}
	l.doc, l.router = doc, newRouter(doc)
}

// patchDanglingCustomAttributes adds the schema that 2.9.yaml and 2.11.yaml
// reference as `#/components/schemas/custom_attributes` but never define
// (contact and company request bodies). Without it no $ref can be resolved.
// unstable.yaml defines it, so the patch is a no-op there. It is a text insert
// because the loader resolves refs while loading, before any hook could add a
// component, and because a YAML round trip through maps would change the
// integer-keyed response maps.
func patchDanglingCustomAttributes(data []byte) []byte {
	const anchor = "\ncomponents:\n  schemas:\n"
	if bytes.Contains(data, []byte("\n    custom_attributes:\n")) {
		return data
	}
	i := bytes.Index(data, []byte(anchor))
	if i < 0 {
		return data
	}
	i += len(anchor)
	const schema = "    custom_attributes:\n      type: object\n      additionalProperties: true\n"
	out := make([]byte, 0, len(data)+len(schema))
	out = append(out, data[:i]...)
	out = append(out, schema...)
	return append(out, data[i:]...)
}

// Load returns the parsed, patched description for version ("2.9", "2.11" to
// "2.16", or "unstable"). It skips tb when the shared files are absent. The document is
// shared between tests and must not be modified.
func Load(tb testing.TB, version string) *openapi3.T {
	tb.Helper()
	return get(tb, version).doc
}

// Router returns a kin-openapi router over Load(tb, version), built once.
// It matches paths only, so requests may be aimed at any host (see router).
func Router(tb testing.TB, version string) routers.Router {
	tb.Helper()
	return get(tb, version).router
}

// FindRoute finds the spec operation for req, whatever host it is aimed at.
func FindRoute(tb testing.TB, version string, req *http.Request) (*routers.Route, map[string]string, error) {
	tb.Helper()
	return Router(tb, version).FindRoute(req)
}

// filterOptions are the openapi3filter options used for Intercom. Auth is not
// checked (tests hold dummy tokens; the sandbox checks auth itself), response
// status codes must be documented, and all problems are reported at once.
func filterOptions() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:    func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
		IncludeResponseStatus: true,
		MultiError:            true,
	}
}

func requestInput(tb testing.TB, version string, req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	tb.Helper()
	route, params, err := FindRoute(tb, version, req)
	if err != nil {
		return nil, fmt.Errorf("intercomspec: %s %s: no %s operation: %w", req.Method, req.URL.Path, version, err)
	}
	clone := req.Clone(context.Background())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.ContentLength = int64(len(body))
	if len(body) > 0 && clone.Header.Get("Content-Type") == "" {
		clone.Header.Set("Content-Type", "application/json")
	}
	return &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: params,
		Route:      route,
		Options:    filterOptions(),
	}, nil
}

// ValidateRequest checks req (with body, since req.Body may already be spent)
// against the operation it targets in version's description.
func ValidateRequest(tb testing.TB, version string, req *http.Request, body []byte) error {
	tb.Helper()
	in, err := requestInput(tb, version, req, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("intercomspec: %s request %s %s: %w", version, req.Method, req.URL.Path, err)
	}
	return nil
}

// ValidateResponse checks a response (status, header, respBody) to req against
// version's description. The status must be documented for the operation.
func ValidateResponse(tb testing.TB, version string, req *http.Request, body []byte, status int, header http.Header, respBody []byte) error {
	tb.Helper()
	in, err := requestInput(tb, version, req, body)
	if err != nil {
		return err
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" && len(respBody) > 0 {
		h.Set("Content-Type", "application/json")
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                filterOptions(),
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("intercomspec: %s response %d to %s %s: %w", version, status, req.Method, req.URL.Path, err)
	}
	return nil
}

// OperationID returns the operationId that req targets in version, or "" when
// the description has no such operation.
func OperationID(tb testing.TB, version string, req *http.Request) string {
	tb.Helper()
	route, _, err := FindRoute(tb, version, req)
	if err != nil || route.Operation == nil {
		return ""
	}
	return route.Operation.OperationID
}
