package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/webhook"
)

// TestWebhookJobsPruneTheOutbox: with webhooks on, serve's background jobs include pruning the
// outbox with SIGNET_WEBHOOK_RETENTION.
func TestWebhookJobsPruneTheOutbox(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	cfg, err := loadConfig([]string{"SIGNET_WEBHOOK_SECRET=" + strings.Repeat("w", 32), "SIGNET_WEBHOOK_RETENTION=48h"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := wireEvents(cfg, s.Store, s.Ops, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ev.close()
	ctx := context.Background()
	enqueue := func(age time.Duration) string {
		at := time.Now().Add(-age)
		e := store.OutboxEvent{Endpoint: "https://bank.example/hook", Type: "operation.approved", CreatedAt: at, NextAttemptAt: at, DeliveredAt: &at}
		if err := s.Store.EnqueueOutbox(ctx, &e); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	older, younger := enqueue(49*time.Hour), enqueue(47*time.Hour)
	var prune *background
	for i, j := range ev.background {
		if j.name == "webhook outbox pruning" {
			prune = &ev.background[i]
		}
	}
	if prune == nil {
		t.Fatal("no outbox pruning job among the webhook jobs")
	}
	if err := prune.run(ctx); err != nil {
		t.Fatal(err)
	}
	errRead := errors.New("read")
	for id, kept := range map[string]bool{older: false, younger: true} {
		_, err := s.Store.UpdateOutbox(ctx, id, func(*store.OutboxEvent) error { return errRead })
		if got := !errors.Is(err, store.ErrNotFound); got != kept {
			t.Errorf("event %s kept %v, want %v (retention 48h)", id, got, kept)
		}
	}
}

// TestWebhookDeliveryDrainsABacklog: serve's webhook job claims again as soon as a delivery
// slot frees, so a backlog drains at the worker's concurrency, not at one claim (8 events) per
// second. Two replicas' jobs race on one database (PostgreSQL when SIGNET_TEST_POSTGRES_URL is
// set: FOR UPDATE SKIP LOCKED claims): every event arrives exactly once.
func TestWebhookDeliveryDrainsABacklog(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			s := signettest.New(t, signettest.Options{Postgres: pg})
			var mu sync.Mutex
			got := map[string]int{}
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got[r.Header.Get(webhook.HeaderEventID)]++
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent)
			}))
			defer recv.Close()
			cfg, err := loadConfig([]string{"SIGNET_WEBHOOK_SECRET=" + strings.Repeat("w", 32), "SIGNET_WEBHOOK_DEFAULT_URL=" + recv.URL})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var replicas []*events
			for range 2 {
				ev, err := wireEvents(cfg, s.Store, s.Ops, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				replicas = append(replicas, ev)
			}
			defer func() {
				cancel()
				for _, ev := range replicas {
					ev.close()
				}
			}()
			const backlog = 80
			for i := range backlog {
				e := store.OutboxEvent{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Endpoint: recv.URL,
					Type: "operation.approved", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))}
				if err := s.Store.EnqueueOutbox(ctx, &e); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			for _, ev := range replicas {
				runBackground(ctx, slog.New(slog.DiscardHandler), ev.background)
			}
			delivered := func() int {
				mu.Lock()
				defer mu.Unlock()
				return len(got)
			}
			for delivered() < backlog {
				// One claim of 8 per second per replica would need 5 s.
				if time.Since(start) > 3*time.Second {
					t.Fatalf("%d of %d webhook events delivered in %s", delivered(), backlog, time.Since(start).Round(time.Millisecond))
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // a second delivery of any of them would land by now
			mu.Lock()
			defer mu.Unlock()
			for id, n := range got {
				if n != 1 {
					t.Errorf("event %s delivered %d times", id, n)
				}
			}
			t.Logf("%d events delivered by two replicas in %s", backlog, time.Since(start).Round(time.Millisecond))
		})
	}
}
