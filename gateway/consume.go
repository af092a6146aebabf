package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/verify"
)

// SignetConsumer burns tokens through Signet's POST /v1/tokens/consume, for gateways that cannot
// reach the replay store. Signet verifies the token again and consumes its JTI atomically.
type SignetConsumer struct {
	url    string
	auth   string
	client *http.Client
}

// NewSignetConsumer returns a client of the Signet at baseURL, authenticating with apiKey (the
// secret, or "name:secret" for HTTP Basic). client nil: a client with a 3 s timeout.
func NewSignetConsumer(baseURL, apiKey string, client *http.Client) *SignetConsumer {
	if client == nil {
		client = &http.Client{Timeout: 3 * time.Second}
	}
	auth := "Bearer " + apiKey
	if name, secret, ok := strings.Cut(apiKey, ":"); ok && name != "" {
		// "name:secret:scope", as the key's SIGNET_API_KEYS entry: Signet's secrets never
		// contain ':', so the scope is dropped.
		secret, _, _ = strings.Cut(secret, ":")
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(name, secret)
		auth = req.Header.Get("Authorization")
	}
	return &SignetConsumer{url: strings.TrimRight(baseURL, "/") + "/v1/tokens/consume", auth: auth, client: client}
}

// ConsumeToken consumes token and returns its JTI as Signet read it. Errors: replay.ErrReplay
// (already used or unknown JTI: 409), verify.ErrInvalidToken (Signet refuses the token), or
// replay.ErrUnavailable for anything else (network, 5xx, a refused API key): fail closed.
func (c *SignetConsumer) ConsumeToken(ctx context.Context, token string) (string, error) {
	body, _ := json.Marshal(map[string]string{"token": token})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("%w: %v", replay.ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	resp, err := c.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: signet consume: %v", replay.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		var out struct {
			Claims struct {
				JTI string `json:"jti"`
			} `json:"claims"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Claims.JTI == "" {
			return "", fmt.Errorf("%w: signet consume: unreadable answer", replay.ErrUnavailable)
		}
		return out.Claims.JTI, nil
	case http.StatusConflict:
		return "", replay.ErrReplay
	case http.StatusBadRequest:
		return "", fmt.Errorf("%w: Signet refused the token", verify.ErrInvalidToken)
	case http.StatusUnauthorized, http.StatusForbidden:
		return "", fmt.Errorf("%w: signet consume: HTTP %d (check the gateway's API key)", replay.ErrUnavailable, resp.StatusCode)
	}
	return "", fmt.Errorf("%w: signet consume: HTTP %d", replay.ErrUnavailable, resp.StatusCode)
}

// For returns a verify.Consumer bound to token: the consume endpoint needs the whole token, not
// only its JTI. Consume(ctx, jti) consumes the token and checks that Signet consumed that JTI.
func (c *SignetConsumer) For(token string) verify.Consumer { return boundConsumer{c: c, token: token} }

type boundConsumer struct {
	c     *SignetConsumer
	token string
}

func (b boundConsumer) Consume(ctx context.Context, jti string) error {
	got, err := b.c.ConsumeToken(ctx, b.token)
	if err != nil {
		return err
	}
	if got != jti {
		return fmt.Errorf("%w: Signet consumed jti %q, the gateway verified %q", replay.ErrUnavailable, got, jti)
	}
	return nil
}

// consumeError maps a consumer's error to verify's kinds (409, 401, 503).
func consumeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, replay.ErrReplay):
		return verify.ErrReplay
	case errors.Is(err, verify.ErrInvalidToken):
		return err
	}
	return fmt.Errorf("%w: %w", verify.ErrUnavailable, err)
}
