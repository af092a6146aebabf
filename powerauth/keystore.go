package powerauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// ErrInvalidJWT reports a temporary-key JWT that is malformed or whose signature does not verify.
var ErrInvalidJWT = errors.New("powerauth: invalid temporary key JWT")

// maxJWTLength bounds the compact JWTs of /pa/v3/keystore/create.
const maxJWTLength = 8192

// TemporaryKeyRequest holds the claims of the HS256 JWT a 3.3 client sends to /pa/v3/keystore/create
// (PowerAuth 3.3, End-To-End Encryption, "Temporary Encryption Keys"; SDK GetTemporaryKeyRequest).
// ActivationID is absent, not null, in application scope (notes, Wire details item 2).
type TemporaryKeyRequest struct {
	ApplicationKey string `json:"applicationKey"`
	ActivationID   string `json:"activationId,omitempty"`
	Challenge      string `json:"challenge"`
	IssuedAt       int64  `json:"iat,omitempty"`
	IssuedAtMs     int64  `json:"iat_ms,omitempty"`
}

// TemporaryKeyResponse holds the claims of the ES256 JWT the server answers with, signed by the master
// key (application scope) or the activation's server key (activation scope); SDK GetTemporaryKeyResponse.
type TemporaryKeyResponse struct {
	KeyID          string `json:"sub"`
	ApplicationKey string `json:"applicationKey"`
	ActivationID   string `json:"activationId,omitempty"`
	Challenge      string `json:"challenge"`
	PublicKey      string `json:"publicKey"` // base64 SEC 1 uncompressed
	IssuedAt       int64  `json:"iat"`
	IssuedAtMs     int64  `json:"iat_ms"`
	ExpiresAt      int64  `json:"exp"`
	ExpiresAtMs    int64  `json:"exp_ms"`
}

// TemporaryKeyRequestKey returns the HS256 key of the request JWT (notes, Wire details item 2): the
// base64-DECODED application secret in application scope, KDF_INTERNAL(KEY_TRANSPORT, decoded secret) in
// activation scope. (ECIES uses the secret's base64 text instead; the two must not be confused.)
func TemporaryKeyRequestKey(scope EciesScope, appSecret ApplicationSecret, transport TransportKey) ([]byte, error) {
	dec, err := appSecret.Decoded()
	if err != nil {
		return nil, err
	}
	switch scope {
	case ScopeApplication:
		return dec, nil
	case ScopeActivation:
		k := KDFInternal(SecretKey(transport), dec)
		return k[:], nil
	}
	return nil, fmt.Errorf("%w: unknown scope", ErrInvalidJWT)
}

var jwtEnc = base64.RawURLEncoding

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
}

func encodeJWT(alg string, claims any) (string, error) {
	h, err := json.Marshal(jwtHeader{Alg: alg, Typ: "JWT"})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return jwtEnc.EncodeToString(h) + "." + jwtEnc.EncodeToString(p), nil
}

// decodeJSONStrict decodes exactly one JSON object into dst.
func decodeJSONStrict(b []byte, dst any) error {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// splitJWT parses a compact JWS (RFC 7515 §7.1) with the given alg and returns the signing input, the
// decoded claims bytes and the signature. Base64url must be unpadded; the header must name exactly alg.
func splitJWT(token, alg string) (signingInput string, claims, sig []byte, err error) {
	if len(token) > maxJWTLength {
		return "", nil, nil, fmt.Errorf("%w: too long", ErrInvalidJWT)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", nil, nil, fmt.Errorf("%w: want three segments", ErrInvalidJWT)
	}
	hb, err := jwtEnc.DecodeString(parts[0])
	if err != nil {
		return "", nil, nil, fmt.Errorf("%w: header encoding", ErrInvalidJWT)
	}
	var h jwtHeader
	if err := decodeJSONStrict(hb, &h); err != nil {
		return "", nil, nil, fmt.Errorf("%w: header: %v", ErrInvalidJWT, err)
	}
	if h.Alg != alg || (h.Typ != "" && h.Typ != "JWT") {
		return "", nil, nil, fmt.Errorf("%w: header must be alg %s", ErrInvalidJWT, alg)
	}
	if claims, err = jwtEnc.DecodeString(parts[1]); err != nil {
		return "", nil, nil, fmt.Errorf("%w: payload encoding", ErrInvalidJWT)
	}
	if sig, err = jwtEnc.DecodeString(parts[2]); err != nil {
		return "", nil, nil, fmt.Errorf("%w: signature encoding", ErrInvalidJWT)
	}
	return parts[0] + "." + parts[1], claims, sig, nil
}

// SignTemporaryKeyRequest builds the client's HS256 request JWT.
func SignTemporaryKeyRequest(key []byte, r TemporaryKeyRequest) (string, error) {
	in, err := encodeJWT("HS256", r)
	if err != nil {
		return "", err
	}
	return in + "." + jwtEnc.EncodeToString(hmacSHA256(key, []byte(in))), nil
}

// ParseTemporaryKeyRequest reads the claims of an untrusted request JWT WITHOUT verifying it, so the
// server can find the application and activation whose key verifies it; call VerifyTemporaryKeyRequest
// before trusting anything. applicationKey must be base64 of 16 bytes, activationId (when present) a
// UUID, and challenge 1–256 characters.
func ParseTemporaryKeyRequest(token string) (TemporaryKeyRequest, error) {
	var r TemporaryKeyRequest
	_, claims, sig, err := splitJWT(token, "HS256")
	if err != nil {
		return r, err
	}
	if len(sig) != sha256.Size {
		return r, fmt.Errorf("%w: HS256 signature length", ErrInvalidJWT)
	}
	if err := decodeJSONStrict(claims, &r); err != nil {
		return r, fmt.Errorf("%w: claims: %v", ErrInvalidJWT, err)
	}
	if _, ok := base64OfLength(r.ApplicationKey, 16); !ok {
		return r, fmt.Errorf("%w: applicationKey", ErrInvalidJWT)
	}
	if r.ActivationID != "" && !ValidUUID(r.ActivationID) {
		return r, fmt.Errorf("%w: activationId", ErrInvalidJWT)
	}
	if r.Challenge == "" || len(r.Challenge) > 256 {
		return r, fmt.Errorf("%w: challenge", ErrInvalidJWT)
	}
	return r, nil
}

// VerifyTemporaryKeyRequest parses the request JWT and checks its HS256 signature with key, in constant time.
func VerifyTemporaryKeyRequest(token string, key []byte) (TemporaryKeyRequest, error) {
	r, err := ParseTemporaryKeyRequest(token)
	if err != nil {
		return r, err
	}
	in, _, sig, _ := splitJWT(token, "HS256")
	if !hmac.Equal(hmacSHA256(key, []byte(in)), sig) {
		return TemporaryKeyRequest{}, fmt.Errorf("%w: signature", ErrInvalidJWT)
	}
	return r, nil
}

// SignTemporaryKeyResponse builds the server's ES256 response JWT; the signature is raw r‖s (RFC 7518
// §3.4), not DER.
func SignTemporaryKeyResponse(priv *PrivateKey, r TemporaryKeyResponse) (string, error) {
	in, err := encodeJWT("ES256", r)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(in))
	rr, ss, err := ecdsa.Sign(rand.Reader, priv.ecdsa, h[:])
	if err != nil {
		return "", err
	}
	raw := make([]byte, 64)
	rr.FillBytes(raw[:32])
	ss.FillBytes(raw[32:])
	return in + "." + jwtEnc.EncodeToString(raw), nil
}

// VerifyTemporaryKeyResponse parses the server's response JWT and verifies its ES256 signature with pub
// (the master public key, or the activation's server public key in activation scope). It checks the
// shape of the claims, not their values: the caller compares challenge, keys and times.
func VerifyTemporaryKeyResponse(token string, pub *PublicKey) (TemporaryKeyResponse, error) {
	var r TemporaryKeyResponse
	in, claims, sig, err := splitJWT(token, "ES256")
	if err != nil {
		return r, err
	}
	if len(sig) != 64 {
		return r, fmt.Errorf("%w: ES256 signature must be 64 bytes", ErrInvalidJWT)
	}
	h := sha256.Sum256([]byte(in))
	if !ecdsa.Verify(pub.ecdsa, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return r, fmt.Errorf("%w: signature", ErrInvalidJWT)
	}
	if err := decodeJSONStrict(claims, &r); err != nil {
		return r, fmt.Errorf("%w: claims: %v", ErrInvalidJWT, err)
	}
	if !ValidUUID(r.KeyID) {
		return r, fmt.Errorf("%w: sub is not a key id", ErrInvalidJWT)
	}
	if _, err := ParsePublicKeyBase64(r.PublicKey); err != nil {
		return r, fmt.Errorf("%w: publicKey", ErrInvalidJWT)
	}
	return r, nil
}
