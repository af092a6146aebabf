package powerauth

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// KDF indexes (PowerAuth 3.x, Key Derivation; PowerAuthDerivedKey; status blob and counter hash keys).
const (
	KDFIndexPossession  uint64 = 1    // KEY_SIGNATURE_POSSESSION
	KDFIndexKnowledge   uint64 = 2    // KEY_SIGNATURE_KNOWLEDGE
	KDFIndexBiometry    uint64 = 3    // KEY_SIGNATURE_BIOMETRY
	KDFIndexTransport   uint64 = 1000 // KEY_TRANSPORT
	KDFIndexVault       uint64 = 2000 // KEY_ENCRYPTION_VAULT
	KDFIndexStatusIV    uint64 = 3000 // KEY_TRANSPORT_IV = KDF(KEY_TRANSPORT, 3000)
	KDFIndexCounterHash uint64 = 4000 // KEY_TRANSPORT_CTR = KDF(KEY_TRANSPORT, 4000)
)

// KDF implements KDF(K, index) = AES-128-ECB(K, 8 zero bytes ‖ uint64_BE(index))
// (PowerAuth 3.x, Key Derivation, "KDF").
func KDF(k SecretKey, index uint64) SecretKey {
	var in, out [16]byte
	binary.BigEndian.PutUint64(in[8:], index)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // unreachable: the key is always 16 bytes
	}
	block.Encrypt(out[:], in[:]) // a single block, so ECB is one block encryption
	return SecretKey(out)
}

// KDFInternal implements KDF_INTERNAL(K, data) = fold(HMAC-SHA256(key=K, msg=data))
// (PowerAuth 3.x, Key Derivation, "KDF_INTERNAL"; the notes' docs-versus-code item 1).
func KDFInternal(k SecretKey, data []byte) SecretKey {
	m := hmac.New(sha256.New, k[:])
	m.Write(data)
	return SecretKey(fold(m.Sum(nil)))
}

// DerivedKeys is the key set both parties derive from KEY_MASTER_SECRET after the key exchange.
type DerivedKeys struct {
	Possession SignatureKey
	Knowledge  SignatureKey
	Biometry   SignatureKey
	Transport  TransportKey
	Vault      VaultKey
}

// DeriveKeys derives the standard key set from KEY_MASTER_SECRET with the KDF indexes 1, 2, 3, 1000, 2000
// (PowerAuth 3.x, Key Derivation, "derived keys").
func DeriveKeys(master MasterSecretKey) DerivedKeys {
	m := SecretKey(master)
	return DerivedKeys{
		Possession: SignatureKey(KDF(m, KDFIndexPossession)),
		Knowledge:  SignatureKey(KDF(m, KDFIndexKnowledge)),
		Biometry:   SignatureKey(KDF(m, KDFIndexBiometry)),
		Transport:  TransportKey(KDF(m, KDFIndexTransport)),
		Vault:      VaultKey(KDF(m, KDFIndexVault)),
	}
}

// SignatureKeys returns the three factor keys for signature computation.
func (d DerivedKeys) SignatureKeys() SignatureKeys {
	return SignatureKeys{Possession: d.Possession, Knowledge: d.Knowledge, Biometry: d.Biometry}
}
