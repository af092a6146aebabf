package activation

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Commit phases (PowerAuth 3.x initActivation "commitPhase").
const (
	CommitOnCommit      = "ON_COMMIT"       // key exchange → PENDING_COMMIT, the bank commits
	CommitOnKeyExchange = "ON_KEY_EXCHANGE" // key exchange → ACTIVE
)

// Sealing purposes: the associated data binds every sealed value to its record and purpose, so a sealed
// value copied to another row does not open.
const (
	adMasterKey    = "signet-powerauth-master-key:"
	adActivation   = "signet-powerauth-activation:"
	adToken        = "signet-powerauth-token:"
	adTemporaryKey = "signet-powerauth-temporary-key:"
)

// Record formats. Every activation record written carries its format ("format" in Credential.Data and
// inside the sealed Credential.Secret) so that a later layout can be told from this one. Records written
// before formats existed have none: they are format 0, whose layout is format 1's, and read as such; the
// next write of the record (a signature advancing the counter, a commit, a block) stores it as format 1.
// A record of a format newer than this build knows is refused, never half-read (a rollback after an
// upgrade fails loudly on the activations the newer build touched).
const (
	formatUnversioned = 0
	recordFormat      = 1
)

// checkFormat accepts the formats this build reads.
func checkFormat(what string, format int) error {
	if format < formatUnversioned || format > recordFormat {
		return fmt.Errorf("activation: stored %s has format %d; this build reads formats up to %d", what, format, recordFormat)
	}
	return nil
}

// activationData is the public, kind-specific state in Credential.Data.
type activationData struct {
	ApplicationID string `json:"application_id"`
	CommitPhase   string `json:"commit_phase"`
	OTPRequired   bool   `json:"otp_required,omitempty"`
	// CodeSignature is the master-key ECDSA signature of the activation code while it is pending.
	CodeSignature   string `json:"code_signature,omitempty"`
	ServerPublicKey string `json:"server_public_key,omitempty"` // base64, uncompressed SEC 1
	CtrData         string `json:"ctr_data,omitempty"`          // base64 CTR_DATA
	Version         int    `json:"version,omitempty"`           // major protocol version of the keys (3)
	Fingerprint     string `json:"fingerprint,omitempty"`
	Format          int    `json:"format,omitempty"` // record format (recordFormat); absent in unversioned records
}

// activationSecret is sealed into Credential.Secret.
type activationSecret struct {
	Code             string `json:"code,omitempty"` // while CREATED
	OTPSalt          []byte `json:"otp_salt,omitempty"`
	OTPHash          []byte `json:"otp_hash,omitempty"`
	ServerPrivateKey []byte `json:"server_private_key,omitempty"`
	Format           int    `json:"format,omitempty"` // record format (recordFormat); absent in unversioned records
}

// deviceInfo is Credential.Device for PowerAuth activations.
type deviceInfo struct {
	Platform   string `json:"platform,omitempty"`
	DeviceInfo string `json:"device_info,omitempty"`
	Extras     string `json:"extras,omitempty"`
}

func readData(c store.Credential) (activationData, error) {
	var d activationData
	if len(c.Data) == 0 {
		return d, errors.New("activation: credential has no PowerAuth data")
	}
	if err := json.Unmarshal(c.Data, &d); err != nil {
		return d, fmt.Errorf("activation: stored data: %w", err)
	}
	if err := checkFormat("data", d.Format); err != nil {
		return d, err
	}
	d.Format = recordFormat // format 0 reads as format 1 (the same layout)
	return d, nil
}

func writeData(c *store.Credential, d activationData) error {
	d.Format = recordFormat
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	c.Data = b
	return nil
}

func (s *Service) openSecret(c store.Credential) (activationSecret, error) {
	var sec activationSecret
	if len(c.Secret) == 0 {
		return sec, nil
	}
	raw, err := s.sealer.Open(c.Secret, []byte(adActivation+c.ID))
	if err != nil {
		return sec, fmt.Errorf("activation: open secret: %w", err)
	}
	if err := json.Unmarshal(raw, &sec); err != nil {
		return sec, fmt.Errorf("activation: stored secret: %w", err)
	}
	if err := checkFormat("secret", sec.Format); err != nil {
		return sec, err
	}
	sec.Format = recordFormat // format 0 reads as format 1 (the same layout)
	return sec, nil
}

func (s *Service) sealSecret(c *store.Credential, sec activationSecret) error {
	sec.Format = recordFormat
	raw, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	sealed, err := s.sealer.Seal(raw, []byte(adActivation+c.ID))
	if err != nil {
		return err
	}
	c.Secret = sealed
	return nil
}

// pkixFromPowerAuth encodes a device public key as PKIX DER, the store's form for device keys.
func pkixFromPowerAuth(k *powerauth.PublicKey) ([]byte, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.Bytes())
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(pub)
}

// powerAuthFromPKIX reads a stored PKIX DER P-256 key.
func powerAuthFromPKIX(der []byte) (*powerauth.PublicKey, error) {
	pk, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	var raw []byte
	switch k := pk.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		raw = e.Bytes()
	case *ecdh.PublicKey:
		raw = k.Bytes()
	default:
		return nil, errors.New("activation: stored device key is not P-256")
	}
	return powerauth.ParsePublicKey(raw)
}

// keys is everything derived for one activation that has completed its key exchange.
type keys struct {
	cred       store.Credential
	data       activationData
	serverPriv *powerauth.PrivateKey
	devicePub  *powerauth.PublicKey
	derived    powerauth.DerivedKeys
	ctrData    powerauth.CounterData
}

// loadKeys recomputes KEY_MASTER_SECRET from the server private key and the device public key and
// derives the key set (PowerAuth 3.x, Key Derivation) for an activation past its key exchange.
func (s *Service) loadKeys(c store.Credential) (*keys, error) {
	if c.Kind != store.KindPowerAuth {
		return nil, errors.New("activation: credential is not a PowerAuth activation")
	}
	d, err := readData(c)
	if err != nil {
		return nil, err
	}
	if len(c.PublicKey) == 0 || d.CtrData == "" {
		return nil, errors.New("activation: key exchange not done")
	}
	sec, err := s.openSecret(c)
	if err != nil {
		return nil, err
	}
	priv, err := powerauth.ParsePrivateKey(sec.ServerPrivateKey)
	if err != nil {
		return nil, err
	}
	dev, err := powerAuthFromPKIX(c.PublicKey)
	if err != nil {
		return nil, err
	}
	master, err := priv.MasterSecret(dev)
	if err != nil {
		return nil, err
	}
	ctrRaw, err := base64.StdEncoding.DecodeString(d.CtrData)
	if err != nil {
		return nil, fmt.Errorf("activation: stored counter: %w", err)
	}
	ctr, err := powerauth.ParseCounterData(ctrRaw)
	if err != nil {
		return nil, err
	}
	return &keys{cred: c, data: d, serverPriv: priv, devicePub: dev, derived: powerauth.DeriveKeys(master), ctrData: ctr}, nil
}
