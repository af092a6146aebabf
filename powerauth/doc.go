// Package powerauth implements the cryptographic primitives of the Wultra PowerAuth protocol 3.x
// (activation codes, key derivation, hash-based counters, signatures, ECIES, status blobs, headers,
// operation data and offline QR payloads) on the Go standard library only.
package powerauth
