package gateway

import (
	"net/http"
	"testing"
	"time"
)

// TestNewSignetConsumer: the consume endpoint is found under the base URL with or without its
// trailing slash; without a client of its own, a consumer still gives up on a silent Signet after
// 3 s (an http.Client without a timeout would hold the payment request as long as Signet does).
func TestNewSignetConsumer(t *testing.T) {
	c := NewSignetConsumer("https://signet.example/", "secret", nil)
	if c.url != "https://signet.example/v1/tokens/consume" || c.auth != "Bearer secret" {
		t.Fatalf("url %q, auth %q", c.url, c.auth)
	}
	if c.client == nil || c.client.Timeout != 3*time.Second {
		t.Fatalf("default client %+v, want a 3s timeout", c.client)
	}
	own := &http.Client{Timeout: time.Second}
	if c := NewSignetConsumer("https://signet.example", "secret", own); c.client != own || c.url != "https://signet.example/v1/tokens/consume" {
		t.Fatalf("client %p (want %p), url %q", c.client, own, c.url)
	}
}
