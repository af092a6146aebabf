package gateway_test

import (
	"strings"
	"testing"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// TestWaitAOFCheckedAtStart: a gateway told to wait for WAITAOF on consume refuses to start against a Redis
// that cannot confirm it (the test Redis, SIGNET_TEST_REDIS_URL, is 7.0 without AOF: no WAITAOF), naming the
// setting, rather than answering every payment 503 later; the same configuration without it starts.
func TestWaitAOFCheckedAtStart(t *testing.T) {
	redisURL := replaytest.ServiceURL(t, replaytest.EnvRedisURL)
	conf := func(waitAOF string) *gateway.Config {
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
	g, err := gateway.New(conf(""))
	if err != nil {
		t.Fatalf("without redis_waitaof: %v", err)
	}
	g.Close()
	_, err = gateway.New(conf("1,0,100ms"))
	if err == nil {
		t.Fatal("started with a Redis that cannot confirm WAITAOF")
	}
	if msg := err.Error(); !strings.Contains(msg, "consume.redis_waitaof 1,0,100ms") ||
		!(strings.Contains(msg, "needs Redis 7.2 or later") || strings.Contains(msg, "appendonly")) {
		t.Fatalf("refusal %q does not name the setting and the reason", msg)
	}
}
