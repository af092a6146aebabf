package powerauth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// TestParseSDKConfigEveryPrefixRefused shows that every proper prefix of the bytes the mobile SDK writes
// (SessionSetup::saveConfiguration through utils/DataWriter) is refused with the field it stops in, and
// that reading never runs past the end of the data (DataReader fails at the end instead).
func TestParseSDKConfigEveryPrefixRefused(t *testing.T) {
	key, secret, master := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), testMasterKey(t)
	valid, err := base64.StdEncoding.DecodeString(sdkSaveConfiguration(key, secret, master))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(valid); n++ {
		var want string
		switch {
		case n == 0:
			want = "version must be"
		case n < 18:
			want = "the application key must be 16 bytes"
		case n < 35:
			want = "the application secret must be 16 bytes"
		default:
			want = "truncated key list"
		}
		_, err := ParseSDKConfig(base64.StdEncoding.EncodeToString(valid[:n]))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("prefix of %d bytes: got %v, want %q", n, err, want)
		}
	}
	if _, err := ParseSDKConfig(base64.StdEncoding.EncodeToString(valid)); err != nil {
		t.Fatal(err)
	}
}
