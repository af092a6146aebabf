package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signet-sca/signet/ratelimit"
)

// TestSharedLimiterFallsBackWhenRedisIsDown: with Redis unreachable, decisions are made in
// process (limits still hold) and each fallback is counted.
func TestSharedLimiterFallsBackWhenRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	reg := prometheus.NewRegistry()
	lim, closeLim, err := sharedLimiter("redis://"+dead+"/0?max_retries=-1", reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeLim()
	l := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 2}
	var got []bool
	for range 3 {
		r, err := lim.Allow(context.Background(), "k", l)
		if err != nil {
			t.Fatalf("Allow with Redis down = %v; want a local decision", err)
		}
		got = append(got, r.Allowed)
	}
	if !got[0] || !got[1] || got[2] {
		t.Errorf("decisions %v; want the local burst of 2, then a refusal", got)
	}
	n, err := testutil.GatherAndCount(reg, "signet_rate_limiter_fallbacks_total")
	if err != nil || n != 1 {
		t.Fatalf("metric count %d, %v", n, err)
	}
	mfs, _ := reg.Gather()
	if v := mfs[0].GetMetric()[0].GetCounter().GetValue(); v != 3 {
		t.Errorf("signet_rate_limiter_fallbacks_total = %v; want 3", v)
	}
}
