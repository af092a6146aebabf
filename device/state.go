package device

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/signet-sca/signet/powerauth"
)

// AppConfig is what a mobile app is built with: the application key and secret and the master public key
// (base64). The bank gets it from POST /v1/applications as mobile_sdk_config, in the PowerAuth mobile SDK's
// binary format (powerauth.SDKConfig, docs/powerauth.md).
type AppConfig struct {
	ApplicationKey    string `json:"applicationKey"`
	ApplicationSecret string `json:"applicationSecret"`
	MasterPublicKey   string `json:"masterServerPublicKey"` // base64 SEC 1
}

// ParseAppConfig reads a mobile_sdk_config string: the SDK's binary configuration, or the base64 JSON form
// Signet answered before (an app configured then keeps working), and checks every part of it.
func ParseAppConfig(s string) (AppConfig, error) {
	if c, err := powerauth.ParseSDKConfig(s); err == nil {
		b64 := base64.StdEncoding.EncodeToString
		return AppConfig{ApplicationKey: b64(c.ApplicationKey), ApplicationSecret: b64(c.ApplicationSecret),
			MasterPublicKey: b64(c.MasterPublicKey)}, nil
	} else if raw, derr := base64.StdEncoding.DecodeString(s); derr != nil || len(raw) == 0 || raw[0] != '{' {
		return AppConfig{}, fmt.Errorf("device: %w", err)
	}
	var c AppConfig
	raw, _ := base64.StdEncoding.DecodeString(s)
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errors.New("device: the app configuration is not JSON")
	}
	if k, err := base64.StdEncoding.DecodeString(c.ApplicationKey); err != nil || len(k) != 16 {
		return c, errors.New("device: applicationKey must be base64 of 16 bytes")
	}
	if _, err := powerauth.ApplicationSecret(c.ApplicationSecret).Decoded(); err != nil {
		return c, errors.New("device: applicationSecret must be base64 of 16 bytes")
	}
	if _, err := powerauth.ParsePublicKeyBase64(c.MasterPublicKey); err != nil {
		return c, errors.New("device: masterServerPublicKey is not a P-256 key")
	}
	return c, nil
}

// Token is a MAC token for X-PowerAuth-Token.
type Token struct {
	ID            string `json:"id"`
	Secret        []byte `json:"secret"`
	SignatureType string `json:"signature_type"`
}

// State is everything an activated device keeps, as the PowerAuth mobile SDK does: the signature keys
// (the knowledge key encrypted under a PIN-derived key, PBKDF2 as powerauth.PINKey describes), the
// transport key, the counter, and the device private key encrypted under KEY_ENCRYPTION_VAULT so that it
// is usable only after a vault unlock. This simulator stores the possession and biometry keys in the file
// itself; a real app keeps them in the platform keystore. The file is written with mode 0600.
type State struct {
	FormatVersion     int    `json:"format_version"`
	Server            string `json:"server,omitempty"`
	Protocol          string `json:"protocol"`
	ApplicationKey    string `json:"application_key"`
	ApplicationSecret string `json:"application_secret"`
	MasterPublicKey   string `json:"master_public_key"`

	ActivationID    string `json:"activation_id"`
	Fingerprint     string `json:"fingerprint"`
	ServerPublicKey []byte `json:"server_public_key"`
	DevicePublicKey []byte `json:"device_public_key"`
	// EncryptedDevicePrivateKey is AES-128-GCM(KEY_ENCRYPTION_VAULT) of the device private scalar.
	EncryptedDevicePrivateKey []byte `json:"encrypted_device_private_key"`

	PossessionKey         []byte `json:"possession_key"`
	EncryptedKnowledgeKey []byte `json:"encrypted_knowledge_key"`
	PINSalt               []byte `json:"pin_salt"`
	BiometryKey           []byte `json:"biometry_key"`
	TransportKey          []byte `json:"transport_key"`

	Counter     int64  `json:"counter"`
	CounterData []byte `json:"ctr_data"`

	Token *Token `json:"token,omitempty"`

	// EncryptedRecoveryData is AES-128-GCM(KEY_ENCRYPTION_VAULT) of the recovery code and PUK the server
	// sent with the activation, readable after a vault unlock as the SDK's activationRecoveryData.
	EncryptedRecoveryData []byte `json:"encrypted_recovery_data,omitempty"`

	unlocked *unlockedKey // Client.RememberPIN; never serialised
}

// LogValue keeps the keys out of logs.
func (*State) LogValue() slog.Value { return slog.StringValue("[redacted]") }

const stateFormat = 1

// LoadState reads a state file.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("device: %s is not a device state file: %w", path, err)
	}
	if st.FormatVersion != stateFormat || st.ActivationID == "" {
		return nil, fmt.Errorf("device: %s is not an activated device state", path)
	}
	return &st, nil
}

// Save writes the state atomically (a temporary file in the same directory, fsync, rename) with mode 0600.
func (st *State) Save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".device-state-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (st *State) version() (powerauth.Version, error) { return powerauth.ParseVersion(st.Protocol) }

func (st *State) masterPublicKey() (*powerauth.PublicKey, error) {
	return powerauth.ParsePublicKeyBase64(st.MasterPublicKey)
}

func (st *State) serverPublicKey() (*powerauth.PublicKey, error) {
	return powerauth.ParsePublicKey(st.ServerPublicKey)
}

func (st *State) transport() (powerauth.TransportKey, error) {
	return powerauth.ParseTransportKey(st.TransportKey)
}

func (st *State) counterData() (powerauth.CounterData, error) {
	return powerauth.ParseCounterData(st.CounterData)
}

// unlockedKey is the knowledge key a PIN unlocked (Client.RememberPIN), for
// as long as the encrypted key it came from is the State's.
type unlockedKey struct {
	pin string
	enc []byte
	key powerauth.SignatureKey
}

// signatureKeys returns the factor keys for t; the knowledge key is decrypted with pin. A wrong PIN gives
// a wrong key and no error: the server decides.
func (st *State) signatureKeys(t powerauth.SignatureType, pin string, remember bool) (powerauth.SignatureKeys, error) {
	var k powerauth.SignatureKeys
	var err error
	if k.Possession, err = powerauth.ParseSignatureKey(st.PossessionKey); err != nil {
		return k, err
	}
	if t&powerauth.SignatureKnowledge != 0 {
		if pin == "" {
			return k, errors.New("device: this signature needs the PIN")
		}
		if m := st.unlocked; remember && m != nil && m.pin == pin && bytes.Equal(m.enc, st.EncryptedKnowledgeKey) {
			k.Knowledge = m.key
		} else if k.Knowledge, err = powerauth.DecryptKnowledgeKey(st.EncryptedKnowledgeKey, pin, st.PINSalt); err != nil {
			return k, err
		} else if remember {
			st.unlocked = &unlockedKey{pin: pin, enc: bytes.Clone(st.EncryptedKnowledgeKey), key: k.Knowledge}
		}
	}
	if t&powerauth.SignatureBiometry != 0 {
		if k.Biometry, err = powerauth.ParseSignatureKey(st.BiometryKey); err != nil {
			return k, err
		}
	}
	return k, nil
}

// nextCounter returns CTR_DATA for the next signature and advances the local counter (the SDK moves its
// counter before sending, so a lost request never makes it reuse a value).
func (st *State) nextCounter() (powerauth.CounterData, error) {
	ctr, err := st.counterData()
	if err != nil {
		return ctr, err
	}
	next := ctr.Next()
	st.Counter++
	st.CounterData = next[:]
	return ctr, nil
}

// AdvanceCounter moves the local counter n steps without signing anything, as if n signatures had been
// computed and never reached the server (tests and the simulator's "lost requests").
func (st *State) AdvanceCounter(n int) error {
	for range n {
		if _, err := st.nextCounter(); err != nil {
			return err
		}
	}
	return nil
}

func sealWithVault(vault powerauth.VaultKey, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(vault[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, []byte("signet-device-private-key")), nil
}

func openWithVault(vault powerauth.VaultKey, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(vault[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("device: encrypted device key is too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte("signet-device-private-key"))
}
