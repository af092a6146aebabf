package gateway_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// nginxBinary finds nginx (Debian's package; .ci/run installs it). Without it the test is
// skipped, or fails when SIGNET_TEST_REQUIRE_SERVICES=1 (CI).
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(replaytest.EnvRequireServices) == "1" {
		t.Fatalf("nginx is not installed and %s=1 (apt-get install nginx)", replaytest.EnvRequireServices)
	}
	t.Skip("nginx is not installed (apt-get install nginx)")
	return ""
}

// startNginx runs nginx with the documented server block, its addresses replaced: the gateway's
// check endpoint, the payment API, and the address clients reach. It returns nginx's base URL.
func startNginx(t *testing.T, authz, payments string) string {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	block := strings.NewReplacer("127.0.0.1:8001", authz, "127.0.0.1:9000", payments, "127.0.0.1:8080", listen).Replace(docsBlock(t, "nginx"))
	for _, addr := range []string{authz, payments, listen} {
		if !strings.Contains(block, addr) {
			t.Fatalf("the documented nginx configuration lacks an address the test replaces (%s)", addr)
		}
	}
	conf := "daemon off;\nmaster_process off;\npid " + filepath.Join(dir, "nginx.pid") + ";\nerror_log " + filepath.Join(dir, "error.log") + " info;\n" +
		"events { worker_connections 256; }\nhttp {\n access_log off;\n"
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		conf += " " + d + "_temp_path " + filepath.Join(dir, d) + ";\n"
	}
	conf += block + "}\n"
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	waitListening(t, "nginx", listen, exited, out.String)
	return "http://" + listen
}

// TestNginxForwardAuth: nginx's auth_request in front of a recording payment API, asking
// `signet gateway` in mode authz, with the configuration of docs/gateway.md: the same outcomes as
// mode proxy (401, 403 binding, 409 replay, 503 with Redis down), and every payment reaches the
// upstream exactly once, with the verified identity and no spoofed one.
func TestNginxForwardAuth(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var upstream string
			e := newEnv(t, b, authzMode(&upstream))
			base := startNginx(t, strings.TrimPrefix(e.gw, "http://"), strings.TrimPrefix(upstream, "http://"))
			forwardAuthOutcomes(t, e, base)
		})
	}
}

// TestNginxGatewayDown: nginx answers 503 when the check endpoint cannot be reached, never
// forwarding the payment.
func TestNginxGatewayDown(t *testing.T) {
	var upstream string
	e := newEnv(t, backends[0], authzMode(&upstream))
	base := startNginx(t, freeAddr(t), strings.TrimPrefix(upstream, "http://"))
	_, tok := e.approve("9")
	if status, m, _ := headerPay(t, base, tok, "9", "9", nil); status != 503 || m["code"] != "unavailable" {
		t.Fatalf("status %d: %v", status, m)
	}
	if e.upstream.Load() != 0 {
		t.Fatal("the upstream was called")
	}
}
