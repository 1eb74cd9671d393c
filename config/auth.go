package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/intercom-gateway/intercom-gateway/auth"
)

// placeholderSecret stands in for the key-hash secret where the real one is
// not needed (config check): as long as auth requires.
var placeholderSecret = Secret(strings.Repeat("x", auth.MinSecretLen))

// Authenticator builds the gateway's caller authentication from c (a Config
// that Load validated): package auth with c's callers and the key-hash
// secret; or, without callers (sandbox mode or --insecure-no-auth), an open
// one under which every call is anonymous and may use every workspace, the
// first being the default.
func (c Config) Authenticator(getenv func(string) string) (*auth.Authenticator, error) {
	return c.authenticator(getenv, "")
}

func (c Config) authenticator(getenv func(string) string, secret Secret) (*auth.Authenticator, error) {
	names := make([]string, len(c.Workspaces))
	for i, w := range c.Workspaces {
		names[i] = w.Name
	}
	if len(c.Callers) == 0 {
		a, err := auth.Open(names, names[0])
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return a, nil
	}
	if secret == "" {
		var err error
		if secret, err = c.Auth.HMACSecret(getenv); err != nil {
			return nil, err
		}
	}
	ac := auth.Config{Secret: []byte(secret.Reveal()), Workspaces: names}
	for _, cl := range c.Callers {
		ac.Callers = append(ac.Callers, cl.auth())
		for i, h := range cl.KeyHashes {
			kh, err := auth.ParseKeyHash(h.Reveal())
			if err != nil {
				// ParseKeyHash's error never contains the hash.
				return nil, fmt.Errorf("config: caller %q: key_hashes[%d]: %w", cl.ID, i, err)
			}
			last := &ac.Callers[len(ac.Callers)-1]
			last.KeyHashes = append(last.KeyHashes, kh)
		}
		for svc, a := range cl.Permissions.Services {
			v, err := auth.ParseAccess(string(a))
			if err != nil {
				return nil, fmt.Errorf("config: caller %q: permissions.services.%s: %w", cl.ID, svc, err)
			}
			ac.Callers[len(ac.Callers)-1].Permissions.Services[svc] = v
		}
		for m, r := range cl.Permissions.Methods {
			v, err := auth.ParseRule(string(r))
			if err != nil {
				return nil, fmt.Errorf("config: caller %q: permissions.methods.%s: %w", cl.ID, m, err)
			}
			ac.Callers[len(ac.Callers)-1].Permissions.Methods[m] = v
		}
	}
	a, err := auth.New(ac)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return a, nil
}

// auth is cl without its key hashes and permissions, which
// authenticator parses.
func (cl Caller) auth() auth.Caller {
	return auth.Caller{
		ID:               cl.ID,
		CertIdentities:   cl.CertIdentities,
		Workspaces:       cl.Workspaces,
		DefaultWorkspace: cl.DefaultWorkspace,
		Permissions:      auth.Permissions{Services: map[string]auth.Access{}, Methods: map[string]auth.Rule{}},
		Weight:           cl.Weight,
	}
}

// HMACSecret reads the key-hash secret from auth.hmac_secret_env or
// auth.hmac_secret_file. Its errors name the variable or file, never the
// secret.
func (a Auth) HMACSecret(getenv func(string) string) (Secret, error) {
	switch {
	case a.HMACSecretEnv != "" && a.HMACSecretFile != "":
		return "", errors.New("config: set one of auth.hmac_secret_env and auth.hmac_secret_file, not both")
	case a.HMACSecretEnv != "":
		s := strings.TrimSpace(getenv(a.HMACSecretEnv))
		if s == "" {
			return "", fmt.Errorf("config: the key-hash secret is missing: %s (auth.hmac_secret_env) is not set", a.HMACSecretEnv)
		}
		return Secret(s), nil
	case a.HMACSecretFile != "":
		b, err := os.ReadFile(a.HMACSecretFile)
		if err != nil {
			return "", fmt.Errorf("config: auth.hmac_secret_file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("config: auth.hmac_secret_file %s is empty", a.HMACSecretFile)
		}
		return Secret(s), nil
	}
	return "", errors.New("config: callers need the key-hash secret: set auth.hmac_secret_env or auth.hmac_secret_file")
}

// KeyHashSecret reads the key-hash secret named by the config file at path
// (and the environment), without validating the rest: `gateway keys new`
// needs it to make the first caller's key, before the file is complete.
func KeyHashSecret(path string, getenv func(string) string) (Secret, error) {
	c, err := load("gateway keys new", Defaults(), []string{"--config", path}, getenv, io.Discard, true)
	if err != nil {
		return "", err
	}
	return c.Auth.HMACSecret(getenv)
}
