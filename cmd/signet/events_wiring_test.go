package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/store"
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
