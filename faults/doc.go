// Package faults holds the fault runs (make faults): a real signet process on
// PostgreSQL and Redis, and signet gateway in front of a recording upstream,
// under load while Redis stops and PostgreSQL restarts, then proof from the
// store, the request log and the upstream that nothing was lost, accepted
// twice or paid twice. Tokens minted before the Redis outage are spent during
// it, through Signet's consume endpoint and through the gateway, so that both
// are seen to answer 503 there. The runs need root-run local services; see
// faults_test.go.
package faults
