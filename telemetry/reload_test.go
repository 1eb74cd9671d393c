package telemetry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercom-gateway/intercom-gateway/server"
	"github.com/intercom-gateway/intercom-gateway/telemetry"
	"github.com/intercom-gateway/intercom-gateway/workspace"
)

// A scripted run of rotations, then one scrape: each file the gateway
// re-reads while running is counted in gateway.config.reloads by kind,
// workspace and outcome, a broken file once (not at every re-read), and no
// token appears in /metrics.
//
//   - workspace acme's token file is rotated twice (ok 2), then emptied, as
//     a rotation caught halfway would leave it (error 1), then fixed (ok 3);
//   - a listener's certificate is renewed (ok 1), then overwritten with
//     garbage and asked for at two handshakes (error 1).
func TestConfigReloadsAreCounted(t *testing.T) {
	clearOTelEnv(t)
	tel, err := telemetry.Setup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())

	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	tokens := []string{"tok-old-1f2e3d", "tok-new-9a8b7c", "tok-third-5d4c3b", "tok-fourth-2b1a0f"}
	writeFile(t, path, tokens[0]+"\n")
	// An hour's poll: only the file system events drive the re-reads.
	ft, err := workspace.WatchFile(path, time.Hour, slog.New(slog.DiscardHandler), workspace.ReportAs("acme"))
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	rotate := func(content string) {
		t.Helper()
		// The way a Secret update replaces the file: write aside, rename.
		writeFile(t, path+".new", content)
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		// The watcher reacts asynchronously (fsnotify); wait, bounded.
		for deadline := time.Now().Add(10 * time.Second); !ok(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	reloads := func(kind, ws, outcome string) float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		m := parseMetrics(t, rec.Body.String())
		for _, sr := range m {
			if sr.name == "gateway_config_reloads_total" && sr.labels["kind"] == kind && sr.labels["workspace"] == ws && sr.labels["outcome"] == outcome {
				return sr.value
			}
		}
		return 0
	}
	rotate(tokens[1])
	waitFor("first rotation", func() bool { return ft.Token() == tokens[1] })
	rotate(tokens[2])
	waitFor("second rotation", func() bool { return ft.Token() == tokens[2] })
	rotate("")
	waitFor("failed re-read counted", func() bool { return reloads("token", "acme", "error") == 1 })
	// Touch the broken file again: more events, still one failure.
	rotate("\n")
	rotate(tokens[3])
	waitFor("third rotation", func() bool { return ft.Token() == tokens[3] })

	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCertPair(t, certFile, keyFile, "gw-1")
	cfg, err := server.LoadTLS(server.TLSFiles{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	handshake := func() {
		t.Helper()
		if c, err := cfg.GetCertificate(&tls.ClientHelloInfo{}); err != nil || c == nil {
			t.Fatalf("GetCertificate: %v", err)
		}
	}
	handshake() // the pair loaded at start is not a reload
	// Renewal with explicit modification times (a file system with coarse
	// timestamps might not move them).
	writeCertPair(t, certFile, keyFile, "gw-2")
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	handshake()
	writeFile(t, certFile, "garbage")
	if err := os.Chtimes(certFile, later.Add(time.Minute), later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	handshake()
	handshake()

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	m := parseMetrics(t, rec.Body.String())
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"kind": "token", "workspace": "acme", "outcome": "ok"}, 3},
		{map[string]string{"kind": "token", "workspace": "acme", "outcome": "error"}, 1},
		{map[string]string{"kind": "tls_certificate", "outcome": "ok"}, 1},
		{map[string]string{"kind": "tls_certificate", "outcome": "error"}, 1},
	} {
		if got := m.value(t, "gateway_config_reloads_total", c.labels); got != c.want {
			t.Errorf("gateway_config_reloads_total%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := m.count("gateway_config_reloads_total"); n != 4 {
		t.Errorf("%d gateway_config_reloads_total series, want 4: %s", n, m.describe("gateway_config_reloads_total"))
	}
	for _, sr := range m {
		for _, v := range sr.labels {
			for _, tok := range tokens {
				if v == tok {
					t.Errorf("%s has the token as a label", sr.name)
				}
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCertPair writes a fresh self-signed certificate and its key.
func writeCertPair(t *testing.T, certFile, keyFile, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}
