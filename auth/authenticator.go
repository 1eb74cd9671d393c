package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the ErrorInfo domain of the refusals, the same as the
// service package's (which this package cannot import).
const ErrorDomain = "intercom-gateway"

// ErrorInfo reasons of the refusals: each names the rule that refused.
const (
	// ReasonKeyMissing: no authorization metadata or header (UNAUTHENTICATED).
	ReasonKeyMissing = "KEY_MISSING"
	// ReasonKeyMalformed: not "Bearer <key>", several values, or a key whose
	// prefix, length, alphabet or checksum is wrong (UNAUTHENTICATED).
	ReasonKeyMalformed = "KEY_MALFORMED"
	// ReasonKeyUnknown: a well-formed key that belongs to no caller; a
	// revoked key is exactly that (UNAUTHENTICATED).
	ReasonKeyUnknown = "KEY_UNKNOWN"
	// ReasonCertAmbiguous: a client certificate whose identities name more
	// than one caller (UNAUTHENTICATED).
	ReasonCertAmbiguous = "CERT_AMBIGUOUS"
	// ReasonCallerMismatch: the key and the client certificate name two
	// different callers (UNAUTHENTICATED).
	ReasonCallerMismatch = "CALLER_MISMATCH"
	// ReasonWorkspaceInvalid: x-intercom-workspace sent more than once
	// (INVALID_ARGUMENT).
	ReasonWorkspaceInvalid = "WORKSPACE_HEADER_INVALID"
	// ReasonWorkspaceNotAllowed: the workspace is not one of the caller's
	// (PERMISSION_DENIED). An unknown workspace gets the same answer, so
	// callers cannot probe which workspaces exist.
	ReasonWorkspaceNotAllowed = "WORKSPACE_NOT_ALLOWED"
	// ReasonMethodNotAllowed: the caller's permissions do not include the
	// RPC (PERMISSION_DENIED).
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
)

// Config is what New needs.
type Config struct {
	// Secret is the server-side HMAC key under which key hashes are computed
	// (HashKey). At least 32 bytes.
	Secret []byte
	// Callers are the configured callers.
	Callers []Caller
	// Workspaces, when not empty, are the configured workspace names; a
	// caller that names any other workspace is a configuration error.
	Workspaces []string
}

// Request is what the gateway knows about a call when it authenticates it.
type Request struct {
	// FullMethod is the gRPC method, "/package.Service/Method".
	FullMethod string
	// Authorization holds every value of the "authorization" metadata (the
	// HTTP Authorization header over REST).
	Authorization []string
	// CertIdentities are the identities of a verified client certificate
	// (see CertIdentities); empty without mTLS.
	CertIdentities []string
	// Workspace holds every value of the x-intercom-workspace metadata (the
	// X-Intercom-Workspace header over REST).
	Workspace []string
}

type caller struct {
	Caller
	workspaces map[string]bool
	weight     float64
}

// Authenticator decides who a call is from and whether it may run. It is
// safe for concurrent use and immutable: a configuration change builds a new
// one.
type Authenticator struct {
	secret  []byte
	callers []*caller
	hashes  map[[8]byte][]keyEntry // active key hashes by their first 8 bytes
	certs   map[string]*caller
	open    *caller // non-nil for Open: every call runs as this anonymous caller
	// names are the workspace names the configuration mentions: only these
	// are echoed in refusals, so whatever else a caller puts in
	// x-intercom-workspace (a pasted token, say) never reaches a log line.
	names map[string]bool
}

type keyEntry struct {
	sum [32]byte
	c   *caller
}

// MinSecretLen is the minimum length of Config.Secret.
const MinSecretLen = 32

// New validates cfg and builds an Authenticator. Its errors name the caller
// and the rule, never a key, hash or the secret.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: the key-hash secret has %d bytes, want at least %d", len(cfg.Secret), MinSecretLen)
	}
	if len(cfg.Callers) == 0 {
		return nil, errors.New("auth: no callers configured")
	}
	known := map[string]bool{}
	for _, w := range cfg.Workspaces {
		known[w] = true
	}
	a := &Authenticator{secret: append([]byte(nil), cfg.Secret...), hashes: map[[8]byte][]keyEntry{}, certs: map[string]*caller{}, names: known}
	ids := map[string]bool{}
	for _, c := range cfg.Callers {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		if ids[c.ID] {
			return nil, fmt.Errorf("auth: caller %q is configured twice", c.ID)
		}
		ids[c.ID] = true
		cc := &caller{Caller: c, workspaces: map[string]bool{}, weight: c.Weight}
		if cc.weight == 0 {
			cc.weight = 1
		}
		if cc.DefaultWorkspace == "" {
			cc.DefaultWorkspace = c.Workspaces[0]
		}
		for _, w := range c.Workspaces {
			if len(known) > 0 && !known[w] {
				return nil, fmt.Errorf("auth: caller %q: workspace %q is not configured", c.ID, w)
			}
			cc.workspaces[w] = true
			a.names[w] = true
		}
		for _, h := range c.KeyHashes {
			p := [8]byte(h.sum[:8])
			for _, e := range a.hashes[p] {
				if e.sum == h.sum {
					return nil, fmt.Errorf("auth: callers %q and %q share a key hash; each key belongs to one caller", e.c.ID, c.ID)
				}
			}
			a.hashes[p] = append(a.hashes[p], keyEntry{sum: h.sum, c: cc})
		}
		for _, ci := range c.CertIdentities {
			if other, dup := a.certs[ci]; dup {
				return nil, fmt.Errorf("auth: callers %q and %q share the cert identity %q", other.ID, c.ID, ci)
			}
			a.certs[ci] = cc
		}
		a.callers = append(a.callers, cc)
	}
	return a, nil
}

// Open returns an Authenticator for a gateway that runs without caller
// authentication: every call is anonymous (Identity.Caller is ""), may call
// every RPC and may pick any of workspaces with x-intercom-workspace, the
// default being defaultWorkspace. Use it only when the operator asked for
// it (--insecure-no-auth) or for the sandbox.
func Open(workspaces []string, defaultWorkspace string) (*Authenticator, error) {
	c := Caller{
		ID:               "anonymous",
		CertIdentities:   []string{"cn:anonymous"}, // satisfies validate; never matched
		Workspaces:       workspaces,
		DefaultWorkspace: defaultWorkspace,
		Permissions:      Permissions{Services: map[string]Access{"*": AccessWrite}},
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("auth: open gateway: %w", err)
	}
	cc := &caller{Caller: c, workspaces: map[string]bool{}, weight: 1}
	if cc.DefaultWorkspace == "" {
		cc.DefaultWorkspace = workspaces[0]
	}
	for _, w := range workspaces {
		cc.workspaces[w] = true
	}
	return &Authenticator{open: cc, names: cc.workspaces}, nil
}

// Authenticate identifies the caller of r, picks the call's workspace and
// checks the caller may call r.FullMethod there. The error is a gRPC status
// with an ErrorInfo whose reason names the refusing rule: UNAUTHENTICATED
// when the caller is not known, PERMISSION_DENIED when it may not do this.
//
// With a PERMISSION_DENIED or INVALID_ARGUMENT error the Identity still
// names the identified caller (and the workspace, when it is a configured
// name), so the refusal can be logged against it; the call must not run.
func (a *Authenticator) Authenticate(r Request) (Identity, error) {
	c, err := a.identify(r)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Caller: c.ID, Weight: c.weight}
	if a.open != nil {
		id.Caller = ""
	}
	switch len(r.Workspace) {
	case 0:
		id.Workspace = c.DefaultWorkspace
	case 1:
		id.Workspace = r.Workspace[0]
	default:
		return Identity{Caller: id.Caller}, refuse(codes.InvalidArgument, ReasonWorkspaceInvalid,
			"x-intercom-workspace was sent more than once; send one workspace name", nil)
	}
	if !c.workspaces[id.Workspace] {
		if !a.names[id.Workspace] {
			return Identity{Caller: id.Caller}, refuse(codes.PermissionDenied, ReasonWorkspaceNotAllowed,
				fmt.Sprintf("caller %q may not use the workspace named in x-intercom-workspace", c.ID),
				map[string]string{"caller": c.ID})
		}
		return Identity{Caller: id.Caller, Workspace: id.Workspace}, refuse(codes.PermissionDenied, ReasonWorkspaceNotAllowed,
			fmt.Sprintf("caller %q may not use workspace %q", c.ID, id.Workspace),
			map[string]string{"caller": c.ID, "workspace": id.Workspace})
	}
	k, ok := methodKinds[r.FullMethod]
	if !ok || !c.Permissions.allows(r.FullMethod, k) {
		kind := "unclassified"
		if ok {
			kind = k.String()
		}
		return Identity{Caller: id.Caller, Workspace: id.Workspace}, refuse(codes.PermissionDenied, ReasonMethodNotAllowed,
			fmt.Sprintf("caller %q may not call %s", c.ID, r.FullMethod),
			map[string]string{"caller": c.ID, "method": r.FullMethod, "kind": kind})
	}
	return id, nil
}

// Identify only identifies the caller of r (for calls that are not the
// gateway's RPCs, such as server reflection when it must be authenticated).
// The Identity has no workspace.
func (a *Authenticator) Identify(r Request) (Identity, error) {
	c, err := a.identify(r)
	if err != nil {
		return Identity{}, err
	}
	if a.open != nil {
		return Identity{Weight: c.weight}, nil
	}
	return Identity{Caller: c.ID, Weight: c.weight}, nil
}

func (a *Authenticator) identify(r Request) (*caller, error) {
	if a.open != nil {
		return a.open, nil
	}
	certCaller, err := a.byCert(r.CertIdentities)
	if err != nil {
		return nil, err
	}
	if len(r.Authorization) == 0 {
		if certCaller != nil {
			return certCaller, nil
		}
		msg := "no gateway key: send the metadata (or HTTP header) authorization: Bearer <key>"
		if len(r.CertIdentities) > 0 {
			msg = "the client certificate names no caller, and no gateway key was sent: send authorization: Bearer <key>"
		}
		return nil, refuse(codes.Unauthenticated, ReasonKeyMissing, msg, nil)
	}
	if len(r.Authorization) > 1 {
		return nil, refuse(codes.Unauthenticated, ReasonKeyMalformed, "authorization was sent more than once; send one Bearer key", nil)
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(r.Authorization[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, refuse(codes.Unauthenticated, ReasonKeyMalformed, "authorization must be \"Bearer <key>\"", nil)
	}
	key = strings.TrimSpace(key)
	if CheckKey(key) != nil {
		return nil, refuse(codes.Unauthenticated, ReasonKeyMalformed,
			"the bearer token is not a gateway key (prefix "+KeyPrefix+", checksum); Intercom tokens are never accepted here", nil)
	}
	keyCaller := a.byKey(key)
	if keyCaller == nil {
		return nil, refuse(codes.Unauthenticated, ReasonKeyUnknown, "the gateway key is unknown or revoked", nil)
	}
	if certCaller != nil && certCaller != keyCaller {
		return nil, refuse(codes.Unauthenticated, ReasonCallerMismatch, "the gateway key and the client certificate belong to different callers", nil)
	}
	return keyCaller, nil
}

// byKey finds the caller whose key hash matches key. Candidates are found
// by the first 8 bytes of the HMAC, then compared in full in constant time.
// The lookup's timing can only tell whether some stored hash shares a
// prefix with HMAC(secret, key), which a caller cannot aim at without the
// secret; the full comparison, the part that would leak how close a guess
// came, is constant-time. This keeps a lookup O(1) in the number of callers.
func (a *Authenticator) byKey(key string) *caller {
	sum := HashKey(a.secret, key).sum
	var found *caller
	for _, e := range a.hashes[[8]byte(sum[:8])] {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			found = e.c
		}
	}
	return found
}

func (a *Authenticator) byCert(ids []string) (*caller, error) {
	var found *caller
	for _, id := range ids {
		c := a.certs[id]
		if c == nil {
			continue
		}
		if found != nil && found != c {
			return nil, refuse(codes.Unauthenticated, ReasonCertAmbiguous,
				fmt.Sprintf("the client certificate names two callers, %q and %q", found.ID, c.ID), nil)
		}
		found = c
	}
	return found, nil
}

// refuse builds a status with an ErrorInfo detail.
func refuse(code codes.Code, reason, msg string, meta map[string]string) error {
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta})
	if err != nil {
		// WithDetails fails only if the detail cannot be marshalled, which
		// an ErrorInfo always can.
		return status.Error(code, msg)
	}
	return st.Err()
}
