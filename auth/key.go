package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
)

// A gateway key looks like
//
//	igw_<40 base62 characters of randomness><6 base62 characters of checksum>
//
// The prefix makes a key recognisable to people and to secret scanners (the
// pattern is KeyPattern); the checksum, a CRC-32 of prefix and body, lets the
// gateway refuse a mistyped or truncated key without looking it up and lets
// a scanner tell a real key from a random string. The body carries about 238
// bits from crypto/rand, so a key needs no slow hash: HMAC-SHA256 with a
// server-side secret is enough to store it.
const (
	// KeyPrefix starts every gateway key.
	KeyPrefix = "igw_"
	// KeyPattern is a regular expression that matches a gateway key, for
	// secret scanners.
	KeyPattern = `igw_[0-9A-Za-z]{46}`

	keyBodyLen     = 40
	keyChecksumLen = 6
	keyLen         = len(KeyPrefix) + keyBodyLen + keyChecksumLen
	base62         = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// ErrKeyMalformed is returned by CheckKey for a string that is not a gateway
// key: wrong prefix, length, alphabet or checksum.
var ErrKeyMalformed = errors.New("auth: not a well-formed gateway key")

// NewKey returns a new random gateway key. It reads from crypto/rand.
func NewKey() (string, error) { return newKey(rand.Reader) }

func newKey(r io.Reader) (string, error) {
	body := make([]byte, 0, keyBodyLen)
	buf := make([]byte, 64)
	for len(body) < keyBodyLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("auth: reading randomness for a key: %w", err)
		}
		for _, b := range buf {
			// Rejection sampling: 248 = 4*62, so keeping bytes below it
			// and taking them mod 62 gives every character the same odds.
			if b < 248 && len(body) < keyBodyLen {
				body = append(body, base62[b%62])
			}
		}
	}
	s := KeyPrefix + string(body)
	return s + checksum(s), nil
}

// checksum encodes the CRC-32 of s in keyChecksumLen base62 characters
// (62^6 > 2^32, so no information is lost).
func checksum(s string) string {
	n := crc32.ChecksumIEEE([]byte(s))
	out := make([]byte, keyChecksumLen)
	for i := keyChecksumLen - 1; i >= 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out)
}

// CheckKey reports whether key is a well-formed gateway key. It says nothing
// about whether the key belongs to a caller; the error never contains the
// key.
func CheckKey(key string) error {
	if len(key) != keyLen || !strings.HasPrefix(key, KeyPrefix) {
		return ErrKeyMalformed
	}
	for i := len(KeyPrefix); i < len(key); i++ {
		if strings.IndexByte(base62, key[i]) < 0 {
			return ErrKeyMalformed
		}
	}
	split := len(key) - keyChecksumLen
	if checksum(key[:split]) != key[split:] {
		return ErrKeyMalformed
	}
	return nil
}

// keyHashPrefix names the hash function in a KeyHash's text form, so that a
// later change of function is visible in the configuration.
const keyHashPrefix = "hmac-sha256:"

// KeyHash is what the configuration stores instead of a key: the
// HMAC-SHA256 of the key under the gateway's secret. Its text form is
// "hmac-sha256:" followed by the unpadded base64url of the 32-byte sum.
//
// A KeyHash prints, logs and marshals as a redacted placeholder, so that
// printing a Caller never shows it; Reveal gives the text form for
// `gateway keys new` to print once.
type KeyHash struct{ sum [sha256.Size]byte }

// HashKey returns the hash of key under secret.
func HashKey(secret []byte, key string) KeyHash {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(key))
	var h KeyHash
	m.Sum(h.sum[:0])
	return h
}

// ParseKeyHash parses the text form written by Reveal. Its error never
// contains s.
func ParseKeyHash(s string) (KeyHash, error) {
	var h KeyHash
	rest, ok := strings.CutPrefix(s, keyHashPrefix)
	if !ok {
		return h, fmt.Errorf("auth: a key hash must start with %q", keyHashPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != len(h.sum) {
		return h, fmt.Errorf("auth: a key hash is %q followed by %d unpadded base64url characters", keyHashPrefix, base64.RawURLEncoding.EncodedLen(len(h.sum)))
	}
	copy(h.sum[:], b)
	return h, nil
}

// Reveal returns the text form of h, the line to paste in the configuration.
func (h KeyHash) Reveal() string {
	return keyHashPrefix + base64.RawURLEncoding.EncodeToString(h.sum[:])
}

// IsZero reports whether h is the zero KeyHash (no hash at all).
func (h KeyHash) IsZero() bool { return h == KeyHash{} }

const redactedKeyHash = keyHashPrefix + "[redacted]"

// String returns a redacted placeholder.
func (h KeyHash) String() string { return redactedKeyHash }

// GoString returns a redacted placeholder, so %#v does not show the sum.
func (h KeyHash) GoString() string { return redactedKeyHash }

// LogValue returns a redacted placeholder for log/slog.
func (h KeyHash) LogValue() slog.Value { return slog.StringValue(redactedKeyHash) }

// MarshalText returns a redacted placeholder, so JSON or YAML dumps of a
// configuration never hold the hash. (Use Reveal to print it on purpose.)
func (h KeyHash) MarshalText() ([]byte, error) { return []byte(redactedKeyHash), nil }
