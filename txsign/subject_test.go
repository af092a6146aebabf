package txsign

import (
	"context"
	"testing"

	"github.com/signet-sca/signet/store"
)

// usersOnly answers GetUser with an external id derived from the id, counting the reads.
type usersOnly struct {
	Store
	reads map[string]int
}

func (u *usersOnly) GetUser(_ context.Context, id string) (store.User, error) {
	u.reads[id]++
	return store.User{ID: id, ExternalID: "ext-" + id}, nil
}

// TestSubjectCache: minting reads a user's external id (the token's sub, immutable) once, not on every
// approval, and the cache starts over when it would exceed maxSubjects entries, so that a stream of distinct
// users cannot grow it without bound.
func TestSubjectCache(t *testing.T) {
	st := &usersOnly{reads: map[string]int{}}
	s := &Service{store: st}
	ctx := context.Background()
	sub := func(id string) {
		t.Helper()
		if got, err := s.subject(ctx, id); err != nil || got != "ext-"+id {
			t.Fatalf("subject(%s) = %q, %v", id, got, err)
		}
	}
	for _, id := range []string{"a", "a", "b", "a", "b"} {
		sub(id)
	}
	if st.reads["a"] != 1 || st.reads["b"] != 1 {
		t.Fatalf("user reads %v, want one each", st.reads)
	}
	cached := func(id string) bool { _, ok := s.subjects.Load(id); return ok }

	s.subjectCount.Store(maxSubjects - 1)
	sub("c") // the maxSubjects-th entry: kept with the others
	if !cached("a") || !cached("c") {
		t.Fatal("the cache was cleared before it exceeded maxSubjects entries")
	}
	sub("d") // one too many: the cache starts over with it
	if cached("a") || cached("c") || !cached("d") || s.subjectCount.Load() != 1 {
		t.Fatalf("past maxSubjects: a %v, c %v, d %v, count %d; want only d, count 1", cached("a"), cached("c"), cached("d"), s.subjectCount.Load())
	}
}
