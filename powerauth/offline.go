package powerauth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// OfflineKeyType is the {SIGNING_KEY_TYPE} character of an offline QR payload
// (PowerAuth 3.x, Off-line Signature QR Code, "Signature").
type OfflineKeyType byte

// Signing key types.
const (
	OfflineKeyMaster OfflineKeyType = '0' // KEY_SERVER_MASTER_PRIVATE (non-personalised)
	OfflineKeyServer OfflineKeyType = '1' // KEY_SERVER_PRIVATE of the activation (personalised)
)

// Offline signature constants (PowerAuth 3.x, Offline Signatures, "Computing and verifying").
const (
	OfflineMethod    = "POST"
	OfflineURIID     = "/operation/authorize/offline"
	offlineAppSecret = ApplicationSecret("offline")
	// OfflineFlagBiometry in {FLAGS} allows possession_biometry.
	OfflineFlagBiometry = 'B'
)

// OfflinePayload is the content of an offline QR code:
// {operationId}\n{title}\n{message}\n{operationData}\n{flags}\n{nonceB64}\n{keyType}{ecdsaB64}
// (PowerAuth 3.x, Off-line Signature QR Code, "Operation Attributes"). Lines added by a newer format
// between {flags} and {nonceB64} are kept in Extra, as the forward-compatibility rules require.
type OfflinePayload struct {
	OperationID   string
	Title         string // unescaped
	Message       string // unescaped
	OperationData string // as encoded, see ParseOperationData
	Flags         string
	Extra         []string
	Nonce         []byte // 16 bytes
	KeyType       OfflineKeyType
	Signature     []byte // DER ECDSA-SHA256 over everything up to and including KeyType
}

// BiometryAllowed reports whether {FLAGS} contains 'B'.
func (p OfflinePayload) BiometryAllowed() bool {
	return strings.IndexByte(p.Flags, OfflineFlagBiometry) >= 0
}

// escapeOfflineText applies the title/message escapes \n and \\; other characters below 0x20 are refused.
func escapeOfflineText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidOfflinePayload)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20:
			return "", fmt.Errorf("%w: control character 0x%02x", ErrInvalidOfflinePayload, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func unescapeOfflineText(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%w: trailing backslash", ErrInvalidOfflinePayload)
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf("%w: unknown escape \\%c", ErrInvalidOfflinePayload, s[i])
		}
	}
	return b.String(), nil
}

// plainLine checks an attribute that is written without escapes: UTF-8, no control characters.
func plainLine(name, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalidOfflinePayload, name)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 {
			return fmt.Errorf("%w: control character in %s", ErrInvalidOfflinePayload, name)
		}
	}
	return nil
}

// signedPart renders every attribute up to and including the key type character, the bytes the ECDSA
// signature covers (PowerAuth 3.x, Off-line Signature QR Code, "Signature").
func (p OfflinePayload) signedPart() (string, error) {
	if p.OperationID == "" {
		return "", fmt.Errorf("%w: missing operation id", ErrInvalidOfflinePayload)
	}
	if p.KeyType != OfflineKeyMaster && p.KeyType != OfflineKeyServer {
		return "", fmt.Errorf("%w: key type %q", ErrInvalidOfflinePayload, byte(p.KeyType))
	}
	if len(p.Nonce) != 16 {
		return "", fmt.Errorf("%w: nonce must be 16 bytes", ErrInvalidOfflinePayload)
	}
	title, err := escapeOfflineText(p.Title)
	if err != nil {
		return "", err
	}
	msg, err := escapeOfflineText(p.Message)
	if err != nil {
		return "", err
	}
	lines := []string{p.OperationID, title, msg, p.OperationData, p.Flags}
	for i, l := range []string{p.OperationID, p.OperationData, p.Flags} {
		if err := plainLine([]string{"operation id", "operation data", "flags"}[i], l); err != nil {
			return "", err
		}
	}
	if _, err := ParseOperationData(p.OperationData); err != nil {
		return "", err
	}
	for _, e := range p.Extra {
		if err := plainLine("extra attribute", e); err != nil {
			return "", err
		}
	}
	lines = append(lines, p.Extra...)
	lines = append(lines, base64.StdEncoding.EncodeToString(p.Nonce))
	return strings.Join(lines, "\n") + "\n" + string(p.KeyType), nil
}

// BuildOfflinePayload (PowerAuth 3.x, Off-line Signature QR Code, "Signature") signs the payload with signer (the master key for OfflineKeyMaster, the activation's
// server key for OfflineKeyServer) and returns the QR text; p.Signature is ignored.
func BuildOfflinePayload(p OfflinePayload, signer *PrivateKey) (string, error) {
	signed, err := p.signedPart()
	if err != nil {
		return "", err
	}
	sig, err := signer.SignECDSA([]byte(signed))
	if err != nil {
		return "", err
	}
	return signed + base64.StdEncoding.EncodeToString(sig), nil
}

// ParseOfflinePayload parses untrusted QR text (PowerAuth 3.x, Off-line Signature QR Code, "Operation
// Attributes" and "Forward Compatibility") without verifying the signature; use VerifyOfflinePayload.
// It needs at least seven lines; the last two are the nonce and key type + signature.
func ParseOfflinePayload(s string) (OfflinePayload, error) {
	var p OfflinePayload
	if len(s) > 8192 || !utf8.ValidString(s) {
		return p, fmt.Errorf("%w: too long or not UTF-8", ErrInvalidOfflinePayload)
	}
	lines := strings.Split(s, "\n")
	if len(lines) < 7 {
		return p, fmt.Errorf("%w: %d lines, want at least 7", ErrInvalidOfflinePayload, len(lines))
	}
	n := len(lines)
	var err error
	p.OperationID = lines[0]
	if p.Title, err = unescapeOfflineText(lines[1]); err != nil {
		return p, err
	}
	if p.Message, err = unescapeOfflineText(lines[2]); err != nil {
		return p, err
	}
	p.OperationData, p.Flags = lines[3], lines[4]
	if n > 7 {
		p.Extra = append([]string(nil), lines[5:n-2]...)
	}
	var ok bool
	if p.Nonce, ok = base64OfLength(lines[n-2], 16); !ok {
		return p, fmt.Errorf("%w: nonce is not base64 of 16 bytes", ErrInvalidOfflinePayload)
	}
	last := lines[n-1]
	if len(last) < 2 {
		return p, fmt.Errorf("%w: missing signature", ErrInvalidOfflinePayload)
	}
	p.KeyType = OfflineKeyType(last[0])
	if p.Signature, err = base64.StdEncoding.DecodeString(last[1:]); err != nil || len(p.Signature) > 80 {
		return p, fmt.Errorf("%w: signature is not base64 DER", ErrInvalidOfflinePayload)
	}
	// The signed part must re-render to the received bytes: this validates every attribute and rejects
	// non-canonical spellings that would make the displayed text differ from the signed text.
	signed, err := p.signedPart()
	if err != nil {
		return p, err
	}
	if signed != s[:len(s)-len(last)+1] {
		return p, fmt.Errorf("%w: non-canonical encoding", ErrInvalidOfflinePayload)
	}
	return p, nil
}

// VerifyOfflinePayload (PowerAuth 3.x, Off-line Signature QR Code, "Signature") parses the QR text and
// verifies its ECDSA signature with the key its key type names:
// masterPub for '0', serverPub (the activation's KEY_SERVER_PUBLIC) for '1'. Either may be nil when the
// caller does not accept that key type.
func VerifyOfflinePayload(s string, masterPub, serverPub *PublicKey) (OfflinePayload, error) {
	p, err := ParseOfflinePayload(s)
	if err != nil {
		return p, err
	}
	pub := masterPub
	if p.KeyType == OfflineKeyServer {
		pub = serverPub
	}
	if pub == nil {
		return p, fmt.Errorf("%w: no key for key type %q", ErrInvalidSignature, byte(p.KeyType))
	}
	signedLen := strings.LastIndexByte(s, '\n') + 2
	if err := pub.VerifyECDSA([]byte(s[:signedLen]), p.Signature); err != nil {
		return p, err
	}
	return p, nil
}

// OfflineSignatureData is the DATA an offline code signs: POST & B64("/operation/authorize/offline") &
// B64(nonce) & B64("{operationId}&{operationData}") & "offline" (PowerAuth 3.x, Offline Signatures).
func OfflineSignatureData(operationID, operationData string, nonce []byte) []byte {
	return SignatureData(OfflineMethod, OfflineURIID, nonce, []byte(operationID+"&"+operationData), offlineAppSecret)
}

// ComputeOfflineCode (PowerAuth 3.x, Offline Signatures, "Computing the signature") computes the code the
// user copies from the device: a decimal signature with
// componentLength digits per factor (4–8; 0 means 8).
func ComputeOfflineCode(p OfflinePayload, keys SignatureKeys, t SignatureType, ctr CounterData, componentLength int) (string, error) {
	f, err := offlineFormat(componentLength)
	if err != nil {
		return "", err
	}
	return ComputeSignature(OfflineSignatureData(p.OperationID, p.OperationData, p.Nonce), keys, t, ctr, f)
}

func offlineFormat(n int) (SignatureFormat, error) {
	if n == 0 {
		return FormatDecimal, nil
	}
	return DecimalFormat(n)
}

// OfflineVerification is the input of VerifyOfflineCode.
type OfflineVerification struct {
	OperationID     string
	OperationData   string
	Nonce           []byte // the QR nonce
	Code            string // as typed, "12345678-12345678"
	BiometryAllowed bool   // the QR carried the 'B' flag
	ComponentLength int    // 4–8; 0 means 8
	Keys            SignatureKeys
	Counter         int64
	CounterData     CounterData
	Lookahead       int // 0 means DefaultLookahead
}

// VerifyOfflineCode checks an offline code as possession_knowledge and, when biometry is allowed, as
// possession_biometry, each over the counter look-ahead window (PowerAuth 3.x, Offline Signatures,
// "verifyOfflineSignature"). It returns the type that matched and how to advance the counter; on
// ErrSignatureMismatch the counter stays; ErrFactorMismatch says the possession component matched (a
// wrong PIN or biometry, which counts); without it the code proves nothing about the user.
func VerifyOfflineCode(v OfflineVerification) (SignatureType, CounterMatch, error) {
	f, err := offlineFormat(v.ComponentLength)
	if err != nil {
		return 0, CounterMatch{}, err
	}
	data := OfflineSignatureData(v.OperationID, v.OperationData, v.Nonce)
	types := []SignatureType{SignaturePossessionKnowledge}
	if v.BiometryAllowed {
		types = append(types, SignaturePossessionBiometry)
	}
	mismatch := ErrSignatureMismatch
	for _, t := range types {
		m, err := VerifySignature(SignatureVerification{Data: data, Signature: v.Code, Type: t, Format: f,
			Keys: v.Keys, Counter: v.Counter, CounterData: v.CounterData, Lookahead: v.Lookahead})
		if err == nil {
			return t, m, nil
		}
		if !errors.Is(err, ErrSignatureMismatch) {
			return 0, CounterMatch{}, err
		}
		if errors.Is(err, ErrFactorMismatch) {
			mismatch = ErrFactorMismatch // the possession component matched: a wrong PIN or biometry
		}
	}
	return 0, CounterMatch{}, mismatch
}
