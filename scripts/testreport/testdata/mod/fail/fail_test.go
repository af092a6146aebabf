package fail

import "testing"

func TestPasses(t *testing.T) {}

func TestFails(t *testing.T) {
	t.Run("row", func(t *testing.T) { t.Error("the reason it failed") })
}

func TestRedis(t *testing.T) { t.Skip("SIGNET_TEST_REDIS_URL not set") }
