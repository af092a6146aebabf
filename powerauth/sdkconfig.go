package powerauth

import (
	"encoding/base64"
	"errors"
	"fmt"
)

// SDKConfig is an application's configuration as the PowerAuth mobile SDK (1.8 and later) is built with it:
// the one string both the Android and the iOS SDK read (PowerAuthConfiguration's configuration), decoded by
// SessionSetup::loadFromConfiguration in the SDK's core (src/PowerAuth/PublicTypes.cpp).
type SDKConfig struct {
	ApplicationKey    []byte // 16 bytes (protocol/Constants.h APPLICATION_KEY_SIZE)
	ApplicationSecret []byte // 16 bytes (APPLICATION_SECRET_SIZE)
	MasterPublicKey   []byte // the master server public key, SEC 1 (P-256)
}

// The SDK's constants (PublicTypes.cpp): the format version and the key id of the P-256 master public key.
const (
	sdkConfigVersion = 0x01
	sdkConfigP256Key = 0x01
	sdkConfigKeySize = 16
)

// Encode writes the configuration exactly as SessionSetup::saveConfiguration does: version byte, then with
// utils/DataWriter writeData(application key), writeData(application secret), writeCount(1), the key id
// byte and writeData(master public key); base64 (standard, padded: cc7 base64String).
func (c SDKConfig) Encode() string {
	var b []byte
	b = append(b, sdkConfigVersion)
	b = appendData(b, c.ApplicationKey)
	b = appendData(b, c.ApplicationSecret)
	b = appendCount(b, 1)
	b = append(b, sdkConfigP256Key)
	b = appendData(b, c.MasterPublicKey)
	return base64.StdEncoding.EncodeToString(b)
}

// ParseSDKConfig reads a configuration string the way SessionSetup::loadFromConfiguration does (version 0x01,
// a 16-byte key and secret, a key list of which the P-256 key, id 0x01, is required; other key ids are
// skipped), and checks that the master key is a P-256 point.
func ParseSDKConfig(s string) (SDKConfig, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return SDKConfig{}, errors.New("powerauth: the SDK configuration is not base64")
	}
	r := sdkReader{b: raw}
	if v, ok := r.byte(); !ok || v != sdkConfigVersion {
		return SDKConfig{}, fmt.Errorf("powerauth: SDK configuration version must be %d", sdkConfigVersion)
	}
	var c SDKConfig
	var ok bool
	if c.ApplicationKey, ok = r.data(sdkConfigKeySize); !ok {
		return SDKConfig{}, errors.New("powerauth: SDK configuration: the application key must be 16 bytes")
	}
	if c.ApplicationSecret, ok = r.data(sdkConfigKeySize); !ok {
		return SDKConfig{}, errors.New("powerauth: SDK configuration: the application secret must be 16 bytes")
	}
	n, ok := r.count()
	if !ok {
		return SDKConfig{}, errors.New("powerauth: SDK configuration: truncated key list")
	}
	for ; n > 0; n-- {
		id, ok1 := r.byte()
		key, ok2 := r.data(0)
		if !ok1 || !ok2 {
			return SDKConfig{}, errors.New("powerauth: SDK configuration: truncated key list")
		}
		if id == sdkConfigP256Key {
			c.MasterPublicKey = key
		}
	}
	if len(c.MasterPublicKey) == 0 {
		return SDKConfig{}, errors.New("powerauth: SDK configuration: no P-256 master public key (key id 1)")
	}
	if _, err := ParsePublicKey(c.MasterPublicKey); err != nil {
		return SDKConfig{}, errors.New("powerauth: SDK configuration: the master public key is not a P-256 point")
	}
	return c, nil
}

// appendCount is utils/DataWriter::writeCount: one byte up to 0x7F, two bytes with the 0x80 marker up to
// 0x3FFF, four bytes with the 0xC0 marker up to 0x3FFFFFFF, big-endian.
func appendCount(b []byte, n int) []byte {
	switch {
	case n <= 0x7F:
		return append(b, byte(n))
	case n <= 0x3FFF:
		return append(b, byte(n>>8)&0x3F|0x80, byte(n))
	}
	return append(b, byte(n>>24)&0x3F|0xC0, byte(n>>16), byte(n>>8), byte(n))
}

// appendData is utils/DataWriter::writeData: the count, then the bytes.
func appendData(b, data []byte) []byte { return append(appendCount(b, len(data)), data...) }

// sdkReader is utils/DataReader over the decoded configuration.
type sdkReader struct {
	b   []byte
	off int
}

func (r *sdkReader) byte() (byte, bool) {
	if r.off >= len(r.b) {
		return 0, false
	}
	r.off++
	return r.b[r.off-1], true
}

// count is DataReader::readCount: markers 0x00 and 0x40 are one byte, 0x80 two, 0xC0 four.
func (r *sdkReader) count() (int, bool) {
	first, ok := r.byte()
	if !ok {
		return 0, false
	}
	extra := 0
	switch first & 0xC0 {
	case 0x80:
		extra = 1
	case 0xC0:
		extra = 3
	}
	n := int(first)
	if extra > 0 {
		n = int(first & 0x3F)
	}
	for ; extra > 0; extra-- {
		b, ok := r.byte()
		if !ok {
			return 0, false
		}
		n = n<<8 | int(b)
	}
	return n, true
}

// data is DataReader::readData: a count, then that many bytes; expected > 0 requires exactly that size.
func (r *sdkReader) data(expected int) ([]byte, bool) {
	n, ok := r.count()
	if !ok || n > len(r.b)-r.off || expected > 0 && n != expected {
		return nil, false
	}
	d := r.b[r.off : r.off+n]
	r.off += n
	return d, true
}
