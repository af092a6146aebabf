// Package faults holds the fault runs (make faults): a real signet process on
// PostgreSQL and Redis under load while Redis stops and PostgreSQL restarts,
// then proof from the store and the request log that nothing was lost or
// accepted twice. The runs need root-run local services; see faults_test.go.
package faults
