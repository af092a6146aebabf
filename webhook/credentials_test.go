package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signet-sca/signet/activation"
)

// TestCredentialHookAnswers: only a signed 200 naming exactly one user, or a signed 403, is an answer;
// everything else is the hook being unavailable (the device gets 503, nothing is activated).
func TestCredentialHookAnswers(t *testing.T) {
	secret := Secret("0123456789abcdef0123456789abcdef-hook")
	now := time.Now()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		sign   Secret
		want   error
		user   string
	}{
		{"unsigned 403", 403, `{}`, nil, activation.ErrCredentialsUnavailable, ""},
		{"200 signed with another secret", 200, `{"user_id":"u"}`, Secret("another-secret-0123456789abcdef0123"), activation.ErrCredentialsUnavailable, ""},
		{"200 naming two users", 200, `{"user_id":"u","external_id":"e"}`, secret, activation.ErrCredentialsUnavailable, ""},
		{"200 naming nobody", 200, `{"commit":true}`, secret, activation.ErrCredentialsUnavailable, ""},
		{"200 not JSON", 200, `user`, secret, activation.ErrCredentialsUnavailable, ""},
		{"500 signed", 500, `{}`, secret, activation.ErrCredentialsUnavailable, ""},
		{"302 signed", 302, `{}`, secret, activation.ErrCredentialsUnavailable, ""},
		{"403 signed", 403, `{}`, secret, activation.ErrCredentialsRefused, ""},
		{"200 signed", 200, `{"external_id":"cust-7"}`, secret, nil, "cust-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if Verify(secret, r.Header.Get(HeaderSignature), body, time.Now(), 0) != nil {
					t.Error("the check is not signed")
				}
				if tc.sign != nil {
					w.Header().Set(HeaderSignature, Sign(tc.sign, now, []byte(tc.body)))
				}
				if tc.status == 302 {
					w.Header().Set("Location", "https://example.com/")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			h := &CredentialHook{URL: srv.URL, Secret: secret, Client: NewClient(2 * time.Second)}
			v, err := h.VerifyCredentials(context.Background(), "app", map[string]string{"username": "jana"})
			if !errors.Is(err, tc.want) || (tc.want == nil && v.ExternalID != tc.user) {
				t.Fatalf("got %+v, %v; want %v", v, err, tc.want)
			}
		})
	}
}
