package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// Authenticator decides who a call is from and whether it may run;
// *auth.Authenticator implements it.
type Authenticator interface {
	// Authenticate identifies the caller, picks the workspace and checks
	// the method; its errors are gRPC statuses.
	Authenticate(auth.Request) (auth.Identity, error)
	// Identify only identifies the caller (for authenticated reflection).
	Identify(auth.Request) (auth.Identity, error)
}

// WithAuth makes every gateway RPC, over gRPC and REST, pass a through the
// interceptor chain right after the access log and before any other added
// interceptor, so a refused call does no work and reaches no upstream. The
// call's auth.Identity is in the handler's context. Health checks are never
// authenticated; reflection is when Config.Reflection is
// ReflectionAuthenticated.
func WithAuth(a Authenticator) Option {
	return func(o *options) { o.auth = a }
}

// Reflection says how server reflection is served.
type Reflection int

const (
	// ReflectionOn serves reflection to anyone (the default), so grpcurl
	// works without .proto files. It reveals the contract, which is public
	// anyway (GET /openapi.json), and no data.
	ReflectionOn Reflection = iota
	// ReflectionOff does not register reflection.
	ReflectionOff
	// ReflectionAuthenticated serves reflection to any authenticated caller.
	ReflectionAuthenticated
)

// ParseReflection parses "on", "off" or "authenticated".
func ParseReflection(s string) (Reflection, error) {
	switch s {
	case "on":
		return ReflectionOn, nil
	case "off":
		return ReflectionOff, nil
	case "authenticated":
		return ReflectionAuthenticated, nil
	}
	return ReflectionOn, fmt.Errorf("server: reflection %q is not one of on, off, authenticated", s)
}

func (r Reflection) String() string {
	switch r {
	case ReflectionOn:
		return "on"
	case ReflectionOff:
		return "off"
	case ReflectionAuthenticated:
		return "authenticated"
	}
	return fmt.Sprintf("Reflection(%d)", int(r))
}

// Metadata names the auth interceptor reads.
const (
	mdAuthorization = "authorization"
	mdWorkspace     = "x-intercom-workspace"
	// mdRESTPeer carries, from the REST mux to the gRPC server over the
	// in-memory connection, the identities of the REST caller's verified
	// client certificate. The value is the server's random restNonce,
	// then each identity query-escaped, comma-separated. It is trusted only
	// on the in-memory connection and only with the nonce, and the mux sets
	// it on every REST call (replacing anything a client sent under the same
	// name), so a REST caller cannot forge it; a gRPC caller's is ignored.
	mdRESTPeer = "x-igw-internal-rest-peer"
)

func newRESTNonce() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("server: reading randomness: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// restPeerMetadata is the REST mux's metadata annotator: it states the
// verified client certificate of the HTTP connection, if any.
func (s *Server) restPeerMetadata(_ context.Context, r *http.Request) metadata.MD {
	var sb strings.Builder
	sb.WriteString(s.restNonce)
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		for _, id := range auth.CertIdentities(r.TLS.VerifiedChains[0][0]) {
			sb.WriteByte(',')
			sb.WriteString(url.QueryEscape(id))
		}
	}
	return metadata.Pairs(mdRESTPeer, sb.String())
}

// certIdentities returns the identities of the caller's verified client
// certificate: from the TLS handshake for gRPC callers, from the REST mux's
// metadata for REST callers.
func (s *Server) certIdentities(ctx context.Context) []string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return nil
	}
	if p.Addr.Network() != "bufconn" {
		ti, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
			return nil
		}
		return auth.CertIdentities(ti.State.VerifiedChains[0][0])
	}
	vals := metadata.ValueFromIncomingContext(ctx, mdRESTPeer)
	if len(vals) != 1 {
		return nil
	}
	nonce, rest, _ := strings.Cut(vals[0], ",")
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(s.restNonce)) != 1 || rest == "" {
		return nil
	}
	var ids []string
	for _, e := range strings.Split(rest, ",") {
		if id, err := url.QueryUnescape(e); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// authorize runs the Authenticator for method and returns the context the
// handler gets.
func (s *Server) authorize(ctx context.Context, a Authenticator, reflection Reflection, method string) (context.Context, error) {
	switch {
	case strings.HasPrefix(method, "/grpc.health.v1.Health/"):
		// Probes come from orchestrators that hold no gateway key.
		return ctx, nil
	case strings.HasPrefix(method, "/grpc.reflection."):
		if reflection != ReflectionAuthenticated {
			return ctx, nil
		}
	}
	// The three keys alone: FromIncomingContext would copy all of the
	// call's metadata on every call.
	r := auth.Request{
		FullMethod:     method,
		Authorization:  metadata.ValueFromIncomingContext(ctx, mdAuthorization),
		Workspace:      metadata.ValueFromIncomingContext(ctx, mdWorkspace),
		CertIdentities: s.certIdentities(ctx),
	}
	var (
		id  auth.Identity
		err error
	)
	if strings.HasPrefix(method, "/grpc.reflection.") {
		id, err = a.Identify(r)
	} else {
		id, err = a.Authenticate(r)
	}
	if stats := telemetry.CallStatsFrom(ctx); stats != nil && (id.Caller != "" || id.Workspace != "") {
		// The access log names the caller, also when it was refused a
		// workspace or method.
		stats.SetIdentity(id.Caller, id.Workspace)
	}
	if err != nil {
		return nil, err
	}
	return auth.NewContext(ctx, id), nil
}

func (s *Server) unaryAuth(a Authenticator, reflection Reflection) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := s.authorize(ctx, a, reflection, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

func (s *Server) streamAuth(a Authenticator, reflection Reflection) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := s.authorize(ss.Context(), a, reflection, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}
