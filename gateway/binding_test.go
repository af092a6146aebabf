package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/valyala/fastjson"

	"github.com/signet-sca/signet/internal/strictjson"
	"github.com/signet-sca/signet/txsign/verify"
)

// paymentBinding is the Berlin Group / RFC 9396 shape the differential fuzz target binds.
var paymentBinding = Binding{Amount: "/instructedAmount/amount", Currency: "/instructedAmount/currency",
	PayeeAccount: "/creditorAccount/iban"}

const paymentBody = `{"instructedAmount":{"amount":"1.00","currency":"EUR"},"creditorAccount":{"iban":"DE02100100109307118603"}}`

func extractBody(t testing.TB, b Binding, body string) (verify.Binding, error) {
	t.Helper()
	r, err := http.NewRequest("POST", "http://gateway.test/payments", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return newExtractor(b, defaultMaxBody).extract(r)
}

// TestExtractRefusesParserDifferentials: issue 13 §1. Every body here is one a Go upstream
// (encoding/json into a struct) reads differently from a byte-exact JSON pointer, so the
// gateway must refuse it (400) rather than bind the value it happens to see.
func TestExtractRefusesParserDifferentials(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error // nil: must bind (positive control)
		// bound values of the positive controls
		amount, currency string
	}{
		{name: "long s (U+017F) duplicates instructedAmount",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR"},"inſtructedAmount":{"amount":"9999.00","currency":"EUR"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "long s, escaped",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR"},"in\u017ftructedAmount":{"amount":"9999.00","currency":"EUR"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "Kelvin sign (U+212A) swaps nothing but still refused",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR","\u212a":"x","k":"y"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "currency given twice",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR","currency":"USD"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "currency swapped under folding",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR","CURRENCY":"USD"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "payee account swapped under ASCII folding at depth",
			body: `{"instructedAmount":{"amount":"1.00","currency":"EUR"},"creditorAccount":{"iban":"DE02100100109307118603","IBAN":"GB82WEST12345698765432"}}`,
			want: strictjson.ErrDuplicateKey},
		{name: "amount replaced by U+FFFD",
			body: "{\"instructedAmount\":{\"amount\":\"1.00\",\"currency\":\"EUR\"},\"creditorAccount\":{\"iban\":\"DE02\xff\"}}",
			want: strictjson.ErrInvalidUTF8},
		{name: "invalid UTF-8 in a key",
			body: "{\"instructedAmount\":{\"amount\":\"1.00\",\"currency\":\"EUR\",\"\xe2\x84\":1},\"creditorAccount\":{\"iban\":\"DE02\"}}",
			want: strictjson.ErrInvalidUTF8},
		{name: "a second document after the first",
			body: paymentBody + `{"instructedAmount":{"amount":"9999.00","currency":"EUR"}}`, want: strictjson.ErrTrailingData},
		{name: "ok: a payment", body: paymentBody, amount: "1.00", currency: "EUR"},
		{name: "ok: Cyrillic es in another key", body: `{"instructedAmount":{"amount":"1.00","currency":"EUR","curren\u0441y":"x"},"creditorAccount":{"iban":"DE02"}}`,
			amount: "1.00", currency: "EUR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractBody(t, paymentBinding, tt.body)
			if tt.want == nil {
				if err != nil || got.Amount != tt.amount || got.Currency != tt.currency {
					t.Fatalf("bound %+v, %v", got, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (bound %+v)", err, tt.want, got)
			}
		})
	}
}

// foldSeeds returns payment bodies with a key repeated in a fold-equivalent spelling: for every
// ASCII letter, each other rune of its Unicode simple-fold orbit (ſ for s, K for k, the other
// case for all), in the bound keys where the letter occurs and in a sibling key otherwise. The
// twin comes last, where encoding/json (the last of equal keys wins) takes it.
func foldSeeds() []string {
	var out []string
	for c := 'a'; c <= 'z'; c++ {
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			swapped := false
			for _, key := range []string{"instructedAmount", "amount", "currency", "creditorAccount", "iban"} {
				if i := strings.IndexRune(key, c); i >= 0 {
					out = append(out, withTwin(key, key[:i]+string(r)+key[i+1:]))
					swapped = true
				}
			}
			if !swapped {
				out = append(out, `{"x`+string(c)+`":"1","x`+string(r)+`":"2",`+paymentBody[1:])
			}
		}
	}
	return out
}

// withTwin is paymentBody with twin, a spelling of key, added after key with other values.
func withTwin(key, twin string) string {
	top, ia, ca := "", `"amount":"1.00","currency":"EUR"`, `"iban":"DE02100100109307118603"`
	switch key {
	case "instructedAmount":
		top = `,"` + twin + `":{"amount":"9999.00","currency":"EUR"}`
	case "creditorAccount":
		top = `,"` + twin + `":{"iban":"GB82WEST12345698765432"}`
	case "amount":
		ia += `,"` + twin + `":"9999.00"`
	case "currency":
		ia += `,"` + twin + `":"USD"`
	case "iban":
		ca += `,"` + twin + `":"GB82WEST12345698765432"`
	}
	return `{"instructedAmount":{` + ia + `},"creditorAccount":{` + ca + `}` + top + `}`
}

func TestFoldSeedsAreRefused(t *testing.T) {
	seeds := foldSeeds()
	if len(seeds) < 26 {
		t.Fatalf("only %d seeds", len(seeds))
	}
	for _, s := range seeds {
		if _, err := extractBody(t, paymentBinding, s); !errors.Is(err, strictjson.ErrDuplicateKey) {
			t.Errorf("%s: err = %v, want a duplicate key", s, err)
		}
	}
}

// FuzzBindingDifferential: for any body the gateway binds, the values it checked against the
// token are the values a Go upstream (encoding/json into a struct with the bound fields) and a
// second, independent strict parser (valyala/fastjson) read from the same bytes.
func FuzzBindingDifferential(f *testing.F) {
	f.Add([]byte(paymentBody))
	f.Add([]byte(`{"instructedAmount":{"currency":"EUR","amount":12.5e1},"creditorAccount":{"iban":"DE02\u0031"},"x":[{},[]]}`))
	for _, s := range foldSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := extractBody(t, paymentBinding, string(body))
		if err != nil {
			return
		}
		// encoding/json, as a Go payment API reads the body.
		var upstream struct {
			InstructedAmount struct {
				Amount   json.RawMessage `json:"amount"`
				Currency json.RawMessage `json:"currency"`
			} `json:"instructedAmount"`
			CreditorAccount struct {
				IBAN json.RawMessage `json:"iban"`
			} `json:"creditorAccount"`
		}
		if err := json.Unmarshal(body, &upstream); err != nil {
			t.Fatalf("the gateway bound a body encoding/json refuses: %v", err)
		}
		std := verify.Binding{Amount: leaf(t, upstream.InstructedAmount.Amount),
			Currency: leaf(t, upstream.InstructedAmount.Currency), PayeeAccount: leaf(t, upstream.CreditorAccount.IBAN)}
		if std != got {
			t.Fatalf("gateway bound %+v, encoding/json reads %+v", got, std)
		}
		// fastjson, an independent parser.
		v, err := fastjson.ParseBytes(body)
		if err != nil {
			t.Fatalf("the gateway bound a body fastjson refuses: %v", err)
		}
		fj := verify.Binding{Amount: fastLeaf(t, v, "instructedAmount", "amount"),
			Currency: fastLeaf(t, v, "instructedAmount", "currency"), PayeeAccount: fastLeaf(t, v, "creditorAccount", "iban")}
		if fj != got {
			t.Fatalf("gateway bound %+v, fastjson reads %+v", got, fj)
		}
	})
}

// leaf is a bound value as the gateway reports it: a string's text or a number's literal.
func leaf(t *testing.T, raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatalf("bound value %s is neither a string nor a number", raw)
	}
	return string(raw)
}

func fastLeaf(t *testing.T, v *fastjson.Value, path ...string) string {
	x := v.Get(path...)
	if x == nil {
		t.Fatalf("fastjson finds no %v", path)
	}
	switch x.Type() {
	case fastjson.TypeString:
		b, _ := x.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		return x.String()
	}
	t.Fatalf("fastjson reads %v as %s", path, x.Type())
	return ""
}

// TestExtractQueryAndHeader: a binding read from the query string or a header takes the one value
// the request carries; a field given twice or not at all is refused, since the gateway and the
// upstream could read different copies (the first here, the last there).
func TestExtractQueryAndHeader(t *testing.T) {
	b := Binding{Amount: "query:amount", Currency: "query:currency", PayeeAccount: "header:Payee-Account"}
	extract := func(query string, payees ...string) (verify.Binding, error) {
		r, err := http.NewRequest("POST", "http://gateway.test/payments?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range payees {
			r.Header.Add("Payee-Account", p)
		}
		return newExtractor(b, defaultMaxBody).extract(r)
	}
	got, err := extract("amount=12.50&currency=EUR", "DE02100100109307118603")
	if want := (verify.Binding{Amount: "12.50", Currency: "EUR", PayeeAccount: "DE02100100109307118603"}); err != nil || got != want {
		t.Fatalf("bound %+v, %v; want %+v", got, err, want)
	}
	tests := []struct {
		name, query string
		payees      []string
		want        string
	}{
		{"amount twice", "amount=1&amount=1000&currency=EUR", []string{"DE02"}, "query parameter amount must appear exactly once"},
		{"no currency", "amount=1", []string{"DE02"}, "query parameter currency must appear exactly once"},
		{"payee account twice", "amount=1&currency=EUR", []string{"DE02", "GB82"}, "header Payee-Account must appear exactly once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extract(tt.query, tt.payees...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("bound %+v, %v; want the refusal %q", got, err, tt.want)
			}
		})
	}
}
