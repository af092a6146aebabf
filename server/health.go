package server

import (
	"context"
	"sort"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// capabilityRefusals counts public operation requests refused for their
	// capability, by reason (missing, malformed, mismatch).
	capabilityRefusals *prometheus.CounterVec

	limited       *prometheus.CounterVec
	limiterErrors prometheus.Counter
	unrecorded    *prometheus.CounterVec
	feed          *prometheus.CounterVec // operation-change notices between replicas, by result
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_http_requests_total",
			Help: "HTTP requests by method, route pattern and status."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "signet_http_request_duration_seconds",
			Help: "HTTP request latency by method and route pattern.", Buckets: prometheus.DefBuckets}, []string{"method", "route"}),
		capabilityRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_operation_capability_refusals_total",
			Help: "Public operation requests refused for a missing, malformed or wrong capability, by reason."}, []string{"reason"}),
	}
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_rate_limited_total",
		Help: "Public requests refused with 429, by limit (address, jwks, operation, code)."}, []string{"limit"})
	m.limiterErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "signet_rate_limiter_errors_total",
		Help: "Rate-limit decisions the limiter could not make (the request passed)."})
	m.unrecorded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_unrecorded_refusals_total",
		Help: "Refused requests that name nothing real (unknown operation, code, link or ceremony), by route pattern and reason; they are not audited."},
		[]string{"route", "reason"})
	m.feed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_operation_feed_total",
		Help: "Operation-change notices between replicas: published, publish_failed, dropped (queue full), received, resync (subscription re-established, every waiter re-read)."},
		[]string{"result"})
	reg.MustRegister(m.requests, m.duration, m.capabilityRefusals, m.limited, m.limiterErrors, m.unrecorded, m.feed)
	// Process and Go runtime collectors; tolerate a registry that has them.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// adminRoutes are the admin listener's: metrics, which say what the server is doing and are for
// the operator's monitoring only, and the health checks again, so one port serves a scraper
// and a probe that should not reach the public listener.
func (s *Server) adminRoutes() {
	s.admin.Get("/metrics", s.metricsHandler())
	s.admin.Get("/healthz", s.healthz)
	s.admin.Get("/readyz", s.readyz)
	s.admin.Use(func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNotFound) })
}

func (s *Server) metricsHandler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{}))
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz checks every dependency (database, Redis when configured) with a
// short deadline; any failure answers 503 naming the failed dependency only. A draining
// server (Drain) answers 503 "draining" without checking.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining.Load() {
		c.Status(fiber.StatusServiceUnavailable)
		return c.JSON(fiber.Map{"status": "draining"})
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	names := make([]string, 0, len(s.deps.Ready))
	for n := range s.deps.Ready {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.deps.Ready[name].Ping(ctx); err != nil {
			ok = false
			checks[name] = "unavailable"
			loggerFrom(ctx, s.deps.Logger).WarnContext(ctx, "readiness check failed", "dependency", name, "err", err)
		} else {
			checks[name] = "ok"
		}
	}
	status := "ok"
	if !ok {
		status = "unavailable"
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(fiber.Map{"status": status, "checks": checks})
}
