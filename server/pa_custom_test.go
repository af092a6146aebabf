package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/activation"
	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/webhook"
)

const hookSecret = "hook-secret-0123456789-0123456789-abcdef"

// bankHook is the bank's credential endpoint: it checks Signet's signature and answers by password.
type bankHook struct {
	t        *testing.T
	external string
	calls    atomic.Int32
	badSig   atomic.Int32
}

func (h *bankHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	body, _ := io.ReadAll(r.Body)
	if webhook.Verify(webhook.Secret(hookSecret), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 0) != nil ||
		r.Header.Get(webhook.HeaderEventType) != webhook.EventCredentials {
		h.badSig.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var req struct {
		Type          string            `json:"type"`
		ApplicationID string            `json:"application_id"`
		Identity      map[string]string `json:"identity_attributes"`
	}
	_ = json.Unmarshal(body, &req)
	answer := func(status int, v any, sign bool) {
		raw, _ := json.Marshal(v)
		if sign {
			w.Header().Set(webhook.HeaderSignature, webhook.Sign(webhook.Secret(hookSecret), time.Now(), raw))
		}
		w.WriteHeader(status)
		_, _ = w.Write(raw)
	}
	if req.Identity["username"] != "jana" {
		answer(http.StatusForbidden, map[string]any{}, true)
		return
	}
	switch req.Identity["password"] {
	case "right":
		answer(200, map[string]any{"external_id": h.external}, true)
	case "right-commit":
		answer(200, map[string]any{"external_id": h.external, "commit": true}, true)
	case "unsigned":
		answer(200, map[string]any{"external_id": h.external}, false)
	case "forged":
		raw, _ := json.Marshal(map[string]any{"external_id": h.external})
		w.Header().Set(webhook.HeaderSignature, webhook.Sign(webhook.Secret("another-secret-0123456789-0123456789-x"), time.Now(), raw))
		_, _ = w.Write(raw)
	case "down":
		w.WriteHeader(http.StatusBadGateway)
	case "slow":
		time.Sleep(time.Second)
		answer(200, map[string]any{"external_id": h.external}, true)
	default:
		answer(http.StatusForbidden, map[string]any{}, true)
	}
}

// testCustomActivation: PowerAuth 3.x Activation via Custom Credentials through the bank's signed hook, driven
// by the device SDK over HTTP.
func testCustomActivation(t *testing.T, e *paEnv, v powerauth.Version) {
	ctx := context.Background()
	ext := nextUser()
	hook := &bankHook{t: t, external: ext}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: hook}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	he := newPAEnvWith(t, e.st, func(c *activation.Config) {
		c.CustomCredentials = &webhook.CredentialHook{URL: "http://" + ln.Addr().String() + "/credentials",
			Secret: webhook.Secret(hookSecret), Client: webhook.NewClient(300 * time.Millisecond)}
	})
	userID := he.user(ext)
	creds := func() int {
		cs, err := he.st.ListCredentials(ctx, store.CredentialFilter{UserID: userID})
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	activate := func(password string) (*padevice.State, error) {
		return he.client(v).ActivateWithCustomCredentials(ctx, he.cfg, map[string]string{"username": "jana", "password": password},
			paPIN, padevice.ActivateOptions{Name: "phone"})
	}

	t.Run("refusals first: nothing is activated", func(t *testing.T) {
		for _, tc := range []struct {
			password, code, reason string
			status                 int
		}{
			{"wrong", "ERR_ACTIVATION", "the bank refused the credentials", 400},
			{"down", "ERR_UNAVAILABLE", "credential check unavailable", 503},
			{"unsigned", "ERR_UNAVAILABLE", "credential check unavailable", 503},
			{"forged", "ERR_UNAVAILABLE", "credential check unavailable", 503},
			{"slow", "ERR_UNAVAILABLE", "credential check unavailable", 503},
		} {
			_, err := activate(tc.password)
			wantCode(t, err, tc.status, tc.code)
			evs, _, _ := he.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
			last := evs[len(evs)-1]
			if last.Type != "powerauth.activation.custom" || len(last.Reason) < len(tc.reason) || last.Reason[:len(tc.reason)] != tc.reason {
				t.Fatalf("%s: audited %s %q", tc.password, last.Type, last.Reason)
			}
		}
		if n := creds(); n != 0 {
			t.Fatalf("refused custom activations created %d credentials", n)
		}
		if hook.badSig.Load() != 0 {
			t.Fatal("the hook received an unsigned or wrongly signed check")
		}
	})
	t.Run("the server without a hook refuses custom activations", func(t *testing.T) {
		_, err := e.client(v).ActivateWithCustomCredentials(ctx, e.cfg, map[string]string{"username": "jana", "password": "right"},
			paPIN, padevice.ActivateOptions{})
		wantCode(t, err, 400, "ERR_ACTIVATION")
	})
	t.Run("accepted credentials: PENDING_COMMIT until the bank commits", func(t *testing.T) {
		calls := hook.calls.Load()
		st, err := activate("right")
		if err != nil {
			t.Fatal(err)
		}
		if hook.calls.Load() != calls+1 {
			t.Fatal("the hook was not asked")
		}
		a := he.activation(st.ActivationID)
		if a["status"] != "PENDING_COMMIT" || a["user_id"] != userID || a["fingerprint"] != st.Fingerprint {
			t.Fatalf("custom activation %v", a)
		}
		if status, r := he.bank("POST", "/v1/activations/"+st.ActivationID+"/commit", nil); status != 200 || r["status"] != "ACTIVE" {
			t.Fatalf("commit: %d %v", status, r)
		}
		if err := he.client(v).ValidateSignature(ctx, st, powerauth.SignaturePossessionKnowledge, paPIN, []byte(`{}`)); err != nil {
			t.Fatalf("the custom activation cannot sign: %v", err)
		}
	})
	t.Run("accepted with commit: ACTIVE at once", func(t *testing.T) {
		st, err := activate("right-commit")
		if err != nil {
			t.Fatal(err)
		}
		if a := he.activation(st.ActivationID); a["status"] != "ACTIVE" || a["user_id"] != userID {
			t.Fatalf("custom activation %v", a)
		}
	})
}
