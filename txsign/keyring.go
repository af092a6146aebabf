package txsign

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/signet-sca/signet/store"
)

// KeyStore is the part of the store the keyring uses.
type KeyStore interface {
	CreateSigningKey(ctx context.Context, k *store.SigningKey) error
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (store.SigningKey, error)
}

// Sealer encrypts private keys at rest (kek.Ring).
type Sealer interface {
	Seal(plaintext, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// KeyringConfig configures rotation.
type KeyringConfig struct {
	// RotateEvery is how long a key signs before the next one takes over;
	// 0 disables timed rotation (manual `signet keys rotate` still works).
	RotateEvery time.Duration
	// MaxTokenTTL bounds how long a retired key must stay published.
	MaxTokenTTL time.Duration
	// CacheFor is how long a replica trusts its view of the key table.
	CacheFor time.Duration
	// MaxStale is how long after the last successful read the cached key table
	// still verifies tokens while the store cannot be read (default 1 h, as a
	// gateway's JWKS cache). Signing never uses a stale table.
	MaxStale time.Duration
	Now      func() time.Time
}

// Keyring holds the ES256 transaction-token keys: one next key (published,
// not yet signing), the active key (signing) and retired keys (published until
// every token they signed has expired). Rotation promotes next → active by
// compare-and-swap, so with several replicas exactly one rotation happens.
type Keyring struct {
	store  KeyStore
	sealer Sealer
	cfg    KeyringConfig

	mu        sync.Mutex
	loaded    time.Time
	keys      []store.SigningKey
	private   map[string]*ecdsa.PrivateKey
	rereading bool      // a verifier is re-reading the stale table
	retryAt   time.Time // after a failed read, verifiers wait until then
}

// NewKeyring returns a keyring; call Ensure before use.
func NewKeyring(s KeyStore, sealer Sealer, cfg KeyringConfig) *Keyring {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = 10 * time.Second
	}
	if cfg.MaxTokenTTL == 0 {
		cfg.MaxTokenTTL = 300 * time.Second
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = time.Hour
	}
	return &Keyring{store: s, sealer: sealer, cfg: cfg, private: map[string]*ecdsa.PrivateKey{}}
}

// publishGrace is how long after retirement a key stays published: a replica
// may still sign with it until its cache refreshes, and its tokens live up to
// MaxTokenTTL after that. A minute of clock-skew margin on top.
func (k *Keyring) publishGrace() time.Duration {
	return k.cfg.CacheFor + k.cfg.MaxTokenTTL + time.Minute
}

// Ensure makes sure an active and a next key exist.
func (k *Keyring) Ensure(ctx context.Context) error {
	if l, ok := k.store.(keysLocker); ok {
		return l.WithSigningKeysLock(ctx, k.ensure)
	}
	return k.ensure(ctx)
}

// keysLocker is a KeyStore that can keep other replicas out while Ensure looks for keys and
// creates what is missing (sqlstore: an advisory lock): replicas starting together on an empty
// database would otherwise each create an active key and sign with different ones.
type keysLocker interface {
	WithSigningKeysLock(ctx context.Context, fn func(context.Context) error) error
}

func (k *Keyring) ensure(ctx context.Context) error {
	keys, err := k.reload(ctx)
	if err != nil {
		return err
	}
	if active(keys) == nil {
		if err := k.createKey(ctx, store.KeyActive); err != nil {
			return err
		}
	}
	if next(keys) == nil {
		if err := k.createKey(ctx, store.KeyNext); err != nil {
			return err
		}
	}
	_, err = k.reload(ctx)
	return err
}

func (k *Keyring) createKey(ctx context.Context, state store.SigningKeyState) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	kid := Thumbprint(&priv.PublicKey)
	sealed, err := k.sealer.Seal(privDER, []byte("signet-signing-key:"+kid))
	if err != nil {
		return err
	}
	now := k.cfg.Now().UTC()
	rec := &store.SigningKey{ID: kid, State: state, Algorithm: "ES256", PublicKey: pubDER, PrivateKey: sealed, CreatedAt: now}
	if state == store.KeyActive {
		rec.ActivatedAt = &now
	}
	return k.store.CreateSigningKey(ctx, rec)
}

// Rotate promotes the next key to active, retires the previous active key(s)
// and creates a new next key. It works from one snapshot of the key table and
// promotes by compare-and-swap, so when several replicas rotate at the same
// moment exactly one promotion happens and the others return "". Only a key
// that has already been published as next is ever promoted.
func (k *Keyring) Rotate(ctx context.Context) (promoted string, err error) {
	keys, err := k.reload(ctx)
	if err != nil {
		return "", err
	}
	return k.rotate(ctx, keys)
}

func (k *Keyring) rotate(ctx context.Context, keys []store.SigningKey) (string, error) {
	n := next(keys)
	if n == nil {
		// Never promote a key nobody has seen: publish one, rotate later.
		if err := k.createKey(ctx, store.KeyNext); err != nil {
			return "", err
		}
		// Read the table again so that this replica's JWKS publishes the new key now, not when its
		// cache expires.
		if _, err := k.reload(ctx); err != nil {
			return "", err
		}
		return "", errors.New("txsign: there was no next key; one is now published, rotate again once gateways have refreshed")
	}
	now := k.cfg.Now().UTC()
	errLost := errors.New("lost rotation race")
	_, err := k.store.UpdateSigningKey(ctx, n.ID, func(sk *store.SigningKey) error {
		if sk.State != store.KeyNext {
			return errLost
		}
		sk.State = store.KeyActive
		sk.ActivatedAt = &now
		return nil
	})
	if errors.Is(err, errLost) || errors.Is(err, store.ErrConflict) {
		_, err := k.reload(ctx)
		return "", err // another replica rotated
	}
	if err != nil {
		return "", err
	}
	until := now.Add(k.publishGrace())
	for _, sk := range keys {
		if sk.State != store.KeyActive || sk.ID == n.ID {
			continue
		}
		_, err := k.store.UpdateSigningKey(ctx, sk.ID, func(r *store.SigningKey) error {
			if r.State != store.KeyActive {
				return nil
			}
			r.State = store.KeyRetired
			r.RetiredAt = &now
			r.PublishUntil = &until
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	if err := k.createKey(ctx, store.KeyNext); err != nil {
		return "", err
	}
	_, err = k.reload(ctx)
	return n.ID, err
}

// RotateIfDue rotates when the active key has signed for RotateEvery. The
// due check and the rotation use the same snapshot: a replica that sees a
// stale active key loses the compare-and-swap, one that sees the fresh key is
// not due, so timed rotation on many replicas rotates once.
func (k *Keyring) RotateIfDue(ctx context.Context) (bool, error) {
	if k.cfg.RotateEvery <= 0 {
		return false, nil
	}
	keys, err := k.reload(ctx)
	if err != nil {
		return false, err
	}
	a := active(keys)
	if a != nil && a.ActivatedAt != nil && k.cfg.Now().Sub(*a.ActivatedAt) < k.cfg.RotateEvery {
		return false, nil
	}
	id, err := k.rotate(ctx, keys)
	return id != "", err
}

// reload reads the key table.
func (k *Keyring) reload(ctx context.Context) ([]store.SigningKey, error) {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.keys, k.loaded = keys, k.cfg.Now()
	k.mu.Unlock()
	return keys, nil
}

func (k *Keyring) current(ctx context.Context) ([]store.SigningKey, error) {
	k.mu.Lock()
	keys, fresh := k.keys, k.keys != nil && k.cfg.Now().Sub(k.loaded) < k.cfg.CacheFor
	k.mu.Unlock()
	if fresh {
		return keys, nil
	}
	return k.reload(ctx)
}

// verifying is current for verification: while the key table cannot be read
// (a PostgreSQL restart) it keeps the last table read, up to MaxStale after
// that read, so that consuming a token needs only the replay store. Retired
// keys still stop verifying at their PublishUntil, read from the cached rows.
// While one caller re-reads a stale table the others use it as it is, and
// after a failed read the next try waits a second, so a store that hangs
// holds up one verification at a time, not all of them.
func (k *Keyring) verifying(ctx context.Context) ([]store.SigningKey, error) {
	k.mu.Lock()
	keys, loaded, now := k.keys, k.loaded, k.cfg.Now()
	usable := keys != nil && now.Sub(loaded) <= k.cfg.MaxStale
	if keys != nil && now.Sub(loaded) < k.cfg.CacheFor || usable && (k.rereading || now.Before(k.retryAt)) {
		k.mu.Unlock()
		return keys, nil
	}
	k.rereading = true
	k.mu.Unlock()
	fresh, err := k.reload(ctx)
	k.mu.Lock()
	k.rereading = false
	if err != nil {
		k.retryAt = now.Add(time.Second)
	}
	k.mu.Unlock()
	switch {
	case err == nil:
		return fresh, nil
	case usable:
		return keys, nil
	}
	return nil, err
}

// Signer returns the active key's id and private key.
func (k *Keyring) Signer(ctx context.Context) (string, *ecdsa.PrivateKey, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return "", nil, err
	}
	a := active(keys)
	if a == nil {
		return "", nil, errors.New("txsign: no active signing key (run Ensure)")
	}
	k.mu.Lock()
	priv, ok := k.private[a.ID]
	k.mu.Unlock()
	if ok {
		return a.ID, priv, nil
	}
	der, err := k.sealer.Open(a.PrivateKey, []byte("signet-signing-key:"+a.ID))
	if err != nil {
		return "", nil, fmt.Errorf("txsign: signing key %s: %w", a.ID, err)
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return "", nil, err
	}
	ec, ok := pk.(*ecdsa.PrivateKey)
	if !ok {
		return "", nil, errors.New("txsign: signing key is not ECDSA")
	}
	k.mu.Lock()
	k.private[a.ID] = ec
	k.mu.Unlock()
	return a.ID, ec, nil
}

// JWK is one RFC 7517 public key.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS returns the published keys: next, active, and retired keys until their
// PublishUntil. Ordered active first so naive clients pick the signer.
func (k *Keyring) JWKS(ctx context.Context) ([]JWK, error) {
	keys, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	now := k.cfg.Now()
	var out []JWK
	// Sort a copy: keys is the cached table every reader shares.
	keys = slices.Clone(keys)
	sort.SliceStable(keys, func(i, j int) bool { return rank(keys[i].State) < rank(keys[j].State) })
	for _, sk := range keys {
		if sk.State == store.KeyRetired && (sk.PublishUntil == nil || !now.Before(*sk.PublishUntil)) {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(sk.PublicKey)
		if err != nil {
			return nil, err
		}
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			continue
		}
		out = append(out, PublicJWK(ec, sk.ID))
	}
	return out, nil
}

func rank(s store.SigningKeyState) int {
	switch s {
	case store.KeyActive:
		return 0
	case store.KeyNext:
		return 1
	}
	return 2
}

// PublicJWK renders an EC P-256 public key as a JWK (RFC 7518 §6.2.1).
func PublicJWK(pub *ecdsa.PublicKey, kid string) JWK {
	x, y := coords(pub)
	return JWK{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: kid, Use: "sig", Alg: "ES256"}
}

func coords(pub *ecdsa.PublicKey) (string, string) {
	raw, _ := pub.Bytes() // uncompressed point 0x04 ‖ X ‖ Y, 32-byte coordinates
	return base64.RawURLEncoding.EncodeToString(raw[1:33]), base64.RawURLEncoding.EncodeToString(raw[33:65])
}

// Thumbprint is the RFC 7638 §3 JWK thumbprint of an EC key: SHA-256 over the
// required members in lexicographic order with no whitespace, base64url.
func Thumbprint(pub *ecdsa.PublicKey) string {
	x, y := coords(pub)
	canon, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{"P-256", "EC", x, y})
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// active picks the signing key deterministically, so that replicas agree on
// it: the most recently activated (during a rotation the promoted key wins over
// the one about to retire), ties broken by the smallest id. next picks the
// oldest next key the same way.
func active(keys []store.SigningKey) *store.SigningKey {
	return pick(keys, store.KeyActive)
}

func next(keys []store.SigningKey) *store.SigningKey { return pick(keys, store.KeyNext) }

func pick(keys []store.SigningKey, state store.SigningKeyState) *store.SigningKey {
	var best *store.SigningKey
	for i := range keys {
		sk := &keys[i]
		if sk.State != state {
			continue
		}
		if best == nil || earlier(sk, best) {
			best = sk
		}
	}
	return best
}

func earlier(a, b *store.SigningKey) bool {
	ta, tb := a.CreatedAt, b.CreatedAt
	if a.ActivatedAt != nil && b.ActivatedAt != nil {
		ta, tb = *a.ActivatedAt, *b.ActivatedAt
	}
	if !ta.Equal(tb) {
		if a.State == store.KeyActive {
			return ta.After(tb) // the most recently activated key signs
		}
		return ta.Before(tb)
	}
	return a.ID < b.ID
}
