// Package ratelimit bounds how often a client address or a named target (an operation, a
// registration code, an enrollment link) may call Signet's public endpoints: one Limit type,
// an in-process GCRA-equivalent token bucket keyed through a bounded LRU (Memory), and in
// ratelimit/redislimit the same decision shared by every replica through Redis (GCRA).
package ratelimit
