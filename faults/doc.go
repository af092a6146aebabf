// Package faults holds the fault runs (make faults): a real signet process on
// PostgreSQL and Redis, and signet gateway in front of a recording upstream,
// under device-key and PowerAuth load while Redis stops and PostgreSQL
// restarts, then proof from the store, the request log and the upstream that
// nothing was lost, accepted twice or paid twice, and that no customer was
// locked out. Tokens minted, and PowerAuth operations read, before the Redis
// outage are spent and signed during it, so that Signet's consume endpoint,
// the gateway and the PowerAuth approval are all seen to answer 503 there. The
// runs need root-run local services; see faults_test.go.
package faults
