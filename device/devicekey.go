package device

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
)

// DeviceKeyOptions describe a device-key registration (Midships-style signing, POST /v1/devices).
type DeviceKeyOptions struct {
	Label, Platform, Model string
	// Attestation is "", attest.FormatAndroidKey or attest.FormatAppleAppAtt. The SDK has no secure
	// hardware: it produces a test attestation issued by TestCA, which only a server configured to
	// trust TestCA's root accepts (SIGNET_ANDROID_ATTESTATION_ROOTS, SIGNET_APPLE_APPATTEST_ROOTS).
	Attestation string
	TestCA      *attesttest.CA
	// Android describes the attested key (zero: biometric per use, TEE, the default package);
	// its Challenge is set from the registration code.
	Android attesttest.AndroidKey
	// AppID is the App Attest "TEAMID.bundle.id".
	AppID string
}

// DeviceKeyRegistration is the server's answer.
type DeviceKeyRegistration struct {
	CredentialID string           `json:"credential_id"`
	UserID       string           `json:"user_id"`
	Status       string           `json:"status"`
	Assurance    attest.Assurance `json:"assurance"`
	// AppAttestKey is the simulated App Attest key (apple-appattest only), for assertions.
	AppAttestKey *ecdsa.PrivateKey `json:"-"`
}

// ProblemError is an RFC 9457 answer of the /v1 API.
type ProblemError struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (e *ProblemError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Detail)
}

// RegisterDeviceKey registers key with a bank-issued registration code, with a test attestation
// when opt asks for one.
func (c *Client) RegisterDeviceKey(ctx context.Context, code string, key *ecdsa.PrivateKey, opt DeviceKeyOptions) (DeviceKeyRegistration, error) {
	raw, _ := key.PublicKey.Bytes()
	body := map[string]any{"registration_code": code, "label": opt.Label, "platform": opt.Platform, "model": opt.Model,
		"public_key": map[string]string{"kty": "EC", "crv": "P-256", "x": base64.RawURLEncoding.EncodeToString(raw[1:33]),
			"y": base64.RawURLEncoding.EncodeToString(raw[33:])}}
	var out DeviceKeyRegistration
	challenge := devicekey.AttestationChallenge(code)
	switch opt.Attestation {
	case "":
	case attest.FormatAndroidKey, attest.FormatAppleAppAtt:
		if opt.TestCA == nil {
			return out, fmt.Errorf("device: a %s test attestation needs a test CA", opt.Attestation)
		}
		if challenge == nil {
			return out, fmt.Errorf("device: %q is not a registration code", code)
		}
	default:
		return out, fmt.Errorf("device: unknown attestation format %q", opt.Attestation)
	}
	switch opt.Attestation {
	case attest.FormatAndroidKey:
		k := opt.Android
		k.Challenge = challenge
		chain, err := opt.TestCA.AndroidChain(&key.PublicKey, k, c.now())
		if err != nil {
			return out, err
		}
		var enc []string
		for _, der := range chain {
			enc = append(enc, base64.StdEncoding.EncodeToString(der))
		}
		body["attestation"] = map[string]any{"format": opt.Attestation, "certificate_chain": enc}
	case attest.FormatAppleAppAtt:
		pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		obj, kid, aak, err := opt.TestCA.AppleAttestation(devicekey.AppAttestClientDataHash(challenge, pkix), attesttest.AppleKey{AppID: opt.AppID}, c.now())
		if err != nil {
			return out, err
		}
		out.AppAttestKey = aak
		body["attestation"] = map[string]any{"format": opt.Attestation, "key_id": base64.StdEncoding.EncodeToString(kid),
			"object": base64.StdEncoding.EncodeToString(obj)}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/v1/devices", bytes.NewReader(b))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return out, err
	}
	defer func() { _ = resp.Body.Close() }()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return out, err
	}
	if resp.StatusCode != http.StatusCreated {
		p := &ProblemError{Status: resp.StatusCode}
		_ = json.Unmarshal(rb, p)
		return out, p
	}
	aak := out.AppAttestKey
	if err := json.Unmarshal(rb, &out); err != nil {
		return out, fmt.Errorf("device: unexpected answer from /v1/devices: %w", err)
	}
	out.AppAttestKey = aak
	return out, nil
}
