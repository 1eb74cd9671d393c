// Package sandbox is an in-memory, stateful simulator of the parts of Intercom's
// REST API that the gateway uses: tickets, ticket types and their attributes,
// ticket states, ticket search and tags (on tickets, contacts, conversations
// and companies).
//
// It serves HTTP like api.intercom.io does, answers in the JSON shape of the
// requested Intercom-Version (2.11 and older, each of 2.12 to 2.16, and
// Preview/Unstable; its own version table is in versions.go), refuses request
// fields the requested version does not describe,
// keeps state between requests, enforces a per-token rate budget with
// X-RateLimit-* headers, records every request, and can be told to fail
// (latency, 5xx, 429 storms, connection resets, malformed and slow bodies).
// It is the default upstream for `make run` and for tests.
//
// It is not a client of Intercom and not a general mock: it is written from
// Intercom's published OpenAPI descriptions (shared/intercom-openapi, cited in
// comments as "2.11.yaml" … "2.16.yaml" and "unstable.yaml") and imports nothing from the
// gateway's own upstream client, so that it stays an independent check of it.
//
// Test-only hooks are plain Go methods (SetFault, Requests, Reset) and an
// unauthenticated admin surface under /__sandbox/ on the same handler.
package sandbox
