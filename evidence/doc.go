// Package evidence builds the sealed dispute evidence of an approved or rejected operation
// (operation, dynamic-linking inputs, what was signed, signature, public key, token, audit trail)
// and re-verifies a bundle offline, saying plainly what holds and what cannot be checked.
package evidence
