package main

import "strings"

// This file is the whole benchmark, declared: the processes the harness
// starts and the rows of the table. The harness (harness.go) only reads it.
//
// Adding a row
//
// A row is one Row literal appended to rows() (procs and rows take a flag
// that adds the baseline build's process and rows; ignore it). It names the process whose
// CPU per call it reports (Server), the call that the load generator makes
// (Call, with {proc.port} placeholders for addresses) and the rows it is
// divided by in the same repetition (Versus). For example, a gateway with
// tracing on versus the same gateway with it off:
//
//	// in procs():
//	{Name: "gateway-otel", Bin: binGateway, Ports: []string{"grpc", "http", "admin"},
//		Env: append(gatewayEnv("gateway-otel"), "OTEL_TRACES_EXPORTER=none"),
//		Ready: "http://{gateway-otel.http}/healthz"},
//	// in rows():
//	{Name: "gateway-grpc-otel", Server: "gateway-otel",
//		Call:   getTicketGRPC("{gateway-otel.grpc}"),
//		Versus: []string{"gateway-grpc", "proxy-bare"}},
//
// A per-call figure that is not CPU or latency (Redis round trips per call,
// upstream requests per call) is a Counter: a name and a function that
// reads a monotonic total. The harness reads it at the start and the end of
// every measured window and reports the difference divided by the calls.
// Counters() in harness.go has the sandbox's connection and request
// counters and the shared limiter's Redis round trips; add yours there and
// every row reports it.
//
// Rows run interleaved (every row once, then every row again, Reps times),
// so that ratios compare measurements taken minutes, not hours, apart.

// Bin names an executable the harness runs: the gateway binary it built or
// the bench binary itself (for the peers and the load generator).
type Bin string

const (
	binGateway Bin = "gateway"
	binSelf    Bin = "self"
	// binBaseline is another build of the gateway (-baseline-gateway), for
	// an A/B comparison within one run.
	binBaseline Bin = "baseline"
)

// Proc is a server process, started once before the first row and stopped
// after the last. Every server is pinned to the servers' core.
type Proc struct {
	Name string
	Bin  Bin
	// Ports are allocated free on 127.0.0.1 before anything starts; "{name.port}"
	// anywhere in Args, Env, Ready or a Call is replaced by "127.0.0.1:N".
	Ports []string
	Args  []string
	Env   []string
	// Ready is polled until it answers 2xx (an http:// URL) or accepts a
	// connection (tcp://host:port).
	Ready string
	// Pprof is the process's net/http/pprof base URL, if it has one;
	// `bench -profile DIR` then saves a CPU profile of each row it serves.
	Pprof string
	// Remote marks a process that stands for another machine (the trace
	// collector): it runs on the load generators' core, so its CPU is not
	// taken from the servers' core, where it would lower the throughput
	// of the rows that use it for a reason no deployment has.
	Remote bool
	// Files are written into the run's directory before the process
	// starts (placeholders expanded); "{name.key}" is then the path of the
	// file under key, for Args or Env (a config file, say).
	Files map[string]string
}

// Call is what the load generator sends, over and over.
type Call struct {
	Addr string `json:"addr"`
	// GRPC is a full method name such as "/intercom.gateway.v1.TicketService/GetTicket";
	// Body is then the request in protojson.
	GRPC string `json:"grpc,omitempty"`
	// HTTP is "METHOD /path"; Body is sent as is, with Header ("Name: value").
	HTTP   string   `json:"http,omitempty"`
	Header []string `json:"header,omitempty"`
	Body   string   `json:"body,omitempty"`
}

// Row is one line of the table per concurrency level.
type Row struct {
	Name string
	// What says in a few words what is measured, for the legend.
	What string
	// Server is the Proc whose CPU per call is reported as the row's cost.
	Server string
	Call   Call
	// Versus lists rows this one is divided by, within each repetition.
	Versus []string
}

const (
	benchToken      = "bench-token"
	benchTicket     = "4001" // sandbox.SeedTicketLogin
	getTicketMethod = "/intercom.gateway.v1.TicketService/GetTicket"
)

// sandboxCall is GET /tickets/{id} as Intercom's API takes it.
func sandboxCall(addr string) Call {
	return Call{Addr: addr, HTTP: "GET /tickets/" + benchTicket,
		Header: []string{"Authorization: Bearer " + benchToken, "Intercom-Version: 2.11", "Accept: application/json"}}
}

func getTicketGRPC(addr string) Call {
	return Call{Addr: addr, GRPC: getTicketMethod, Body: `{"ticket_id":"` + benchTicket + `"}`}
}

// getTicketTypeGRPC reads the sandbox's ticket type Bug.
func getTicketTypeGRPC(addr string) Call {
	return Call{Addr: addr, GRPC: "/intercom.gateway.v1.TicketTypeService/GetTicketType", Body: `{"ticket_type_id":"1"}`}
}

func getTicketREST(addr string) Call {
	return Call{Addr: addr, HTTP: "GET /v1/tickets/" + benchTicket}
}

// gatewayEnv configures a gateway process named name against the sandbox,
// as an operator would: a token, the sandbox as base URL, info-level JSON
// access logs (written to a file by the harness). Caller authentication is
// off, so the rows measure the proxying; a row with callers configured
// measures what authentication adds.
func gatewayEnv(name string) []string {
	return []string{
		"INTERCOM_TOKEN=" + benchToken,
		"INTERCOM_BASE_URL=http://{sandbox.http}",
		"GATEWAY_SANDBOX=off",
		"GATEWAY_INSECURE_NO_AUTH=true",
		"GATEWAY_GRPC_ADDR={" + name + ".grpc}",
		"GATEWAY_HTTP_ADDR={" + name + ".http}",
		"GATEWAY_LOG_LEVEL=info",
		"GATEWAY_LOG_FORMAT=json",
		"GATEWAY_ADMIN_ADDR={" + name + ".admin}",
		// The standalone sandbox has no budget (--rate-limit 0) and the
		// load is far above Intercom's 1,666 per 10 s, which the limiter
		// would refuse: the rows measure the proxying. The limiter's own
		// cost has rows of its own (gatewayLimited).
		"GATEWAY_RATE_LIMIT_OFF=true",
	}
}

// gatewayTraced is a gateway exporting its spans over OTLP/HTTP to the
// otlpsink process, with env added (a sampler, say).
func gatewayTraced(name string, env ...string) Proc {
	env = append(append(gatewayEnv(name),
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://{otlpsink.http}/v1/traces"), env...)
	return Proc{Name: name, Bin: binGateway, Ports: []string{"grpc", "http", "admin"}, Env: env,
		Ready: "http://{" + name + ".http}/healthz", Pprof: "http://{" + name + ".admin}/debug/pprof"}
}

// gatewayLimited is a gateway whose limiter is on, with budgets (the app's
// and the workspace's, 4,166 per 10 s by default) the load never reaches (so every call is granted and the row measures what asking
// costs): in memory, or shared through the redis process when redis is set.
func gatewayLimited(name string, redis bool) Proc {
	// The workspace comes from the file, with its budget: not from
	// INTERCOM_BASE_URL, and the limiter is not off.
	var env []string
	for _, kv := range gatewayEnv(name) {
		if !strings.HasPrefix(kv, "INTERCOM_BASE_URL=") && !strings.HasPrefix(kv, "GATEWAY_RATE_LIMIT_OFF=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GATEWAY_CONFIG={"+name+".config}")
	if redis {
		env = append(env, "GATEWAY_REDIS_ADDR={redis.tcp}")
	}
	return Proc{Name: name, Bin: binGateway, Ports: []string{"grpc", "http", "admin"}, Env: env,
		Files: map[string]string{"config": "workspaces:\n  - name: default\n    token_env: INTERCOM_TOKEN\n" +
			"    base_url: http://{sandbox.http}\n    rate_limit:\n      app_per_10s: 1000000000\n      workspace_per_10s: 1000000000\n"},
		Ready: "http://{" + name + ".http}/healthz", Pprof: "http://{" + name + ".admin}/debug/pprof"}
}

// procs are started in this order; a Proc may use the ports of those before
// it. With a baseline build, it runs beside the gateway as "base".
func procs(baseline bool) []Proc {
	ps := []Proc{
		// The standalone sandbox with its rate budget off (--rate-limit 0):
		// the in-process one (GATEWAY_SANDBOX=on) keeps its budget.
		{Name: "sandbox", Bin: binGateway, Ports: []string{"http"},
			Args:  []string{"sandbox", "--addr", "{sandbox.http}", "--rate-limit", "0", "--log-level", "warn"},
			Ready: "tcp://{sandbox.http}"},
		{Name: "gateway", Bin: binGateway, Ports: []string{"grpc", "http", "admin"},
			Env:   gatewayEnv("gateway"),
			Ready: "http://{gateway.http}/healthz",
			Pprof: "http://{gateway.admin}/debug/pprof"},
		// The tracing row: a local OTLP/HTTP collector that takes every
		// export, and the same gateway exporting every span to it (the
		// default sampler, parent-based always-on, traces every call).
		{Name: "otlpsink", Bin: binSelf, Ports: []string{"http"},
			Args:  []string{"otlpsink", "-addr", "{otlpsink.http}"},
			Ready: "tcp://{otlpsink.http}", Remote: true},
		gatewayTraced("gateway-otel"),
		// The same, sampling as the README recommends for production: a
		// tenth of the traces that start at the gateway (the load sends no
		// traceparent), every span of those exported.
		gatewayTraced("gateway-otel-sampled",
			"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"),
		// Tracing on and nothing sampled (always_off): what the
		// instrumentation the gateway installs with tracing on (otelgrpc's
		// stats handler, the SDK's tracer deciding every call) costs before
		// any span is recorded or exported.
		gatewayTraced("gateway-otel-unsampled", "OTEL_TRACES_SAMPLER=always_off"),
		// The limiter's own cost: the same gateway with its limiter on, in
		// memory and shared through a real redis-server.
		{Name: "redis", Bin: binSelf, Ports: []string{"tcp"}, Remote: true,
			Args: []string{"redis", "-addr", "{redis.tcp}"}, Ready: "tcp://{redis.tcp}"},
		gatewayLimited("gateway-rl-local", false),
		gatewayLimited("gateway-rl-redis", true),
		// A bare httputil.ReverseProxy with a pooled transport in front of the sandbox.
		{Name: "proxy", Bin: binSelf, Ports: []string{"http"},
			Args:  []string{"proxy", "-addr", "{proxy.http}", "-upstream", "http://{sandbox.http}"},
			Ready: "tcp://{proxy.http}"},
		// The same gateway with its access log off (log level warn): the
		// cached-read row there shows what the per-call log line costs.
		{Name: "gateway-quiet", Bin: binGateway, Ports: []string{"grpc", "http", "admin"},
			Env:   append(gatewayEnv("gateway-quiet"), "GATEWAY_LOG_LEVEL=warn"),
			Ready: "http://{gateway-quiet.http}/healthz",
			Pprof: "http://{gateway-quiet.admin}/debug/pprof"},
		// A gRPC server that answers every call with a fixed message: the
		// gateway's own answer to the same request, fetched once from -from.
		{Name: "fixed", Bin: binSelf, Ports: []string{"grpc"},
			Args:  []string{"fixed", "-addr", "{fixed.grpc}", "-from", "{gateway.grpc}"},
			Ready: "tcp://{fixed.grpc}"},
	}
	if baseline {
		ps = append(ps, Proc{Name: "base", Bin: binBaseline, Ports: []string{"grpc", "http", "admin"},
			Env: gatewayEnv("base"), Ready: "http://{base.http}/healthz", Pprof: "http://{base.admin}/debug/pprof"})
	}
	return ps
}

// rows are measured in this order, every repetition. With a baseline build,
// its rows come first and the gateway's are also divided by them.
func rows(baseline bool) []Row {
	var rs []Row
	if baseline {
		rs = []Row{
			{Name: "base-grpc", What: "GetTicket through the baseline build over gRPC",
				Server: "base", Call: getTicketGRPC("{base.grpc}"), Versus: []string{"proxy-bare"}},
			{Name: "base-rest", What: "GET /v1/tickets/4001 through the baseline build (REST)",
				Server: "base", Call: getTicketREST("{base.http}"), Versus: []string{"proxy-bare"}},
		}
	}
	rs = append(rs, []Row{
		{Name: "sandbox-direct", What: "GET /tickets/4001 straight to the sandbox",
			Server: "sandbox", Call: sandboxCall("{sandbox.http}")},
		{Name: "proxy-bare", What: "the same GET through httputil.ReverseProxy (pooled)",
			Server: "proxy", Call: sandboxCall("{proxy.http}"), Versus: []string{"sandbox-direct"}},
		{Name: "grpc-fixed", What: "GetTicket from a gRPC server with a fixed answer",
			Server: "fixed", Call: getTicketGRPC("{fixed.grpc}")},
		{Name: "gateway-grpc", What: "GetTicket through the gateway over gRPC",
			Server: "gateway", Call: getTicketGRPC("{gateway.grpc}"), Versus: []string{"proxy-bare", "grpc-fixed"}},
		// Tracing's cost, each row right after the row it divides, so
		// that the pair is measured seconds apart.
		{Name: "gateway-grpc-otel", What: "GetTicket over gRPC, every span exported over OTLP to a local sink (on the load core)",
			Server: "gateway-otel", Call: getTicketGRPC("{gateway-otel.grpc}"), Versus: []string{"gateway-grpc"}},
		{Name: "gateway-grpc-otel-sampled", What: "GetTicket over gRPC, a tenth of the calls traced (parentbased_traceidratio 0.1), their spans exported to the sink",
			Server: "gateway-otel-sampled", Call: getTicketGRPC("{gateway-otel-sampled.grpc}"), Versus: []string{"gateway-grpc", "gateway-grpc-otel"}},
		{Name: "gateway-grpc-otel-unsampled", What: "GetTicket over gRPC, tracing on but no call sampled (always_off): the instrumentation alone",
			Server: "gateway-otel-unsampled", Call: getTicketGRPC("{gateway-otel-unsampled.grpc}"), Versus: []string{"gateway-grpc", "gateway-grpc-otel"}},
		// Ticket-type schemas are served from the gateway's schema cache:
		// after the first call no request reaches the sandbox (the row's
		// up_reqs say so). Its ceiling is grpc-fixed-type: the fixed server
		// answering the same method with the same message (the gateway's
		// own answer), over the same plaintext loopback listener. The
		// gateway's call also runs what every call runs there: the access
		// log line and the RPC metric, caller authentication
		// (insecure-no-auth: the default identity), the drain, recovery
		// and error-mapping interceptors, and the x-gateway-cache header
		// (tracing is off, as by default: no stats handler).
		{Name: "grpc-fixed-type", What: "GetTicketType from a gRPC server with a fixed answer",
			Server: "fixed", Call: getTicketTypeGRPC("{fixed.grpc}")},
		{Name: "gateway-grpc-type-cached", What: "GetTicketType over gRPC, answered from the schema cache",
			Server: "gateway", Call: getTicketTypeGRPC("{gateway.grpc}"),
			Versus: []string{"grpc-fixed-type", "grpc-fixed"}},
		{Name: "gateway-grpc-type-cached-nolog", What: "the same, on a gateway without its access log (log level warn)",
			Server: "gateway-quiet", Call: getTicketTypeGRPC("{gateway-quiet.grpc}"),
			Versus: []string{"grpc-fixed-type", "gateway-grpc-type-cached"}},
		// What asking the limiter costs per call: the same GetTicket with
		// the limiter on, divided by the gateway with it off. The Redis
		// row's redis_rt column is the limiter's Redis round trips per
		// call (leases and reports, from its own counter).
		{Name: "gateway-grpc-limiter-local", What: "GetTicket over gRPC, the limiter on (in memory)",
			Server: "gateway-rl-local", Call: getTicketGRPC("{gateway-rl-local.grpc}"), Versus: []string{"gateway-grpc"}},
		{Name: "gateway-grpc-limiter-redis", What: "GetTicket over gRPC, the limiter on (shared through redis-server)",
			Server: "gateway-rl-redis", Call: getTicketGRPC("{gateway-rl-redis.grpc}"), Versus: []string{"gateway-grpc", "gateway-grpc-limiter-local"}},
		{Name: "gateway-rest", What: "GET /v1/tickets/4001 through the gateway (REST)",
			Server: "gateway", Call: getTicketREST("{gateway.http}"), Versus: []string{"proxy-bare"}},
		{Name: "gateway-rest-otel", What: "GET /v1/tickets/4001 (REST), every span exported over OTLP to a local sink (on the load core)",
			Server: "gateway-otel", Call: getTicketREST("{gateway-otel.http}"), Versus: []string{"gateway-rest"}},
		{Name: "gateway-rest-otel-sampled", What: "GET /v1/tickets/4001 (REST), a tenth of the calls traced (parentbased_traceidratio 0.1), their spans exported to the sink",
			Server: "gateway-otel-sampled", Call: getTicketREST("{gateway-otel-sampled.http}"), Versus: []string{"gateway-rest", "gateway-rest-otel"}},
	}...)
	if baseline {
		for i := range rs {
			switch rs[i].Name {
			case "gateway-grpc":
				rs[i].Versus = append(rs[i].Versus, "base-grpc")
			case "gateway-rest":
				rs[i].Versus = append(rs[i].Versus, "base-rest")
			}
		}
	}
	return rs
}
