package server

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/internal/strictjson"
)

// bind decodes a JSON body strictly: the content type must be JSON; unknown fields, wrong
// types, trailing data, invalid UTF-8 and a key given twice (compared under the Unicode folding
// encoding/json matches field names with, so {"amount":"1.00","Amount":"1000.00"} is refused
// rather than read as 1000.00) are refused with a 400 naming the field. It is the one JSON
// reader of every /v1 handler; the webauthn ceremony bodies go through it whole, so the
// credential JSON that go-webauthn parses itself has passed the same check.
func bind(c *fiber.Ctx, dst any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON && !strings.HasSuffix(ct, "+json") {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "the body must be application/json")
	}
	return decodeStrict(c.Body(), dst)
}

func decodeStrict(body []byte, dst any) error {
	return invalid(strictjson.Decode(body, dst))
}

// checkRawJSON runs the strict check over a body that another parser reads (the PowerAuth
// device API hands its exact bytes to the activation service, whose signatures cover them).
// An empty body passes: those endpoints decide themselves whether they need one.
func checkRawJSON(body []byte) error {
	if len(body) == 0 {
		return nil
	}
	return invalid(strictjson.Check(body))
}

// invalid maps a strictjson refusal to a 400 problem naming the field.
func invalid(err error) error {
	if err == nil {
		return nil
	}
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return fault.Invalid("", "malformed JSON")
	}
	if errors.Is(err, strictjson.ErrEmpty) {
		return fault.Invalid("", "the request body is empty; a JSON object is required")
	}
	if errors.Is(err, strictjson.ErrTrailingData) {
		return fault.Invalid("", "unexpected data after the JSON object")
	}
	return fault.Invalid(se.Field, "%s", se.Reason)
}

// seconds converts a client's whole number of seconds into a duration, refusing anything
// outside [lo, hi] BEFORE multiplying: time.Duration(n)*time.Second overflows int64 silently
// (60 + 2^55 seconds wraps to exactly 60 s), so a range check after the conversion can be
// passed by a huge value.
func seconds(field string, n int, lo, hi time.Duration) (time.Duration, error) {
	if int64(n) < int64(lo/time.Second) || int64(n) > int64(hi/time.Second) {
		return 0, fault.Invalid(field, "must be between %d and %d seconds", int64(lo/time.Second), int64(hi/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}
