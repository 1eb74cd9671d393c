// Package server wires the gateway's listeners: one gRPC server and one HTTP
// server that share a single interceptor chain.
//
// The gRPC server carries the three gateway services, grpc.health.v1 and
// server reflection (so grpcurl works without .proto files). Its interceptor
// chain is, outermost first: panic recovery, access logging (method, code,
// duration; never metadata, so never the caller's Authorization header),
// caller authentication when WithAuth is given, any interceptors the caller
// adds (WithUnaryInterceptor), and last the service package's error mapping,
// so every log line shows the code the caller gets.
//
// Caller authentication (auth.go) reads the authorization and
// x-intercom-workspace metadata and the verified client certificate, asks
// the Authenticator, and puts the auth.Identity in the handler's context;
// a refused call never reaches a service, so it makes no upstream request.
// Health is always open; reflection is on, off or authenticated
// (Config.Reflection). Either listener can speak TLS, and verify client
// certificates (Config.GRPCTLS, Config.HTTPTLS, LoadTLS in tls.go); the
// in-memory connection stays plaintext inside the process, and a REST
// caller's certificate reaches the interceptor as metadata that only the
// REST mux can set.
//
// The HTTP server is a grpc-gateway mux that reaches the same grpc.Server over
// an in-memory bufconn connection. REST requests therefore pass through exactly
// the same interceptors as gRPC ones (RegisterXxxHandlerServer would call the
// services directly and skip them). The HTTP side also serves GET /healthz
// (from the gRPC health server) and GET /openapi.json.
//
// Serve runs both listeners until its context ends and then drains them within
// Config.ShutdownGrace.
//
// The package is not the place for configuration parsing (config), for who
// may call what (auth), for
// the services themselves or the Intercom → gRPC error table (service), or for
// anything that talks to Intercom (upstream).
package server
