// Package attest verifies platform key attestation for device keys: Android Key
// Attestation (a certificate chain whose leaf carries the KeyMint KeyDescription) and
// Apple App Attest (an apple-appattest attestation object), and says what each proved.
package attest
