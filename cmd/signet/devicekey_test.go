package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeviceKeyTestAttestation: `signet device test-ca` makes a CA, `signet serve` trusts its root
// through SIGNET_ANDROID_ATTESTATION_ROOTS / SIGNET_APPLE_APPATTEST_ROOTS, and `signet device
// register-key --attest` registers keys whose assurance the private API shows. A key that does not
// need the user per signature is refused, and SIGNET_DEVICE_ATTESTATION_REQUIRED refuses an
// unattested key.
func TestDeviceKeyTestAttestation(t *testing.T) {
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if out, err := run(t, nil, "device", "test-ca", caPath); err != nil || !strings.Contains(out, caPath+".root.pem") {
		t.Fatalf("test-ca: %q %v", out, err)
	}
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_ADMIN_ADDR=127.0.0.1:0",
		"SIGNET_ANDROID_ATTESTATION_ROOTS=" + caPath + ".root.pem", "SIGNET_ANDROID_PACKAGES=com.example.bank",
		"SIGNET_ANDROID_REVOCATION_URL=off", "SIGNET_APPLE_APPATTEST_ROOTS=" + caPath + ".root.pem",
		"SIGNET_APPLE_APP_IDS=ABCDE12345.com.example.bank", "SIGNET_DEVICE_ATTESTATION_REQUIRED=true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	secret := strings.Split(cfg.APIKeys, ":")[1]
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("no graceful shutdown")
		}
	})
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	bank := func(method, path string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+secret)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, m)
		}
		return m
	}
	user := bank("POST", "/v1/users", map[string]any{"external_id": "key-user"})["id"].(string)
	code := func() string {
		return bank("POST", "/v1/users/"+user+"/registration-codes", nil)["code"].(string)
	}
	reg := func(key string, args ...string) (string, error) {
		return run(t, nil, append([]string{"device", "--server", base, "register-key", "--key", filepath.Join(dir, key)}, args...)...)
	}

	if _, err := reg("plain.pem", code()); err == nil || !strings.Contains(err.Error(), "attestation") {
		t.Fatalf("unattested key with SIGNET_DEVICE_ATTESTATION_REQUIRED: %v", err)
	}
	c := code()
	if _, err := reg("timeout.pem", c, "--attest", "android-key", "--test-ca", caPath, "--user-auth", "none"); err == nil ||
		!strings.Contains(err.Error(), "(user_auth)") {
		t.Fatalf("a key without user authentication: %v", err)
	}
	out, err := reg("android.pem", c, "--attest", "android-key", "--test-ca", caPath)
	if err != nil || !strings.Contains(out, "android-key, hardware tee, user verification biometric, app com.example.bank, amr hwk fpt") {
		t.Fatalf("android: %q %v", out, err)
	}
	out, err = reg("ios.pem", code(), "--attest", "apple-appattest", "--test-ca", caPath, "--app-id", "ABCDE12345.com.example.bank")
	if err != nil || !strings.Contains(out, "apple-appattest, hardware none, user verification not_proven, app ABCDE12345.com.example.bank, amr hwk") {
		t.Fatalf("ios: %q %v", out, err)
	}
	creds := bank("GET", "/v1/users/"+user+"/credentials", nil)["credentials"].([]any)
	formats := map[string]bool{}
	for _, c := range creds {
		formats[c.(map[string]any)["assurance"].(map[string]any)["format"].(string)] = true
	}
	if len(creds) != 2 || !formats["android-key"] || !formats["apple-appattest"] {
		t.Fatalf("credentials %v", creds)
	}
}
