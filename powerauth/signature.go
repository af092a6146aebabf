package powerauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SignatureType is the set of factors a PowerAuth signature covers (PowerAuth 3.x, Computing and
// Validating Signatures, PowerAuthSignatureTypes). It is a bit set of the three factors.
type SignatureType uint8

// Signature types. Knowledge and biometry alone are accepted by the header grammar but always come with
// possession in practice.
const (
	SignaturePossession                  SignatureType = 1
	SignatureKnowledge                   SignatureType = 2
	SignatureBiometry                    SignatureType = 4
	SignaturePossessionKnowledge         SignatureType = SignaturePossession | SignatureKnowledge
	SignaturePossessionBiometry          SignatureType = SignaturePossession | SignatureBiometry
	SignaturePossessionKnowledgeBiometry SignatureType = SignaturePossession | SignatureKnowledge | SignatureBiometry
)

// name returns the header spelling, or "" for an unknown value.
func (t SignatureType) name() string {
	switch t {
	case SignaturePossession:
		return "possession"
	case SignatureKnowledge:
		return "knowledge"
	case SignatureBiometry:
		return "biometry"
	case SignaturePossessionKnowledge:
		return "possession_knowledge"
	case SignaturePossessionBiometry:
		return "possession_biometry"
	case SignaturePossessionKnowledgeBiometry:
		return "possession_knowledge_biometry"
	}
	return ""
}

// ParseSignatureType reads pa_signature_type ("possession", "possession_knowledge", ...), case-insensitively
// like the Java validator (PowerAuth 3.x, ValueTypeValidator.isValidSignatureType).
func ParseSignatureType(s string) (SignatureType, error) {
	ls := strings.ToLower(s)
	for t := SignaturePossession; t <= SignaturePossessionKnowledgeBiometry; t++ {
		if n := t.name(); n != "" && n == ls {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrInvalidSignatureType, s)
}

// String returns the header spelling of the type.
func (t SignatureType) String() string {
	if n := t.name(); n != "" {
		return n
	}
	return fmt.Sprintf("invalid(%d)", uint8(t))
}

// Valid reports whether t is one of the six known types.
func (t SignatureType) Valid() bool { return t.name() != "" }

// Factors returns how many factor keys (signature components) t uses (PowerAuth 3.x, Computing and
// Validating Signatures: one component per factor).
func (t SignatureType) Factors() int {
	n := 0
	for f := SignaturePossession; f <= SignatureBiometry; f <<= 1 {
		if t&f != 0 {
			n++
		}
	}
	return n
}

// CountsFailedAttempts reports whether a failed verification of this type increments the activation's
// failed-attempt counter: every type except possession alone (PowerAuth 3.x, Computing and Validating
// Signatures; notes docs-versus-code item 4).
func (t SignatureType) CountsFailedAttempts() bool { return t != SignaturePossession }

// SignatureKeys holds the factor keys a signature may use.
type SignatureKeys struct {
	Possession SignatureKey
	Knowledge  SignatureKey
	Biometry   SignatureKey
}

// forType lists the keys of t in the protocol order possession, knowledge, biometry (PowerAuth 3.x,
// Computing and Validating Signatures, "signature keys").
func (k SignatureKeys) forType(t SignatureType) ([]SignatureKey, error) {
	if !t.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidSignatureType, uint8(t))
	}
	var keys []SignatureKey
	if t&SignaturePossession != 0 {
		keys = append(keys, k.Possession)
	}
	if t&SignatureKnowledge != 0 {
		keys = append(keys, k.Knowledge)
	}
	if t&SignatureBiometry != 0 {
		keys = append(keys, k.Biometry)
	}
	return keys, nil
}

// SignatureFormat selects how signature components are rendered: FormatBase64 (protocol 3.1+ online) or a
// decimal format with 4–8 digits per component (3.0 online, and offline signatures).
type SignatureFormat uint8

const (
	// FormatBase64 is the 3.1+ online format: base64 of the last 16 bytes of every component, concatenated.
	FormatBase64 SignatureFormat = 0
	// FormatDecimal is the 3.0 online and default offline format: 8 digits per component joined by "-".
	FormatDecimal SignatureFormat = 8
)

// DecimalFormat returns the decimal format with n digits per component, 4 ≤ n ≤ 8
// (PowerAuth 3.x, Offline Signatures, "signature component length").
func DecimalFormat(n int) (SignatureFormat, error) {
	if n < 4 || n > 8 {
		return 0, fmt.Errorf("powerauth: decimal component length %d outside 4–8", n)
	}
	return SignatureFormat(n), nil
}

// OnlineSignatureFormat returns the format of online signatures for a protocol version: decimal for 3.0,
// base64 from 3.1 on (PowerAuth 3.x, PowerAuthSignatureFormat.getFormatForSignatureVersion).
func OnlineSignatureFormat(v Version) (SignatureFormat, error) {
	switch {
	case v == Version30:
		return FormatDecimal, nil
	case v.Valid():
		return FormatBase64, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrUnsupportedVersion, v)
}

func (f SignatureFormat) valid() bool { return f == FormatBase64 || (f >= 4 && f <= 8) }

// javaURLEncode mirrors java.net.URLEncoder.encode(s, UTF-8): unreserved A-Z a-z 0-9 . - * _, space → "+",
// every other byte %XX upper-case.
func javaURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '*', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// CanonicalQueryString turns a GET query string into the signed body: pairs without "=" are skipped, keys
// and values are form-decoded, sorted by key then value, and re-encoded like java.net.URLEncoder
// (PowerAuth 3.x, Computing and Validating Signatures, "GET requests";
// PowerAuthRequestCanonizationUtils.canonizeGetParameters).
func CanonicalQueryString(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, kv := range strings.Split(rawQuery, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("powerauth: query key: %w", err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("powerauth: query value: %w", err)
		}
		pairs = append(pairs, pair{dk, dv})
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = javaURLEncode(p.k) + "=" + javaURLEncode(p.v)
	}
	return strings.Join(parts, "&"), nil
}

// SignatureBaseString builds UPPER(method) & B64(UTF8(uriId)) & B64(nonce) & B64(body)
// (PowerAuth 3.x, Computing and Validating Signatures, "Normalized data"; PowerAuthHttpBody).
// An empty method means GET, as in the Java reference.
func SignatureBaseString(method, uriID string, nonce, body []byte) string {
	if method == "" {
		method = "GET"
	}
	enc := base64.StdEncoding
	return strings.ToUpper(method) + "&" + enc.EncodeToString([]byte(uriID)) + "&" +
		enc.EncodeToString(nonce) + "&" + enc.EncodeToString(body)
}

// SignatureData is the signed DATA: the base string followed by "&" and APPLICATION_SECRET as its base64
// text (PowerAuth 3.x, Computing and Validating Signatures). Bodies are the exact bytes received.
func SignatureData(method, uriID string, nonce, body []byte, appSecret ApplicationSecret) []byte {
	return []byte(SignatureBaseString(method, uriID, nonce, body) + "&" + string(appSecret))
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// signatureComponents implements the multi-factor chaining of PowerAuth 3.x, Computing and Validating
// Signatures (AuthenticationCodeLegacyUtils.computeAuthCodeComponents; notes docs-versus-code item 2):
// component i: dk = HMAC(K[i], ctr); for j in 0..i-1: dk = HMAC(key = HMAC(K[j+1], ctr), msg = dk);
// c_i = HMAC(dk, DATA).
func signatureComponents(data []byte, keys []SignatureKey, ctr CounterData) [][]byte {
	comps := make([][]byte, len(keys))
	for i := range keys {
		dk := hmacSHA256(keys[i][:], ctr[:])
		for j := 0; j < i; j++ {
			inner := hmacSHA256(keys[j+1][:], ctr[:])
			dk = hmacSHA256(inner, dk)
		}
		comps[i] = hmacSHA256(dk, data)
	}
	return comps
}

// ComputeSignature computes a PowerAuth signature of DATA for the factors of t at counter ctr
// (PowerAuth 3.x, Computing and Validating Signatures, "Computing the signature"): base64 of the last
// 16 bytes of each component concatenated (FormatBase64), or each component's last 4 bytes big-endian
// & 0x7FFFFFFF mod 10^n, zero-padded to n digits and joined by "-" (decimal formats).
func ComputeSignature(data []byte, keys SignatureKeys, t SignatureType, ctr CounterData, f SignatureFormat) (string, error) {
	ks, err := keys.forType(t)
	if err != nil {
		return "", err
	}
	if !f.valid() {
		return "", fmt.Errorf("powerauth: invalid signature format %d", f)
	}
	comps := signatureComponents(data, ks, ctr)
	if f == FormatBase64 {
		out := make([]byte, 0, 16*len(comps))
		for _, c := range comps {
			out = append(out, c[len(c)-16:]...)
		}
		return base64.StdEncoding.EncodeToString(out), nil
	}
	mod := uint32(1)
	for range int(f) {
		mod *= 10
	}
	parts := make([]string, len(comps))
	for i, c := range comps {
		n := (binary.BigEndian.Uint32(c[len(c)-4:]) & 0x7FFFFFFF) % mod
		s := strconv.FormatUint(uint64(n), 10)
		parts[i] = strings.Repeat("0", int(f)-len(s)) + s
	}
	return strings.Join(parts, "-"), nil
}

// SignatureVerification is the input of VerifySignature.
type SignatureVerification struct {
	Data        []byte          // SignatureData(...) of the request
	Signature   string          // pa_signature as received
	Type        SignatureType   // pa_signature_type
	Format      SignatureFormat // OnlineSignatureFormat(version) or an offline decimal format
	Keys        SignatureKeys   // the activation's factor keys
	Counter     int64           // CTR stored for the activation
	CounterData CounterData     // CTR_DATA stored for the activation
	Lookahead   int             // window size; 0 means DefaultLookahead
}

// CounterMatch tells the caller how to advance the activation after a successful verification.
type CounterMatch struct {
	// Offset is how far ahead of the stored counter the signature matched (0 = exactly at CTR).
	Offset int
	// NextCounter is the CTR to store: CTR + Offset + 1.
	NextCounter int64
	// NextCounterData is the CTR_DATA to store: next(matched CTR_DATA).
	NextCounterData CounterData
}

// VerifySignature implements the server-side check (PowerAuth 3.x, Computing and Validating Signatures,
// "Validating the signature"): it tries the counters in [CTR, CTR+lookahead) and returns the first match.
// Signatures are compared with crypto/subtle. On ErrSignatureMismatch nothing may be advanced: failures
// never move the counter (notes, Counter). When a multi-factor signature fails but its possession
// component (the first, keyed with KEY_SIGNATURE_POSSESSION alone) matches at some counter in the window,
// the error is ErrFactorMismatch: possession is proven, the knowledge or biometry factor is wrong.
// Whether a failure counts is the caller's decision (t.CountsFailedAttempts(), and only after possession).
func VerifySignature(v SignatureVerification) (CounterMatch, error) {
	if v.Counter < 0 {
		return CounterMatch{}, fmt.Errorf("powerauth: negative counter")
	}
	window := v.Lookahead
	if window <= 0 {
		window = DefaultLookahead
	}
	if _, err := v.Keys.forType(v.Type); err != nil {
		return CounterMatch{}, err
	}
	if !v.Format.valid() {
		return CounterMatch{}, fmt.Errorf("powerauth: invalid signature format %d", v.Format)
	}
	got := []byte(v.Signature)
	gotFirst, gotSplit := firstComponent(v.Signature, v.Format, v.Type.Factors())
	possession := false
	ctr := v.CounterData
	for off := range window {
		want, err := ComputeSignature(v.Data, v.Keys, v.Type, ctr, v.Format)
		if err != nil {
			return CounterMatch{}, err
		}
		if subtle.ConstantTimeCompare([]byte(want), got) == 1 {
			return CounterMatch{Offset: off, NextCounter: v.Counter + int64(off) + 1, NextCounterData: ctr.Next()}, nil
		}
		if wantFirst, ok := firstComponent(want, v.Format, v.Type.Factors()); ok && gotSplit && v.Type.Factors() > 1 && v.Type&SignaturePossession != 0 &&
			subtle.ConstantTimeCompare(wantFirst, gotFirst) == 1 {
			possession = true
		}
		ctr = ctr.Next()
	}
	if possession {
		return CounterMatch{}, ErrFactorMismatch
	}
	return CounterMatch{}, ErrSignatureMismatch
}

// firstComponent returns the possession component of a rendered signature of n factors: the first 16
// bytes of the base64 form, or the first decimal group (PowerAuth 3.x, Computing and Validating
// Signatures: one component per factor, in the order possession, knowledge, biometry). ok is false when
// sig does not have the shape of n components.
func firstComponent(sig string, f SignatureFormat, n int) ([]byte, bool) {
	if f == FormatBase64 {
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || len(raw) != 16*n {
			return nil, false
		}
		return raw[:16], true
	}
	parts := strings.Split(sig, "-")
	if len(parts) != n {
		return nil, false
	}
	return []byte(parts[0]), true
}
