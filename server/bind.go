package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/fault"
)

// bind decodes a JSON body strictly: the content type must be JSON, unknown
// fields, wrong types and trailing data are refused with a clear message.
func bind(c *fiber.Ctx, dst any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.Get(fiber.HeaderContentType), ";")[0]))
	if ct != fiber.MIMEApplicationJSON && !strings.HasSuffix(ct, "+json") {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "the body must be application/json")
	}
	return decodeStrict(c.Body(), dst)
}

func decodeStrict(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return fault.Invalid("", "the request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fault.Invalid(jsonErrorField(err), "%s", jsonErrorReason(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fault.Invalid("", "unexpected data after the JSON object")
	}
	return nil
}

func jsonErrorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return ""
}

func jsonErrorReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	}
	return "malformed JSON"
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	return "number"
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
