package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// ClientAuth says whether a listener asks for client certificates.
type ClientAuth int

const (
	// ClientCertNone asks for no client certificate.
	ClientCertNone ClientAuth = iota
	// ClientCertOptional verifies a client certificate when one is sent, so
	// callers may authenticate with a certificate or with a key.
	ClientCertOptional
	// ClientCertRequired refuses connections without a verified client
	// certificate.
	ClientCertRequired
)

// TLSFiles names the PEM files of a listener's TLS setup.
type TLSFiles struct {
	// CertFile and KeyFile are the server's certificate chain and key.
	CertFile, KeyFile string
	// ClientCAFile holds the CAs that sign client certificates; required
	// when ClientAuth is not ClientCertNone.
	ClientCAFile string
	// ClientAuth says whether client certificates are asked for.
	ClientAuth ClientAuth
}

// LoadTLS builds a server tls.Config (TLS 1.2 or later) from files, for
// Config.GRPCTLS and Config.HTTPTLS. Its errors name files, never their
// contents.
//
// The certificate and key are re-read when either file's modification time
// changes (checked at each new connection's handshake), so a renewed
// certificate, for example one cert-manager writes into a mounted Secret, is
// served without a restart. A pair that does not load (say, caught between
// the two writes) leaves the previous one in use until the next handshake.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("server: TLS needs both a certificate file and a key file")
	}
	kp := newKeyPair(f.CertFile, f.KeyFile)
	if err := kp.reload(); err != nil {
		return nil, fmt.Errorf("server: loading TLS certificate %s and key %s: %w", f.CertFile, f.KeyFile, err)
	}
	cfg := &tls.Config{GetCertificate: kp.get, MinVersion: tls.VersionTLS12}
	if f.ClientAuth == ClientCertNone {
		return cfg, nil
	}
	if f.ClientCAFile == "" {
		return nil, errors.New("server: client certificates need a client CA file")
	}
	pem, err := os.ReadFile(f.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("server: reading client CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server: client CA file %s holds no PEM certificate", f.ClientCAFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if f.ClientAuth == ClientCertRequired {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// keyPair serves a certificate and key from files, re-read when they change.
type keyPair struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	certMod, keyMod   time.Time
	// badCertMod and badKeyMod are the modification times of a pair that
	// failed to load, so that it is counted once, not at every handshake.
	badCertMod, badKeyMod time.Time

	reloads          metric.Int64Counter
	reloadOK, failed metric.MeasurementOption
}

func newKeyPair(certFile, keyFile string) *keyPair {
	k := &keyPair{certFile: certFile, keyFile: keyFile}
	// gateway.config.reloads (see package telemetry): a renewed pair
	// served without a restart is outcome ok; a changed pair that does not
	// load (the previous one stays in service) is outcome error.
	k.reloads, _ = otel.Meter("github.com/intercom-gateway/intercom-gateway/server").Int64Counter(telemetry.MetricConfigReloads, metric.WithUnit("{reload}"),
		metric.WithDescription("Configuration files re-read while running, by kind (token, tls_certificate) and outcome (ok|error)."))
	kind := telemetry.KeyKind.String(telemetry.ReloadTLSCertificate)
	k.reloadOK = metric.WithAttributes(kind, telemetry.KeyWorkspace.String(""), telemetry.KeyOutcome.String("ok"))
	k.failed = metric.WithAttributes(kind, telemetry.KeyWorkspace.String(""), telemetry.KeyOutcome.String("error"))
	return k
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// reload loads the pair if either file changed since the last load.
func (k *keyPair) reload() error {
	cm, km := modTime(k.certFile), modTime(k.keyFile)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cert != nil && cm.Equal(k.certMod) && km.Equal(k.keyMod) {
		return nil
	}
	first := k.cert == nil
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if !first && !(cm.Equal(k.badCertMod) && km.Equal(k.badKeyMod)) {
			k.badCertMod, k.badKeyMod = cm, km
			k.reloads.Add(context.Background(), 1, k.failed)
		}
		return err
	}
	k.cert, k.certMod, k.keyMod = &c, cm, km
	if !first {
		k.reloads.Add(context.Background(), 1, k.reloadOK)
	}
	return nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	_ = k.reload() // on failure the previous pair stays in use
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cert, nil
}

// listenerCreds is the gRPC server's transport security when the gRPC
// listener has TLS: the same grpc.Server also serves the REST mux over the
// in-memory listener, which stays in the process and speaks plaintext.
type listenerCreds struct {
	tls, plain credentials.TransportCredentials
}

func newListenerCreds(cfg *tls.Config) credentials.TransportCredentials {
	return listenerCreds{tls: credentials.NewTLS(cfg), plain: insecure.NewCredentials()}
}

func (c listenerCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if conn.LocalAddr().Network() == "bufconn" {
		return c.plain.ServerHandshake(conn)
	}
	return c.tls.ServerHandshake(conn)
}

func (c listenerCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.tls.ClientHandshake(ctx, authority, conn)
}

func (c listenerCreds) Info() credentials.ProtocolInfo { return c.tls.Info() }

func (c listenerCreds) Clone() credentials.TransportCredentials {
	return listenerCreds{tls: c.tls.Clone(), plain: c.plain.Clone()}
}

//nolint:staticcheck // required by the interface; deprecated upstream
func (c listenerCreds) OverrideServerName(s string) error { return c.tls.OverrideServerName(s) }
