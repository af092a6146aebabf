package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/store"
)

// WorkerStore is the part of the store the delivery worker uses.
type WorkerStore interface {
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error)
	UpdateOutbox(ctx context.Context, id string, fn func(*store.OutboxEvent) error) (store.OutboxEvent, error)
	PruneOutbox(ctx context.Context, before, parkedAfter time.Time, limit int) (int64, error)
}

// WorkerConfig configures delivery. Zero values take the defaults in brackets.
type WorkerConfig struct {
	// Secret signs every delivery (HMAC-SHA256). Required, at least MinSecretLen bytes.
	Secret Secret
	// Client sends deliveries [no redirects, no proxy, link-local addresses refused].
	Client *http.Client
	// Timeout bounds one delivery [10s].
	Timeout time.Duration
	// Lease is how long a claimed event is hidden from other workers [2m]. A worker that dies
	// mid-delivery leaves the event to be delivered again once the lease runs out.
	Lease time.Duration
	// Concurrency bounds deliveries in flight [8].
	Concurrency int
	// BackoffBase and BackoffMax shape the retry delay: BackoffBase·2^(attempts-1), capped at
	// BackoffMax, then "equal jitter" (half fixed, half random) [5s, 1h].
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxAge: an event still undelivered this long after it was enqueued is parked (never
	// retried; LastError says so) [72h].
	MaxAge time.Duration
	// Retention: Prune deletes delivered and parked events this long after they were enqueued
	// [7 days]. Events still being retried are never pruned.
	Retention time.Duration
	// Breaker: per-endpoint circuit breaker.
	Breaker BreakerConfig
	// Registerer receives the worker's metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// parkFor pushes a parked event's next attempt out of reach.
const parkFor = 100 * 365 * 24 * time.Hour

// Worker delivers outbox events. Deliveries run on the worker's own goroutines so that a
// caller's short context (a periodic job) only bounds the claim; Close waits for them.
type Worker struct {
	store    WorkerStore
	cfg      WorkerConfig
	breakers *breakers
	metrics  workerMetrics

	base    context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
	freed   chan struct{}
	claimMu sync.Mutex
	closed  bool
}

type workerMetrics struct {
	outcomes *prometheus.CounterVec
	duration prometheus.Histogram
}

// NewWorker returns a worker over s.
func NewWorker(s WorkerStore, cfg WorkerConfig) (*Worker, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("webhook: the signing secret must be at least %d bytes", MinSecretLen)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.Lease, 2*time.Minute)
	def(&cfg.BackoffBase, 5*time.Second)
	def(&cfg.BackoffMax, time.Hour)
	def(&cfg.MaxAge, 72*time.Hour)
	def(&cfg.Retention, 7*24*time.Hour)
	if cfg.Lease <= cfg.Timeout {
		cfg.Lease = 2 * cfg.Timeout // never re-claimed while still in flight
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(cfg.Timeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base, stop := context.WithCancel(context.Background())
	w := &Worker{store: s, cfg: cfg, breakers: newBreakers(cfg.Breaker), base: base, stop: stop,
		slots: make(chan struct{}, cfg.Concurrency), freed: make(chan struct{}, 1)}
	w.metrics = workerMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome (delivered, failed, deferred by an open circuit, abandoned)."},
			[]string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "signet_webhook_delivery_seconds",
			Help: "Duration of webhook delivery attempts.", Buckets: prometheus.DefBuckets}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{w.metrics.outcomes, w.metrics.duration} {
			if err := cfg.Registerer.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return w, nil
}

// NewClient is the delivery HTTP client: no redirects (a 3xx is a failure, so a callback cannot
// bounce a signed event elsewhere), no proxy, and no connections to link-local, multicast or
// unspecified addresses (cloud metadata endpoints). Callback URLs themselves were checked at
// operation creation: https, or http on loopback only.
func NewClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: refuseSpecialAddresses}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func refuseSpecialAddresses(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return fmt.Errorf("webhook: refusing to connect to %s", host)
	}
	return nil
}

// Dispatch claims as many due events as there are free delivery slots and starts delivering
// them; it returns how many it claimed. ctx bounds the claim only.
func (w *Worker) Dispatch(ctx context.Context) (int, error) {
	w.claimMu.Lock()
	defer w.claimMu.Unlock()
	if w.closed {
		return 0, errors.New("webhook: worker closed")
	}
	free := cap(w.slots) - len(w.slots)
	if free == 0 {
		return 0, nil
	}
	now := w.cfg.Now()
	events, err := w.store.ClaimOutbox(ctx, now, w.cfg.Lease, free)
	if err != nil {
		return 0, err
	}
	for _, ev := range events {
		key := endpointKey(ev.Endpoint)
		if ok, until := w.breakers.allow(key, now); !ok {
			w.postpone(ctx, ev, until)
			continue
		}
		w.slots <- struct{}{} // free: only Dispatch fills slots, under claimMu
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() {
				<-w.slots
				select {
				case w.freed <- struct{}{}:
				default:
				}
			}()
			w.deliver(ev, key)
		}()
	}
	return len(events), nil
}

// Run dispatches until ctx ends: at once when kick fires or a slot frees, else every poll.
// Call Close afterwards to wait for deliveries in flight.
func (w *Worker) Run(ctx context.Context, kick <-chan struct{}, poll time.Duration) {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		// ctx ending stops the loop, not a claim already sent: a cancelled claim may still commit
		// in the database and lease its events to a worker that never delivers them (until the
		// lease runs out). Close waits for what the claim started.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.Timeout)
		if _, err := w.Dispatch(dctx); err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("webhook dispatch failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		case <-w.freed:
		}
	}
}

// Close stops claiming, waits for deliveries in flight until ctx ends, then cancels the rest:
// their events are delivered again after the lease (at least once).
func (w *Worker) Close(ctx context.Context) error {
	w.claimMu.Lock()
	w.closed = true
	w.claimMu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		w.stop()
		return nil
	case <-ctx.Done():
		w.stop()
		<-done
		return ctx.Err()
	}
}

func (w *Worker) deliver(ev store.OutboxEvent, key string) {
	ctx, cancel := context.WithTimeout(w.base, w.cfg.Timeout)
	start := time.Now()
	err := w.post(ctx, ev)
	cancel()
	w.metrics.duration.Observe(time.Since(start).Seconds())
	now := w.cfg.Now()
	// The outcome is recorded even while closing: a delivered event marked delivered is one
	// duplicate fewer after a restart.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(w.base), 5*time.Second)
	defer rcancel()
	if err == nil {
		w.breakers.success(key)
		w.metrics.outcomes.WithLabelValues("delivered").Inc()
		_, uerr := w.store.UpdateOutbox(rctx, ev.ID, func(e *store.OutboxEvent) error {
			if e.DeliveredAt != nil {
				return errUnchanged
			}
			e.Attempts++
			e.DeliveredAt, e.LastError = &now, ""
			return nil
		})
		if uerr != nil && !errors.Is(uerr, errUnchanged) {
			w.cfg.Logger.Warn("webhook delivered but not recorded; it will be sent again", "event_id", ev.ID, "err", uerr)
		}
		return
	}
	w.breakers.failure(key, now)
	abandoned := false
	_, uerr := w.store.UpdateOutbox(rctx, ev.ID, func(e *store.OutboxEvent) error {
		if e.DeliveredAt != nil {
			return errUnchanged
		}
		e.Attempts++
		e.LastError = truncate(err.Error(), 500)
		abandoned = now.Sub(e.CreatedAt) >= w.cfg.MaxAge
		if abandoned {
			e.LastError = truncate(fmt.Sprintf("abandoned after %d attempts: %s", e.Attempts, err), 500)
			e.NextAttemptAt = e.CreatedAt.Add(parkFor)
			return nil
		}
		e.NextAttemptAt = now.Add(w.backoff(e.Attempts))
		return nil
	})
	if abandoned {
		w.metrics.outcomes.WithLabelValues("abandoned").Inc()
		w.cfg.Logger.Error("webhook abandoned", "event_id", ev.ID, "endpoint_host", key, "err", err)
	} else {
		w.metrics.outcomes.WithLabelValues("failed").Inc()
		w.cfg.Logger.Info("webhook delivery failed; will retry", "event_id", ev.ID, "endpoint_host", key, "err", err)
	}
	if uerr != nil && !errors.Is(uerr, errUnchanged) {
		w.cfg.Logger.Warn("webhook failure not recorded; retried after the lease", "event_id", ev.ID, "err", uerr)
	}
}

// pruneBatch is how many events one PruneOutbox statement deletes, so that a
// large backlog is removed in short statements.
const pruneBatch = 1000

// Prune deletes the events delivered or parked more than Retention after they were enqueued,
// in batches until none is left or ctx ends, and returns how many it deleted. The outbox then
// holds what is being retried plus Retention's worth of history, not every event ever sent.
func (w *Worker) Prune(ctx context.Context) (int64, error) {
	now := w.cfg.Now()
	before, parkedAfter := now.Add(-w.cfg.Retention), now.Add(parkFor/2)
	var total int64
	for {
		n, err := w.store.PruneOutbox(ctx, before, parkedAfter, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			if total > 0 {
				w.cfg.Logger.Info("webhook outbox pruned", "events", total, "enqueued_before", before)
			}
			return total, err
		}
	}
}

// postpone puts an event back until the endpoint's circuit closes, without counting an attempt.
func (w *Worker) postpone(ctx context.Context, ev store.OutboxEvent, until time.Time) {
	w.metrics.outcomes.WithLabelValues("deferred").Inc()
	jitter := time.Duration(rand.Int64N(int64(time.Second)))
	_, err := w.store.UpdateOutbox(ctx, ev.ID, func(e *store.OutboxEvent) error {
		if e.DeliveredAt != nil {
			return errUnchanged
		}
		if w.cfg.Now().Sub(e.CreatedAt) >= w.cfg.MaxAge {
			e.LastError = truncate("abandoned while the endpoint's circuit was open: "+e.LastError, 500)
			e.NextAttemptAt = e.CreatedAt.Add(parkFor)
			return nil
		}
		e.NextAttemptAt = until.Add(jitter)
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		w.cfg.Logger.Warn("webhook deferral not recorded; retried after the lease", "event_id", ev.ID, "err", err)
	}
}

var errUnchanged = errors.New("webhook: unchanged")

// backoff is the delay after the n-th failed attempt: base·2^(n-1) capped at max, with equal
// jitter so that many events failing together do not retry together.
func (w *Worker) backoff(n int) time.Duration {
	d := w.cfg.BackoffBase
	for i := 1; i < n && d < w.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.BackoffMax)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1)) // jitter, not a secret: math/rand
}

func (w *Worker) post(ctx context.Context, ev store.OutboxEvent) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.Endpoint, bytes.NewReader(ev.Payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Signet-Webhook/1")
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, w.cfg.Now(), ev.Payload))
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is already in the row
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered HTTP %d", resp.StatusCode)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// endpointKey is the circuit-breaker key of an endpoint: its scheme and host, since a host that
// is down fails every path on it.
func endpointKey(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return endpoint
	}
	return u.Scheme + "://" + u.Host
}
