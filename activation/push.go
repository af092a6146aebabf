package activation

import (
	"context"
	"strings"
	"unicode"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// PushRegistration is the body of /api/push/device/register/token: {"requestObject":{"platform","token",
// "environment"?}} (mobile-token SDK PushApi / WMTPushRegistrationData; Wultra enrollment server
// PushRegisterRequest).
type PushRegistration struct {
	Platform    string `json:"platform"`
	Token       string `json:"token"`
	Environment string `json:"environment"`
}

// pushPlatforms maps the SDKs' platform names to the stored provider: the Android SDK sends "android" (or
// "huawei"), the iOS SDK "ios"; newer enrollment-server clients send "fcm", "apns" or "hms".
var pushPlatforms = map[string]string{"android": "fcm", "fcm": "fcm", "ios": "apns", "apns": "apns", "huawei": "hms", "hms": "hms"}

// MaxPushTokenLength bounds a platform token (FCM tokens are about 160 characters, APNs 64 hex digits).
const MaxPushTokenLength = 4096

// ParsePushRegistration parses and validates a push registration body.
func ParsePushRegistration(body []byte) (PushRegistration, error) {
	var r PushRegistration
	if err := decodeRequestObject(body, &r); err != nil {
		return r, err
	}
	var c fault.Collector
	platform, ok := pushPlatforms[strings.ToLower(r.Platform)]
	c.Check(ok, "platform", "must be android, ios, huawei, fcm, apns or hms")
	c.Check(r.Token != "" && len(r.Token) <= MaxPushTokenLength && strings.IndexFunc(r.Token, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) < 0, "token", "must be the platform's push token: 1 to 4096 characters, no spaces or control characters")
	c.Check(r.Environment == "" || r.Environment == "development" || r.Environment == "production", "environment",
		"must be development or production (APNs)")
	if err := c.Err(); err != nil {
		return r, err
	}
	r.Platform = platform
	return r, nil
}

// RegisterPushToken answers /api/push/device/register/token (mobile-token SDK registerToken; Wultra
// PushRegistrationController): the token's ACTIVE activation gets this platform token, replacing the one it
// had. New operations of the user are pushed to it (notify.Observer); the activation's removal drops it.
func (s *Service) RegisterPushToken(ctx context.Context, ta TokenAuth, r PushRegistration) error {
	t := store.PushToken{CredentialID: ta.Activation.ID, Platform: r.Platform, Environment: r.Environment, Token: r.Token,
		UpdatedAt: s.now()}
	if err := s.store.PutPushToken(ctx, &t); err != nil {
		return err
	}
	return s.audit.Record(ctx, audit.Event{Type: "powerauth.push.register", Outcome: audit.Success, Actor: "device",
		UserID: ta.Activation.UserID, CredentialID: ta.Activation.ID, Evidence: map[string]any{"platform": r.Platform}})
}
