package verify

import "github.com/golang-jwt/jwt/v5"

// TokenType is the JOSE "typ" header of a transaction token (RFC 8725 §3.11 explicit typing;
// "application/txn+jwt" is the same media type, RFC 7515 §4.1.9).
const TokenType = "txn+jwt"

// Algorithm is the only signature algorithm of transaction tokens (ECDSA P-256 SHA-256,
// RFC 7518 §3.4). It is pinned: the header's "alg" is checked against it, never trusted.
const Algorithm = "ES256"

// AuthorizationDetailPaymentInitiation is the authorization_details type of a payment.
const AuthorizationDetailPaymentInitiation = "payment_initiation"

// Claims are the claims of a transaction token, shared by the minting side (txsign) and every
// verifier. Registered claims: iss, sub (the bank's user id), aud, iat, nbf, exp, jti.
type Claims struct {
	jwt.RegisteredClaims
	// Op is the id of the approved operation.
	Op string `json:"op"`
	// DL is the operation's dynamic-linking digest, unpadded base64url (docs/dynamic-linking.md).
	DL string `json:"dl"`
	// AMR lists the authentication methods used (RFC 8176: "hwk", "swk", "pin", "face", "fpt",
	// "user", "mfa", ...).
	AMR []string `json:"amr"`
	// ACR is the authentication context class reference, when the issuer sets one.
	ACR string `json:"acr,omitempty"`
	// AuthorizationDetails says what was approved (RFC 9396 §2).
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details"`
}

// AuthorizationDetail is one RFC 9396 authorization details object. For a payment its type is
// "payment_initiation" and its members follow the shape used by RFC 9396 §2 example 1, the
// Berlin Group NextGenPSD2 and OBIE payment initiation APIs:
//
//	{"type": "payment_initiation",
//	 "instructedAmount": {"amount": "123.50", "currency": "EUR"},
//	 "creditorName": "Merchant A",
//	 "creditorAccount": {"iban": "DE02100100109307118603"},
//	 "remittanceInformationUnstructured": "Ref Number Merchant"}
//
// Amounts are decimal strings with the currency's ISO 4217 minor digits, never numbers.
type AuthorizationDetail struct {
	Type                              string   `json:"type"`
	InstructedAmount                  *Amount  `json:"instructedAmount,omitempty"`
	CreditorName                      string   `json:"creditorName,omitempty"`
	CreditorAccount                   *Account `json:"creditorAccount,omitempty"`
	RemittanceInformationUnstructured string   `json:"remittanceInformationUnstructured,omitempty"`
}

// Amount is an instructed amount: decimal string and ISO 4217 alphabetic currency code.
type Amount struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Account identifies the creditor account: an IBAN (ISO 13616, electronic format), or any
// other identifier (Berlin Group "other", ISO 20022 GenericAccountIdentification) when the
// payee has no IBAN. Exactly one is set.
type Account struct {
	IBAN  string `json:"iban,omitempty"`
	Other string `json:"other,omitempty"`
}

// Identifier returns the IBAN, or the other identifier when there is no IBAN.
func (a *Account) Identifier() string {
	if a == nil {
		return ""
	}
	if a.IBAN != "" {
		return a.IBAN
	}
	return a.Other
}
