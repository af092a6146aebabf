package server_test

import (
	"encoding/base64"
	"testing"

	"github.com/signet-sca/signet/powerauth"
)

// TestApplicationConfigIsTheSDKFormat: the mobile_sdk_config of a new application is the PowerAuth mobile SDK's
// binary configuration (SessionSetup::loadFromConfiguration reads it), carrying the application's own key,
// secret and master public key.
func TestApplicationConfigIsTheSDKFormat(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("POST", "/v1/applications", "", map[string]any{"name": "Mobile banking"})
	if r.status != 201 {
		t.Fatalf("create application: %d %s", r.status, r.body)
	}
	app := r.json(t)
	c, err := powerauth.ParseSDKConfig(app["mobile_sdk_config"].(string))
	if err != nil {
		t.Fatalf("mobile_sdk_config %q: %v", app["mobile_sdk_config"], err)
	}
	b64 := base64.StdEncoding.EncodeToString
	if b64(c.ApplicationKey) != app["application_key"] || b64(c.ApplicationSecret) != app["application_secret"] ||
		b64(c.MasterPublicKey) != app["master_public_key"] {
		t.Fatalf("the configuration carries %x / %x / %x, the application is %v", c.ApplicationKey, c.ApplicationSecret, c.MasterPublicKey, app)
	}
}
