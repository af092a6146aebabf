package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/notify"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webhook"
)

// events is the wiring of what Signet sends out about operations: push notifications when one is
// created for a user with mobile credentials, and webhook events when one ends.
type events struct {
	background []background
	close      func()
	// pushes also pushes new inbox messages (inbox.Service.Observe).
	pushes *notify.Observer
}

// wireEvents registers the push and webhook observers on the operation service and returns the
// background jobs (webhook delivery, reconciliation and outbox pruning) and what to close at shutdown.
func wireEvents(cfg config.Config, st store.Store, ops *txsign.Service, reg prometheus.Registerer, logger *slog.Logger) (*events, error) {
	var notifier notify.Notifier = notify.NewLog(logger)
	if cfg.PushURL != "" {
		notifier = notify.NewWebhook(cfg.PushURL, webhook.Secret(cfg.PushSecret), nil)
	}
	pushes := notify.NewObserver(st, notifier, notify.ObserverConfig{Logger: logger, Registerer: reg,
		Capability: ops.Capability})
	ops.Observe(pushes)
	e := &events{pushes: pushes}
	var worker *webhook.Worker
	if cfg.WebhookSecret == "" {
		logger.Info("webhooks disabled: set SIGNET_WEBHOOK_SECRET to send operation events to callback URLs")
	} else {
		outbox := webhook.NewOutbox(st, cfg.WebhookDefaultURL, logger)
		ops.Observe(outbox)
		var err error
		worker, err = webhook.NewWorker(st, webhook.WorkerConfig{Secret: webhook.Secret(cfg.WebhookSecret),
			Retention: cfg.WebhookRetention, Logger: logger, Registerer: reg})
		if err != nil {
			return nil, err
		}
		reconciler := webhook.NewReconciler(st, outbox, webhook.ReconcilerConfig{Logger: logger})
		e.background = append(e.background,
			// The worker claims again as soon as a delivery slot frees or this replica enqueues, and
			// every second for what other replicas enqueued: a backlog drains at Concurrency
			// deliveries in flight, not at one claim per tick (8 events a second per replica).
			background{name: "webhook delivery", loop: func(ctx context.Context) { worker.Run(ctx, outbox.Kicked(), time.Second) }},
			background{name: "webhook reconciliation", every: 30 * time.Second, run: func(ctx context.Context) error { _, err := reconciler.Pass(ctx); return err }},
			background{name: "webhook outbox pruning", every: 10 * time.Minute, run: func(ctx context.Context) error { _, err := worker.Prune(ctx); return err }},
		)
	}
	e.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if worker != nil {
			_ = worker.Close(ctx) // undelivered events stay in the outbox for the next start
		}
		_ = pushes.Close(ctx)
	}
	return e, nil
}
