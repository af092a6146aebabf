// Package device is a Go device SDK and simulator for Signet's PowerAuth 3.x device API: activation with
// two ECIES layers, PIN-protected knowledge key, status decoding, signatures, MAC tokens, mobile-token
// operations and offline codes. It depends on nothing of the server: only on the powerauth primitives.
package device
