package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercom-gateway/intercom-gateway/config"
)

// FuzzLoad: config.Load on an arbitrary YAML file never panics, and a
// refusal is one clean line (no Go panic text, no multi-line dump).
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"",
		"grpc_addr: 127.0.0.1:9090\n",
		"sandbox:\n  mode: on\n",
		"workspaces:\n  main:\n    token_env: INTERCOM_TOKEN\n    region: eu\n",
		"workspaces:\n  main:\n    token_file: /nonexistent\n    default_version: \"2.11\"\n",
		"rate_limit:\n  max_wait: 2s\n  redis_timeout: 50ms\n",
		"redis:\n  addr: 127.0.0.1:1\n",
		"unknown_key: 1\n",
		"grpc_addr: [1, 2\n",
		"a: &a [*a]\n",
		"? [a]\n: b\n",
		"workspaces: !!binary aGVsbG8=\n",
	} {
		f.Add(s)
	}
	// The file goes to a tmpfs when there is one: the disk write was three
	// quarters of each input's wall time, and the file's content, not the
	// disk, is what is fuzzed.
	dir := f.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "fuzzload"); err == nil {
		dir = shm
		f.Cleanup(func() { _ = os.RemoveAll(shm) })
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		path := filepath.Join(dir, "gateway.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		getenv := func(string) string { return "" }
		_, err := config.Load("gateway", []string{"--config", path}, getenv, io.Discard)
		if err == nil {
			return
		}
		msg := err.Error()
		if msg == "" || strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
			t.Fatalf("unclean error: %q", msg)
		}
	})
}
