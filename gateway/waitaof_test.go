package gateway_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// waitAOFConfig is a gateway consuming in the Redis at redisURL, with consume.redis_waitaof set to
// waitAOF unless it is empty.
func waitAOFConfig(t *testing.T, redisURL, waitAOF string) *gateway.Config {
	t.Helper()
	y := "upstream: http://127.0.0.1:1\njwks_url: http://127.0.0.1:1/.well-known/jwks.json\nissuer: i\naudience: a\n" +
		"consume:\n  redis_url: \"" + redisURL + "\"\n"
	if waitAOF != "" {
		y += "  redis_waitaof: \"" + waitAOF + "\"\n"
	}
	y += "routes:\n  - {method: POST, path: /payments, binding: {amount: /amount, currency: /currency, payee_account: /account}}\n"
	c, err := gateway.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWaitAOFCheckedAtStart: a gateway told to wait for WAITAOF on consume refuses to start against a Redis
// that cannot confirm it (the test Redis, SIGNET_TEST_REDIS_URL, is 7.0 without AOF: no WAITAOF), naming the
// setting, rather than answering every payment 503 later; the same configuration without it starts.
func TestWaitAOFCheckedAtStart(t *testing.T) {
	redisURL := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	g, err := gateway.New(waitAOFConfig(t, redisURL, ""))
	if err != nil {
		t.Fatalf("without redis_waitaof: %v", err)
	}
	g.Close()
	_, err = gateway.New(waitAOFConfig(t, redisURL, "1,0,100ms"))
	if err == nil {
		t.Fatal("started with a Redis that cannot confirm WAITAOF")
	}
	if msg := err.Error(); !strings.Contains(msg, "consume.redis_waitaof 1,0,100ms") ||
		!(strings.Contains(msg, "needs Redis 7.2 or later") || strings.Contains(msg, "appendonly")) {
		t.Fatalf("refusal %q does not name the setting and the reason", msg)
	}
}

// TestWaitAOFStartCheck: the same start-up check without a real Redis. miniredis has no WAITAOF, as
// Redis before 7.2; answering it in the test as Redis 7.2 does, the gateway starts only when the
// fsyncs it asks for (consume.redis_waitaof "1,0,100ms": the primary's, within 100 ms) are confirmed.
func TestWaitAOFStartCheck(t *testing.T) {
	tests := []struct {
		name string
		acks []int // WAITAOF's answer (local fsyncs, replicas); nil: unknown command
		want string
	}{
		{"no WAITAOF (Redis before 7.2)", nil, "needs Redis 7.2 or later"},
		{"the primary's fsync unconfirmed", []int{0, 0}, "WAITAOF confirmed [0 0]"},
		{"confirmed", []int{1, 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			var mu sync.Mutex
			var asked []string
			if tt.acks != nil {
				mr.Server().SetPreHook(func(c *server.Peer, cmd string, args ...string) bool {
					if cmd != "WAITAOF" {
						return false
					}
					mu.Lock()
					asked = args
					mu.Unlock()
					c.WriteLen(2)
					c.WriteInt(tt.acks[0])
					c.WriteInt(tt.acks[1])
					return true
				})
			}
			g, err := gateway.New(waitAOFConfig(t, "redis://"+mr.Addr()+"/0", "1,0,100ms"))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused to start: %v", err)
				}
				g.Close()
				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(asked, []string{"1", "0", "100"}) {
					t.Fatalf("WAITAOF %v, want 1 0 100", asked)
				}
				return
			}
			if err == nil {
				g.Close()
				t.Fatal("started with a Redis that cannot confirm WAITAOF")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "gateway: consume.redis_waitaof 1,0,100ms: ") || !strings.Contains(msg, tt.want) {
				t.Fatalf("refusal %q, want the setting and %q", msg, tt.want)
			}
		})
	}
}
