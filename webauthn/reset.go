package webauthn

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// A forgotten passcode (issue 18 §2): the bank issues a reset link through
// its private API; the customer opens it (a management session like an
// enrollment link's, marked for the reset), proves possession with one of
// their passkeys and sets a new passcode. The failures and the lock clear;
// each step is audited. The old passcode is not needed, which is why only a
// link the bank issued for this purpose allows it, once.

// PurposePasscodeReset marks an enrollment link and its session as a passcode reset.
const PurposePasscodeReset = "passcode_reset"

const kindPasscodeReset = "webauthn_passcode_reset" // passkey → new passcode, on a reset session

// linkData is what an enrollment link (and the session it opens) carries.
type linkData struct {
	Purpose string `json:"purpose,omitempty"`
}

func purposeOf(c store.Ceremony) string {
	var d linkData
	if len(c.Data) == 0 || json.Unmarshal(c.Data, &d) != nil {
		return ""
	}
	return d.Purpose
}

var (
	errNotReset       = fault.New(fault.ErrForbidden, "this link does not reset the passcode; ask your bank for a reset link")
	errNoPasskeyReset = fault.New(fault.ErrConflict, "the user has no active passkey to prove possession with; issue an enrollment link instead")
)

// IssuePasscodeReset creates a single-use passcode-reset link for a user who
// has a passkey (the proof of possession), valid for EnrollmentTTL. The link
// opens the enrollment page, which then offers the reset.
func (s *Service) IssuePasscodeReset(ctx context.Context, actor, userID string) (Enrollment, error) {
	u, err := s.user(ctx, userID)
	if err != nil {
		return Enrollment{}, err
	}
	creds, err := s.passkeys(ctx, u.ID, true)
	if err != nil {
		return Enrollment{}, err
	}
	if len(creds) == 0 {
		return Enrollment{}, errNoPasskeyReset
	}
	token, hash, err := newToken()
	if err != nil {
		return Enrollment{}, err
	}
	data, _ := json.Marshal(linkData{Purpose: PurposePasscodeReset})
	now := s.cfg.Now().UTC()
	c := store.Ceremony{ID: uuid.NewString(), Kind: kindEnrollment, LookupKey: hash, UserID: u.ID, Data: data,
		ExpiresAt: now.Add(s.cfg.EnrollmentTTL), CreatedAt: now}
	if err := s.store.CreateCeremony(ctx, &c); err != nil {
		return Enrollment{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "passcode.reset.issue", Outcome: audit.Success, Actor: actor,
		UserID: u.ID, Evidence: map[string]any{"ceremony_id": c.ID, "expires_at": c.ExpiresAt}}); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{URL: s.cfg.PublicURL + "/web/enroll#token=" + token, ExpiresAt: c.ExpiresAt}, nil
}

// BeginPasscodeReset starts the reset on a reset session: a passkey assertion
// over a random challenge, and the new passcode encrypted for this ceremony.
func (s *Service) BeginPasscodeReset(ctx context.Context, token string) (AssertionOptions, error) {
	sess, u, err := s.session(ctx, token)
	if err != nil {
		return AssertionOptions{}, err
	}
	if purposeOf(sess) != PurposePasscodeReset {
		return AssertionOptions{}, errNotReset
	}
	return s.beginPasscodeCeremony(ctx, sess, u, kindPasscodeReset, FieldNewPasscode)
}

// PasscodeReset finishes a passcode reset.
type PasscodeReset struct {
	CeremonyID  string
	Credential  []byte
	NewPasscode []byte // new passcode envelope
}

// FinishPasscodeReset verifies the passkey assertion (WebAuthn L3 §7.2, as
// for an approval, over this ceremony's random challenge), sets the new
// passcode (clearing failures and the lock) and ends the reset session: a
// reset link resets once.
func (s *Service) FinishPasscodeReset(ctx context.Context, token string, in PasscodeReset) error {
	f, err := s.startPasscodeFinish(ctx, token, passcodeFinishIn{ceremonyID: in.CeremonyID, kind: kindPasscodeReset,
		credential: in.Credential, newPasscode: in.NewPasscode, event: "passcode.reset",
		session: func(sess store.Ceremony) error {
			if purposeOf(sess) != PurposePasscodeReset {
				return errNotReset
			}
			return nil
		}})
	if err != nil {
		return err
	}
	defer f.leave()
	v, verr := s.verifyAssertion(f.u, f.creds, f.d.Session, f.challenge, f.parsed)
	if verr == nil || v.clone {
		if err := s.afterAssertion(ctx, "browser", f.cred, f.parsed, v, verr == nil, false); err != nil {
			return err
		}
	}
	if verr != nil {
		return f.fail(ctx, verr.Error(), fault.ErrUnauthenticated)
	}
	if err := s.consumeSession(ctx, f.sessionID); err != nil {
		return f.fail(ctx, "reset session already used", err)
	}
	return s.setPasscode(ctx, f.u.ID, f.newPC, "passcode.reset")
}
