package gateway

import (
	"net/http"
	"testing"
	"time"
)

// TestServerAndTransportLimits: the limits that keep slow or stuck peers from holding the gateway's
// connections and requests. On the listeners: headers within 10 s, the whole request within 60 s,
// 64 KiB of headers, idle connections closed after 90 s, and a response may take the upstream
// timeout and 30 s more to write. Towards the upstream: connect within 5 s (TCP keep-alive every
// 30 s), TLS handshake within 5 s, response headers within upstream_timeout, idle connections kept
// 90 s. Nothing in a test of a few seconds shows these; a change to them should be deliberate.
func TestServerAndTransportLimits(t *testing.T) {
	c, err := Parse([]byte(validConfig + "upstream_timeout: 7s\n"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	s := g.newServer(g.handler)
	if s.ReadHeaderTimeout != 10*time.Second || s.ReadTimeout != 60*time.Second || s.WriteTimeout != 37*time.Second ||
		s.IdleTimeout != 90*time.Second || s.MaxHeaderBytes != 64<<10 || s.ErrorLog == nil || s.Handler == nil {
		t.Errorf("server: read header %s, read %s, write %s, idle %s, max header bytes %d, error log set %t",
			s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout, s.MaxHeaderBytes, s.ErrorLog != nil)
	}
	tr, ok := g.proxy.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("upstream transport %T", g.proxy.Transport)
	}
	if tr.ResponseHeaderTimeout != 7*time.Second || tr.TLSHandshakeTimeout != 5*time.Second || tr.IdleConnTimeout != 90*time.Second ||
		tr.MaxIdleConnsPerHost != 64 || tr.DialContext == nil || tr.Proxy == nil {
		t.Errorf("upstream transport: response header %s, TLS handshake %s, idle %s, idle per host %d",
			tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, tr.IdleConnTimeout, tr.MaxIdleConnsPerHost)
	}
	if d := upstreamDialer(); d.Timeout != 5*time.Second || d.KeepAlive != 30*time.Second {
		t.Errorf("upstream dialer: timeout %s, keep-alive %s", d.Timeout, d.KeepAlive)
	}
}
