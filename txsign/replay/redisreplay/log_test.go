package redisreplay

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lineWriter hands every log line to a channel.
type lineWriter struct {
	mu    sync.Mutex
	lines chan []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.lines <- bytes.Clone(p):
	default: // the test has what it needs
	}
	return len(p), nil
}

// TestGoRedisLogsAreSlog: what go-redis itself logs arrives through slog as one JSON object per line.
func TestGoRedisLogsAreSlog(t *testing.T) {
	w := &lineWriter{lines: make(chan []byte, 1)}
	RouteLogs(slog.New(slog.NewJSONHandler(w, nil)))
	t.Cleanup(func() { RouteLogs(slog.New(slog.DiscardHandler)) })

	// A client whose pool keeps an idle connection to a closed port: go-redis logs the failed dial itself.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, MinIdleConns: 1})
	defer c.Close()
	_ = c.Ping(context.Background()).Err()

	select {
	case line := <-w.lines:
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if rec["component"] != "go-redis" || rec["level"] != "WARN" {
			t.Fatalf("unexpected line: %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("go-redis logged nothing through slog")
	}
}
