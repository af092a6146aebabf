package redisreplay

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

var (
	logTarget  atomic.Pointer[slog.Logger]
	installLog sync.Once
)

// slogLogging is go-redis's internal logger interface answered through slog, so that its own lines (a pool
// that cannot dial, a failover) follow the server's log format: JSON logs stay JSON.
type slogLogging struct{}

func (slogLogging) Printf(ctx context.Context, format string, v ...any) {
	if l := logTarget.Load(); l != nil {
		l.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
	}
}

// RouteLogs sends go-redis's log lines to logger. go-redis keeps one process-wide logger: the first call
// installs the bridge, later calls only change where it writes.
func RouteLogs(logger *slog.Logger) {
	logTarget.Store(logger)
	installLog.Do(func() { redis.SetLogger(slogLogging{}) })
}
