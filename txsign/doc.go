// Package txsign holds operations (payments, logins, beneficiary changes) and their approval:
// amounts and payees canonicalised to ISO 4217 / ISO 13616, the PSD2 RTS Art. 5 dynamic-linking
// digest every factor signs (docs/dynamic-linking.md), and the minting of one-time transaction tokens.
package txsign
