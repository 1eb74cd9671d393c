// Package service implements the gateway's gRPC services: TicketService,
// TicketTypeService and TagService.
//
// Each handler validates its request, asks Backends for the current call's
// Backend (the workspace chosen for the call, the caller, and that
// workspace's Intercom client, declared here as small interfaces implemented
// by upstream.Client), translates the request into a call on that client,
// and translates the answer back into the contract's messages. Invalid input is rejected with INVALID_ARGUMENT and BadRequest
// field violations before anything is sent to Intercom.
//
// Handlers return upstream errors unchanged; ErrorMapping (errors.go) is the
// one place where Intercom statuses and error codes become gRPC statuses. It
// is installed as a server interceptor so gRPC and REST callers see the same
// errors.
//
// The package does not own transport concerns: listeners, caller auth,
// logging and rate limiting live in server/, cmd/gateway and upstream/.
package service
