package activation

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
)

// TestActivationNameBound: the activation name a device sends in level 2 of the key exchange
// (ActivationLayer2Request.activationName, the name the bank sees, "Jana's phone"; powerauth-server stores it
// in a 255-character column) may be 255 bytes of printable UTF-8, the bound included, and is refused one byte
// beyond it, counted in bytes, not characters. Kills requests.go:78 checkText's len(v) <= max → <.
func TestActivationNameBound(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	activate := func(name string) (*device.State, error) {
		a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		return p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: name})
	}
	t.Run("256 bytes", func(t *testing.T) {
		_, err := activate(strings.Repeat("é", 128))
		var inv *fault.InvalidError
		if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != "activationName" {
			t.Fatalf("got %v, want activationName refused", err)
		}
	})
	t.Run("255 bytes", func(t *testing.T) {
		name := strings.Repeat("é", 127) + "!"
		st, err := activate(name)
		if err != nil {
			t.Fatalf("got %v, want a %d-byte name accepted", err, len(name))
		}
		if c := p.cred(t, st.ActivationID); c.Label != name {
			t.Fatalf("stored name %q, want %q", c.Label, name)
		}
	})
}
