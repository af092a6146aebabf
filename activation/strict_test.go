package activation

import (
	"errors"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// TestDecryptedPayloadsAreReadStrictly: the decrypted level 1 of activation create (and every other payload
// decodeObject reads) refuses a member given twice under encoding/json's folding and invalid UTF-8, where
// encoding/json alone would take the last one or substitute U+FFFD.
func TestDecryptedPayloadsAreReadStrictly(t *testing.T) {
	const env = `"activationData":{"ephemeralPublicKey":"A","encryptedData":"A","mac":"A"}`
	for _, tc := range []struct {
		name, plain, want string
	}{
		{"type twice", `{"type":"CODE","Type":"RECOVERY","identityAttributes":{"code":"x"},` + env + `}`, "more than once"},
		{"long s folds to s", `{"type":"CODE","identityAttributes":{"code":"x"},"customAttributeſ":{},"customAttributes":{},` + env + `}`, "more than once"},
		{"invalid UTF-8", "{\"type\":\"CODE\",\"identityAttributes\":{\"code\":\"\xff\"}," + env + "}", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLayer1([]byte(tc.plain))
			var inv *fault.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-input error containing %q", err, tc.want)
			}
		})
	}
}
