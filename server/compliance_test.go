package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/intercom-gateway/intercom-gateway/gen/intercom/gateway/v1" // registers the contract's types
	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/upstream"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// complianceCase is one entry of testdata/compliance.json: a call made over
// gRPC and over REST against the seeded sandbox, the exact Intercom requests
// it must cause, and what the caller must see.
type complianceCase struct {
	Name string `json:"name"`
	// Method is the full gRPC method, "package.Service/Method".
	Method string `json:"method"`
	// IntercomVersion, when set, is the client's default Intercom-Version.
	IntercomVersion string `json:"intercom_version"`
	// IntercomVersions is the version dimension: the case runs once per
	// listed version (as the client's default), and an upstream version of
	// "<version>" stands for the version it runs with. It replaces
	// IntercomVersion for cases whose Intercom requests or answers differ by
	// version.
	IntercomVersions []string `json:"intercom_versions"`
	// Request is the gRPC request as protojson.
	Request json.RawMessage `json:"request"`
	REST    struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"rest"`
	// Upstream lists every request Intercom must receive, in order. An
	// empty list means the gateway must not call Intercom at all.
	Upstream []upstreamRequest `json:"upstream"`
	// Response holds fields the answer must have (a JSON subset: objects
	// may have more keys, arrays must have exactly these elements).
	Response json.RawMessage `json:"response"`
	// Stream holds, for streaming methods, one subset per message.
	Stream []json.RawMessage `json:"stream"`
	// Error is the expected failure instead of Response.
	Error *struct {
		Code string `json:"code"` // gRPC code name, e.g. "NOT_FOUND"
		HTTP int    `json:"http"` // REST status
	} `json:"error"`
}

type upstreamRequest struct {
	Method  string `json:"method"`
	Path    string `json:"path"`
	Version string `json:"version"`
	// Body is the exact JSON body (JSON types matter: "1" is not 1). The
	// string "<any>" matches any value; null means no body.
	Body json.RawMessage `json:"body"`
}

const anyValue = "<any>"

func loadCompliance(t *testing.T) []complianceCase {
	t.Helper()
	b, err := os.ReadFile("testdata/compliance.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []complianceCase
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cases); err != nil {
		t.Fatalf("testdata/compliance.json: %v", err)
	}
	return cases
}

// TestComplianceSuite runs every case of testdata/compliance.json over both
// transports, each against a fresh seeded sandbox, and checks the exact
// Intercom requests (method, path, headers, JSON body) and the mapped answer.
func TestComplianceSuite(t *testing.T) {
	t.Parallel()
	cases := loadCompliance(t)
	covered := map[string]bool{}
	for _, tc := range expandVersions(t, cases) {
		covered[tc.Method] = true
		for _, transport := range []string{"grpc", "rest"} {
			t.Run(tc.Name+"/"+transport, func(t *testing.T) {
				t.Parallel()
				sb := sandbox.New()
				var opts []upstream.Option
				if tc.IntercomVersion != "" {
					opts = append(opts, upstream.WithVersion(upstream.Version(tc.IntercomVersion)))
				}
				g := startOnSandbox(t, sb, opts...)
				if strings.HasPrefix(tc.Method, "intercom.gateway.v1.TicketService/") {
					// Ticket writes are checked against cached schemas;
					// the cases show what the write itself sends.
					warmSchemas(t, g)
					sb.ResetRequests()
				}
				var got []map[string]any
				var gotErr *callError
				if transport == "grpc" {
					got, gotErr = callGRPC(t, g, tc)
				} else {
					got, gotErr = callREST(t, g, tc)
				}
				checkOutcome(t, tc, got, gotErr)
				checkUpstream(t, tc.Upstream, sb.Requests())
			})
		}
	}

	// Every RPC of the contract has at least one case.
	t.Run("coverage", func(t *testing.T) {
		t.Parallel()
		var missing []string
		protoregistry.GlobalFiles.RangeFilesByPackage("intercom.gateway.v1", func(fd protoreflect.FileDescriptor) bool {
			for i := 0; i < fd.Services().Len(); i++ {
				sd := fd.Services().Get(i)
				for j := 0; j < sd.Methods().Len(); j++ {
					name := string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
					if !covered[name] {
						missing = append(missing, name)
					}
				}
			}
			return true
		})
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("RPCs without a compliance case: %v", missing)
		}
	})
}

// expandVersions turns each case with intercom_versions into one case per
// version, named "<name>/<version>", with "<version>" in its upstream
// requests replaced by that version.
func expandVersions(t *testing.T, cases []complianceCase) []complianceCase {
	t.Helper()
	var out []complianceCase
	for _, tc := range cases {
		if len(tc.IntercomVersions) == 0 {
			out = append(out, tc)
			continue
		}
		if tc.IntercomVersion != "" {
			t.Fatalf("%s: set intercom_version or intercom_versions, not both", tc.Name)
		}
		for _, v := range tc.IntercomVersions {
			c := tc
			c.Name, c.IntercomVersion, c.IntercomVersions = tc.Name+"/"+v, v, nil
			c.Upstream = append([]upstreamRequest(nil), tc.Upstream...)
			for i := range c.Upstream {
				if c.Upstream[i].Version == "<version>" {
					c.Upstream[i].Version = v
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// callError is a failure as the caller sees it.
type callError struct {
	code string // gRPC code name
	http int    // REST status, 0 over gRPC
	msg  string
}

func methodDescriptor(t *testing.T, full string) protoreflect.MethodDescriptor {
	t.Helper()
	svc, method, ok := strings.Cut(full, "/")
	if !ok {
		t.Fatalf("method %q is not Service/Method", full)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		t.Fatalf("service %s: %v", svc, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("no method %s", full)
	}
	return md
}

func newMessage(t *testing.T, d protoreflect.MessageDescriptor) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
	if err != nil {
		t.Fatal(err)
	}
	return mt.New().Interface()
}

// toJSON renders a message as REST callers see it.
func toJSON(t *testing.T, m proto.Message) map[string]any {
	t.Helper()
	b, err := server.JSONMarshalOptions.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func callGRPC(t *testing.T, g *gateway, tc complianceCase) ([]map[string]any, *callError) {
	t.Helper()
	md := methodDescriptor(t, tc.Method)
	req := newMessage(t, md.Input())
	if err := server.JSONUnmarshalOptions.Unmarshal(tc.Request, req); err != nil {
		t.Fatalf("request: %v", err)
	}
	ctx := context.Background()
	fail := func(err error) *callError {
		st := status.Convert(err)
		return &callError{code: codeName(st.Code().String()), msg: st.Message()}
	}
	if !md.IsStreamingServer() {
		resp := newMessage(t, md.Output())
		if err := g.conn.Invoke(ctx, "/"+tc.Method, req, resp); err != nil {
			return nil, fail(err)
		}
		return []map[string]any{toJSON(t, resp)}, nil
	}
	stream, err := g.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/"+tc.Method)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(req); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for {
		resp := newMessage(t, md.Output())
		err := stream.RecvMsg(resp)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fail(err)
		}
		out = append(out, toJSON(t, resp))
	}
}

// codeName turns grpc-go's code String ("NotFound") into the canonical name
// ("NOT_FOUND") used in the suite.
func codeName(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func callREST(t *testing.T, g *gateway, tc complianceCase) ([]map[string]any, *callError) {
	t.Helper()
	body := ""
	if len(tc.REST.Body) > 0 && string(tc.REST.Body) != "null" {
		body = string(tc.REST.Body)
	}
	resp, raw := g.do(t, tc.REST.Method, tc.REST.Path, body, http.Header{"Content-Type": {"application/json"}})
	if resp.StatusCode != http.StatusOK {
		st := decodeStatus(t, raw)
		name := codeName(codeString(st.Code))
		return nil, &callError{code: name, http: resp.StatusCode, msg: st.Message}
	}
	if !methodDescriptor(t, tc.Method).IsStreamingServer() {
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("REST body %s: %v", raw, err)
		}
		return []map[string]any{out}, nil
	}
	// grpc-gateway streams one JSON object per line: {"result": …} or
	// {"error": …}.
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			Result map[string]any `json:"result"`
			Error  *rpcStatus     `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("stream line %s: %v", sc.Bytes(), err)
		}
		if line.Error != nil {
			return out, &callError{code: codeName(codeString(line.Error.Code)), http: http.StatusOK, msg: line.Error.Message}
		}
		out = append(out, line.Result)
	}
	return out, nil
}

func codeString(c int) string { return codes.Code(uint32(c)).String() }

func checkOutcome(t *testing.T, tc complianceCase, got []map[string]any, gotErr *callError) {
	t.Helper()
	if tc.Error != nil {
		if gotErr == nil {
			t.Fatalf("call succeeded, want %s", tc.Error.Code)
		}
		if gotErr.code != tc.Error.Code {
			t.Errorf("code = %s (%s), want %s", gotErr.code, gotErr.msg, tc.Error.Code)
		}
		if gotErr.http != 0 && gotErr.http != tc.Error.HTTP {
			t.Errorf("HTTP status = %d, want %d", gotErr.http, tc.Error.HTTP)
		}
		return
	}
	if gotErr != nil {
		t.Fatalf("call failed: %s %s", gotErr.code, gotErr.msg)
	}
	var want []any
	if tc.Stream != nil {
		for _, s := range tc.Stream {
			want = append(want, decodeAny(t, s))
		}
	} else {
		want = []any{decodeAny(t, tc.Response)}
	}
	gotAny := make([]any, len(got))
	for i := range got {
		gotAny[i] = got[i]
	}
	if problems := subset(want, gotAny, "response"); len(problems) > 0 {
		b, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("answer differs:\n  %s\ngot: %s", strings.Join(problems, "\n  "), b)
	}
}

func decodeAny(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// subset reports where got does not contain want: objects may have extra
// keys, arrays must have the same length, and "<any>" matches anything.
func subset(want, got any, path string) []string { return compareJSON(want, got, path, false) }

// exactJSON is like subset but objects must not have extra keys either.
func exactJSON(want, got any, path string) []string { return compareJSON(want, got, path, true) }

func compareJSON(want, got any, path string, strict bool) []string {
	if s, ok := want.(string); ok && s == anyValue {
		if got == nil {
			return []string{path + ": missing, want any value"}
		}
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var out []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, present := g[k]
			if !present {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, compareJSON(w[k], gv, path+"."+k, strict)...)
		}
		if strict {
			for k, gv := range g {
				if _, ok := w[k]; !ok {
					out = append(out, fmt.Sprintf("%s.%s: unexpected field (value %v)", path, k, gv))
				}
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %d elements", path, got, len(w))}
		}
		var out []string
		for i := range w {
			out = append(out, compareJSON(w[i], g[i], fmt.Sprintf("%s[%d]", path, i), strict)...)
		}
		return out
	default:
		if fmt.Sprintf("%T:%v", want, want) != fmt.Sprintf("%T:%v", got, got) {
			return []string{fmt.Sprintf("%s: got %T %v, want %T %v", path, got, got, want, want)}
		}
		return nil
	}
}

// checkUpstream compares what the sandbox recorded with the expected
// Intercom requests, including the headers every request must carry.
func checkUpstream(t *testing.T, want []upstreamRequest, got []sandbox.RecordedRequest) {
	t.Helper()
	if len(got) != len(want) {
		var seen []string
		for _, r := range got {
			seen = append(seen, r.Method+" "+r.Path+" "+string(r.Body))
		}
		t.Fatalf("Intercom received %d requests, want %d:\n  %s", len(got), len(want), strings.Join(seen, "\n  "))
	}
	for i, w := range want {
		r := got[i]
		where := fmt.Sprintf("upstream[%d] %s %s", i, r.Method, r.Path)
		if r.Method != w.Method || r.Path != w.Path {
			t.Errorf("%s: want %s %s", where, w.Method, w.Path)
		}
		if v := r.Header.Get("Intercom-Version"); v != w.Version {
			t.Errorf("%s: Intercom-Version = %q, want %q", where, v, w.Version)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer test-token" {
			t.Errorf("%s: Authorization = %q, want the gateway's bearer token", where, a)
		}
		if a := r.Header.Get("Accept"); a != "application/json" {
			t.Errorf("%s: Accept = %q", where, a)
		}
		wantBody := decodeAny(t, w.Body)
		if wantBody == nil {
			if len(bytes.TrimSpace(r.Body)) != 0 {
				t.Errorf("%s: body %s, want none", where, r.Body)
			}
			continue
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type = %q", where, ct)
		}
		var gotBody any
		if err := json.Unmarshal(r.Body, &gotBody); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", where, r.Body, err)
			continue
		}
		if problems := exactJSON(wantBody, gotBody, "body"); len(problems) > 0 {
			t.Errorf("%s:\n  %s\ngot body: %s", where, strings.Join(problems, "\n  "), r.Body)
		}
	}
}
