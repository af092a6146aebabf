package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDeviceSimulator drives `signet device` against `signet serve` (embedded mode): activate with a code,
// commit, list and approve an operation, reject one, compute an offline code, read the status.
func TestDeviceSimulator(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_ADMIN_ADDR=127.0.0.1:0"})
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
	user := bank("POST", "/v1/users", map[string]any{"external_id": "cli-user"})["id"].(string)
	app := bank("POST", "/v1/applications", map[string]any{"name": "Simulator"})
	act := bank("POST", "/v1/activations", map[string]any{"user_id": user, "application_id": app["id"]})
	state := filepath.Join(dir, "phone.json")
	dev := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"device", "--state", state, "--server", base}, args...)...)
	}

	if _, err := dev("status"); err == nil || !strings.Contains(err.Error(), "signet device activate") {
		t.Fatalf("status before activation: %v", err)
	}
	if _, err := dev("activate", act["activation_code"].(string), "--config", app["mobile_sdk_config"].(string)); err == nil {
		t.Fatal("activation without a PIN")
	}
	code := strings.ToLower(act["activation_code"].(string)) // the simulator corrects typed input
	out, err := dev("activate", code, "--pin", "2468", "--config", app["mobile_sdk_config"].(string), "--name", "CLI phone")
	if err != nil {
		t.Fatalf("activate: %v\n%s", err, out)
	}
	a := bank("GET", "/v1/activations/"+act["id"].(string), nil)
	fp := a["fingerprint"].(string)
	if !strings.Contains(out, fp[:4]+" "+fp[4:]) || a["status"] != "PENDING_COMMIT" || !strings.Contains(out, "PENDING_COMMIT. Compare the fingerprint") {
		t.Fatalf("activate printed %q; server has %v", out, a)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	bank("POST", "/v1/activations/"+act["id"].(string)+"/commit", nil)
	if out, err := dev("status"); err != nil || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("status: %q %v", out, err)
	}

	newOp := func(amount string) string {
		return bank("POST", "/v1/operations", map[string]any{"user_id": user, "type": "payment",
			"payee":  map[string]any{"account": "DE89370400440532013000", "name": "Landlord"},
			"amount": amount, "currency": "EUR"})["id"].(string)
	}
	op1, op2 := newOp("900.00"), newOp("15.00")
	out, err = dev("ops", "list")
	if err != nil || !strings.Contains(out, op1) || !strings.Contains(out, op2) || !strings.Contains(out, "900.00 EUR") {
		t.Fatalf("ops list: %q %v", out, err)
	}
	// A missing argument prints the usage line; a wrong PIN says how many tries are left.
	if _, err := dev("ops", "approve"); err == nil || !strings.Contains(err.Error(), "usage: signet device ops approve <operation-id>") {
		t.Fatalf("approve without an id: %v", err)
	}
	if _, err := dev("ops", "approve", op1, "--pin", "1111"); err == nil || !strings.Contains(err.Error(), "wrong PIN: 4 of 5 tries left") {
		t.Fatalf("approve with a wrong PIN: %v", err)
	}
	if out, err := dev("ops", "approve", op1, "--pin", "2468"); err != nil || !strings.Contains(out, "A1*A900.00EUR*IDE89370400440532013000") {
		t.Fatalf("approve: %q %v", out, err)
	}
	if op := bank("GET", "/v1/operations/"+op1, nil); op["status"] != "APPROVED" || op["token"] == nil {
		t.Fatalf("operation %v", op)
	}
	if _, err := dev("ops", "reject", op2); err != nil {
		t.Fatal(err)
	}
	if op := bank("GET", "/v1/operations/"+op2, nil); op["status"] != "REJECTED" {
		t.Fatalf("operation %v", op)
	}

	// The claims of /pa/v3/user/info; the history (signed with the PIN) of every status; a claimed operation
	// shows its amount as the locale writes it, with every decimal the currency has.
	if out, err := dev("user-info"); err != nil || !strings.Contains(out, `"sub": "cli-user"`) {
		t.Fatalf("user-info: %q %v", out, err)
	}
	out, err = dev("ops", "history", "--pin", "2468")
	if err != nil || !regexp.MustCompile(op1+` +APPROVED`).MatchString(out) || !regexp.MustCompile(op2+` +REJECTED`).MatchString(out) {
		t.Fatalf("ops history: %q %v", out, err)
	}
	bhd := bank("POST", "/v1/operations", map[string]any{"user_id": user, "type": "payment",
		"payee":  map[string]any{"account": "DE89370400440532013000", "name": "Landlord"},
		"amount": "1234.5", "currency": "BHD"})["id"].(string)
	if out, err := dev("--lang", "de-CH", "ops", "claim", bhd); err != nil || !strings.Contains(out, "Claimed "+bhd) ||
		!strings.Contains(out, "Amount: 1’234.500 BHD") {
		t.Fatalf("ops claim: %q %v", out, err)
	}

	if out, err := dev("push-register", "--platform", "ios", "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"); err != nil ||
		!strings.Contains(out, "Push token registered.") {
		t.Fatalf("push-register: %q %v", out, err)
	}
	if _, err := dev("push-register", "--platform", "windows", "abc"); err == nil || !strings.Contains(err.Error(), "platform") {
		t.Fatalf("push-register with an unknown platform: %v", err)
	}

	msg := bank("POST", "/v1/users/"+user+"/inbox", map[string]any{"subject": "Statement for November", "summary": "Ready to download",
		"body": "Your statement is in internet banking."})["id"].(string)
	if out, err := dev("inbox", "list"); err != nil || !strings.Contains(out, "Unread: 1") || !regexp.MustCompile(msg+` +false +Statement for November`).MatchString(out) {
		t.Fatalf("inbox list: %q %v", out, err)
	}
	if out, err := dev("inbox", "read", msg); err != nil || !strings.Contains(out, "Your statement is in internet banking.") {
		t.Fatalf("inbox read: %q %v", out, err)
	}
	if out, err := dev("inbox", "list"); err != nil || !strings.Contains(out, "Unread: 0") {
		t.Fatalf("inbox list after read: %q %v", out, err)
	}
	if out, err := dev("inbox", "read", "--all"); err != nil || !strings.Contains(out, "All messages read.") {
		t.Fatalf("inbox read --all: %q %v", out, err)
	}

	// An activation committed on key exchange is active at once: nothing for the bank to commit.
	act2 := bank("POST", "/v1/activations", map[string]any{"user_id": user, "application_id": app["id"], "commit_phase": "ON_KEY_EXCHANGE"})
	out, err = run(t, nil, "device", "--state", filepath.Join(dir, "phone2.json"), "--server", base, "activate",
		act2["activation_code"].(string), "--pin", "1357", "--config", app["mobile_sdk_config"].(string))
	if err != nil || !strings.Contains(out, "ACTIVE (committed on key exchange)") || strings.Contains(out, "the bank then commits") {
		t.Fatalf("activate ON_KEY_EXCHANGE: %q %v", out, err)
	}
	dev2 := func(args ...string) (string, error) {
		return run(t, nil, append([]string{"device", "--state", filepath.Join(dir, "phone2.json"), "--server", base}, args...)...)
	}
	opB := newOp("7.00")
	for i := 1; i <= 5; i++ {
		_, err := dev2("ops", "approve", opB, "--pin", "0000")
		want := fmt.Sprintf("wrong PIN: %d of 5 tries left", 5-i)
		if i == 5 {
			want = "the activation is BLOCKED (5 of 5 failed attempts): the bank must unblock it"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("wrong PIN %d: %v, want %q", i, err, want)
		}
	}

	op3 := newOp("42.00")
	qr := bank("GET", "/v1/operations/"+op3+"/offline?credential_id="+act["id"].(string), nil)["qr_payload"].(string)
	out, err = dev("offline", qr, "--pin", "2468")
	m := regexp.MustCompile(`Code: ([0-9]{8}-[0-9]{8})`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("offline: %q %v", out, err)
	}
	if r := bank("POST", "/v1/operations/"+op3+"/offline-verify", map[string]any{"credential_id": act["id"], "code": m[1]}); r["status"] != "APPROVED" {
		t.Fatalf("offline verify: %v", r)
	}
}

// TestDeviceSimulatorRecovery drives the recovery commands of `signet device` against `signet serve`: the
// recovery code shown after a vault unlock, a wrong PUK naming the PUK to use, recovery replacing the
// activation, a postcard confirmed from the new device, the upgrade call, and a custom activation refused
// by a server without an activation hook.
func TestDeviceSimulatorRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_HTTP_ADDR=127.0.0.1:0", "SIGNET_ADMIN_ADDR=127.0.0.1:0"})
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
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
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
	user := bank("POST", "/v1/users", map[string]any{"external_id": "cli-recovery"})["id"].(string)
	app := bank("POST", "/v1/applications", map[string]any{"name": "Recovery simulator"})
	bank("POST", "/v1/applications/"+app["id"].(string)+"/recovery", map[string]any{"enabled": true})
	conf := app["mobile_sdk_config"].(string)
	act := bank("POST", "/v1/activations", map[string]any{"user_id": user, "application_id": app["id"], "commit_phase": "ON_KEY_EXCHANGE"})
	dev := func(state string, args ...string) (string, error) {
		return run(t, nil, append([]string{"device", "--state", filepath.Join(dir, state), "--server", base}, args...)...)
	}
	out, err := dev("old.json", "activate", act["activation_code"].(string), "--pin", "2468", "--config", conf)
	if err != nil || !strings.Contains(out, "recovery show") {
		t.Fatalf("activate: %q %v", out, err)
	}
	out, err = dev("old.json", "recovery", "show", "--pin", "2468")
	m := regexp.MustCompile(`Recovery code: ([A-Z2-7-]{23})\nPUK: +([0-9]{5})-([0-9]{5})`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("recovery show: %q %v", out, err)
	}
	code, puk := m[1], m[2]+m[3]
	if out, err := dev("old.json", "upgrade"); err != nil || !strings.Contains(out, "No upgrade") {
		t.Fatalf("upgrade: %q %v", out, err)
	}
	wrong := "0000000000"
	if puk == wrong {
		wrong = "1111111111"
	}
	if _, err := dev("new.json", "recover", "R:"+code, "--puk", wrong, "--pin", "1357", "--config", conf); err == nil ||
		!strings.Contains(err.Error(), "wrong PUK: use PUK number 1") {
		t.Fatalf("recover with a wrong PUK: %v", err)
	}
	out, err = dev("new.json", "recover", strings.ToLower(code), "--puk", m[2]+"-"+m[3], "--pin", "1357", "--config", conf)
	if err != nil || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("recover: %q %v", out, err)
	}
	if a := bank("GET", "/v1/activations/"+act["id"].(string), nil); a["status"] != "REMOVED" {
		t.Fatalf("the old activation is %v", a["status"])
	}
	// A postcard needs a printing service key; without one the bank cannot issue it, so confirm the new
	// activation's own code: already confirmed (ACTIVE).
	out, err = dev("new.json", "recovery", "show", "--pin", "1357")
	m2 := regexp.MustCompile(`Recovery code: ([A-Z2-7-]{23})`).FindStringSubmatch(out)
	if err != nil || m2 == nil || m2[1] == code {
		t.Fatalf("new recovery code: %q %v", out, err)
	}
	if out, err := dev("new.json", "recovery", "confirm", m2[1], "--pin", "1357"); err != nil || !strings.Contains(out, "already confirmed") {
		t.Fatalf("confirm: %q %v", out, err)
	}
	if _, err := dev("custom.json", "activate-custom", "--attr", "username=jana", "--attr", "password=x", "--pin", "1357", "--config", conf); err == nil ||
		!strings.Contains(err.Error(), "ERR_ACTIVATION") {
		t.Fatalf("custom activation without a hook: %v", err)
	}
}
