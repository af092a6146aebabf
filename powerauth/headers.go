package powerauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// HTTP header names (PowerAuth 3.x, Standard RESTful API).
const (
	HeaderAuthorization = "X-PowerAuth-Authorization"
	HeaderToken         = "X-PowerAuth-Token"
	HeaderEncryption    = "X-PowerAuth-Encryption"
)

const (
	headerPrefix    = "PowerAuth"
	maxHeaderLength = 4096
)

// parseHeaderFields reads `PowerAuth key="value", key=value ...` leniently, as the platforms write it
// differently (notes, Wire details item 6; PowerAuthHttpHeader.parseHttpHeader): any field order,
// separators of commas and/or whitespace, quoted or bare values. Keys are [A-Za-z0-9_]+; a quoted value
// runs to the next quote; a bare value runs to the next comma or whitespace. Empty values, duplicate keys,
// control characters and text outside key=value pairs are errors. Unknown keys are kept (and ignored by
// the callers) for forward compatibility.
func parseHeaderFields(h string) (map[string]string, error) {
	if len(h) > maxHeaderLength {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidHeader, maxHeaderLength)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < 0x20 && c != '\t') || c == 0x7F {
			return nil, fmt.Errorf("%w: control character", ErrInvalidHeader)
		}
	}
	s := strings.Trim(h, " \t")
	rest, ok := strings.CutPrefix(s, headerPrefix)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, fmt.Errorf("%w: missing %q prefix", ErrInvalidHeader, headerPrefix)
	}
	fields := map[string]string{}
	i := 0
	isSep := func(c byte) bool { return c == ' ' || c == '\t' || c == ',' }
	isKey := func(c byte) bool {
		return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	}
	for {
		for i < len(rest) && isSep(rest[i]) {
			i++
		}
		if i == len(rest) {
			break
		}
		start := i
		for i < len(rest) && isKey(rest[i]) {
			i++
		}
		if i == start || i == len(rest) || rest[i] != '=' {
			return nil, fmt.Errorf("%w: expected key=value at offset %d", ErrInvalidHeader, start)
		}
		key := rest[start:i]
		i++ // '='
		var val string
		if i < len(rest) && rest[i] == '"' {
			end := strings.IndexByte(rest[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("%w: unterminated quote for %q", ErrInvalidHeader, key)
			}
			val = rest[i+1 : i+1+end]
			i += end + 2
		} else {
			vs := i
			for i < len(rest) && !isSep(rest[i]) && rest[i] != '"' {
				i++
			}
			val = rest[vs:i]
		}
		if i < len(rest) && !isSep(rest[i]) {
			return nil, fmt.Errorf("%w: junk after the value of %q", ErrInvalidHeader, key)
		}
		if val == "" {
			return nil, fmt.Errorf("%w: empty value for %q", ErrInvalidHeader, key)
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("%w: duplicate %q", ErrInvalidHeader, key)
		}
		fields[key] = val
	}
	return fields, nil
}

func requireField(f map[string]string, key string) (string, error) {
	v, ok := f[key]
	if !ok {
		return "", fmt.Errorf("%w: missing %s", ErrInvalidHeader, key)
	}
	return v, nil
}

// ValidUUID reports whether s is an RFC 4122 UUID of versions 1–5 in any letter case, the pattern of
// PowerAuth 3.x ValueTypeValidator.isValidUuid:
// [0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}.
func ValidUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	s = strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		case 14:
			if c < '1' || c > '5' {
				return false
			}
		case 19:
			if c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		default:
			if !isHexLower(c) {
				return false
			}
		}
	}
	return true
}

func isHexLower(c byte) bool { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func base64OfLength(s string, n int) ([]byte, bool) {
	// Strict: the unused bits of the last character must be zero (RFC 4648 §3.5), so each value has one
	// spelling; signatures are compared as text.
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return b, err == nil && len(b) == n
}

// decimalSignatureShape reports whether s is n components of 8 digits joined by "-".
func decimalSignatureShape(s string, n int) bool {
	parts := strings.Split(s, "-")
	if len(parts) != n {
		return false
	}
	for _, p := range parts {
		if len(p) != 8 || !isDigits(p) {
			return false
		}
	}
	return true
}

// AuthorizationHeader is a parsed X-PowerAuth-Authorization header
// (PowerAuth 3.x, Computing and Validating Signatures, "HTTP header").
type AuthorizationHeader struct {
	Version        Version
	ActivationID   string
	ApplicationKey string // base64 text of 16 bytes
	Nonce          []byte // 16 bytes
	SignatureType  SignatureType
	Signature      string // decimal (3.0) or base64 (3.1+), as received
}

// ParseAuthorizationHeader parses and validates the header value like PowerAuthSignatureHttpHeaderValidator:
// pa_version 3.0–3.3, pa_activation_id a UUID, pa_application_key and pa_nonce base64 of 16 bytes, a known
// pa_signature_type, and a pa_signature whose shape fits the version and the number of factors.
func ParseAuthorizationHeader(h string) (AuthorizationHeader, error) {
	f, err := parseHeaderFields(h)
	if err != nil {
		return AuthorizationHeader{}, err
	}
	var a AuthorizationHeader
	vs, err := requireField(f, "pa_version")
	if err != nil {
		return a, err
	}
	if a.Version, err = ParseVersion(vs); err != nil {
		return a, fmt.Errorf("%w: %v", ErrInvalidHeader, err)
	}
	if a.ActivationID, err = requireField(f, "pa_activation_id"); err != nil {
		return a, err
	}
	if !ValidUUID(a.ActivationID) {
		return a, fmt.Errorf("%w: pa_activation_id is not a UUID", ErrInvalidHeader)
	}
	if a.ApplicationKey, err = requireField(f, "pa_application_key"); err != nil {
		return a, err
	}
	if _, ok := base64OfLength(a.ApplicationKey, 16); !ok {
		return a, fmt.Errorf("%w: pa_application_key is not base64 of 16 bytes", ErrInvalidHeader)
	}
	ns, err := requireField(f, "pa_nonce")
	if err != nil {
		return a, err
	}
	var ok bool
	if a.Nonce, ok = base64OfLength(ns, 16); !ok {
		return a, fmt.Errorf("%w: pa_nonce is not base64 of 16 bytes", ErrInvalidHeader)
	}
	ts, err := requireField(f, "pa_signature_type")
	if err != nil {
		return a, err
	}
	if a.SignatureType, err = ParseSignatureType(ts); err != nil {
		return a, fmt.Errorf("%w: %v", ErrInvalidHeader, err)
	}
	if a.Signature, err = requireField(f, "pa_signature"); err != nil {
		return a, err
	}
	factors := a.SignatureType.Factors()
	if a.Version == Version30 {
		if !decimalSignatureShape(a.Signature, factors) {
			return a, fmt.Errorf("%w: pa_signature is not %d decimal components", ErrInvalidHeader, factors)
		}
	} else if _, ok := base64OfLength(a.Signature, 16*factors); !ok {
		return a, fmt.Errorf("%w: pa_signature is not base64 of %d bytes", ErrInvalidHeader, 16*factors)
	}
	return a, nil
}

// HeaderValue renders the header the way the iOS SDK and the docs do (PowerAuth 3.x, Computing and
// Validating Signatures, "HTTP header").
func (a AuthorizationHeader) HeaderValue() string {
	return fmt.Sprintf(`PowerAuth pa_version="%s", pa_activation_id="%s", pa_application_key="%s", pa_nonce="%s", pa_signature_type="%s", pa_signature="%s"`,
		a.Version, a.ActivationID, a.ApplicationKey, base64.StdEncoding.EncodeToString(a.Nonce), a.SignatureType, a.Signature)
}

// TokenHeader is a parsed X-PowerAuth-Token header (PowerAuth 3.x, MAC Token Based Authentication).
type TokenHeader struct {
	TokenID     string
	Digest      []byte // 32 bytes
	Nonce       []byte // 16 bytes
	TimestampMs int64  // Unix milliseconds
	Version     Version
}

// ParseTokenHeader parses and validates the header like PowerAuthTokenHttpHeaderValidator: token_id a UUID,
// token_digest base64 of 32 bytes, nonce base64 of 16 bytes, timestamp 9–15 decimal digits without a
// leading zero (the digest covers its text, which must round-trip), version 3.0–3.3.
func ParseTokenHeader(h string) (TokenHeader, error) {
	f, err := parseHeaderFields(h)
	if err != nil {
		return TokenHeader{}, err
	}
	var t TokenHeader
	if t.TokenID, err = requireField(f, "token_id"); err != nil {
		return t, err
	}
	if !ValidUUID(t.TokenID) {
		return t, fmt.Errorf("%w: token_id is not a UUID", ErrInvalidHeader)
	}
	ds, err := requireField(f, "token_digest")
	if err != nil {
		return t, err
	}
	var ok bool
	if t.Digest, ok = base64OfLength(ds, 32); !ok {
		return t, fmt.Errorf("%w: token_digest is not base64 of 32 bytes", ErrInvalidHeader)
	}
	ns, err := requireField(f, "nonce")
	if err != nil {
		return t, err
	}
	if t.Nonce, ok = base64OfLength(ns, 16); !ok {
		return t, fmt.Errorf("%w: nonce is not base64 of 16 bytes", ErrInvalidHeader)
	}
	tss, err := requireField(f, "timestamp")
	if err != nil {
		return t, err
	}
	if len(tss) < 9 || len(tss) > 15 || tss[0] == '0' || !isDigits(tss) {
		return t, fmt.Errorf("%w: timestamp is not 9–15 decimal digits", ErrInvalidHeader)
	}
	if t.TimestampMs, err = strconv.ParseInt(tss, 10, 64); err != nil {
		return t, fmt.Errorf("%w: timestamp", ErrInvalidHeader)
	}
	vs, err := requireField(f, "version")
	if err != nil {
		return t, err
	}
	if t.Version, err = ParseVersion(vs); err != nil {
		return t, fmt.Errorf("%w: %v", ErrInvalidHeader, err)
	}
	return t, nil
}

// HeaderValue renders the header in the Java builder's field order (PowerAuthTokenHttpHeader).
func (t TokenHeader) HeaderValue() string {
	enc := base64.StdEncoding
	return fmt.Sprintf(`PowerAuth token_id="%s", token_digest="%s", nonce="%s", timestamp="%d", version="%s"`,
		t.TokenID, enc.EncodeToString(t.Digest), enc.EncodeToString(t.Nonce), t.TimestampMs, t.Version)
}

// ComputeTokenDigest computes the MAC token digest (PowerAuth 3.x, MAC Token Based Authentication;
// TokenUtils.computeTokenDigest): HMAC-SHA256(tokenSecret, nonce ‖ "&" ‖ ascii(timestampMs) ‖ "&" ‖
// version) for 3.2 and 3.3, and without the "&" ‖ version part for 3.0 and 3.1.
func ComputeTokenDigest(secret TokenSecret, nonce []byte, timestampMs int64, v Version) ([]byte, error) {
	data := make([]byte, 0, len(nonce)+24)
	data = append(data, nonce...)
	data = append(data, '&')
	data = strconv.AppendInt(data, timestampMs, 10)
	switch v {
	case Version32, Version33:
		data = append(data, '&')
		data = append(data, v.String()...)
	case Version30, Version31:
	default:
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedVersion, v)
	}
	m := hmac.New(sha256.New, secret[:])
	m.Write(data)
	return m.Sum(nil), nil
}

// VerifyTokenDigest (PowerAuth 3.x, MAC Token Based Authentication, ServerTokenVerifier) recomputes the digest of a parsed header and compares it in constant time. The caller
// checks the token id, the timestamp window and nonce reuse.
func VerifyTokenDigest(secret TokenSecret, t TokenHeader) error {
	want, err := ComputeTokenDigest(secret, t.Nonce, t.TimestampMs, t.Version)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want, t.Digest) != 1 {
		return ErrSignatureMismatch
	}
	return nil
}

// EncryptionHeader is a parsed X-PowerAuth-Encryption header
// (PowerAuth 3.x, End-To-End Encryption, "HTTP header"). ActivationID is empty in application scope.
type EncryptionHeader struct {
	ApplicationKey string
	ActivationID   string
	Version        Version
}

// ParseEncryptionHeader parses the header in any of the platform spellings (iOS/docs with commas, Android
// without, the Java builder's field order): application_key base64 of 16 bytes, optional activation_id a
// UUID, version 3.0–3.3.
func ParseEncryptionHeader(h string) (EncryptionHeader, error) {
	f, err := parseHeaderFields(h)
	if err != nil {
		return EncryptionHeader{}, err
	}
	var e EncryptionHeader
	if e.ApplicationKey, err = requireField(f, "application_key"); err != nil {
		return e, err
	}
	if _, ok := base64OfLength(e.ApplicationKey, 16); !ok {
		return e, fmt.Errorf("%w: application_key is not base64 of 16 bytes", ErrInvalidHeader)
	}
	if id, ok := f["activation_id"]; ok {
		if !ValidUUID(id) {
			return e, fmt.Errorf("%w: activation_id is not a UUID", ErrInvalidHeader)
		}
		e.ActivationID = id
	}
	vs, err := requireField(f, "version")
	if err != nil {
		return e, err
	}
	if e.Version, err = ParseVersion(vs); err != nil {
		return e, fmt.Errorf("%w: %v", ErrInvalidHeader, err)
	}
	return e, nil
}

// Scope returns ScopeActivation when the header names an activation, ScopeApplication otherwise
// (PowerAuth 3.x, End-To-End Encryption, "HTTP header").
func (e EncryptionHeader) Scope() EciesScope {
	if e.ActivationID != "" {
		return ScopeActivation
	}
	return ScopeApplication
}
