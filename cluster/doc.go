// Package cluster holds the replica run (make cluster): three `signet serve`
// replicas on one fresh PostgreSQL schema and the local Redis, behind HAProxy
// on loopback with active health checks on /readyz. Device-key, PowerAuth and
// passkey approvals, token consumes, long-poll and event-stream waiters go through the
// balancer while each replica is restarted in turn (SIGTERM with
// SIGNET_SHUTDOWN_DRAIN) and the signing key is rotated; afterwards the run
// proves from the request log, the audit log, the webhook outbox and a
// recording webhook receiver that no request failed, no operation was
// approved or expired twice, every waiter woke with the operation's final
// status and every webhook event arrived exactly once. It also reports
// approvals per second through one replica beside three. The run needs
// haproxy, PostgreSQL and Redis; see cluster_test.go.
package cluster
