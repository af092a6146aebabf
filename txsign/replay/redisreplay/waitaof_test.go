package redisreplay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/txsign/replay"
	"github.com/signet-sca/signet/txsign/replay/replaytest"
)

// fakeWaitAOF answers WAITAOF in pipelines itself (miniredis has no WAITAOF): the other commands
// reach the server, the WAITAOF gets reply or err. It records each pipeline's command names.
type fakeWaitAOF struct {
	reply     []int64
	err       error
	pipelines [][]string
	args      []any
}

func (f *fakeWaitAOF) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (f *fakeWaitAOF) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (f *fakeWaitAOF) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		var rest []redis.Cmder
		var wait *redis.IntSliceCmd
		for _, c := range cmds {
			names = append(names, c.Name())
			if c.Name() == "waitaof" {
				wait, f.args = c.(*redis.IntSliceCmd), c.Args()
				continue
			}
			rest = append(rest, c)
		}
		if names[0] != "client" && names[0] != "hello" { // not the connection's handshake
			f.pipelines = append(f.pipelines, names)
		}
		err := next(ctx, rest)
		if wait != nil {
			if f.err != nil {
				wait.SetErr(f.err)
			} else {
				wait.SetVal(f.reply)
			}
		}
		return err
	}
}

// TestConsumeWaitsForAOF: with WithWaitAOF, Consume sends GETDEL and WAITAOF in one pipeline
// and answers success only when WAITAOF confirms the fsyncs asked for; otherwise the JTI is
// gone and the answer is ErrUnavailable (fail closed: the user approves again).
func TestConsumeWaitsForAOF(t *testing.T) {
	want := WaitAOF{Local: 1, Replicas: 1, Timeout: 250 * time.Millisecond}
	tests := []struct {
		name     string
		reply    []int64
		err      error
		recorded bool
		want     error
	}{
		{"server without WAITAOF", nil, errors.New("ERR unknown command 'WAITAOF'"), true, ErrNotDurable},
		{"no local fsync in time", []int64{0, 1}, nil, true, ErrNotDurable},
		{"replica missing", []int64{1, 0}, nil, true, ErrNotDurable},
		{"short reply", []int64{1}, nil, true, ErrNotDurable},
		{"connection lost", nil, fmt.Errorf("read: %w", context.DeadlineExceeded), true, ErrNotDurable},
		{"unknown jti is a replay, durable or not", nil, errors.New("ERR unknown command 'WAITAOF'"), false, replay.ErrReplay},
		{"confirmed", []int64{1, 1}, nil, true, nil},
		{"more than asked", []int64{1, 2}, nil, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			defer client.Close()
			hook := &fakeWaitAOF{reply: tc.reply, err: tc.err}
			client.AddHook(hook)
			s := New(client, "", WithWaitAOF(want))
			ctx := t.Context()
			jti := replaytest.JTI(t)
			if tc.recorded {
				if err := s.Record(ctx, jti, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Consume(ctx, jti)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Consume = %v; want %v", err, tc.want)
			}
			if errors.Is(tc.want, ErrNotDurable) && !errors.Is(err, replay.ErrUnavailable) {
				t.Fatalf("an unconfirmed consume must be ErrUnavailable (503): %v", err)
			}
			if mr.Exists(DefaultPrefix + jti) {
				t.Fatal("the JTI survived the consume")
			}
			if err := s.Consume(ctx, jti); !errors.Is(err, replay.ErrReplay) {
				t.Fatalf("second Consume = %v; want ErrReplay", err)
			}
			if len(hook.pipelines) == 0 || strings.Join(hook.pipelines[0], " ") != "getdel waitaof" {
				t.Fatalf("pipelines %v; want GETDEL then WAITAOF in one", hook.pipelines)
			}
			if got := fmt.Sprint(hook.args); got != "[waitaof 1 1 250]" {
				t.Fatalf("WAITAOF args %s", got)
			}
		})
	}
	t.Run("off by default: one GETDEL, no pipeline", func(t *testing.T) {
		mr := miniredis.RunT(t)
		client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer client.Close()
		hook := &fakeWaitAOF{err: errors.New("must not be sent")}
		client.AddHook(hook)
		s := New(client, "")
		jti := replaytest.JTI(t)
		if err := s.Record(t.Context(), jti, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Consume(t.Context(), jti); err != nil || len(hook.pipelines) != 0 {
			t.Fatalf("Consume = %v, pipelines %v", err, hook.pipelines)
		}
		if err := s.CheckWaitAOF(t.Context()); err != nil {
			t.Fatalf("CheckWaitAOF without WithWaitAOF: %v", err)
		}
	})
}

// TestCheckWaitAOFRealRedis: against the real Redis (SIGNET_TEST_REDIS_URL), the start-up check
// refuses a server that cannot confirm WAITAOF with a message saying why: before 7.2 it names
// the version, without AOF it says so.
func TestCheckWaitAOFRealRedis(t *testing.T) {
	client := realRedis(t)
	ctx := t.Context()
	info, err := client.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	var version string
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			version = v
		}
	}
	aof, _ := client.ConfigGet(ctx, "appendonly").Result()
	s := New(client, testPrefix(t, client), WithWaitAOF(WaitAOF{Local: 1, Timeout: 100 * time.Millisecond}))
	err = s.CheckWaitAOF(ctx)
	var major, minor int
	fmt.Sscanf(version, "%d.%d", &major, &minor)
	switch {
	case major < 7 || (major == 7 && minor < 2):
		if err == nil || !strings.Contains(err.Error(), "needs Redis 7.2 or later") || !strings.Contains(err.Error(), version) {
			t.Fatalf("Redis %s: CheckWaitAOF = %v; want a refusal naming the version", version, err)
		}
		// The consume path fails closed on the same server.
		jti := replaytest.JTI(t)
		if err := s.Record(ctx, jti, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Consume(ctx, jti); !errors.Is(err, replay.ErrUnavailable) || !errors.Is(err, ErrNotDurable) {
			t.Fatalf("Consume on Redis %s = %v; want ErrUnavailable", version, err)
		}
	case aof["appendonly"] != "yes":
		if err == nil || !strings.Contains(err.Error(), "appendonly") {
			t.Fatalf("Redis %s without AOF: CheckWaitAOF = %v", version, err)
		}
	default:
		if err != nil {
			t.Fatalf("Redis %s with AOF: CheckWaitAOF = %v", version, err)
		}
	}
	// Must pass: asking for nothing checks nothing.
	if err := New(client, "").CheckWaitAOF(ctx); err != nil {
		t.Fatal(err)
	}
}
