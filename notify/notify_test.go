package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/notify"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webhook"
)

type relay struct {
	mu     sync.Mutex
	status int
	got    []notify.Message
	srv    *httptest.Server
}

func newRelay(t *testing.T, secret webhook.Secret) *relay {
	r := &relay{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), body, time.Now(), 0); err != nil {
			t.Errorf("push signature: %v", err)
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("push body %s: %v", body, err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, m)
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestObserverPushesForMobileCredentialsOnly(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	ctx := context.Background()
	secret := webhook.Secret(strings.Repeat("p", 32))
	rl := newRelay(t, secret)
	obs := notify.NewObserver(s.Store, notify.NewWebhook(rl.srv.URL+"/push", secret, nil), notify.ObserverConfig{Capability: s.Ops.Capability})
	s.Ops.Observe(obs)

	credential := func(uid string, kind store.CredentialKind, status store.Status) {
		now := time.Now().UTC()
		c := store.Credential{ID: uuid.NewString(), UserID: uid, Kind: kind, Status: status, MaxFailedAttempts: 5,
			LookupKey: uuid.NewString(), PublicKey: []byte{1}, CreatedAt: now}
		if err := s.Store.CreateCredential(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(uid string)
		factors []string
		want    bool
	}{
		{name: "no credential at all", setup: func(string) {}},
		{name: "passkey only", setup: func(uid string) { credential(uid, store.KindPasskey, store.StatusActive) }},
		{name: "blocked device key", setup: func(uid string) { credential(uid, store.KindDeviceKey, store.StatusBlocked) }},
		{name: "device key, but the operation accepts passkeys only", factors: []string{"passkey"},
			setup: func(uid string) { credential(uid, store.KindDeviceKey, store.StatusActive) }},
		{name: "active device key", want: true, setup: func(uid string) { credential(uid, store.KindDeviceKey, store.StatusActive) }},
		{name: "active PowerAuth activation", want: true, setup: func(uid string) { credential(uid, store.KindPowerAuth, store.StatusActive) }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := s.User("cust-push-" + string(rune('a'+i)))
			tt.setup(u.ID)
			rl.mu.Lock()
			before := len(rl.got)
			rl.mu.Unlock()
			op := s.Payment(u.ID, "42", "EUR", func(n *txsign.NewOperation) { n.Factors = tt.factors })
			if err := obs.Close(ctx); err != nil {
				t.Fatal(err)
			}
			rl.mu.Lock()
			defer rl.mu.Unlock()
			sent := rl.got[before:]
			if !tt.want {
				if len(sent) != 0 {
					t.Fatalf("pushed %+v", sent)
				}
				return
			}
			if len(sent) != 1 {
				t.Fatalf("%d pushes, want 1", len(sent))
			}
			m := sent[0].Message
			// The app needs the capability with the id to read the signing data and sign.
			if m.Data["operation_id"] != op.ID || m.Data["type"] != "payment" || m.Data["user"] != u.ExternalID ||
				m.Data["capability"] != s.Ops.Capability(op.ID) || m.Notification == nil || m.Notification.Title == "" || m.Token != "" {
				t.Fatalf("message %+v", m)
			}
			// Nothing about the payment leaves through the push provider.
			raw, _ := json.Marshal(sent[0])
			if strings.Contains(string(raw), "42.00") || strings.Contains(string(raw), signettest.Payee) || strings.Contains(string(raw), "ACME") {
				t.Fatalf("push reveals payment details: %s", raw)
			}
		})
	}
	t.Run("terminal statuses push nothing", func(t *testing.T) {
		u := s.User("cust-push-terminal")
		credential(u.ID, store.KindDeviceKey, store.StatusActive)
		op := s.Payment(u.ID, "1", "EUR")
		_ = obs.Close(ctx)
		rl.mu.Lock()
		before := len(rl.got)
		rl.mu.Unlock()
		if _, err := s.Ops.Cancel(ctx, "bank", op.ID); err != nil {
			t.Fatal(err)
		}
		_ = obs.Close(ctx)
		rl.mu.Lock()
		defer rl.mu.Unlock()
		if len(rl.got) != before {
			t.Fatal("pushed on cancel")
		}
	})
}

func TestWebhookProviderErrors(t *testing.T) {
	secret := webhook.Secret(strings.Repeat("p", 32))
	rl := newRelay(t, secret)
	rl.status = http.StatusBadGateway
	err := notify.NewWebhook(rl.srv.URL, secret, nil).Notify(context.Background(), notify.Message{})
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("err = %v", err)
	}
	if err := notify.NewLog(nil).Notify(context.Background(), notify.Message{}); err != nil {
		t.Fatal(err)
	}
}

// countingStore counts the observer's reads.
type countingStore struct {
	notify.Store
	mu    sync.Mutex
	reads int
}

func (c *countingStore) ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.ListCredentials(ctx, f)
}

// TestLogProviderBelowItsLevelReadsNothing: the embedded log provider with logs
// at warn would drop every push, so the observer does not look up credentials
// and users for it; at info it does and logs the push.
func TestLogProviderBelowItsLevelReadsNothing(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	ctx := context.Background()
	u := s.User("cust-log-push")
	for _, tc := range []struct {
		level     slog.Level
		wantReads int
	}{{slog.LevelWarn, 0}, {slog.LevelInfo, 1}} {
		logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: tc.level}))
		cs := &countingStore{Store: s.Store}
		obs := notify.NewObserver(cs, notify.NewLog(logger), notify.ObserverConfig{})
		obs.OperationChanged(ctx, store.Operation{ID: uuid.NewString(), UserID: u.ID, Type: "payment", Status: store.OpPending})
		if err := obs.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if cs.reads != tc.wantReads {
			t.Fatalf("logs at %v: %d credential reads, want %d", tc.level, cs.reads, tc.wantReads)
		}
	}
}
