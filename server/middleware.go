package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLogger
)

const headerRequestID = "X-Request-Id"

const hstsValue = "max-age=63072000; includeSubDomains"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestContext is the first middleware: it sets the request id, the
// deadline and the request-scoped logger on the user context (STYLE.md).
func (s *Server) requestContext(c *fiber.Ctx) error {
	rid := c.Get(headerRequestID)
	if !validRequestID.MatchString(rid) {
		rid = newRequestID()
	}
	c.Set(headerRequestID, rid)
	if s.draining.Load() {
		// Draining before a shutdown: finish this request, then close the connection so the
		// client's next request opens a new one, which the load balancer sends elsewhere.
		c.Response().SetConnectionClose()
	}
	if s.opts.HSTS {
		// RFC 6797 §6.1: two years, subdomains included. Browsers ignore it on plain http
		// (§8.1), so it is safe behind a TLS-terminating proxy.
		c.Set(fiber.HeaderStrictTransportSecurity, hstsValue)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
	defer cancel()
	logger := s.deps.Logger.With("request_id", rid)
	ctx = context.WithValue(ctx, keyRequestID, rid)
	ctx = context.WithValue(ctx, keyLogger, logger)
	c.SetUserContext(ctx)
	return c.Next()
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RequestID returns the request id set by the first middleware.
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(keyRequestID).(string)
	return v
}

func loggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return fallback
}

// observe logs each request and records its metrics. Only method, route
// pattern, status and duration are logged: never bodies, codes or tokens.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	if status == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	d := time.Since(start)
	s.metrics.requests.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(c.Method(), route).Observe(d.Seconds())
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	loggerFrom(c.UserContext(), s.deps.Logger).Log(c.UserContext(), level, "http request",
		"method", c.Method(), "route", route, "status", status, "duration_ms", float64(d.Microseconds())/1000)
	return nil
}
