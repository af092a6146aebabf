package activation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// keystoreAndKeyExchange answers /pa/v3/keystore/create and /pa/v3/activation/create as server's
// paKeystoreCreate and paActivationCreate do: what a 3.3 device needs to activate. edit, when set, rewrites
// each request before it is served; keystoreCalls counts the temporary keys asked for.
type keystoreAndKeyExchange struct {
	s             *Service
	edit          func(*http.Request)
	keystoreCalls *int
}

func (k keystoreAndKeyExchange) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.edit != nil {
		k.edit(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var out any
	switch r.URL.Path {
	case "/pa/v3/keystore/create":
		*k.keystoreCalls++
		jwt, err := ParseKeystoreRequest(body)
		if err != nil {
			return nil, err
		}
		answer, err := k.s.CreateTemporaryKey(r.Context(), jwt)
		if err != nil {
			return nil, err
		}
		out = map[string]any{"status": "OK", "responseObject": map[string]string{"jwt": answer}}
	case "/pa/v3/activation/create":
		env, err := k.s.KeyExchange(r.Context(), r.Header.Get(powerauth.HeaderEncryption), body)
		if err != nil {
			return nil, err
		}
		out = env
	default:
		return nil, fmt.Errorf("unexpected request to %s", r.URL.Path)
	}
	raw, err := json.Marshal(out)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(raw)), Request: r}, err
}

// TestKeyExchangeVersion33: a 3.3 device activates (PowerAuth 3.3, End-To-End Encryption, "Temporary
// Encryption Keys": both ECIES layers of /pa/v3/activation/create are sealed to a temporary key from
// /pa/v3/keystore/create, found again by the envelope's temporaryKeyId) and its activation then verifies a
// PIN signature. Kills keyexchange.go's version check refusing 3.3 (!= Version33 → ==) and ecies.go
// temporaryKey answering an opened key as no key (err != nil → ==).
func TestKeyExchangeVersion33(t *testing.T) {
	p := newPAFixture(t)
	calls := 0
	p.dev = &device.Client{BaseURL: "http://signet.test", Version: powerauth.Version33, RememberPIN: true, Now: p.clock.Now,
		HTTP: &http.Client{Transport: keystoreAndKeyExchange{s: p.s, keystoreCalls: &calls}}}
	st := p.activate(t, p.user, 0)
	if st.Protocol != "3.3" || calls != 1 {
		t.Fatalf("protocol %s after %d temporary keys, want 3.3 after 1 (one key serves both layers)", st.Protocol, calls)
	}
	if c := p.cred(t, st.ActivationID); c.Status != store.StatusActive {
		t.Fatalf("activation %s, want ACTIVE", c.Status)
	}
	if err := p.validate(t, st, powerauth.SignaturePossessionKnowledge, testPIN); err != nil {
		t.Fatalf("the 3.3 activation's PIN signature: %v", err)
	}
	p.wantCounter(t, st.ActivationID, 1, 0)
}

// TestKeyExchangeRefusesVersion31: a key exchange announced as 3.1 is refused on the encryption header,
// before any decryption, although its body is a well-formed 3.2 envelope: Signet serves only the 3.2 and
// 3.3 ECIES (whose request carries the timestamp the replay window of openEnvelope checks); a 3.0/3.1 SDK
// is told to upgrade. The activation stays CREATED and nothing is audited as a key exchange. Kills
// keyexchange.go's version check letting every version other than 3.3 through (!= Version33 → ==).
func TestKeyExchangeRefusesVersion31(t *testing.T) {
	p := newPAFixture(t)
	calls := 0
	p.dev.HTTP = &http.Client{Transport: keystoreAndKeyExchange{s: p.s, keystoreCalls: &calls, edit: func(r *http.Request) {
		r.Header.Set(powerauth.HeaderEncryption, strings.Replace(r.Header.Get(powerauth.HeaderEncryption), `version="3.2"`, `version="3.1"`, 1))
	}}}
	ctx := context.Background()
	a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
	var inv *fault.InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != powerauth.HeaderEncryption ||
		inv.Problems[0].Reason != "protocol version 3.1 is not supported; use 3.2 or 3.3" {
		t.Fatalf("got %v, want the encryption header refused for its version", err)
	}
	if c := p.cred(t, a.Credential.ID); c.Status != store.StatusCreated {
		t.Fatalf("activation %s, want CREATED", c.Status)
	}
	if ev, _ := p.lastEvent(t); ev.Type == "powerauth.activation.key_exchange" {
		t.Fatalf("audited %s %s %q", ev.Type, ev.Outcome, ev.Reason)
	}
}

// TestKeyExchangeRefusesInactiveApplication: a device of an application that is not ACTIVE cannot activate,
// exactly as one with an unknown application key (appByKey: "the ACTIVE application with the header's
// application key"; PowerAuth server refuses activation/create of an unsupported application). Kills
// application.go appByKey returning the stored application whatever its status (err != nil → ==).
func TestKeyExchangeRefusesInactiveApplication(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	a, err := p.s.Init(ctx, "test", InitRequest{UserID: p.user.ID, ApplicationID: p.app.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.st.UpdateApplication(ctx, p.app.ID, func(a *store.Application) error { a.Status = "SUSPENDED"; return nil }); err != nil {
		t.Fatal(err)
	}
	_, err = p.dev.Activate(ctx, p.cfg, a.Code, testPIN, device.ActivateOptions{Name: "phone"})
	if !errors.Is(err, ErrEncryption) {
		t.Fatalf("got %v, want %v", err, ErrEncryption)
	}
	p.wantEvent(t, "powerauth.activation.key_exchange", audit.Failure, "unknown application key", "")
	if c := p.cred(t, a.Credential.ID); c.Status != store.StatusCreated {
		t.Fatalf("activation %s, want CREATED", c.Status)
	}
}
