package txsign

import (
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

// TestSigningKeyChoiceIsDeterministic: every replica reading the same key table signs with the same key and
// promotes the same next key, whatever order the rows come in: the most recently activated active key
// (during a rotation the promoted key, not the one about to retire), the oldest next key, ties broken by
// the smallest id; a key without an activation time is placed by its creation time.
func TestSigningKeyChoiceIsDeterministic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(min int) *time.Time { v := t0.Add(time.Duration(min) * time.Minute); return &v }
	key := func(id string, state store.SigningKeyState, created int, activated *time.Time) store.SigningKey {
		return store.SigningKey{ID: id, State: state, CreatedAt: *at(created), ActivatedAt: activated}
	}
	for _, tc := range []struct {
		name string
		keys []store.SigningKey
		pick func([]store.SigningKey) *store.SigningKey
		want string
	}{
		// The promoted key was created after the retiring one and activated after it.
		{"rotation in progress", []store.SigningKey{
			key("old", store.KeyActive, 0, at(0)), key("new", store.KeyActive, 5, at(60)), key("n", store.KeyNext, 61, nil)},
			active, "new"},
		// Activation, not creation, decides: the key created first was activated last.
		{"created first, activated last", []store.SigningKey{
			key("a", store.KeyActive, 0, at(90)), key("b", store.KeyActive, 10, at(20))},
			active, "a"},
		{"same activation time", []store.SigningKey{
			key("kid-b", store.KeyActive, 0, at(30)), key("kid-a", store.KeyActive, 5, at(30)), key("kid-c", store.KeyActive, 9, at(30))},
			active, "kid-a"},
		{"no activation time: creation time", []store.SigningKey{
			key("early", store.KeyActive, 0, nil), key("late", store.KeyActive, 7, at(1))},
			active, "late"},
		{"oldest next key", []store.SigningKey{
			key("n2", store.KeyNext, 20, nil), key("n1", store.KeyNext, 10, nil), key("act", store.KeyActive, 0, at(0))},
			next, "n1"},
		{"next keys created together", []store.SigningKey{
			key("n-b", store.KeyNext, 10, nil), key("n-a", store.KeyNext, 10, nil)},
			next, "n-a"},
		{"retired keys never sign", []store.SigningKey{
			key("ret", store.KeyRetired, 50, at(99)), key("act", store.KeyActive, 0, at(0))},
			active, "act"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every rotation of the rows: a replica's read may come in any order.
			for r := range tc.keys {
				rows := append(append([]store.SigningKey(nil), tc.keys[r:]...), tc.keys[:r]...)
				for _, order := range [][]store.SigningKey{rows, reversed(rows)} {
					if got := tc.pick(order); got == nil || got.ID != tc.want {
						t.Fatalf("picked %+v from %v, want %s", got, ids(order), tc.want)
					}
				}
			}
		})
	}
	if active([]store.SigningKey{key("n", store.KeyNext, 0, nil)}) != nil || next([]store.SigningKey{key("a", store.KeyActive, 0, at(0))}) != nil {
		t.Fatal("a key of another state was picked")
	}
}

func reversed(keys []store.SigningKey) []store.SigningKey {
	out := make([]store.SigningKey, len(keys))
	for i, k := range keys {
		out[len(keys)-1-i] = k
	}
	return out
}

func ids(keys []store.SigningKey) []string {
	var s []string
	for _, k := range keys {
		s = append(s, k.ID)
	}
	return s
}
