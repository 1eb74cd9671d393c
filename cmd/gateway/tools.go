package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/intercom-gateway/intercom-gateway/auth"
	"github.com/intercom-gateway/intercom-gateway/config"
	"github.com/intercom-gateway/intercom-gateway/upstream/sandbox"
)

// runConfig is `gateway config check FILE`: it validates FILE (with the
// environment, as the gateway would read it) and prints the effective
// configuration with every secret redacted.
func runConfig(args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		return errors.New("usage: gateway config check FILE")
	}
	cfg, err := config.Check(args[1], getenv)
	if err != nil {
		return err
	}
	out, err := cfg.YAML()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "# %s: valid; effective configuration, secrets redacted\n%s", args[1], out)
	return err
}

// runSandbox is `gateway sandbox`: the simulator alone, for example as the
// upstream of a benchmark that runs the gateway in another process.
func runSandbox(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.LoadSandbox(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	opts := []sandbox.Option{sandbox.WithLogger(log)}
	if cfg.RateLimit >= 0 {
		opts = append(opts, sandbox.WithRateLimit(cfg.RateLimit, 0))
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("sandbox listener: %w", err)
	}
	log.Info("sandbox listening", "addr", ln.Addr().String(), "admin_path", "/__sandbox/")
	return sandbox.New(opts...).Serve(ctx, ln)
}

// runKeys is `gateway keys new --caller ID`: a new gateway key for a caller,
// printed once, and the config lines holding its hash (HMAC-SHA256 under
// the key-hash secret that the config file names). The gateway never stores
// the key, so a lost key is replaced, not recovered.
func runKeys(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: gateway keys new --caller ID [--config FILE]"
	if len(args) == 0 || args[0] != "new" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("gateway keys new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	caller := fs.String("caller", "", "`id` of the caller the key is for")
	file := fs.String("config", "", "config `file` whose auth section names the key-hash secret (env "+config.FileEnv+")")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *caller == "" || fs.NArg() > 0 {
		return errors.New(usage)
	}
	if *file == "" {
		*file = getenv(config.FileEnv)
	}
	if *file == "" {
		return errors.New("keys new: the key hash needs the key-hash secret named in the config file: pass --config FILE (or set " + config.FileEnv + ")")
	}
	secret, err := config.KeyHashSecret(*file, getenv)
	if err != nil {
		return err
	}
	key, err := auth.NewKey()
	if err != nil {
		return err
	}
	hash := auth.HashKey([]byte(secret.Reveal()), key).Reveal()
	note := "add it to the caller in " + *file + " (a caller has at most two active keys: add the new one, move the caller to it, then remove the old one):"
	_, err = fmt.Fprintf(stdout, "# New gateway key for caller %q, shown only this once; the gateway keeps only its hash.\n%s\n\n# Its hash: %s\ncallers:\n  - id: %s\n    key_hashes:\n      - %s\n",
		*caller, key, note, *caller, hash)
	return err
}
