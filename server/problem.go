package server

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/txsign"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail,omitempty"`
	Instance  string               `json:"instance,omitempty"`
	Code      string               `json:"code"`
	RequestID string               `json:"request_id,omitempty"`
	Errors    []fault.FieldProblem `json:"errors,omitempty"`
}

const problemBase = "https://signet-sca.github.io/problems/"

// problemFor maps an error to its problem by fault.Classify: the status comes
// from the kind, the detail only from the public message an *fault.Error
// carries (never from err.Error()). An outage anywhere below the handler is
// 503. The detail of unexpected errors never reaches the client: it goes to the
// log with the request id.
func problemFor(err error) (Problem, bool) {
	var inv *fault.InvalidError
	var ferr *fiber.Error
	var scope insufficientScope
	switch {
	case errors.As(err, &scope):
		return Problem{Status: 403, Code: "insufficient_scope", Title: "Insufficient scope",
			Detail: "this call needs an API key with scope " + scope.need.String()}, true
	case !fault.IsUnavailable(err) && errors.Is(err, txsign.ErrInsufficientAuthentication):
		return Problem{Status: 403, Code: "insufficient_authentication", Title: "Insufficient authentication",
			Detail: "the approval does not meet the required authentication class; the token was not consumed"}, true
	}
	face := fault.Classify(err)
	public := face.Public
	switch face.Kind {
	case fault.ErrUnavailable:
		return Problem{Status: 503, Code: "unavailable", Title: "Service temporarily unavailable"}, true
	case fault.ErrInvalid:
		p := Problem{Status: 400, Code: "invalid_request", Title: "The request is invalid", Detail: public}
		if errors.As(err, &inv) {
			p.Errors = inv.Problems
		}
		return p, true
	case fault.ErrUnauthenticated:
		return Problem{Status: 401, Code: "unauthenticated", Title: "Authentication failed"}, true
	case fault.ErrForbidden:
		return Problem{Status: 403, Code: "forbidden", Title: "Forbidden", Detail: public}, true
	case fault.ErrNotFound:
		return Problem{Status: 404, Code: "not_found", Title: "Not found", Detail: public}, true
	case fault.ErrConflict:
		return Problem{Status: 409, Code: "conflict", Title: "Conflict", Detail: public}, true
	case fault.ErrGone:
		return Problem{Status: 410, Code: "gone", Title: "No longer available", Detail: public}, true
	case fault.ErrLocked:
		return Problem{Status: 423, Code: "locked", Title: "Locked", Detail: public}, true
	case fault.ErrTooManyRequests:
		return Problem{Status: 429, Code: "too_many_requests", Title: "Too many requests"}, true
	}
	if errors.As(err, &ferr) {
		p := Problem{Status: ferr.Code, Title: http.StatusText(ferr.Code), Code: codeForStatus(ferr.Code)}
		if ferr.Code == fiber.StatusRequestEntityTooLarge {
			p.Detail = "the request body is larger than the configured limit"
		} else if ferr.Code < 500 {
			p.Detail = ferr.Message
		}
		return p, ferr.Code < 500
	}
	return Problem{Status: 500, Code: "internal", Title: "Internal error"}, false
}

// retryAfterUnavailable is the Retry-After (seconds) of a 503 outage answer: a
// database failover or restart takes seconds, not minutes.
const retryAfterUnavailable = "5"

func codeForStatus(status int) string {
	switch status {
	case 400:
		return "invalid_request"
	case 401:
		return "unauthenticated"
	case 404:
		return "not_found"
	case 405:
		return "method_not_allowed"
	case 413:
		return "body_too_large"
	case 415:
		return "unsupported_media_type"
	case 429:
		return "too_many_requests"
	}
	if status >= 500 {
		return "internal"
	}
	return "error"
}

// handleError is fiber's one error handler.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p, expected := problemFor(err)
	var scope insufficientScope
	ctx := c.UserContext()
	s.countUnrecorded(c, err)
	if !expected {
		loggerFrom(ctx, s.deps.Logger).ErrorContext(ctx, "request failed", "err", err, "route", c.Route().Path)
	}
	p.Type = problemBase + p.Code
	p.RequestID = RequestID(ctx)
	if p.RequestID == "" { // errors raised before the first middleware ran (e.g. body too large)
		p.RequestID = newRequestID()
		c.Set(headerRequestID, p.RequestID)
	}
	p.Instance = c.Path()
	if p.Status == 401 {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="signet", Basic realm="signet"`)
	}
	if errors.As(err, &scope) { // RFC 6750 §3.1: the error code and the scope that would do
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="signet", error="insufficient_scope", scope="`+scope.need.String()+`"`)
	}
	var retry *fault.RetryAfterError
	switch {
	case errors.As(err, &retry) && p.Status >= 400: // load shedding: its own delay (RFC 9110 §10.2.3)
		c.Set(fiber.HeaderRetryAfter, retryAfterSeconds(retry.After))
	case p.Status == 503:
		c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable)
	}
	c.Status(p.Status)
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.JSON(p, "application/problem+json")
}
