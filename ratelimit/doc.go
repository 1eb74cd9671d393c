// Package ratelimit keeps the gateway's calls to Intercom inside Intercom's
// rate budget, which belongs to the app and the workspace, not to one gateway
// replica (https://developers.intercom.com/docs/references/rest-api/errors/rate-limiting:
// 10,000 calls per minute per app, 25,000 per workspace shared by its private
// apps, spread evenly over 10-second windows).
//
// The upstream client asks a *Limiter once for every attempt it is about to
// send, retries included (Acquire), and tells it what Intercom answered
// (Observe: X-RateLimit-Limit/-Remaining/-Reset and 429s). A call that cannot
// get capacity before its deadline, or within Config.MaxWait, is refused with
// a *Refusal, which says nothing was sent and when the caller's share will
// next have capacity.
//
// Two sources of capacity sit behind the same *Limiter:
//
//   - Local (NewLocal) keeps the budget in memory with golang.org/x/time/rate,
//     for a single replica.
//   - Shared (NewShared) leases chunks of the current window's budget from
//     Redis with one atomic Lua script per lease, so the replicas of a fleet
//     together are never granted more than the window holds. Inside the budget
//     each caller gets a weighted max-min fair share, computed from the demand
//     every replica publishes with its leases. A 429 pauses every replica
//     until X-RateLimit-Reset. When Redis is slow or down, a circuit breaker
//     switches each replica to a local budget of budget × safety ÷ live
//     replicas (counted by heartbeats) until Redis answers again.
//
// Concurrency is bounded too: each workspace has a cap on in-flight upstream
// attempts, with the same wait-or-refuse rule.
//
// It is not where errors become gRPC statuses (service/errors.go maps
// *Refusal once) and it does not know HTTP or Intercom's wire format: the
// upstream client turns headers into an Observation.
package ratelimit
