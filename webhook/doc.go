// Package webhook tells the bank backend when an operation ends. Every terminal status puts one
// event, with a stable id, in the database outbox; a worker delivers it signed with HMAC-SHA256,
// at least once, with exponential backoff, jitter and a per-endpoint circuit breaker.
package webhook
