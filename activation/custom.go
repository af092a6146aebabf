package activation

import (
	"context"
	"errors"

	"github.com/signet-sca/signet/powerauth"
)

// CredentialVerifier checks the credentials of a CUSTOM activation (PowerAuth 3.x, Activation via Custom
// Credentials) and names the user they belong to.
type CredentialVerifier interface {
	VerifyCredentials(ctx context.Context, applicationID string, identity map[string]string) (userID string, err error)
}

// ErrCredentialsRefused is returned by a CredentialVerifier that does not accept the credentials.
var ErrCredentialsRefused = errors.New("activation: credentials refused")

func (s *Service) customActivation(ctx context.Context, in exchange) (*powerauth.Envelope, error) {
	return nil, errors.New("not yet")
}
