package activation

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

const (
	tP   = powerauth.SignaturePossession
	tPK  = powerauth.SignaturePossessionKnowledge
	tPB  = powerauth.SignaturePossessionBiometry
	tPKB = powerauth.SignaturePossessionKnowledgeBiometry
)

const (
	eventValidate = "powerauth.signature.validate"
	notProven     = "possession not proven: signature does not verify"
)

// TestSignatureTypePredicates: which signature types each signed endpoint accepts (PowerAuth 3.x Standard
// RESTful API: activation remove and the approval need two factors, recovery confirm possession_knowledge,
// upgrade commit possession).
func TestSignatureTypePredicates(t *testing.T) {
	all := []powerauth.SignatureType{tP, tPK, tPB, tPKB}
	for _, tc := range []struct {
		name string
		pred func(powerauth.SignatureType) bool
		want []powerauth.SignatureType
	}{
		{"anyType", anyType, all},
		{"twoFactor", twoFactor, []powerauth.SignatureType{tPK, tPB, tPKB}},
		{"possessionKnowledge", possessionKnowledge, []powerauth.SignatureType{tPK}},
		{"possessionOnly", possessionOnly, []powerauth.SignatureType{tP}},
	} {
		for _, typ := range all {
			if got := tc.pred(typ); got != slices.Contains(tc.want, typ) {
				t.Errorf("%s(%s) = %v", tc.name, typ, got)
			}
		}
	}
}

// TestVerifyAdvancesCounter: a valid signature moves CTR to the matched counter + 1 and CTR_DATA to the next
// value (the next signature verifies, the same one again does not), within the look-ahead window of 20 (the
// device may be up to 19 signatures ahead), and is audited with what re-verifies it.
func TestVerifyAdvancesCounter(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	body := []byte(`{"reason":"test"}`)

	h := p.sign(t, st, "POST", URISignatureValidate, body, tPK, testPIN)
	v, err := p.s.Verify(ctx, eventValidate, SignedRequest{Method: "POST", URIID: URISignatureValidate, Authorization: h, Body: body}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.Match.Offset != 0 || v.Match.NextCounter != 1 || v.Activation.Counter != 1 || v.Application.ID != p.app.ID ||
		v.Header.SignatureType != tPK {
		t.Fatalf("verified %+v, activation counter %d", v.Match, v.Activation.Counter)
	}
	c := p.wantCounter(t, id, 1, 0)
	if c.LastUsedAt == nil || !c.LastUsedAt.Equal(p.clock.Now()) {
		t.Fatalf("last used %v", c.LastUsedAt)
	}
	hdr, _ := powerauth.ParseAuthorizationHeader(h)
	ev := p.wantEvent(t, eventValidate, audit.Success, "", id)
	wantNumber(t, ev, "counter", 0)
	if ev["signed"] != SignedBase("POST", URISignatureValidate, hdr.Nonce, body) || ev["signature"] != hdr.Signature ||
		ev["signature_type"] != "possession_knowledge" || ev["uri_id"] != URISignatureValidate || ev["version"] != "3.2" ||
		ev["application_id"] != p.app.ID {
		t.Fatalf("evidence %v", ev)
	}

	t.Run("the same signature again", func(t *testing.T) {
		err := p.s.ValidateSignature(ctx, SignedRequest{Method: "POST", Authorization: h, Body: body})
		ev := p.wantRefused(t, err, eventValidate, audit.Unverified, notProven, id)
		wantNumber(t, ev, "counter", 1)
		p.wantCounter(t, id, 1, 0)
	})
	t.Run("19 signatures lost: the last position of the window", func(t *testing.T) {
		if err := st.AdvanceCounter(19); err != nil {
			t.Fatal(err)
		}
		h := p.sign(t, st, "POST", URISignatureValidate, body, tP, "")
		if err := p.s.ValidateSignature(ctx, SignedRequest{Method: "POST", Authorization: h, Body: body}); err != nil {
			t.Fatal(err)
		}
		ev := p.wantEvent(t, eventValidate, audit.Success, "", id)
		wantNumber(t, ev, "counter", 20)
		p.wantCounter(t, id, 21, 0)
	})
	t.Run("20 signatures lost: outside the window", func(t *testing.T) {
		if err := st.AdvanceCounter(20); err != nil {
			t.Fatal(err)
		}
		h := p.sign(t, st, "POST", URISignatureValidate, body, tPK, testPIN)
		err := p.s.ValidateSignature(ctx, SignedRequest{Method: "POST", Authorization: h, Body: body})
		p.wantRefused(t, err, eventValidate, audit.Unverified, notProven, id)
		p.wantCounter(t, id, 21, 0)
	})
	t.Run("another body than the one signed", func(t *testing.T) {
		h := p.sign(t, st, "POST", URISignatureValidate, body, tP, "")
		err := p.s.ValidateSignature(ctx, SignedRequest{Method: "POST", Authorization: h, Body: []byte(`{"reason":"tes"}`)})
		p.wantRefused(t, err, eventValidate, audit.Unverified, notProven, id)
		p.wantCounter(t, id, 21, 0)
	})
}

// TestVerifyFailedAttempts: a signature whose possession component verifies but whose knowledge or biometry
// factor does not counts a failed attempt, and BLOCKS the activation at its maximum (PowerAuth 3.x); a
// two-factor success resets the count, a possession success does not; a forged possession component counts
// nothing.
func TestVerifyFailedAttempts(t *testing.T) {
	p, st := newActivated(t, 3)
	ctx := context.Background()
	id := st.ActivationID
	const wrongFactor = "signature does not verify: wrong knowledge or biometry factor"

	err := p.validate(t, st, tPK, "9999")
	ev := p.wantRefused(t, err, eventValidate, audit.Failure, wrongFactor, id)
	wantNumber(t, ev, "failed_attempts", 1)
	wantNumber(t, ev, "counter", 0)
	if ev["status"] != "ACTIVE" || ev["signature_type"] != "possession_knowledge" {
		t.Fatalf("evidence %v", ev)
	}
	p.wantCounter(t, id, 0, 1)

	// A wrong biometry key: the possession_biometry factor fails the same way.
	bio := st.BiometryKey
	st.BiometryKey = make([]byte, len(bio))
	err = p.validate(t, st, tPB, "")
	st.BiometryKey = bio
	ev = p.wantRefused(t, err, eventValidate, audit.Failure, wrongFactor, id)
	wantNumber(t, ev, "failed_attempts", 2)
	p.wantCounter(t, id, 0, 2)

	// Possession alone neither counts nor resets.
	h := forged(t, p.sign(t, st, "POST", URISignatureValidate, nil, tPK, testPIN))
	err = p.s.ValidateSignature(ctx, SignedRequest{Method: "POST", Authorization: h})
	p.wantRefused(t, err, eventValidate, audit.Unverified, notProven, id)
	p.wantCounter(t, id, 0, 2)
	if err := p.validate(t, st, tP, ""); err != nil {
		t.Fatal(err)
	}
	p.wantCounter(t, id, 4, 2)
	if err := p.validate(t, st, tPB, ""); err != nil {
		t.Fatal(err)
	}
	p.wantCounter(t, id, 5, 0)

	// Three wrong PINs in a row: BLOCKED at the third.
	for i := 1; i <= 3; i++ {
		err := p.validate(t, st, tPK, "0000")
		ev := p.wantRefused(t, err, eventValidate, audit.Failure, wrongFactor, id)
		wantNumber(t, ev, "failed_attempts", int64(i))
		wantNumber(t, ev, "counter", 5)
		if want := map[bool]string{false: "ACTIVE", true: "BLOCKED"}[i == 3]; ev["status"] != want {
			t.Fatalf("attempt %d: status %v, want %s", i, ev["status"], want)
		}
	}
	c := p.wantCounter(t, id, 5, 3)
	if c.Status != store.StatusBlocked || c.BlockReason != store.ReasonMaxFailedAttempts {
		t.Fatalf("activation %s %s", c.Status, c.BlockReason)
	}
	err = p.validate(t, st, tPK, testPIN)
	p.wantRefused(t, err, eventValidate, audit.Unverified, "activation is BLOCKED", id)
	p.wantCounter(t, id, 5, 3)
}

// TestVerifyRefusals: everything refused before the signature is checked counts nothing, moves no counter
// and is audited as unverified with its reason; every refusal is the same fault.ErrUnauthenticated.
func TestVerifyRefusals(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	other, err := p.s.CreateApplication(ctx, "test", "Other app")
	if err != nil {
		t.Fatal(err)
	}
	passkey := p.passkey(t)
	// signAs signs with the device's keys a header naming another activation or application.
	signAs := func(activationID, appKey string) string {
		hdr, _ := powerauth.ParseAuthorizationHeader(p.sign(t, st, "POST", URISignatureValidate, nil, tPK, testPIN))
		hdr.ActivationID, hdr.ApplicationKey = activationID, appKey
		return hdr.HeaderValue()
	}
	tests := []struct {
		name, header, reason, credID string
		verify                       func(SignedRequest) error
	}{
		{name: "malformed header", header: `PowerAuth pa_version="3.2"`, reason: "malformed X-PowerAuth-Authorization"},
		{name: "unknown activation", header: signAs("00000000-0000-4000-8000-000000000000", p.app.AppKey), reason: "unknown activation"},
		{name: "a passkey's id", header: signAs(passkey.ID, p.app.AppKey), reason: "unknown activation"},
		{name: "another application's key", header: signAs(id, other.AppKey), reason: "application key does not match the activation", credID: id},
		{name: "unknown application key", header: signAs(id, "AAAAAAAAAAAAAAAAAAAAAA=="), reason: "application key does not match the activation", credID: id},
		{name: "possession where two factors are needed", header: p.sign(t, st, "POST", URIActivationRemove, nil, tP, ""),
			reason: "signature type possession not allowed here", credID: id,
			verify: func(r SignedRequest) error { _, err := p.s.RemoveActivation(ctx, r); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verify, event := tt.verify, "powerauth.activation.remove"
			if verify == nil {
				verify, event = func(r SignedRequest) error { return p.s.ValidateSignature(ctx, r) }, eventValidate
			}
			err := verify(SignedRequest{Method: "POST", Authorization: tt.header})
			if ev := p.wantRefused(t, err, event, audit.Unverified, tt.reason, tt.credID); ev != nil {
				t.Fatalf("evidence %v", ev)
			}
			p.wantCounter(t, id, 0, 0)
		})
	}
	t.Run("a suspended application", func(t *testing.T) {
		if _, err := p.st.UpdateApplication(ctx, p.app.ID, func(a *store.Application) error { a.Status = "SUSPENDED"; return nil }); err != nil {
			t.Fatal(err)
		}
		err := p.validate(t, st, tPK, testPIN)
		p.wantRefused(t, err, eventValidate, audit.Unverified, "application key does not match the activation", id)
		if _, err := p.st.UpdateApplication(ctx, p.app.ID, func(a *store.Application) error { a.Status = AppActive; return nil }); err != nil {
			t.Fatal(err)
		}
	})
	for _, status := range []store.Status{store.StatusBlocked, store.StatusRemoved} {
		t.Run("activation "+string(status), func(t *testing.T) {
			st := p.activate(t, p.user, 0)
			p.transition(t, st.ActivationID, status)
			err := p.validate(t, st, tPK, testPIN)
			p.wantRefused(t, err, eventValidate, audit.Unverified, "activation is "+string(status), st.ActivationID)
			p.wantCounter(t, st.ActivationID, 0, 0)
		})
	}
	t.Run("nil allows any type", func(t *testing.T) {
		// The device signed 6 times above at its counters 0 to 5, all refused unchecked: this is 6.
		h := p.sign(t, st, "GET", "/custom", []byte("a=1"), tP, "")
		v, err := p.s.Verify(ctx, "custom", SignedRequest{Method: "GET", URIID: "/custom", Authorization: h, Body: []byte("a=1")}, nil)
		if err != nil || v.Match.Offset != 6 || v.Activation.Counter != 7 {
			t.Fatalf("got %+v, %v", v, err)
		}
	})
}

// TestVerifyRaces: what changes between the activation's read and the counter's compare-and-swap.
func TestVerifyRaces(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	t.Run("advance refuses a counter used since", func(t *testing.T) {
		ctr, err := powerauth.ParseCounterData(st.CounterData)
		if err != nil {
			t.Fatal(err)
		}
		m := powerauth.CounterMatch{NextCounter: 1, NextCounterData: ctr.Next()}
		c, err := p.s.advance(ctx, id, m, tPK, true)
		if err != nil || c.Counter != 1 {
			t.Fatalf("first advance: counter %d, %v", c.Counter, err)
		}
		d, _ := readData(c)
		if d.CtrData != base64.StdEncoding.EncodeToString(m.NextCounterData[:]) {
			t.Fatalf("CTR_DATA %s", d.CtrData)
		}
		if _, err := p.s.advance(ctx, id, m, tPK, true); !errors.Is(err, errCounterUsed) {
			t.Fatalf("second advance: %v", err)
		}
		p.wantCounter(t, id, 1, 0)
		if err := st.AdvanceCounter(1); err != nil { // as if the device had signed at 0
			t.Fatal(err)
		}
	})
	t.Run("a concurrent request used the counter", func(t *testing.T) {
		p.hooked(func() error {
			_, err := p.st.UpdateCredential(ctx, id, func(c *store.Credential) error { c.Counter = 2; return nil })
			return err
		})
		err := p.validate(t, st, tPK, testPIN)
		ev := p.wantRefused(t, err, eventValidate, audit.Failure, "signature counter already used", id)
		wantNumber(t, ev, "counter", 1)
		p.wantCounter(t, id, 2, 0)
	})
	t.Run("blocked concurrently", func(t *testing.T) {
		p.hooked(func() error { p.transition(t, id, store.StatusBlocked); return nil })
		err := p.validate(t, st, tP, "")
		p.wantRefused(t, err, eventValidate, audit.Failure, "activation changed during verification: activation is BLOCKED", id)
		p.wantCounter(t, id, 2, 0)
		p.transition(t, id, store.StatusActive)
	})
	t.Run("an outage answers the outage, not a refusal", func(t *testing.T) {
		before, _ := p.lastEvent(t)
		p.hooked(func() error { return fault.ErrUnavailable })
		if err := p.validate(t, st, tP, ""); !errors.Is(err, fault.ErrUnavailable) || errors.Is(err, fault.ErrUnauthenticated) {
			t.Fatalf("got %v", err)
		}
		if after, _ := p.lastEvent(t); after.ID != before.ID {
			t.Fatalf("audited %s %s", after.Type, after.Reason)
		}
		p.wantCounter(t, id, 2, 0)
	})
	t.Run("a wrong PIN while the activation is blocked concurrently counts nothing more", func(t *testing.T) {
		p.hooked(func() error { p.transition(t, id, store.StatusBlocked); return nil })
		err := p.validate(t, st, tPK, "0000")
		ev := p.wantRefused(t, err, eventValidate, audit.Failure, "signature does not verify: wrong knowledge or biometry factor", id)
		wantNumber(t, ev, "failed_attempts", 0)
		if ev["status"] != "BLOCKED" {
			t.Fatalf("evidence %v", ev)
		}
		p.wantCounter(t, id, 2, 0)
	})
}

// TestRemoveActivation: a two-factor signature over /pa/activation/remove removes the activation; removed,
// it verifies nothing more.
func TestRemoveActivation(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	remove := func(st *device.State, typ powerauth.SignatureType, pin string) (string, error) {
		h := p.sign(t, st, "POST", URIActivationRemove, nil, typ, pin)
		return p.s.RemoveActivation(ctx, SignedRequest{Method: "POST", Authorization: h})
	}
	for _, typ := range []powerauth.SignatureType{tPK, tPB} {
		st := p.activate(t, p.user, 0)
		id := st.ActivationID
		got, err := remove(st, typ, testPIN)
		if err != nil || got != id {
			t.Fatalf("%s: removed %q, %v", typ, got, err)
		}
		p.wantEvent(t, "powerauth.activation.remove", audit.Success, "", id)
		if c := p.wantCounter(t, id, 1, 0); c.Status != store.StatusRemoved || c.RemovedAt == nil {
			t.Fatalf("%s: activation %s", typ, c.Status)
		}
		_, err = remove(st, typ, testPIN)
		p.wantRefused(t, err, "powerauth.activation.remove", audit.Unverified, "activation is REMOVED", id)
	}
	t.Run("removed concurrently", func(t *testing.T) {
		st := p.activate(t, p.user, 0)
		id := st.ActivationID
		p.hooked(nil, func() error { p.transition(t, id, store.StatusRemoved); return nil })
		if _, err := remove(st, tPK, testPIN); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("got %v", err)
		}
	})
}
