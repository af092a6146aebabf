package activation

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-sca/signet/store"
)

// A record as the builds before record formats wrote it (no "format").
const unversionedData = `{"application_id":"0e5b1a4e-6f0c-4a43-9a51-6d1f0c3e2a11","commit_phase":"ON_COMMIT",` +
	`"server_public_key":"BAEC","ctr_data":"AAECAwQFBgcICQoLDA0ODw==","version":3,"fingerprint":"12345678"}`

func TestRecordFormatData(t *testing.T) {
	want := activationData{ApplicationID: "0e5b1a4e-6f0c-4a43-9a51-6d1f0c3e2a11", CommitPhase: CommitOnCommit,
		ServerPublicKey: "BAEC", CtrData: "AAECAwQFBgcICQoLDA0ODw==", Version: 3, Fingerprint: "12345678", Format: recordFormat}
	t.Run("unversioned record reads as the current format", func(t *testing.T) {
		d, err := readData(store.Credential{Data: []byte(unversionedData)})
		if err != nil || d != want {
			t.Fatalf("readData = %+v, %v; want %+v", d, err, want)
		}
	})
	t.Run("the next write stores the format", func(t *testing.T) {
		d, _ := readData(store.Credential{Data: []byte(unversionedData)})
		d.Format = formatUnversioned // a caller cannot write an unversioned record, even by accident
		var c store.Credential
		if err := writeData(&c, d); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(c.Data), `"format":1`) {
			t.Fatalf("written %s", c.Data)
		}
		if back, err := readData(c); err != nil || back != want {
			t.Fatalf("round trip %+v, %v", back, err)
		}
	})
	t.Run("a newer format is refused", func(t *testing.T) {
		newer := strings.Replace(unversionedData, `{`, `{"format":2,`, 1)
		if _, err := readData(store.Credential{Data: []byte(newer)}); err == nil || !strings.Contains(err.Error(), "format 2") {
			t.Fatalf("readData of format 2: %v", err)
		}
	})
}

func TestRecordFormatSecret(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// reseal stores the activation's secret as raw JSON (an older build's record, or a newer one's).
	reseal := func(t *testing.T, id string, raw map[string]any) {
		t.Helper()
		plain, _ := json.Marshal(raw)
		if _, err := f.st.UpdateCredential(ctx, id, func(c *store.Credential) error {
			sealed, err := f.s.sealer.Seal(plain, []byte(adActivation+c.ID))
			c.Secret = sealed
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	sealedFormat := func(t *testing.T, id string) any {
		t.Helper()
		c, err := f.st.GetCredential(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := f.s.sealer.Open(c.Secret, []byte(adActivation+c.ID))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(plain, &m)
		return m["format"]
	}
	pending := func(t *testing.T, otp string) (string, activationSecret) {
		t.Helper()
		a, err := f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID, OTP: otp})
		if err != nil {
			t.Fatal(err)
		}
		if got := sealedFormat(t, a.Credential.ID); got != 1.0 {
			t.Fatalf("a new activation's secret has format %v", got)
		}
		sec, err := f.s.openSecret(a.Credential)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.UpdateCredential(ctx, a.Credential.ID, func(c *store.Credential) error {
			return c.Transition(store.StatusPendingCommit, store.ReasonNone, f.clock.Now())
		}); err != nil {
			t.Fatal(err)
		}
		return a.Credential.ID, sec
	}
	t.Run("unversioned secret still works and is versioned by its next write", func(t *testing.T) {
		id, sec := pending(t, "123456")
		reseal(t, id, map[string]any{"code": sec.Code, "otp_salt": sec.OTPSalt, "otp_hash": sec.OTPHash})
		if got := sealedFormat(t, id); got != nil {
			t.Fatalf("the test record has format %v", got)
		}
		a, err := f.s.Commit(ctx, "test", id, "123456") // checks the OTP from the unversioned secret
		if err != nil || a.Credential.Status != store.StatusActive {
			t.Fatalf("commit: %+v %v", a.Credential, err)
		}
		if got := sealedFormat(t, id); got != 1.0 {
			t.Fatalf("after commit the secret has format %v", got)
		}
	})
	t.Run("a newer secret format is refused", func(t *testing.T) {
		id, sec := pending(t, "123456")
		reseal(t, id, map[string]any{"format": 2, "code": sec.Code, "otp_salt": sec.OTPSalt, "otp_hash": sec.OTPHash})
		if _, err := f.s.Commit(ctx, "test", id, "123456"); err == nil || !strings.Contains(err.Error(), "format 2") {
			t.Fatalf("commit of a format 2 secret: %v", err)
		}
		if c, _ := f.st.GetCredential(ctx, id); c.Status != store.StatusPendingCommit {
			t.Fatalf("status %s", c.Status)
		}
	})
}
