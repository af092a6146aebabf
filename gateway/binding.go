package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/signet-sca/signet/internal/strictjson"
	"github.com/signet-sca/signet/txsign/verify"
)

// parsePointer splits an RFC 6901 JSON pointer into its unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" || p[0] != '/' {
		return nil, errors.New("a JSON pointer starts with /")
	}
	parts := strings.Split(p[1:], "/")
	for i, t := range parts {
		// RFC 6901 §3: "~" is followed by 0 or 1 only.
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 >= len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, fmt.Errorf("%q: ~ must be followed by 0 or 1 (RFC 6901 §3)", p)
			}
		}
		// §4: first ~1 → /, then ~0 → ~.
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// errBodyTooLarge is answered 413.
var errBodyTooLarge = errors.New("gateway: request body too large")

// extractor reads a route's binding from a request. It reads a JSON body at most once and puts
// the bytes back so that the same body goes upstream.
type extractor struct {
	binding  Binding
	pointers map[string][]string
	maxBody  int64
}

func newExtractor(b Binding, maxBody int64) *extractor {
	e := &extractor{binding: b, pointers: map[string][]string{}, maxBody: maxBody}
	for _, s := range []string{b.Amount, b.Currency, b.PayeeAccount} {
		if strings.HasPrefix(s, "/") {
			e.pointers[s], _ = parsePointer(s) // validated with the configuration
		}
	}
	return e
}

// extract returns the request's amount, currency and payee account.
func (e *extractor) extract(r *http.Request) (verify.Binding, error) {
	var doc any
	if len(e.pointers) > 0 {
		body, err := readBody(r, e.maxBody)
		if err != nil {
			return verify.Binding{}, err
		}
		if doc, err = decodeStrict(body); err != nil {
			return verify.Binding{}, err
		}
	}
	get := func(src string) (string, error) {
		switch {
		case strings.HasPrefix(src, "header:"):
			vs := r.Header.Values(strings.TrimPrefix(src, "header:"))
			if len(vs) != 1 {
				return "", fmt.Errorf("header %s must appear exactly once", strings.TrimPrefix(src, "header:"))
			}
			return vs[0], nil
		case strings.HasPrefix(src, "query:"):
			vs := r.URL.Query()[strings.TrimPrefix(src, "query:")]
			if len(vs) != 1 {
				return "", fmt.Errorf("query parameter %s must appear exactly once", strings.TrimPrefix(src, "query:"))
			}
			return vs[0], nil
		}
		return lookup(doc, e.pointers[src], src)
	}
	var b verify.Binding
	var err1, err2, err3 error
	b.Amount, err1 = get(e.binding.Amount)
	b.Currency, err2 = get(e.binding.Currency)
	b.PayeeAccount, err3 = get(e.binding.PayeeAccount)
	return b, errors.Join(err1, err2, err3)
}

// readBody reads the whole body (at most limit bytes) and replaces it with a re-readable copy.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, errors.New("the request has no body")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, errBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
	return body, nil
}

// decodeStrict decodes one JSON value through internal/strictjson, refusing what parsers
// disagree on: a key repeated in an object under the folding Go's encoding/json matches field
// names with ({"amount":"1","Amount":"1000"}, or "inſtructedAmount" beside "instructedAmount":
// the gateway would check one value while a Go upstream pays the other), invalid UTF-8 (which
// permissive parsers turn into U+FFFD), and anything after the value. Numbers keep their
// literal text.
func decodeStrict(body []byte) (any, error) {
	v, err := strictjson.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("the body is not acceptable JSON: %w", err)
	}
	return v, nil
}

// lookup evaluates a JSON pointer (RFC 6901 §4) and returns a string or the literal of a number.
func lookup(doc any, tokens []string, ptr string) (string, error) {
	cur := doc
	for _, t := range tokens {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[t]
			if !ok {
				return "", fmt.Errorf("%s is missing from the body", ptr)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(v) || (len(t) > 1 && t[0] == '0') {
				return "", fmt.Errorf("%s is missing from the body", ptr)
			}
			cur = v[i]
		default:
			return "", fmt.Errorf("%s is missing from the body", ptr)
		}
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("%s is not a string or a number", ptr)
}
