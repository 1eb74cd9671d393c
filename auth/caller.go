package auth

import (
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Caller is one configured caller: a service that calls the gateway. The
// configuration package fills these in from the configuration file; New
// validates them once.
type Caller struct {
	// ID names the caller in logs, metrics, store keys and errors. 1 to 64
	// characters from [A-Za-z0-9._-]; unique.
	ID string
	// KeyHashes are the hashes (HashKey under the gateway's secret) of the
	// caller's active gateway keys. At most two, so a key can be rotated:
	// add the new key's hash, move the caller to the new key, remove the old
	// hash. A key whose hash is no longer listed is revoked.
	KeyHashes []KeyHash
	// CertIdentities are client-certificate identities (see CertIdentities)
	// that authenticate as this caller over mTLS, each "uri:<SAN URI>",
	// "dns:<SAN DNS name>" or "cn:<subject common name>". Unique across
	// callers. A caller needs at least one key hash or one cert identity.
	CertIdentities []string
	// Workspaces are the workspaces the caller may use; at least one.
	Workspaces []string
	// DefaultWorkspace is used when a call names no workspace in
	// x-intercom-workspace. It must be one of Workspaces; it may be left
	// empty when Workspaces has exactly one entry.
	DefaultWorkspace string
	// Permissions say which RPCs the caller may call.
	Permissions Permissions
	// Weight is the caller's share of a workspace's rate budget relative to
	// other callers (the rate limiter reads it from Identity.Weight). Zero
	// means 1; negative is an error.
	Weight float64
}

// Access is what a caller may do with a service.
type Access int

const (
	// AccessNone allows nothing (the zero value).
	AccessNone Access = iota
	// AccessRead allows the service's Read RPCs.
	AccessRead
	// AccessWrite allows every RPC of the service, Read and Write.
	AccessWrite
)

// ParseAccess parses "none", "read" or "write".
func ParseAccess(s string) (Access, error) {
	switch s {
	case "none":
		return AccessNone, nil
	case "read":
		return AccessRead, nil
	case "write":
		return AccessWrite, nil
	}
	return AccessNone, fmt.Errorf("auth: access %q is not one of none, read, write", s)
}

func (a Access) String() string {
	switch a {
	case AccessNone:
		return "none"
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	}
	return fmt.Sprintf("Access(%d)", int(a))
}

// MarshalText writes the ParseAccess form.
func (a Access) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads the ParseAccess form.
func (a *Access) UnmarshalText(b []byte) error {
	v, err := ParseAccess(string(b))
	*a = v
	return err
}

// Rule is a per-method override.
type Rule int

const (
	// Deny refuses the method whatever the service's Access says.
	Deny Rule = iota + 1
	// Allow permits the method whatever the service's Access says.
	Allow
)

// ParseRule parses "allow" or "deny".
func ParseRule(s string) (Rule, error) {
	switch s {
	case "allow":
		return Allow, nil
	case "deny":
		return Deny, nil
	}
	return 0, fmt.Errorf("auth: rule %q is not allow or deny", s)
}

func (r Rule) String() string {
	switch r {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// MarshalText writes the ParseRule form.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads the ParseRule form.
func (r *Rule) UnmarshalText(b []byte) error {
	v, err := ParseRule(string(b))
	*r = v
	return err
}

// Permissions say which RPCs a caller may call. Nothing is allowed unless
// granted.
type Permissions struct {
	// Services maps a service's short name ("TicketService",
	// "TicketTypeService", "TagService") to the caller's Access to it. The
	// name "*" sets the Access of every service not named.
	Services map[string]Access
	// Methods overrides Services for single RPCs, keyed by
	// "<Service>/<Method>" (for example "TicketService/DeleteTicket": Deny
	// for a writer that must not delete, or "TicketService/CreateTicket":
	// Allow for a reader that may open tickets).
	Methods map[string]Rule
}

// allows reports whether p permits fullMethod, which is of kind k.
func (p Permissions) allows(fullMethod string, k Kind) bool {
	svc, m := splitMethod(fullMethod)
	if r, ok := p.Methods[svc+"/"+m]; ok {
		return r == Allow
	}
	a, ok := p.Services[svc]
	if !ok {
		a = p.Services["*"]
	}
	switch k {
	case Read:
		return a >= AccessRead
	case Write:
		return a >= AccessWrite
	}
	return false
}

func (p Permissions) validate() error {
	services := map[string]bool{"*": true}
	methods := map[string]bool{}
	for full := range methodKinds {
		s, m := splitMethod(full)
		services[s] = true
		methods[s+"/"+m] = true
	}
	for s, a := range p.Services {
		if !services[s] {
			return fmt.Errorf("permissions: unknown service %q (want one of TicketService, TicketTypeService, TagService or *)", s)
		}
		if a < AccessNone || a > AccessWrite {
			return fmt.Errorf("permissions: service %q: invalid access %v", s, a)
		}
	}
	for m, r := range p.Methods {
		if !methods[m] {
			return fmt.Errorf("permissions: unknown method %q (want <Service>/<Method>, for example TicketService/DeleteTicket)", m)
		}
		if r != Allow && r != Deny {
			return fmt.Errorf("permissions: method %q: invalid rule %v", m, r)
		}
	}
	return nil
}

var callerID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// certIdentityKinds are the prefixes a Caller.CertIdentities entry may have.
var certIdentityKinds = []string{"uri:", "dns:", "cn:"}

func (c Caller) validate() error {
	if !callerID.MatchString(c.ID) {
		return fmt.Errorf("caller id %q: want 1 to 64 characters from A-Z a-z 0-9 . _ -", c.ID)
	}
	if len(c.KeyHashes) > 2 {
		return fmt.Errorf("caller %q: %d key hashes; at most 2 may be active (one old, one new while rotating)", c.ID, len(c.KeyHashes))
	}
	for i, h := range c.KeyHashes {
		if h.IsZero() {
			return fmt.Errorf("caller %q: key hash %d is empty", c.ID, i)
		}
	}
	if len(c.KeyHashes) == 2 && c.KeyHashes[0] == c.KeyHashes[1] {
		return fmt.Errorf("caller %q: the two key hashes are the same", c.ID)
	}
	for _, ci := range c.CertIdentities {
		ok := false
		for _, k := range certIdentityKinds {
			if v, found := strings.CutPrefix(ci, k); found && v != "" {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("caller %q: cert identity %q: want uri:<SAN URI>, dns:<SAN DNS name> or cn:<common name>", c.ID, ci)
		}
	}
	if len(c.KeyHashes) == 0 && len(c.CertIdentities) == 0 {
		return fmt.Errorf("caller %q: no key hash and no cert identity, so it could never authenticate", c.ID)
	}
	if len(c.Workspaces) == 0 {
		return fmt.Errorf("caller %q: no workspaces", c.ID)
	}
	if c.DefaultWorkspace == "" && len(c.Workspaces) > 1 {
		return fmt.Errorf("caller %q: default workspace required when a caller has more than one workspace", c.ID)
	}
	if c.DefaultWorkspace != "" {
		found := false
		for _, w := range c.Workspaces {
			found = found || w == c.DefaultWorkspace
		}
		if !found {
			return fmt.Errorf("caller %q: default workspace %q is not one of its workspaces", c.ID, c.DefaultWorkspace)
		}
	}
	if c.Weight < 0 || math.IsNaN(c.Weight) || math.IsInf(c.Weight, 0) {
		return fmt.Errorf("caller %q: weight %v: want a finite number, 0 or more", c.ID, c.Weight)
	}
	if err := c.Permissions.validate(); err != nil {
		return fmt.Errorf("caller %q: %w", c.ID, err)
	}
	return nil
}
