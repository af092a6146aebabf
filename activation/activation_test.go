package activation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign/replay"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	s     *Service
	st    store.Store
	clock *testClock
	app   store.Application
	user  store.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := sqltest.OpenSQLite(t)
	clock := &testClock{t: time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)}
	ring, err := kek.New([][]byte{bytes.Repeat([]byte{5}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, nil, audit.New(st, clock.Now, nil), ring, replay.NewMemory(clock.Now), Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := s.CreateApplication(ctx, "test", "Test app")
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ExternalID: "u1", CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	if err := st.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, st: st, clock: clock, app: app, user: u}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"activation TTL too short", Config{ActivationTTL: time.Second}},
		{"too many failed attempts", Config{MaxFailedAttempts: 6}},
		{"look-ahead beyond the SDK limit", Config{Lookahead: 65}},
		{"negative window", Config{EciesWindow: -time.Second}},
	}
	st := sqltest.OpenSQLite(t)
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{5}, 32)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(st, nil, audit.New(st, nil, nil), ring, replay.NewMemory(nil), tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := New(nil, nil, nil, nil, nil, Config{}); err == nil {
		t.Fatal("accepted missing dependencies")
	}
}

func TestInitValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		req   InitRequest
		field string
	}{
		{"malformed user", InitRequest{UserID: "x", ApplicationID: f.app.ID}, "user_id"},
		{"unknown user", InitRequest{UserID: "00000000-0000-4000-8000-000000000000", ApplicationID: f.app.ID}, "user_id"},
		{"unknown application", InitRequest{UserID: f.user.ID, ApplicationID: "00000000-0000-4000-8000-000000000000"}, "application_id"},
		{"bad commit phase", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, CommitPhase: "LATER"}, "commit_phase"},
		{"expiry too short", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, ExpiresIn: time.Second}, "expires_in"},
		{"too many attempts", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, MaxFailedAttempts: 10}, "max_failed_attempts"},
		{"short OTP", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, OTP: "12"}, "otp"},
		{"OTP with a control character", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, OTP: "12\n345"}, "otp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.s.Init(ctx, "test", tt.req)
			var inv *fault.InvalidError
			if !errors.As(err, &inv) || inv.Problems[0].Field != tt.field {
				t.Fatalf("got %v, want a problem with %s", err, tt.field)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		a, err := f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		c := a.Credential
		if c.Status != store.StatusCreated || c.MaxFailedAttempts != 5 || a.CommitPhase != CommitOnCommit ||
			!c.ExpiresAt.Equal(f.clock.Now().Add(5*time.Minute)) || c.LookupKey != a.Code[:11] {
			t.Fatalf("activation %+v", a)
		}
		master, _ := powerauth.ParsePublicKey(f.app.MasterPublicKey)
		if got, err := powerauth.ParseActivationQRPayload(a.QRPayload, master); err != nil || string(got) != a.Code {
			t.Fatalf("QR payload %q: %v", a.QRPayload, err)
		}
		if bytes.Contains(c.Secret, []byte(a.Code)) || bytes.Contains(c.Data, []byte(a.Code)) {
			t.Fatal("the activation code is stored in clear")
		}
	})
}

func TestCommitOTPAndExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pending := func(t *testing.T, otp string) string {
		t.Helper()
		a, err := f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, OTP: otp, MaxFailedAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		// Stand in for the key exchange: commit needs PENDING_COMMIT.
		if _, err := f.st.UpdateCredential(ctx, a.Credential.ID, func(c *store.Credential) error {
			return c.Transition(store.StatusPendingCommit, store.ReasonNone, f.clock.Now())
		}); err != nil {
			t.Fatal(err)
		}
		return a.Credential.ID
	}
	t.Run("commit of a CREATED activation", func(t *testing.T) {
		a, err := f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Commit(ctx, "test", a.Credential.ID, ""); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong OTPs remove", func(t *testing.T) {
		id := pending(t, "123456")
		if _, err := f.s.Commit(ctx, "test", id, "000000"); err == nil || errors.Is(err, fault.ErrGone) {
			t.Fatalf("first wrong OTP: %v", err)
		}
		if _, err := f.s.Commit(ctx, "test", id, "111111"); !errors.Is(err, fault.ErrGone) {
			t.Fatalf("second wrong OTP: %v", err)
		}
		if a, _ := f.s.Get(ctx, id); a.Credential.Status != store.StatusRemoved || a.Credential.LookupKey != "" {
			t.Fatalf("activation %+v", a.Credential)
		}
	})
	t.Run("right OTP activates", func(t *testing.T) {
		id := pending(t, "123456")
		a, err := f.s.Commit(ctx, "test", id, "123456")
		if err != nil || a.Credential.Status != store.StatusActive || a.Credential.ExpiresAt != nil || a.Credential.LookupKey != "" {
			t.Fatalf("commit: %+v %v", a.Credential, err)
		}
		sec, err := f.s.openSecret(a.Credential)
		if err != nil || sec.OTPHash != nil || sec.Code != "" {
			t.Fatalf("secret after commit: %+v %v", sec, err)
		}
	})
	t.Run("sweep", func(t *testing.T) {
		id := pending(t, "")
		f.clock.Advance(5*time.Minute + time.Second)
		n, err := f.s.ExpireDue(ctx) // this one and the CREATED one of the first subtest
		if err != nil || n != 2 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		if c, _ := f.st.GetCredential(ctx, id); c.Status != store.StatusRemoved {
			t.Fatalf("status %s", c.Status)
		}
		if n, err := f.s.ExpireDue(ctx); err != nil || n != 0 {
			t.Fatalf("second ExpireDue = %d, %v", n, err)
		}
	})
}

// sealApp encrypts plain for the application as a 3.2 client would.
func sealApp(t *testing.T, app store.Application, sh1 powerauth.SharedInfo1, plain []byte, now time.Time) *powerauth.Envelope {
	t.Helper()
	master, err := powerauth.ParsePublicKey(app.MasterPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := powerauth.EciesConfig{Version: powerauth.Version32, Scope: powerauth.ScopeApplication, SharedInfo1: sh1,
		ApplicationKey: app.AppKey, ApplicationSecret: powerauth.ApplicationSecret(app.AppSecret)}
	env, _, err := cfg.SealRequest(master, plain, now)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestOpenEnvelope(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	master, err := f.s.masterKey(f.app)
	if err != nil {
		t.Fatal(err)
	}
	cfg := powerauth.EciesConfig{Version: powerauth.Version32, Scope: powerauth.ScopeApplication,
		SharedInfo1: powerauth.SharedInfo1ActivationLayer1, ApplicationKey: f.app.AppKey,
		ApplicationSecret: powerauth.ApplicationSecret(f.app.AppSecret)}
	now := f.clock.Now()
	fresh := sealApp(t, f.app, powerauth.SharedInfo1ActivationLayer1, []byte(`{"a":1}`), now)
	otherSH1 := sealApp(t, f.app, powerauth.SharedInfo1VaultUnlock, []byte(`{}`), now)
	tampered := *sealApp(t, f.app, powerauth.SharedInfo1ActivationLayer1, []byte(`{}`), now)
	tampered.Timestamp++
	tests := []struct {
		name string
		env  *powerauth.Envelope
		ok   bool
	}{
		{"61 s old", sealApp(t, f.app, powerauth.SharedInfo1ActivationLayer1, []byte(`{}`), now.Add(-61*time.Second)), false},
		{"61 s ahead", sealApp(t, f.app, powerauth.SharedInfo1ActivationLayer1, []byte(`{}`), now.Add(61*time.Second)), false},
		{"other endpoint", otherSH1, false},
		{"timestamp changed after sealing", &tampered, false},
		{"fresh", fresh, true},
		{"replayed", fresh, false},
		{"59 s old", sealApp(t, f.app, powerauth.SharedInfo1ActivationLayer1, []byte(`{}`), now.Add(-59*time.Second)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.s.openEnvelope(ctx, cfg, tt.env, master)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !errors.Is(err, ErrEncryption) {
				t.Fatalf("err = %v, want ErrEncryption", err)
			}
		})
	}
}

func TestTemporaryKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret := powerauth.ApplicationSecret(f.app.AppSecret)
	key, _ := powerauth.TemporaryKeyRequestKey(powerauth.ScopeApplication, secret, powerauth.TransportKey{})
	now := f.clock.Now()
	jwt := func(k []byte, r powerauth.TemporaryKeyRequest) string {
		s, err := powerauth.SignTemporaryKeyRequest(k, r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := powerauth.TemporaryKeyRequest{ApplicationKey: f.app.AppKey, Challenge: "c1", IssuedAtMs: now.UnixMilli()}
	unknownApp := good
	unknownApp.ApplicationKey = "AAAAAAAAAAAAAAAAAAAAAA=="
	stale := good
	stale.IssuedAtMs = now.Add(-2 * time.Minute).UnixMilli()
	unknownAct := good
	unknownAct.ActivationID = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name string
		jwt  string
	}{
		{"garbage", "a.b.c"},
		{"wrong key", jwt(bytes.Repeat([]byte{1}, 16), good)},
		{"unknown application", jwt(key, unknownApp)},
		{"stale iat", jwt(key, stale)},
		{"unknown activation", jwt(key, unknownAct)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.s.CreateTemporaryKey(ctx, tt.jwt); !errors.Is(err, ErrEncryption) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	resp, err := f.s.CreateTemporaryKey(ctx, jwt(key, good))
	if err != nil {
		t.Fatal(err)
	}
	master, _ := powerauth.ParsePublicKey(f.app.MasterPublicKey)
	claims, err := powerauth.VerifyTemporaryKeyResponse(resp, master)
	if err != nil || claims.Challenge != "c1" || claims.ApplicationKey != f.app.AppKey || claims.ActivationID != "" ||
		claims.ExpiresAtMs-claims.IssuedAtMs != (5*time.Minute).Milliseconds() {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	t.Run("the key opens 3.3 requests of its scope only, until it expires", func(t *testing.T) {
		if _, err := f.s.temporaryKey(ctx, claims.KeyID, f.app.AppKey, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.temporaryKey(ctx, claims.KeyID, f.app.AppKey, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, ErrEncryption) {
			t.Fatalf("activation scope: %v", err)
		}
		if _, err := f.s.temporaryKey(ctx, claims.KeyID, "BBBBBBBBBBBBBBBBBBBBBB==", ""); !errors.Is(err, ErrEncryption) {
			t.Fatalf("another application: %v", err)
		}
		f.clock.Advance(5 * time.Minute)
		if _, err := f.s.temporaryKey(ctx, claims.KeyID, f.app.AppKey, ""); !errors.Is(err, ErrEncryption) {
			t.Fatalf("expired: %v", err)
		}
	})
}

func TestOperationData(t *testing.T) {
	base := store.Operation{ID: "op", Type: "payment", Amount: "100.00", Currency: "EUR",
		PayeeAccount: "DE89370400440532013000", PayeeName: "Landlord"}
	with := func(f func(*store.Operation)) store.Operation { o := base; f(&o); return o }
	tests := []struct {
		name string
		op   store.Operation
		want string
	}{
		{"payment to an IBAN", base, "A1*A100.00EUR*IDE89370400440532013000*TLandlord"},
		{"payment to another account", with(func(o *store.Operation) { o.PayeeAccount = "238400856/0300" }),
			"A1*A100.00EUR*Q238400856/0300*TLandlord"},
		{"an IBAN-shaped account with bad check digits", with(func(o *store.Operation) { o.PayeeAccount = "DE00370400440532013000" }),
			"A1*A100.00EUR*QDE00370400440532013000*TLandlord"},
		{"escaped text", with(func(o *store.Operation) { o.PayeeName = `A*B\C`; o.Text = "line1\nline2" }),
			`A1*A100.00EUR*IDE89370400440532013000*TA\*B\\C*Nline1\nline2`},
		{"zero-decimal currency", with(func(o *store.Operation) { o.Amount, o.Currency = "1500", "JPY" }),
			"A1*A1500JPY*IDE89370400440532013000*TLandlord"},
		{"login", store.Operation{Type: "login", Text: "Sign in to web banking"}, "A2*NSign in to web banking"},
		{"login without text", store.Operation{Type: "login"}, "A2"},
		// What the mobile token shows of a login (an amount, a payee the bank gave it) is signed too.
		{"login with an amount", store.Operation{Type: "login", Amount: "500.00", Currency: "EUR", Text: "new limit"},
			"A2*A500.00EUR*Nnew limit"},
		{"login with a payee", store.Operation{Type: "login", PayeeAccount: "DE89370400440532013000", PayeeName: "Landlord"},
			"A2*IDE89370400440532013000*TLandlord"},
		{"beneficiary change", with(func(o *store.Operation) { o.Type, o.Amount, o.Currency = "beneficiary.add", "", "" }),
			"A0*IDE89370400440532013000*TLandlord"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OperationData(tt.op)
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			if _, err := powerauth.ParseOperationData(got); err != nil {
				t.Fatalf("not parseable: %v", err)
			}
		})
	}
}

func TestOfflineNonce(t *testing.T) {
	op := store.Operation{ID: "a", Nonce: "bc"}
	n := offlineNonce(op, "d")
	if len(n) != 16 {
		t.Fatalf("nonce of %d bytes", len(n))
	}
	if bytes.Equal(n, offlineNonce(store.Operation{ID: "ab", Nonce: "c"}, "d")) {
		t.Fatal("length prefixes do not separate the inputs")
	}
	if !bytes.Equal(n, offlineNonce(op, "d")) || bytes.Equal(n, offlineNonce(op, "e")) {
		t.Fatal("nonce is not a function of operation and activation")
	}
}

func TestParsers(t *testing.T) {
	ok := func(err error) bool { return err == nil }
	tests := []struct {
		name string
		run  func() error
		want bool
	}{
		{"status: not JSON", func() error { _, err := ParseStatusRequest([]byte("x")); return err }, false},
		{"status: array", func() error { _, err := ParseStatusRequest([]byte("[]")); return err }, false},
		{"status: no requestObject", func() error { _, err := ParseStatusRequest([]byte(`{}`)); return err }, false},
		{"status: null requestObject", func() error { _, err := ParseStatusRequest([]byte(`{"requestObject":null}`)); return err }, false},
		{"status: bad id", func() error {
			_, err := ParseStatusRequest([]byte(`{"requestObject":{"activationId":"x","challenge":"AAAAAAAAAAAAAAAAAAAAAA=="}}`))
			return err
		}, false},
		{"status: short challenge", func() error {
			_, err := ParseStatusRequest([]byte(`{"requestObject":{"activationId":"11111111-2222-4333-8444-555555555555","challenge":"AAAA"}}`))
			return err
		}, false},
		{"status: trailing data", func() error {
			_, err := ParseStatusRequest([]byte(`{"requestObject":{"activationId":"11111111-2222-4333-8444-555555555555","challenge":"AAAAAAAAAAAAAAAAAAAAAA=="}} {}`))
			return err
		}, false},
		{"status: good, unknown members ignored", func() error {
			_, err := ParseStatusRequest([]byte(`{"requestObject":{"activationId":"11111111-2222-4333-8444-555555555555","challenge":"AAAAAAAAAAAAAAAAAAAAAA==","x":1}}`))
			return err
		}, true},
		{"operation: bad id", func() error { _, err := ParseOperationRequest([]byte(`{"requestObject":{"id":"1"}}`)); return err }, false},
		{"operation: bad reason", func() error {
			_, err := ParseOperationRequest([]byte(`{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","reason":"BORED"}}`))
			return err
		}, false},
		{"operation: number data", func() error {
			_, err := ParseOperationRequest([]byte(`{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","data":1}}`))
			return err
		}, false},
		{"operation: good", func() error {
			_, err := ParseOperationRequest([]byte(`{"requestObject":{"id":"11111111-2222-4333-8444-555555555555","data":"A1*A1.00EUR"}}`))
			return err
		}, true},
		{"list: array", func() error { return ParseListRequest([]byte(`[]`)) }, false},
		{"list: empty", func() error { return ParseListRequest(nil) }, true},
		{"list: {}", func() error { return ParseListRequest([]byte(`{}`)) }, true},
		{"keystore: no jwt", func() error { _, err := ParseKeystoreRequest([]byte(`{"requestObject":{}}`)); return err }, false},
		{"layer 1: recovery without its attributes", func() error {
			_, err := parseLayer1([]byte(`{"type":"RECOVERY","identityAttributes":{"code":"W65WE-3T7VI-7FBS2-A4OYA"}}`))
			return err
		}, false},
		{"layer 1: recovery with a 9-digit PUK", func() error {
			_, err := parseLayer1([]byte(`{"type":"RECOVERY","identityAttributes":{"recoveryCode":"W65WE-3T7VI-7FBS2-A4OYA","puk":"123456789"}}`))
			return err
		}, false},
		{"layer 1: unknown type", func() error {
			_, err := parseLayer1([]byte(`{"type":"DIRECT","identityAttributes":{"code":"W65WE-3T7VI-7FBS2-A4OYA"}}`))
			return err
		}, false},
		{"layer 1: bad code", func() error {
			_, err := parseLayer1([]byte(`{"type":"CODE","identityAttributes":{"code":"W65WE-3T7VI-7FBS2-A4OYB"}}`))
			return err
		}, false},
		{"layer 1: no activation data", func() error {
			_, err := parseLayer1([]byte(`{"type":"CODE","identityAttributes":{"code":"W65WE-3T7VI-7FBS2-A4OYA"}}`))
			return err
		}, false},
		{"layer 2: no key", func() error { _, _, err := parseLayer2([]byte(`{"activationName":"x"}`)); return err }, false},
		{"layer 2: control character in the name", func() error {
			_, _, err := parseLayer2([]byte(`{"devicePublicKey":"` + testDeviceKey + `","activationName":"a\u0007"}`))
			return err
		}, false},
		{"layer 2: good", func() error {
			_, _, err := parseLayer2([]byte(`{"devicePublicKey":"` + testDeviceKey + `","activationName":"Jana's phone","platform":"iOS"}`))
			return err
		}, true},
		{"offline code: letters", func() error { return ValidateOfflineCode("1234567a-12345678") }, false},
		{"offline code: mixed lengths", func() error { return ValidateOfflineCode("1234-12345") }, false},
		{"offline code: three groups", func() error { return ValidateOfflineCode("1234-1234-1234") }, false},
		{"offline code: good", func() error { return ValidateOfflineCode("12345678-87654321") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); ok(err) != tt.want {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

var testDeviceKey = func() string {
	k, _ := powerauth.GeneratePrivateKey()
	b, _ := json.Marshal(k.PublicKey().Bytes())
	return strings.Trim(string(b), `"`)
}()

var fixedNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
