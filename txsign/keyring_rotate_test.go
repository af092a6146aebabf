package txsign_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// TestRotateNeverPromotesAnUnpublishedKey: when the key table has no next key (a rotation whose last step,
// creating the next key, failed), Rotate publishes one and refuses to promote it in the same call, so no
// token is signed by a key gateways have not fetched; the active key keeps signing, and the next Rotate
// promotes the published key.
func TestRotateNeverPromotesAnUnpublishedKey(t *testing.T) {
	ctx := context.Background()
	st := sqltest.OpenSQLite(t)
	clk := newClock()
	k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{CacheFor: time.Second, Now: clk.now})
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	signer, _, _ := k.Signer(ctx)
	byState := func() map[store.SigningKeyState][]string {
		keys, err := st.ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[store.SigningKeyState][]string{}
		for _, sk := range keys {
			m[sk.State] = append(m[sk.State], sk.ID)
		}
		return m
	}
	lost := byState()[store.KeyNext][0]
	if _, err := st.UpdateSigningKey(ctx, lost, func(sk *store.SigningKey) error {
		now := clk.now()
		sk.State, sk.RetiredAt, sk.PublishUntil = store.KeyRetired, &now, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	promoted, err := k.Rotate(ctx)
	if promoted != "" || err == nil || err.Error() != "txsign: there was no next key; one is now published, rotate again once gateways have refreshed" {
		t.Fatalf("Rotate without a next key = %q, %v; want nothing promoted and the reason", promoted, err)
	}
	keys := byState()
	if len(keys[store.KeyNext]) != 1 || keys[store.KeyNext][0] == lost || len(keys[store.KeyActive]) != 1 || keys[store.KeyActive][0] != signer {
		t.Fatalf("after Rotate without a next key: %v; want the same active key %s and one new next key", keys, signer)
	}
	published := keys[store.KeyNext][0]
	clk.advance(2 * time.Second) // past the cache
	if kid, _, _ := k.Signer(ctx); kid != signer {
		t.Fatalf("signing with %s, want the active key %s until the next rotation", kid, signer)
	}

	if promoted, err = k.Rotate(ctx); promoted != published || err != nil {
		t.Fatalf("second Rotate = %q, %v; want the published key %s promoted", promoted, err, published)
	}
	if kid, _, _ := k.Signer(ctx); kid != published {
		t.Fatalf("signing with %s after the rotation, want %s", kid, published)
	}
}
