// Command bench is the harness behind `make bench`: it measures what the
// gateway costs per call against peers measured in the same run, the way a
// skeptical user would.
//
// Every server is its own process pinned to one core (taskset) and every
// load generator is its own process pinned to the other: the standalone
// sandbox with its rate budget off, the gateway in front of it, a bare
// httputil.ReverseProxy with a pooled transport in front of it, and a gRPC
// server that answers a fixed ticket. Rows run interleaved and repeated;
// the table reports medians, ratios between rows of the same repetition,
// and CPU per call read from /proc, which a busy machine disturbs far less
// than requests per second.
//
// The processes and rows are declared in spec.go; its comment says how to
// add a row.
//
// Usage:
//
//	bench [run] -gateway bin/gateway [-baseline-gateway bin/gateway-base] [-reps 3] [-d 3s] [-c 1,50] [-rows regexp] [-out file.json] [-profile dir]
//	bench compare OLD.json NEW.json
//
// `bench load`, `bench proxy` and `bench fixed` are the processes the
// harness starts; they are not meant to be run by hand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := realMain(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func realMain(args []string) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runMain(args)
	case "compare":
		if len(args) != 2 {
			return errors.New("usage: bench compare OLD.json NEW.json")
		}
		old, err := readReport(args[0])
		if err != nil {
			return err
		}
		cur, err := readReport(args[1])
		if err != nil {
			return err
		}
		compare(os.Stdout, old, cur)
		return nil
	case "load":
		return loadMain(args)
	case "proxy":
		return proxyMain(args)
	case "fixed":
		return fixedMain(args)
	case "otlpsink":
		return otlpSinkMain(args)
	case "redis":
		return redisMain(args)
	}
	return fmt.Errorf("unknown command %q (want run, compare)", cmd)
}

func runMain(args []string) error {
	fs := flag.NewFlagSet("bench run", flag.ContinueOnError)
	cfg := config{}
	fs.StringVar(&cfg.Gateway, "gateway", "bin/gateway", "the gateway binary to measure")
	fs.StringVar(&cfg.Baseline, "baseline-gateway", "", "another gateway binary to run beside -gateway, with rows of its own (A/B in one run)")
	fs.IntVar(&cfg.Reps, "reps", 3, "repetitions of every row, interleaved")
	fs.DurationVar(&cfg.Duration, "d", 3*time.Second, "measured window per row and repetition")
	fs.DurationVar(&cfg.Warmup, "warmup", 500*time.Millisecond, "unmeasured load before each window")
	cs := fs.String("c", "1,50", "concurrency levels, comma-separated")
	fs.StringVar(&cfg.Rows, "rows", "", "regexp selecting rows by name (default all)")
	fs.StringVar(&cfg.ServerCPU, "server-cpu", "0", "CPU list (taskset -c) for the servers; empty to not pin")
	fs.StringVar(&cfg.LoadCPU, "load-cpu", "1", "CPU list (taskset -c) for the load generators; empty to not pin")
	out := fs.String("out", "", "write the JSON report here (default bench-results/<time>.json)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the servers' logs")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "save CPU profiles of the gateway's rows (first repetition) in this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.Split(*cs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-c: want positive integers, got %q", *cs)
		}
		cfg.Concurrency = append(cfg.Concurrency, n)
	}
	if cfg.Reps < 1 || cfg.Duration <= 0 {
		return errors.New("-reps and -d must be positive")
	}
	gw, err := filepath.Abs(cfg.Gateway)
	if err != nil {
		return err
	}
	cfg.Gateway = gw
	if _, err := os.Stat(cfg.Gateway); err != nil {
		return fmt.Errorf("-gateway: %w (make bench builds it)", err)
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return err
		}
	}
	if cfg.Baseline != "" {
		if cfg.Baseline, err = filepath.Abs(cfg.Baseline); err != nil {
			return err
		}
		if _, err := os.Stat(cfg.Baseline); err != nil {
			return fmt.Errorf("-baseline-gateway: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		return err
	}
	rep.printTable(os.Stdout)
	path := *out
	if path == "" {
		if err := os.MkdirAll("bench-results", 0o755); err != nil {
			return err
		}
		path = filepath.Join("bench-results", rep.Time.Format("20060102-150405")+".json")
	}
	if err := rep.writeJSON(path); err != nil {
		return err
	}
	fmt.Printf("\nJSON: %s (compare two runs with: make bench-compare OLD=<old.json> NEW=%s)\n", path, path)
	return nil
}
