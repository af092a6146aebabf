package powerauth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// EciesScope says which keys protect an ECIES exchange (PowerAuth 3.x, End-To-End Encryption, "scope").
type EciesScope uint8

const (
	// ScopeApplication encrypts to the application's master key (3.2) or an application temporary key
	// (3.3); SHARED_INFO_2 base is SHA-256(APPLICATION_SECRET).
	ScopeApplication EciesScope = iota + 1
	// ScopeActivation encrypts to the activation's server key (3.2) or an activation temporary key
	// (3.3); SHARED_INFO_2 base is HMAC-SHA256(KEY_TRANSPORT, APPLICATION_SECRET).
	ScopeActivation
)

// SharedInfo1 is the sh1 constant that binds an ECIES key to its endpoint
// (PowerAuth 3.x, End-To-End Encryption, "Pre-shared constants").
type SharedInfo1 string

// Known sh1 values.
const (
	SharedInfo1ActivationLayer1   SharedInfo1 = "/pa/generic/application" // activation create, level 1
	SharedInfo1ActivationLayer2   SharedInfo1 = "/pa/activation"          // activation create, level 2
	SharedInfo1VaultUnlock        SharedInfo1 = "/pa/vault/unlock"
	SharedInfo1CreateToken        SharedInfo1 = "/pa/token/create"
	SharedInfo1Upgrade            SharedInfo1 = "/pa/upgrade"
	SharedInfo1ConfirmRecovery    SharedInfo1 = "/pa/recovery/confirm"
	SharedInfo1ApplicationGeneric SharedInfo1 = "/pa/generic/application"
	SharedInfo1ActivationGeneric  SharedInfo1 = "/pa/generic/activation"
)

// DefaultEciesTimestampWindow is how far a request timestamp may be from the server clock.
const DefaultEciesTimestampWindow = 60 * time.Second

const (
	eciesNonceSize = 16
	eciesMacSize   = 32
	maxEnvelopeLen = 4 << 20
)

// EnvelopeKey is the 48-byte ECIES key K = K_ENC ‖ K_MAC ‖ K_IV.
type EnvelopeKey [48]byte

// LogValue implements slog.LogValuer.
func (EnvelopeKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// Format implements fmt.Formatter and never prints the key.
func (EnvelopeKey) Format(f fmt.State, _ rune) { secretFormat(f) }

func (k *EnvelopeKey) encKey() []byte { return k[0:16] }
func (k *EnvelopeKey) macKey() []byte { return k[16:32] }
func (k *EnvelopeKey) ivFor(nonce []byte) [16]byte {
	return KDFInternal(SecretKey(k[32:48]), nonce)
}

// x963KDF is ANSI X9.63 KDF with SHA-256: K = SHA256(Z ‖ 1 ‖ info) ‖ SHA256(Z ‖ 2 ‖ info) ‖ …, with a
// 32-bit big-endian counter (PowerAuth 3.x, End-To-End Encryption, KdfX9_63).
func x963KDF(z, info []byte, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	var ctr [4]byte
	for i := uint32(1); len(out) < n; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		h := sha256.New()
		h.Write(z)
		h.Write(ctr[:])
		h.Write(info)
		out = h.Sum(out)
	}
	return out[:n]
}

// DeriveEnvelopeKey computes K = X9.63-KDF-SHA256(Z, SHARED_INFO_1 ‖ ephPubBytes, 48) where Z is the ECDH X
// coordinate (32 bytes, not folded) and ephPubBytes are the ephemeral key bytes exactly as sent,
// compressed or not (notes, Wire details item 4).
func DeriveEnvelopeKey(priv *PrivateKey, ephPubBytes, sharedInfo1 []byte) (EnvelopeKey, error) {
	eph, err := ParsePublicKey(ephPubBytes)
	if err != nil {
		return EnvelopeKey{}, fmt.Errorf("%w: ephemeral key: %v", ErrInvalidEnvelope, err)
	}
	z, err := priv.sharedX(eph)
	if err != nil {
		return EnvelopeKey{}, err
	}
	info := make([]byte, 0, len(sharedInfo1)+len(ephPubBytes))
	info = append(append(info, sharedInfo1...), ephPubBytes...)
	return EnvelopeKey(x963KDF(z, info, 48)), nil
}

// concatWithSizes joins items each prefixed with its uint32 big-endian length; nil and empty both encode
// as 00000000 (PowerAuth 3.x, ByteUtils.concatWithSizes).
func concatWithSizes(items ...[]byte) []byte {
	var out []byte
	var l [4]byte
	for _, it := range items {
		binary.BigEndian.PutUint32(l[:], uint32(len(it)))
		out = append(out, l[:]...)
		out = append(out, it...)
	}
	return out
}

// EciesConfig carries the parameters both sides must agree on for one ECIES exchange.
type EciesConfig struct {
	Version           Version // 3.2 or 3.3
	Scope             EciesScope
	SharedInfo1       SharedInfo1
	ApplicationKey    string            // base64 text, as in the headers
	ApplicationSecret ApplicationSecret // base64 text
	ActivationID      string            // activation scope only
	TransportKey      TransportKey      // activation scope only
	// TemporaryKeyID is required on the client for 3.3. The server reads it from the envelope; when set
	// here too, the two must match.
	TemporaryKeyID string
}

// Validate reports the first missing or inconsistent parameter.
func (c EciesConfig) Validate() error {
	switch {
	case c.Version != Version32 && c.Version != Version33:
		return fmt.Errorf("%w: ECIES needs 3.2 or 3.3, got %v", ErrUnsupportedVersion, c.Version)
	case c.Scope != ScopeApplication && c.Scope != ScopeActivation:
		return fmt.Errorf("%w: unknown scope", ErrInvalidEnvelope)
	case c.SharedInfo1 == "":
		return fmt.Errorf("%w: missing SHARED_INFO_1", ErrInvalidEnvelope)
	case c.ApplicationKey == "":
		return fmt.Errorf("%w: missing application key", ErrInvalidEnvelope)
	case c.ApplicationSecret == "":
		return fmt.Errorf("%w: missing application secret", ErrInvalidEnvelope)
	}
	if c.Scope == ScopeActivation {
		if c.ActivationID == "" {
			return fmt.Errorf("%w: activation scope without activation id", ErrInvalidEnvelope)
		}
		if c.TransportKey == (TransportKey{}) {
			return fmt.Errorf("%w: activation scope without transport key", ErrInvalidEnvelope)
		}
	}
	return nil
}

// sharedInfo1Bytes is version ‖ sh1 for 3.2+ (notes docs-versus-code item 5), e.g. "3.3/pa/activation".
func (c EciesConfig) sharedInfo1Bytes() []byte {
	return []byte(c.Version.String() + string(c.SharedInfo1))
}

// SharedInfo2Base returns SHA-256(appSecret text) for application scope and
// HMAC-SHA256(KEY_TRANSPORT, appSecret text) for activation scope
// (PowerAuth 3.x, End-To-End Encryption, EciesUtils.deriveSharedInfo2Base).
func (c EciesConfig) SharedInfo2Base() []byte {
	if c.Scope == ScopeActivation {
		return hmacSHA256(c.TransportKey[:], []byte(c.ApplicationSecret))
	}
	h := sha256.Sum256([]byte(c.ApplicationSecret))
	return h[:]
}

// associatedData is concatWithSizes(version, appKey[, activationId][, temporaryKeyId for 3.3])
// (PowerAuth 3.2+, EciesUtils.deriveAssociatedData).
func (c EciesConfig) associatedData(temporaryKeyID string) []byte {
	items := [][]byte{[]byte(c.Version.String()), []byte(c.ApplicationKey)}
	if c.Scope == ScopeActivation {
		items = append(items, []byte(c.ActivationID))
	}
	if c.Version == Version33 {
		items = append(items, []byte(temporaryKeyID))
	}
	return concatWithSizes(items...)
}

// sharedInfo2 is concatWithSizes(base, nonce, int64_BE(timestamp), ephPub or nothing, AD)
// (PowerAuth 3.2+, EciesUtils.deriveSharedInfo2). Responses pass a nil ephPub.
func sharedInfo2(base, nonce []byte, timestamp int64, ephPub, ad []byte) []byte {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(timestamp))
	return concatWithSizes(base, nonce, ts[:], ephPub, ad)
}

// Envelope is the JSON body of an encrypted request or response. Requests carry every field
// (temporaryKeyId from 3.3 on); responses carry encryptedData, mac, nonce and timestamp.
type Envelope struct {
	TemporaryKeyID     string `json:"temporaryKeyId,omitempty"`
	EphemeralPublicKey string `json:"ephemeralPublicKey,omitempty"`
	EncryptedData      string `json:"encryptedData"`
	Mac                string `json:"mac"`
	Nonce              string `json:"nonce"`
	Timestamp          int64  `json:"timestamp"`
}

// decodedEnvelope holds the binary fields of an envelope after validation.
type decodedEnvelope struct {
	eph, data, mac, nonce []byte
}

// ParseEnvelope decodes an untrusted request or response body (PowerAuth 3.x, End-To-End Encryption,
// "Encrypted request/response" JSON) into an Envelope and checks its shape: exactly one JSON object,
// base64 fields of the right sizes (nonce 16, mac 32, ciphertext a non-empty multiple of 16, ephemeral key
// 33 or 65 bytes when present) and a positive timestamp. Unknown fields are ignored.
func ParseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > maxEnvelopeLen {
		return nil, fmt.Errorf("%w: body too large", ErrInvalidEnvelope)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var e Envelope
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEnvelope, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidEnvelope)
	}
	if _, err := e.decode(); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e *Envelope) decode() (decodedEnvelope, error) {
	var d decodedEnvelope
	var err error
	b64 := base64.StdEncoding
	if e.EphemeralPublicKey != "" {
		if d.eph, err = b64.DecodeString(e.EphemeralPublicKey); err != nil || (len(d.eph) != 33 && len(d.eph) != 65) {
			return d, fmt.Errorf("%w: ephemeralPublicKey", ErrInvalidEnvelope)
		}
	}
	if d.data, err = b64.DecodeString(e.EncryptedData); err != nil || len(d.data) == 0 || len(d.data)%aes.BlockSize != 0 {
		return d, fmt.Errorf("%w: encryptedData", ErrInvalidEnvelope)
	}
	if d.mac, err = b64.DecodeString(e.Mac); err != nil || len(d.mac) != eciesMacSize {
		return d, fmt.Errorf("%w: mac", ErrInvalidEnvelope)
	}
	if d.nonce, err = b64.DecodeString(e.Nonce); err != nil || len(d.nonce) != eciesNonceSize {
		return d, fmt.Errorf("%w: nonce", ErrInvalidEnvelope)
	}
	if e.Timestamp <= 0 {
		return d, fmt.Errorf("%w: timestamp", ErrInvalidEnvelope)
	}
	return d, nil
}

// CheckTimestamp rejects an envelope whose timestamp (Unix milliseconds) is further than window from now
// (PowerAuth 3.2+, End-To-End Encryption, "timestamp"; 60 s by default).
func (e *Envelope) CheckTimestamp(now time.Time, window time.Duration) error {
	if window <= 0 {
		window = DefaultEciesTimestampWindow
	}
	d := now.Sub(time.UnixMilli(e.Timestamp))
	if d > window || d < -window {
		return fmt.Errorf("%w: timestamp outside the %v window", ErrInvalidEnvelope, window)
	}
	return nil
}

// ReplayKey identifies a request for replay protection: the server must refuse a second request with the
// same ephemeral key and nonce within the timestamp window (notes, ECIES).
func (e *Envelope) ReplayKey() string { return e.EphemeralPublicKey + "|" + e.Nonce }

func pkcs7Pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	for range n {
		out = append(out, byte(n))
	}
	return out
}

func pkcs7Unpad(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, ErrDecryption
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, ErrDecryption
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, ErrDecryption
		}
	}
	return b[:len(b)-n], nil
}

// aesCBCEncrypt is AES-128-CBC with PKCS#7 padding.
func aesCBCEncrypt(key, iv, plain []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // unreachable: keys are 16 bytes
	}
	p := pkcs7Pad(plain)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(p, p)
	return p
}

// aesCBCDecrypt is AES-128-CBC with PKCS#7 padding.
func aesCBCDecrypt(key, iv, ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, ErrDecryption
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	p := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(p, ct)
	return pkcs7Unpad(p)
}

// eciesSeal encrypts and MACs: IV = KDF_INTERNAL(K_IV, nonce), AES-128-CBC/PKCS7 under K_ENC,
// MAC = HMAC-SHA256(K_MAC, ciphertext ‖ SHARED_INFO_2) (PowerAuth 3.x, End-To-End Encryption,
// EciesEncryptor).
func eciesSeal(k *EnvelopeKey, plain, nonce, si2 []byte) (ct, mac []byte) {
	iv := k.ivFor(nonce)
	ct = aesCBCEncrypt(k.encKey(), iv[:], plain)
	m := hmac.New(sha256.New, k.macKey())
	m.Write(ct)
	m.Write(si2)
	return ct, m.Sum(nil)
}

// eciesOpen checks the MAC in constant time before decrypting (PowerAuth 3.x, EciesDecryptor).
func eciesOpen(k *EnvelopeKey, ct, mac, nonce, si2 []byte) ([]byte, error) {
	m := hmac.New(sha256.New, k.macKey())
	m.Write(ct)
	m.Write(si2)
	if subtle.ConstantTimeCompare(m.Sum(nil), mac) != 1 {
		return nil, fmt.Errorf("%w: MAC mismatch", ErrDecryption)
	}
	iv := k.ivFor(nonce)
	p, err := aesCBCDecrypt(k.encKey(), iv[:], ct)
	if err != nil {
		return nil, fmt.Errorf("%w: bad padding", ErrDecryption)
	}
	return p, nil
}

// ServerSession is what a server keeps between decrypting a request and encrypting its response.
type ServerSession struct {
	key          EnvelopeKey
	base, ad     []byte
	requestNonce []byte
}

// OpenRequest is the server side of a request (PowerAuth 3.x, End-To-End Encryption, ServerEciesEncryptor):
// it derives K from priv — the master key (3.2 application scope), the activation's server key (3.2
// activation scope) or the temporary key named by env.TemporaryKeyID (3.3) — and the ephemeral key bytes as
// received, checks the MAC and decrypts. The caller must also run env.CheckTimestamp and reject a reused
// env.ReplayKey().
func (c EciesConfig) OpenRequest(priv *PrivateKey, env *Envelope) ([]byte, *ServerSession, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	d, err := c.checkRequest(env)
	if err != nil {
		return nil, nil, err
	}
	key, err := DeriveEnvelopeKey(priv, d.eph, c.sharedInfo1Bytes())
	if err != nil {
		return nil, nil, err
	}
	return c.openRequest(key, env, d)
}

// OpenRequestWithEnvelopeKey decrypts a request with an already derived K (a deployment where one service
// derives K and another decrypts, and the published test vectors).
func (c EciesConfig) OpenRequestWithEnvelopeKey(key EnvelopeKey, env *Envelope) ([]byte, *ServerSession, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	d, err := c.checkRequest(env)
	if err != nil {
		return nil, nil, err
	}
	return c.openRequest(key, env, d)
}

func (c EciesConfig) checkRequest(env *Envelope) (decodedEnvelope, error) {
	if env == nil {
		return decodedEnvelope{}, fmt.Errorf("%w: nil envelope", ErrInvalidEnvelope)
	}
	d, err := env.decode()
	if err != nil {
		return d, err
	}
	if d.eph == nil {
		return d, fmt.Errorf("%w: request without ephemeralPublicKey", ErrInvalidEnvelope)
	}
	switch c.Version {
	case Version33:
		if env.TemporaryKeyID == "" {
			return d, fmt.Errorf("%w: 3.3 request without temporaryKeyId", ErrInvalidEnvelope)
		}
		if c.TemporaryKeyID != "" && c.TemporaryKeyID != env.TemporaryKeyID {
			return d, fmt.Errorf("%w: temporaryKeyId mismatch", ErrInvalidEnvelope)
		}
	default:
		if env.TemporaryKeyID != "" {
			return d, fmt.Errorf("%w: temporaryKeyId is not allowed before 3.3", ErrInvalidEnvelope)
		}
	}
	return d, nil
}

func (c EciesConfig) openRequest(key EnvelopeKey, env *Envelope, d decodedEnvelope) ([]byte, *ServerSession, error) {
	base := c.SharedInfo2Base()
	ad := c.associatedData(env.TemporaryKeyID)
	si2 := sharedInfo2(base, d.nonce, env.Timestamp, d.eph, ad)
	plain, err := eciesOpen(&key, d.data, d.mac, d.nonce, si2)
	if err != nil {
		return nil, nil, err
	}
	return plain, &ServerSession{key: key, base: base, ad: ad, requestNonce: d.nonce}, nil
}

// LogValue implements slog.LogValuer.
func (*ServerSession) LogValue() slog.Value { return slog.StringValue(redacted) }

// SealResponse encrypts the response with the request's K, a fresh nonce (different from the request's) and
// the timestamp now; SHARED_INFO_2 has an empty slot where a request carries the ephemeral key
// (notes, Wire details item 5).
func (s *ServerSession) SealResponse(plain []byte, now time.Time) (*Envelope, error) {
	nonce := make([]byte, eciesNonceSize)
	for {
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		if !bytes.Equal(nonce, s.requestNonce) {
			break
		}
	}
	return s.sealResponse(plain, nonce, now.UnixMilli()), nil
}

func (s *ServerSession) sealResponse(plain, nonce []byte, ts int64) *Envelope {
	si2 := sharedInfo2(s.base, nonce, ts, nil, s.ad)
	ct, mac := eciesSeal(&s.key, plain, nonce, si2)
	enc := base64.StdEncoding
	return &Envelope{
		EncryptedData: enc.EncodeToString(ct),
		Mac:           enc.EncodeToString(mac),
		Nonce:         enc.EncodeToString(nonce),
		Timestamp:     ts,
	}
}

// ClientSession is what a client keeps between encrypting a request and decrypting its response.
type ClientSession struct {
	key      EnvelopeKey
	base, ad []byte
}

// LogValue implements slog.LogValuer.
func (*ClientSession) LogValue() slog.Value { return slog.StringValue(redacted) }

// SealRequest is the client side of a request (PowerAuth 3.x, End-To-End Encryption, ClientEciesEncryptor):
// a fresh ephemeral key pair, sent compressed like the mobile SDKs, a random nonce and the timestamp now.
func (c EciesConfig) SealRequest(serverPub *PublicKey, plain []byte, now time.Time) (*Envelope, *ClientSession, error) {
	eph, err := GeneratePrivateKey()
	if err != nil {
		return nil, nil, err
	}
	nonce := make([]byte, eciesNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return c.sealRequest(serverPub, plain, eph, true, nonce, now.UnixMilli())
}

func (c EciesConfig) sealRequest(serverPub *PublicKey, plain []byte, eph *PrivateKey, compressed bool, nonce []byte, ts int64) (*Envelope, *ClientSession, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if c.Version == Version33 && c.TemporaryKeyID == "" {
		return nil, nil, fmt.Errorf("%w: 3.3 needs a temporary key id", ErrInvalidEnvelope)
	}
	ephBytes := eph.PublicKey().Bytes()
	if compressed {
		ephBytes = eph.PublicKey().CompressedBytes()
	}
	z, err := eph.sharedX(serverPub)
	if err != nil {
		return nil, nil, err
	}
	info := append(c.sharedInfo1Bytes(), ephBytes...)
	key := EnvelopeKey(x963KDF(z, info, 48))
	tempID := ""
	if c.Version == Version33 {
		tempID = c.TemporaryKeyID
	}
	base := c.SharedInfo2Base()
	ad := c.associatedData(tempID)
	si2 := sharedInfo2(base, nonce, ts, ephBytes, ad)
	ct, mac := eciesSeal(&key, plain, nonce, si2)
	enc := base64.StdEncoding
	env := &Envelope{
		TemporaryKeyID:     tempID,
		EphemeralPublicKey: enc.EncodeToString(ephBytes),
		EncryptedData:      enc.EncodeToString(ct),
		Mac:                enc.EncodeToString(mac),
		Nonce:              enc.EncodeToString(nonce),
		Timestamp:          ts,
	}
	return env, &ClientSession{key: key, base: base, ad: ad}, nil
}

// OpenResponse decrypts the server's response with the request's K (PowerAuth 3.x, ClientEciesEncryptor).
func (s *ClientSession) OpenResponse(env *Envelope) ([]byte, error) {
	if env == nil {
		return nil, fmt.Errorf("%w: nil envelope", ErrInvalidEnvelope)
	}
	d, err := env.decode()
	if err != nil {
		return nil, err
	}
	if d.eph != nil || env.TemporaryKeyID != "" {
		return nil, fmt.Errorf("%w: response with request-only fields", ErrInvalidEnvelope)
	}
	si2 := sharedInfo2(s.base, d.nonce, env.Timestamp, nil, s.ad)
	return eciesOpen(&s.key, d.data, d.mac, d.nonce, si2)
}

// EncryptVaultKey wraps KEY_ENCRYPTION_VAULT for the vault unlock response:
// AES-128-CBC/PKCS7(data = KEY_ENCRYPTION_VAULT, IV = 16 zero bytes, key = KEY_TRANSPORT), 32 bytes
// (PowerAuth 3.x, Vault Unlocking; PowerAuthServerVault.encryptVaultEncryptionKey). The result travels
// inside activation-scope ECIES with sh1 /pa/vault/unlock.
func EncryptVaultKey(vault VaultKey, transport TransportKey) []byte {
	var iv [16]byte
	return aesCBCEncrypt(transport[:], iv[:], vault[:])
}

// DecryptVaultKey is the device side of EncryptVaultKey (PowerAuth 3.x, Vault Unlocking,
// PowerAuthClientVault.decryptVaultEncryptionKey).
func DecryptVaultKey(encrypted []byte, transport TransportKey) (VaultKey, error) {
	var iv [16]byte
	p, err := aesCBCDecrypt(transport[:], iv[:], encrypted)
	if err != nil {
		return VaultKey{}, err
	}
	k, err := key16(p)
	return VaultKey(k), err
}
