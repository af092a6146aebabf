package powerauth

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

func testMasterKey(t testing.TB) []byte {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes() // SEC 1 uncompressed, 65 bytes
}

// sdkSaveConfiguration follows SessionSetup::saveConfiguration (powerauth-mobile-sdk 1.9.2,
// src/PowerAuth/PublicTypes.cpp) line by line, with utils/DataWriter.cpp's writeByte, writeData and
// writeCount written out as bytes, independently of Encode.
func sdkSaveConfiguration(appKey, appSecret, masterKey []byte) string {
	var b []byte
	b = append(b, 0x01)                         // writer.writeByte(CONFIG_VER)
	b = append(b, byte(len(appKey)))            // writer.writeData(appKey): writeCount (<= 0x7F: one byte)
	b = append(b, appKey...)                    //   then the bytes
	b = append(b, byte(len(appSecret)))         // writer.writeData(appSecret)
	b = append(b, appSecret...)                 //
	b = append(b, 0x01)                         // writer.writeCount(1)
	b = append(b, 0x01)                         // writer.writeByte(P256_KEY_ID)
	b = append(b, byte(len(masterKey)))         // writer.writeData(masterServerPublicKey): 65 <= 0x7F
	b = append(b, masterKey...)                 //
	return base64.StdEncoding.EncodeToString(b) // writer.serializedData().base64String()
}

func TestSDKConfigIsWhatTheSDKWrites(t *testing.T) {
	appKey, appSecret := bytes.Repeat([]byte{0xA1}, 16), bytes.Repeat([]byte{0xB2}, 16)
	master := testMasterKey(t)
	want := sdkSaveConfiguration(appKey, appSecret, master)
	got := SDKConfig{ApplicationKey: appKey, ApplicationSecret: appSecret, MasterPublicKey: master}.Encode()
	if got != want {
		t.Fatalf("Encode = %s\nthe SDK writes %s", got, want)
	}
	c, err := ParseSDKConfig(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.ApplicationKey, appKey) || !bytes.Equal(c.ApplicationSecret, appSecret) || !bytes.Equal(c.MasterPublicKey, master) {
		t.Fatalf("parsed %+v", c)
	}
}

// TestSDKCounts: DataWriter::writeCount and DataReader::readCount at each boundary of their three forms.
func TestSDKCounts(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x00}},
		{0x7F, []byte{0x7F}},
		{0x80, []byte{0x80, 0x80}},
		{0x3FFF, []byte{0xBF, 0xFF}},
		{0x4000, []byte{0xC0, 0x00, 0x40, 0x00}},
		{0x3FFFFFFF, []byte{0xFF, 0xFF, 0xFF, 0xFF}},
	} {
		got := appendCount(nil, tc.n)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("writeCount(%#x) = % x, want % x", tc.n, got, tc.want)
		}
		r := sdkReader{b: got}
		if n, ok := r.count(); !ok || n != tc.n || r.off != len(got) {
			t.Errorf("readCount(% x) = %#x %v", got, n, ok)
		}
	}
	// DataReader also reads the 0x40 marker as one byte (it is not a length form of its own).
	if n, ok := (&sdkReader{b: []byte{0x45}}).count(); !ok || n != 0x45 {
		t.Errorf("readCount(45) = %#x %v", n, ok)
	}
}

func TestParseSDKConfigRefuses(t *testing.T) {
	key, secret, master := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), testMasterKey(t)
	enc := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	valid, _ := base64.StdEncoding.DecodeString(sdkSaveConfiguration(key, secret, master))
	otherKeyFirst := append([]byte{0x01, 16}, key...)
	otherKeyFirst = append(append(otherKeyFirst, 16), secret...)
	otherKeyFirst = append(otherKeyFirst, 0x02, 0x07, 3, 'a', 'b', 'c', 0x01, 65)
	otherKeyFirst = append(otherKeyFirst, master...)
	for _, tc := range []struct {
		name, config, want string
	}{
		{"not base64", "!!!", "not base64"},
		{"the old JSON form", enc([]byte(`{"applicationKey":"x"}`)), "version"},
		{"version 2", enc(append([]byte{0x02}, valid[1:]...)), "version"},
		{"short key", enc(append([]byte{0x01, 15}, valid[2:]...)), "application key"},
		{"truncated", enc(valid[:len(valid)-1]), "truncated"},
		{"no P-256 key", enc(append(valid[:35:35], 0x01, 0x07, 1, 0x00)), "no P-256 master public key"},
		{"not a point", enc(append(append([]byte{}, valid[:len(valid)-1]...), valid[len(valid)-1]^0xFF)), "not a P-256 point"},
		{"must pass: as the SDK writes it", enc(valid), ""},
		{"must pass: an unknown key id is skipped, as the SDK does", enc(otherKeyFirst), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSDKConfig(tc.config)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzParseSDKConfig(f *testing.F) {
	master := testMasterKey(f)
	f.Add(sdkSaveConfiguration(bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), master))
	f.Add(SDKConfig{ApplicationKey: make([]byte, 16), ApplicationSecret: make([]byte, 16), MasterPublicKey: master}.Encode())
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseSDKConfig(s)
		if err != nil {
			return
		}
		again, err := ParseSDKConfig(c.Encode())
		if err != nil || !bytes.Equal(again.ApplicationKey, c.ApplicationKey) || !bytes.Equal(again.ApplicationSecret, c.ApplicationSecret) ||
			!bytes.Equal(again.MasterPublicKey, c.MasterPublicKey) {
			t.Fatalf("accepted %q, but its re-encoding reads back as %+v, %v", s, again, err)
		}
	})
}
