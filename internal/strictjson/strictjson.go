package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Reasons a body is refused, compared with errors.Is on an *Error.
var (
	ErrEmpty        = errors.New("empty body")
	ErrSyntax       = errors.New("malformed JSON")
	ErrInvalidUTF8  = errors.New("invalid UTF-8")
	ErrDuplicateKey = errors.New("duplicate key")
	ErrTrailingData = errors.New("data after the JSON value")
	ErrTooDeep      = errors.New("nested too deeply")
	ErrType         = errors.New("wrong JSON type")
	ErrUnknownField = errors.New("unknown field")
)

// MaxDepth bounds the nesting of objects and arrays.
const MaxDepth = 64

// Error is a refusal: which rule (Err, one of the sentinels above), where (Pointer, RFC 6901;
// Field, the member name at fault, for a problem detail) and a message for the client. It never
// repeats more of the input than a member name.
type Error struct {
	Err     error
	Pointer string
	Field   string
	Reason  string
}

func (e *Error) Error() string {
	if e.Pointer != "" {
		return "strictjson: " + e.Pointer + ": " + e.Reason
	}
	return "strictjson: " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Fold returns the key under which two object member names count as the same member. It is at
// least as strict as every Go decoder a Signet body can meet:
//   - encoding/json (v1) matches a struct field with bytes.EqualFold-like folding: ASCII case
//     and, for other letters, Unicode simple folding, so "ſ" (U+017F) matches "s" and the
//     Kelvin sign (U+212A) matches "k" ($GOROOT/src/encoding/json/fold.go, foldName);
//   - encoding/json/v2 with case-insensitive names folds the same way and also ignores '_' and
//     '-' (go-json-experiment/json fold.go).
//
// So Fold drops '_' and '-' and maps every rune to the smallest rune of its simple-fold orbit
// (unicode.SimpleFold), which equates exactly what strings.EqualFold equates.
func Fold(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if r == '_' || r == '-' {
			continue
		}
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2 // the smallest rune of the orbit
		}
		r = r2
	}
}

// Check reports whether data is exactly one acceptable JSON value (see Parse).
func Check(data []byte) error {
	_, err := walk(data, false)
	return err
}

// Parse decodes exactly one JSON value: objects as map[string]any, arrays as []any, strings,
// numbers as json.Number (their literal text), booleans and nil. It refuses:
//   - invalid UTF-8 anywhere, in keys too, and escapes of unpaired UTF-16 surrogates (RFC 8259
//     §8.1, RFC 7493 §2.1), which permissive decoders turn into U+FFFD;
//   - an object holding two member names equal under Fold, at every depth (RFC 8259 §4 leaves
//     duplicates to the implementation; RFC 7493 §2.3 forbids them): two parsers could read two
//     different values;
//   - anything after the value, and nesting deeper than MaxDepth.
func Parse(data []byte) (any, error) { return walk(data, true) }

func walk(data []byte, build bool) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{Err: ErrEmpty, Reason: "the body is empty; a JSON value is required"}
	}
	if !utf8.Valid(data) { // RFC 8259 §8.1: JSON text exchanged between systems is UTF-8
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, &Error{Err: ErrInvalidUTF8, Reason: fmt.Sprintf("invalid UTF-8 at byte %d", off)}
	}
	// jsontext refuses exact duplicate names and invalid UTF-8 itself; Fold catches the rest.
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	w := walker{dec: dec, build: build}
	v, err := w.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		if err != nil && !isSyntax(err) {
			return nil, w.fail(err)
		}
		return nil, &Error{Err: ErrTrailingData, Reason: "unexpected data after the JSON value"}
	}
	return v, nil
}

func isSyntax(err error) bool {
	var se *jsontext.SyntacticError
	return errors.As(err, &se)
}

type walker struct {
	dec   *jsontext.Decoder
	build bool
}

func (w *walker) fail(err error) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return &Error{Err: ErrSyntax, Reason: "malformed JSON: unexpected end of input"}
		}
		return &Error{Err: ErrSyntax, Reason: "malformed JSON"}
	}
	ptr := string(se.JSONPointer)
	field := se.JSONPointer.LastToken()
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		return &Error{Err: ErrDuplicateKey, Pointer: ptr, Field: field,
			Reason: fmt.Sprintf("key %q appears more than once", field)}
	case se.Err != nil && strings.Contains(se.Err.Error(), "surrogate"):
		// An unpaired \uD800-\uDFFF escape is not UTF-8 text (RFC 8259 §8.2).
		return &Error{Err: ErrInvalidUTF8, Pointer: ptr, Field: field,
			Reason: fmt.Sprintf("invalid escape sequence at byte %d (an unpaired UTF-16 surrogate is not text)", se.ByteOffset)}
	case se.Err != nil && strings.Contains(se.Err.Error(), "invalid UTF-8"):
		return &Error{Err: ErrInvalidUTF8, Pointer: ptr, Field: field, Reason: fmt.Sprintf("invalid UTF-8 at byte %d", se.ByteOffset)}
	case errors.Is(se.Err, io.ErrUnexpectedEOF):
		return &Error{Err: ErrSyntax, Reason: "malformed JSON: unexpected end of input"}
	}
	return &Error{Err: ErrSyntax, Pointer: ptr, Field: field, Reason: fmt.Sprintf("malformed JSON at byte %d", se.ByteOffset)}
}

func (w *walker) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, &Error{Err: ErrTooDeep, Pointer: string(w.dec.StackPointer()),
			Reason: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
	}
	tok, err := w.dec.ReadToken()
	if err != nil {
		return nil, w.fail(err)
	}
	switch tok.Kind() {
	case '{':
		var obj map[string]any
		if w.build {
			obj = map[string]any{}
		}
		seen := map[string]string{} // Fold(name) → name
		for w.dec.PeekKind() != '}' {
			kt, err := w.dec.ReadToken()
			if err != nil {
				return nil, w.fail(err)
			}
			name := kt.String()
			f := Fold(name)
			if first, dup := seen[f]; dup {
				ptr := string(w.dec.StackPointer())
				return nil, &Error{Err: ErrDuplicateKey, Pointer: ptr, Field: name,
					Reason: fmt.Sprintf("key %q appears more than once (first as %q; keys are compared ignoring letter case, '-' and '_')", name, first)}
			}
			seen[f] = name
			v, err := w.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if w.build {
				obj[name] = v
			}
		}
		if _, err := w.dec.ReadToken(); err != nil { // '}', or the syntax error PeekKind saw
			return nil, w.fail(err)
		}
		if w.build {
			return obj, nil
		}
		return nil, nil
	case '[':
		var arr []any
		for w.dec.PeekKind() != ']' {
			v, err := w.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if w.build {
				arr = append(arr, v)
			}
		}
		if _, err := w.dec.ReadToken(); err != nil {
			return nil, w.fail(err)
		}
		if w.build && arr == nil {
			arr = []any{}
		}
		return arr, nil
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return nil, &Error{Err: ErrSyntax, Reason: "malformed JSON"}
}

// Options for Decode.
type Options struct {
	// AllowUnknownFields lets members that dst has no field for pass (default: refused).
	AllowUnknownFields bool
}

// Decode checks data as Parse does, then decodes it into dst with encoding/json. Every refusal
// is an *Error naming the field at fault. Once Check has refused fold-duplicates, encoding/json's
// case-insensitive field matching can only ever pick the one member there is.
func Decode(data []byte, dst any, opts ...Options) error {
	var o Options
	for _, x := range opts {
		o = x
	}
	if err := Check(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if !o.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &Error{Err: ErrType, Field: te.Field, Pointer: fieldPointer(te.Field),
			Reason: fmt.Sprintf("must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return &Error{Err: ErrUnknownField, Field: f, Reason: "unknown field"}
	}
	return &Error{Err: ErrSyntax, Reason: "malformed JSON"}
}

func fieldPointer(f string) string {
	if f == "" {
		return ""
	}
	r := strings.NewReplacer("~", "~0", "/", "~1", ".", "/") // RFC 6901 §3; encoding/json joins with "."
	return "/" + r.Replace(f)
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
