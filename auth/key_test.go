package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/auth"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

func TestNewKeyIsWellFormedAndUnique(t *testing.T) {
	t.Parallel()
	pattern := regexp.MustCompile(`^` + auth.KeyPattern + `$`)
	seen := map[string]bool{}
	for range 200 {
		k, err := auth.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		if !pattern.MatchString(k) {
			t.Fatalf("%q does not match KeyPattern", k)
		}
		if err := auth.CheckKey(k); err != nil {
			t.Fatalf("CheckKey(NewKey()) = %v", err)
		}
		if seen[k] {
			t.Fatal("NewKey repeated a key")
		}
		seen[k] = true
	}
}

func TestCheckKeyRefusesDamagedKeys(t *testing.T) {
	t.Parallel()
	k, err := auth.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	// Every single-character substitution anywhere after the prefix must be
	// caught by the checksum (CRC-32 detects all single-symbol errors).
	for i := len(auth.KeyPrefix); i < len(k); i++ {
		for _, c := range []byte{'0', 'Z', 'z'} {
			if k[i] == c {
				continue
			}
			bad := k[:i] + string(c) + k[i+1:]
			if auth.CheckKey(bad) == nil {
				t.Errorf("CheckKey accepted %q (position %d changed)", bad, i)
			}
		}
	}
	swapped := k[:10] + string(k[11]) + string(k[10]) + k[12:]
	for name, bad := range map[string]string{
		"empty":         "",
		"prefix":        "xgw_" + k[4:],
		"truncated":     k[:len(k)-1],
		"extended":      k + "0",
		"alphabet":      k[:8] + "-" + k[9:],
		"intercom-like": "dG9rOjEyMzQ1Njc4OWFiY2RlZjEyMzQ1Njc4OWFiY2RlZjpmb28=",
	} {
		if auth.CheckKey(bad) == nil {
			t.Errorf("%s: CheckKey accepted %q", name, bad)
		}
	}
	if swapped != k && auth.CheckKey(swapped) == nil {
		t.Errorf("transposition accepted")
	}
}

func TestKeyHashRoundTripsOnlyThroughReveal(t *testing.T) {
	t.Parallel()
	k, _ := auth.NewKey()
	h := auth.HashKey(testSecret, k)
	if h == auth.HashKey([]byte("another secret of at least 32 bytes!!"), k) {
		t.Fatal("the hash does not depend on the secret")
	}
	back, err := auth.ParseKeyHash(h.Reveal())
	if err != nil || back != h {
		t.Fatalf("ParseKeyHash(Reveal()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "sha256:abc", "hmac-sha256:", "hmac-sha256:!!!", h.Reveal() + "AA"} {
		if _, err := auth.ParseKeyHash(bad); err == nil {
			t.Errorf("ParseKeyHash(%q) succeeded", bad)
		}
	}
}

// TestKeyHashesNeverPrint formats a Caller every way a log line, error or
// config dump could, and looks for the hash in the output.
func TestKeyHashesNeverPrint(t *testing.T) {
	t.Parallel()
	k, _ := auth.NewKey()
	h := auth.HashKey(testSecret, k)
	revealed := strings.TrimPrefix(h.Reveal(), "hmac-sha256:")
	c := auth.Caller{ID: "billing", KeyHashes: []auth.KeyHash{h}, Workspaces: []string{"us"}}

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		fmt.Fprintf(&out, verb+"\n", c)
		fmt.Fprintf(&out, verb+"\n", h)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("caller", "caller", c, "hash", h)
	slog.New(slog.NewTextHandler(&out, nil)).Info("caller", "caller", c, "hash", h)

	raw, _ := base64.RawURLEncoding.DecodeString(revealed)
	if strings.Contains(out.String(), revealed) || strings.Contains(out.String(), k) ||
		strings.Contains(out.String(), hex.EncodeToString(raw)) || strings.Contains(out.String(), fmt.Sprint(raw)) {
		t.Fatalf("a key hash was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("no redacted placeholder in:\n%s", out.String())
	}
}
