package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
)

// Redacted is what a Secret (and the password of a URL) prints as.
const Redacted = "REDACTED"

// Secret is a string that never prints: fmt (every verb, %#v included),
// slog, encoding/json, YAML and text encoders all show "REDACTED", or nothing
// when it is empty. Reveal returns the value, for the one place that sends
// it. Any package that holds a credential (an Intercom token, a caller key
// or its hash, the HMAC secret) should hold it as a Secret, so that a
// careless log line or error cannot leak it.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String returns "REDACTED", or "" for an empty secret (so that a missing
// secret is visible as missing).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format covers every fmt verb, including %x and %q, which would otherwise
// print the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (used by JSON map keys and
// many encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// URL is a URL whose userinfo password is a credential: it prints with the
// password replaced (url.URL.Redacted), and an unparseable URL prints as
// "REDACTED" because it cannot be told apart from its password. Reveal
// returns the URL itself.
type URL string

// Reveal returns the URL itself.
func (u URL) Reveal() string { return string(u) }

// String returns the URL with any password replaced by "xxxxx".
func (u URL) String() string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(string(u))
	if err != nil {
		return Redacted
	}
	return p.Redacted()
}

// GoString keeps %#v from printing the password.
func (u URL) GoString() string { return strconv.Quote(u.String()) }

// Format covers every fmt verb.
func (u URL) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		_, _ = io.WriteString(f, strconv.Quote(u.String()))
		return
	}
	_, _ = io.WriteString(f, u.String())
}

// LogValue implements slog.LogValuer.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalText implements encoding.TextMarshaler.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalJSON implements json.Marshaler.
func (u URL) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(u.String())), nil }

// MarshalYAML implements yaml.Marshaler.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }
