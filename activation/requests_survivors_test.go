package activation

import (
	"errors"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// TestRequestSizeBound: every device body (here a push registration's) may be MaxRequestBytes long, the
// bound itself included, and is refused as too large one byte beyond it, before it is parsed. Unknown
// members are ignored, as PowerAuth's servers do, so an unknown member pads the body to the bound. Kills
// requests.go:25 decodeObject's len(data) > MaxRequestBytes → >=.
func TestRequestSizeBound(t *testing.T) {
	body := func(n int) []byte {
		const head, tail = `{"requestObject":{"platform":"android","token":"dGVzdC1mY20tdG9rZW4"},"padding":"`, `"}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	t.Run("one byte over", func(t *testing.T) {
		_, err := ParsePushRegistration(body(MaxRequestBytes + 1))
		var inv *fault.InvalidError
		if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Reason != "the request body is too large" {
			t.Fatalf("got %v, want the request body is too large", err)
		}
	})
	t.Run("at the bound", func(t *testing.T) {
		b := body(MaxRequestBytes)
		if r, err := ParsePushRegistration(b); len(b) != MaxRequestBytes || err != nil || r.Token != "dGVzdC1mY20tdG9rZW4" {
			t.Fatalf("%d bytes: got %+v, %v; want accepted", len(b), r, err)
		}
	})
}
