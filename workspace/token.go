package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/intercom-gateway/intercom-gateway/telemetry"
)

// FileToken is an Intercom token kept in a file and re-read when the file
// changes, so that a rotated token is used without a restart.
//
// It watches the file's directory, not the file: a mounted Kubernetes
// Secret is updated by writing a new timestamped directory and renaming the
// ..data symlink over the old one, which replaces the file without ever
// writing to it (https://kubernetes.io/docs/concepts/configuration/secret/#mounted-secrets-are-updated-automatically).
// A slow poll backs the watch up on file systems whose events are
// unreliable (network and some overlay mounts).
//
// Token is an atomic load, so a call in flight is never failed by a
// rotation: it uses the old token or the new, never a half-read file. A read
// that fails or finds the file empty (a rotation caught halfway) keeps the
// current token and is logged.
type FileToken struct {
	path string
	log  *slog.Logger
	cur  atomic.Pointer[string]

	watcher *fsnotify.Watcher
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	reloads          metric.Int64Counter
	reloadOK, failed metric.MeasurementOption
	failing          bool // the last re-read failed; touched by run only
}

// WatchOption configures WatchFile.
type WatchOption func(*FileToken)

// ReportAs labels the file's reloads (gateway.config.reloads, kind token)
// with the workspace it belongs to (outcome ok for a new token, error for a
// re-read that failed). Without it the workspace label is empty.
func ReportAs(workspace string) WatchOption {
	return func(t *FileToken) {
		kind, ws := telemetry.KeyKind.String(telemetry.ReloadToken), telemetry.KeyWorkspace.String(workspace)
		t.reloadOK = metric.WithAttributes(kind, ws, telemetry.KeyOutcome.String("ok"))
		t.failed = metric.WithAttributes(kind, ws, telemetry.KeyOutcome.String("error"))
	}
}

// WatchFile reads the token in path and keeps re-reading it: on every
// change in its directory, and every poll. It fails when the file cannot be
// read or is empty; its errors name the file, never its content.
func WatchFile(path string, poll time.Duration, log *slog.Logger, opts ...WatchOption) (*FileToken, error) {
	t := &FileToken{path: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	ReportAs("")(t)
	for _, o := range opts {
		o(t)
	}
	t.reloads, _ = otel.Meter("github.com/intercom-gateway/intercom-gateway/workspace").Int64Counter(telemetry.MetricConfigReloads,
		metric.WithUnit("{reload}"), metric.WithDescription("Configuration files re-read while running, by kind (token, tls_certificate) and outcome (ok|error)."))
	tok, err := readToken(path)
	if err != nil {
		return nil, err
	}
	t.cur.Store(&tok)
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching token file %s: %w", path, err)
	}
	if err := w.Add(filepath.Dir(path)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watching token file %s: %w", path, err)
	}
	t.watcher = w
	go t.run(poll)
	return t, nil
}

// Token returns the current token.
func (t *FileToken) Token() string { return *t.cur.Load() }

// Close stops watching.
func (t *FileToken) Close() error {
	t.once.Do(func() { close(t.stop) })
	<-t.done
	return nil
}

func (t *FileToken) run(poll time.Duration) {
	defer close(t.done)
	defer t.watcher.Close()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case _, ok := <-t.watcher.Events:
			if !ok {
				return
			}
			// Any event in the directory may be the swap; reading is cheap
			// and compares equal when nothing changed.
			t.reload()
		case err, ok := <-t.watcher.Errors:
			if !ok {
				return
			}
			t.log.Warn("watching the Intercom token file failed; polling continues", "file", t.path, "error", err.Error())
		case <-tick.C:
			t.reload()
		}
	}
}

func (t *FileToken) reload() {
	tok, err := readToken(t.path)
	if err != nil {
		// A broken file is seen by every event and poll until it is fixed;
		// count it once, when it breaks.
		if !t.failing {
			t.reloads.Add(context.Background(), 1, t.failed)
		}
		t.failing = true
		t.log.Warn("re-reading the Intercom token file failed; keeping the current token", "file", t.path, "error", err.Error())
		return
	}
	t.failing = false
	if tok != t.Token() {
		t.cur.Store(&tok)
		t.reloads.Add(context.Background(), 1, t.reloadOK)
		t.log.Info("Intercom token reloaded", "file", t.path)
	}
}

// readToken reads a token file. Surrounding white space is dropped: a
// trailing newline is what most editors and `echo` leave.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("token file %s: %w", path, pe.Err)
		}
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
