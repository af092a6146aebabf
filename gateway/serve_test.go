package gateway_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/signet-sca/signet/gateway"
)

// serveConfig is a gateway in front of upstream with an open route GET /open (and a guarded one,
// which every configuration needs); extra is added to the YAML.
func serveConfig(t *testing.T, upstream, extra string) *gateway.Config {
	t.Helper()
	c, err := gateway.Parse([]byte("upstream: " + upstream + "\njwks_url: http://127.0.0.1:1/.well-known/jwks.json\nissuer: i\naudience: a\n" +
		"consume: {signet_url: 'http://127.0.0.1:1', api_key: k}\n" + extra +
		"routes:\n  - {method: GET, path: /open, require_token: false}\n  - {method: POST, path: /login, unbound: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestServeAdminListener: with admin_listen, Serve answers /healthz on the admin listener and not on
// the proxy's, where it is a path like any other (here unmatched: 404), and stops cleanly.
func TestServeAdminListener(t *testing.T) {
	g, err := gateway.New(serveConfig(t, "http://127.0.0.1:1", "admin_listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln, adminLn := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, adminLn) }()
	client := &http.Client{Timeout: 5 * time.Second} // a listener nobody serves would hold the request
	get := func(ln net.Listener) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	if status, body := get(adminLn); status != 200 || body != `{"status":"ok"}` {
		t.Errorf("admin listener: %d %s", status, body)
	}
	if status, _ := get(ln); status != 404 {
		t.Errorf("proxy listener: %d, want 404", status)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v after a clean stop", err)
	}
}

// TestServeShutdownTimeout: a request still in flight when shutdown_timeout runs out is not waited
// for any longer, and Serve says that the shutdown was not clean.
func TestServeShutdownTimeout(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}))
	defer up.Close()
	defer close(release) // before up.Close, which waits for the request
	g, err := gateway.New(serveConfig(t, up.URL, "shutdown_timeout: 50ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln, nil) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String() + "/open"); err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v with a request in flight past shutdown_timeout, want %v", err, context.DeadlineExceeded)
	}
}
