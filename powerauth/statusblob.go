package powerauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
)

// ActivationStatus is the status byte of the status blob (PowerAuth 3.x, Activation Status, "${STATUS}").
type ActivationStatus uint8

// Activation status bytes.
const (
	StatusCreated       ActivationStatus = 1
	StatusPendingCommit ActivationStatus = 2
	StatusActive        ActivationStatus = 3
	StatusBlocked       ActivationStatus = 4
	StatusRemoved       ActivationStatus = 5
)

const (
	statusBlobSize = 32
	// StatusBlobMaxLookahead is the largest look-ahead the SDKs accept in a status blob.
	StatusBlobMaxLookahead = 64
)

// StatusBlob is the decrypted 32-byte activation status blob
// (PowerAuth 3.x, Activation Status, "Status Blob Format"):
// DE C0 DE D1 | status | currentVersion | upgradeVersion | 5 reserved | CTR & 0xFF | failCount |
// maxFailCount | lookahead | CTR_DATA_HASH(16).
type StatusBlob struct {
	Status            ActivationStatus
	CurrentVersion    uint8 // 3 for 3.x activations
	UpgradeVersion    uint8 // highest major version the server supports, 3
	CtrByte           uint8 // CTR & 0xFF
	FailedAttempts    uint8
	MaxFailedAttempts uint8
	CtrLookahead      uint8
	CtrDataHash       [16]byte // CounterData.Hash(KEY_TRANSPORT)
}

// NewStatusBlob fills the counter fields from the activation's CTR and CTR_DATA (PowerAuth 3.x, Activation
// Status: CTR_BYTE = CTR & 0xFF, CTR_DATA_HASH = KDF_INTERNAL(KDF(KEY_TRANSPORT, 4000), CTR_DATA)).
func NewStatusBlob(status ActivationStatus, ctr int64, ctrData CounterData, transport TransportKey,
	failed, maxFailed, lookahead uint8) StatusBlob {
	return StatusBlob{
		Status:            status,
		CurrentVersion:    3,
		UpgradeVersion:    3,
		CtrByte:           uint8(ctr & 0xFF),
		FailedAttempts:    failed,
		MaxFailedAttempts: maxFailed,
		CtrLookahead:      lookahead,
		CtrDataHash:       ctrData.Hash(transport),
	}
}

// StatusBlobIV derives STATUS_IV = KDF_INTERNAL(KDF(KEY_TRANSPORT, 3000), challenge ‖ nonce)
// (PowerAuth 3.x, Activation Status, "Status Blob Encryption").
func StatusBlobIV(transport TransportKey, challenge, nonce []byte) [16]byte {
	ivKey := KDF(SecretKey(transport), KDFIndexStatusIV)
	data := make([]byte, 0, len(challenge)+len(nonce))
	data = append(append(data, challenge...), nonce...)
	return KDFInternal(ivKey, data)
}

func checkChallengeNonce(challenge, nonce []byte) error {
	if len(challenge) != 16 || len(nonce) != 16 {
		return fmt.Errorf("%w: challenge and nonce must be 16 bytes", ErrInvalidStatusBlob)
	}
	return nil
}

// Marshal encodes the 32 plaintext bytes (PowerAuth 3.x, Activation Status, "Status Blob Format"); the 5
// reserved bytes are random, as in the reference server (PowerAuthServerActivation.generateStatusBlob).
func (b StatusBlob) Marshal() ([]byte, error) {
	out := make([]byte, statusBlobSize)
	out[0], out[1], out[2], out[3] = 0xDE, 0xC0, 0xDE, 0xD1 // magic; D1 = status blob format 1
	out[4], out[5], out[6] = byte(b.Status), b.CurrentVersion, b.UpgradeVersion
	if _, err := rand.Read(out[7:12]); err != nil {
		return nil, err
	}
	out[12], out[13], out[14], out[15] = b.CtrByte, b.FailedAttempts, b.MaxFailedAttempts, b.CtrLookahead
	copy(out[16:], b.CtrDataHash[:])
	return out, nil
}

// Encrypt is the server side: AES-128-CBC without padding under KEY_TRANSPORT with STATUS_IV, where
// challenge comes from the device request and nonce is 16 fresh server bytes (PowerAuth 3.x, Activation
// Status, "Status Blob Encryption").
func (b StatusBlob) Encrypt(transport TransportKey, challenge, nonce []byte) ([]byte, error) {
	if err := checkChallengeNonce(challenge, nonce); err != nil {
		return nil, err
	}
	plain, err := b.Marshal()
	if err != nil {
		return nil, err
	}
	iv := StatusBlobIV(transport, challenge, nonce)
	block, err := aes.NewCipher(transport[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(out, plain)
	return out, nil
}

// DecryptStatusBlob is the device side: it decrypts and applies the SDK checks (header DE C0 DE Dx with
// x ≥ 1, status 1–5, look-ahead 1–64; notes, Wire details item 9).
func DecryptStatusBlob(transport TransportKey, challenge, nonce, encrypted []byte) (StatusBlob, error) {
	if err := checkChallengeNonce(challenge, nonce); err != nil {
		return StatusBlob{}, err
	}
	if len(encrypted) != statusBlobSize {
		return StatusBlob{}, fmt.Errorf("%w: want %d bytes, got %d", ErrInvalidStatusBlob, statusBlobSize, len(encrypted))
	}
	iv := StatusBlobIV(transport, challenge, nonce)
	block, err := aes.NewCipher(transport[:])
	if err != nil {
		return StatusBlob{}, err
	}
	p := make([]byte, statusBlobSize)
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(p, encrypted)
	return UnmarshalStatusBlob(p)
}

// UnmarshalStatusBlob parses and checks 32 plaintext bytes (PowerAuth 3.x, Activation Status, "Status Blob
// Format", with the mobile SDK's acceptance checks).
func UnmarshalStatusBlob(p []byte) (StatusBlob, error) {
	if len(p) != statusBlobSize {
		return StatusBlob{}, fmt.Errorf("%w: want %d bytes", ErrInvalidStatusBlob, statusBlobSize)
	}
	if p[0] != 0xDE || p[1] != 0xC0 || p[2] != 0xDE || p[3]&0xF0 != 0xD0 || p[3]&0x0F < 1 {
		return StatusBlob{}, fmt.Errorf("%w: bad header", ErrInvalidStatusBlob)
	}
	b := StatusBlob{
		Status:            ActivationStatus(p[4]),
		CurrentVersion:    p[5],
		UpgradeVersion:    p[6],
		CtrByte:           p[12],
		FailedAttempts:    p[13],
		MaxFailedAttempts: p[14],
		CtrLookahead:      p[15],
	}
	copy(b.CtrDataHash[:], p[16:])
	if b.Status < StatusCreated || b.Status > StatusRemoved {
		return StatusBlob{}, fmt.Errorf("%w: status %d", ErrInvalidStatusBlob, b.Status)
	}
	if b.CtrLookahead < 1 || b.CtrLookahead > StatusBlobMaxLookahead {
		return StatusBlob{}, fmt.Errorf("%w: look-ahead %d", ErrInvalidStatusBlob, b.CtrLookahead)
	}
	return b, nil
}

// CounterDistance is the device-side counter synchronisation (PowerAuth 3.1+, Activation Status,
// "CTR_DATA_HASH"): it returns the smallest d in [0, maxDistance] such that
// Hash(next^d(local)) equals the blob's CTR_DATA_HASH, i.e. how many steps the local CTR_DATA is behind the
// server's. ok is false when no such d exists.
func (b StatusBlob) CounterDistance(local CounterData, transport TransportKey, maxDistance int) (d int, ok bool) {
	c := local
	for d = 0; d <= maxDistance; d++ {
		h := c.Hash(transport)
		if subtle.ConstantTimeCompare(h[:], b.CtrDataHash[:]) == 1 {
			return d, true
		}
		c = c.Next()
	}
	return 0, false
}
