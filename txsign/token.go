package txsign

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign/verify"
)

// mint signs the transaction token of an approved operation (ARCHITECTURE.md
// "Transaction tokens"): ES256 with typ txn+jwt and kid = RFC 7638 thumbprint,
// claims iss, sub (the bank's user id), aud, iat, nbf, exp, jti (128-bit
// random), op, dl, amr (RFC 8176), acr and authorization_details (RFC 9396).
func (s *Service) mint(ctx context.Context, op store.Operation, amr []string, now time.Time) (string, string, time.Time, error) {
	kid, priv, err := s.keys.Signer(ctx)
	if err != nil {
		return "", "", time.Time{}, err
	}
	sub, err := s.subject(ctx, op.UserID)
	if err != nil {
		return "", "", time.Time{}, err
	}
	iat := now.Truncate(time.Second)
	exp := iat.Add(s.cfg.TokenTTL)
	jti := newJTI()
	claims := verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.cfg.Issuer, Subject: sub, Audience: jwt.ClaimStrings{s.cfg.Audience},
			IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp),
			ID: jti,
		},
		Op: op.ID, DL: EncodeDigest([DigestSize]byte(op.DL)), AMR: amr, ACR: acrFor(amr),
		AuthorizationDetails: []verify.AuthorizationDetail{authorizationDetail(op)},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = verify.TokenType
	t.Header["kid"] = kid
	signed, err := t.SignedString(priv)
	if err != nil {
		return "", "", time.Time{}, err
	}
	return signed, jti, exp, nil
}

// subject is the bank's id of a user (the token's sub), cached: external ids
// are immutable. The cache holds at most maxSubjects entries.
func (s *Service) subject(ctx context.Context, userID string) (string, error) {
	if v, ok := s.subjects.Load(userID); ok {
		return v.(string), nil
	}
	user, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return "", err
	}
	if s.subjectCount.Add(1) > maxSubjects {
		s.subjects.Clear()
		s.subjectCount.Store(1)
	}
	s.subjects.Store(userID, user.ExternalID)
	return user.ExternalID, nil
}

const maxSubjects = 100_000

// authorizationDetail describes what was approved: payment_initiation for
// payments (RFC 9396 §2, Berlin Group / OBIE shape), the operation type
// otherwise.
func authorizationDetail(op store.Operation) verify.AuthorizationDetail {
	d := verify.AuthorizationDetail{Type: op.Type, CreditorName: op.PayeeName}
	if op.Type == "payment" {
		d.Type = verify.AuthorizationDetailPaymentInitiation
	}
	if op.Amount != "" {
		d.InstructedAmount = &verify.Amount{Amount: op.Amount, Currency: op.Currency}
	}
	if op.PayeeAccount != "" {
		if LooksLikeIBAN(op.PayeeAccount) {
			d.CreditorAccount = &verify.Account{IBAN: op.PayeeAccount}
		} else {
			d.CreditorAccount = &verify.Account{Other: op.PayeeAccount}
		}
	}
	d.RemittanceInformationUnstructured = op.Text
	return d
}

// Key implements verify.KeySource over the published keys, so Signet's own
// consume endpoint verifies exactly as a gateway does.
func (k *Keyring) Key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	find := func(keys []store.SigningKey) (*ecdsa.PublicKey, bool) {
		now := k.cfg.Now()
		for _, sk := range keys {
			if sk.ID != kid || (sk.State == store.KeyRetired && (sk.PublishUntil == nil || !now.Before(*sk.PublishUntil))) {
				continue
			}
			pub, err := x509.ParsePKIXPublicKey(sk.PublicKey)
			if ec, ok := pub.(*ecdsa.PublicKey); err == nil && ok {
				return ec, true
			}
		}
		return nil, false
	}
	keys, err := k.verifying(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrUnavailable, err)
	}
	if pub, ok := find(keys); ok {
		return pub, nil
	}
	if keys, err = k.reload(ctx); err != nil { // another replica may have rotated
		return nil, fmt.Errorf("%w: %v", verify.ErrUnavailable, err)
	}
	if pub, ok := find(keys); ok {
		return pub, nil
	}
	return nil, verify.ErrUnknownKey
}

// ErrInsufficientAuthentication answers a consume whose token proves a weaker authentication class than the
// caller required (403 insufficient_authentication).
var ErrInsufficientAuthentication = errors.New("the approval's authentication is too weak for this request")

// Consume verifies a token and burns its JTI, for gateways that cannot reach
// the replay store: 200 with the claims once, 409 after, 503 when unsure.
//
// requireACR, when not empty (verify.ACRSCA or verify.ACR1FA), is the authentication class the caller needs:
// a weaker approval is refused with ErrInsufficientAuthentication before its JTI is consumed, so the customer's
// approval is not burnt by a request it could never pay (PSD2 RTS Art. 4: two independent categories for SCA).
func (s *Service) Consume(ctx context.Context, token, requireACR string) (*verify.Claims, error) {
	s.verifierOnce.Do(func() {
		s.verifier, s.verifierErr = verify.New(verify.Config{Keys: s.keys, Issuer: s.cfg.Issuer,
			Audience: s.cfg.Audience, Replay: s.replay, Now: s.cfg.Now})
	})
	if s.verifierErr != nil {
		return nil, s.verifierErr
	}
	var claims *verify.Claims
	var err error
	if requireACR == "" {
		claims, err = s.verifier.VerifyAndConsume(ctx, token)
	} else if claims, err = s.verifier.Verify(ctx, token); err == nil {
		if aerr := claims.CheckAuthentication(requireACR); aerr != nil {
			return nil, fmt.Errorf("%w: %w", ErrInsufficientAuthentication, aerr)
		}
		err = s.verifier.Consume(ctx, claims)
	}
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, verify.ErrReplay):
		return nil, fault.New(fault.ErrConflict, "the token was already used")
	case errors.Is(err, verify.ErrUnavailable):
		return nil, fault.Wrap(fault.ErrUnavailable, err, "replay store")
	}
	return nil, fault.Invalid("token", "is not a valid transaction token")
}
