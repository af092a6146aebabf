package webauthn

import (
	"testing"

	"github.com/signet-sca/signet/store"
)

func TestPasscodeStateOf(t *testing.T) {
	s := &Service{cfg: Config{PasscodeMaxFailures: 3}}
	v := []byte("verifier")
	for _, tc := range []struct {
		name string
		u    store.User
		want PasscodeState
	}{
		{"locked flag", store.User{PasscodeVerifier: v, PasscodeLocked: true}, PasscodeState{Status: PasscodeLocked}},
		{"every try spent (one still in flight): locked", store.User{PasscodeVerifier: v, PasscodeFailed: 3}, PasscodeState{Status: PasscodeLocked}},
		{"no passcode", store.User{}, PasscodeState{Status: PasscodeNotSet}},
		{"no passcode, stale counters", store.User{PasscodeFailed: 2, PasscodeLocked: true}, PasscodeState{Status: PasscodeNotSet}},
		{"fresh", store.User{PasscodeVerifier: v}, PasscodeState{Status: PasscodeSet, TriesLeft: 3}},
		{"two wrong", store.User{PasscodeVerifier: v, PasscodeFailed: 2}, PasscodeState{Status: PasscodeSet, TriesLeft: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.PasscodeStateOf(tc.u); got != tc.want {
				t.Fatalf("%+v, want %+v", got, tc.want)
			}
		})
	}
}
