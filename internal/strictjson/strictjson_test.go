package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	tests := []struct {
		name    string
		body    string
		want    error  // nil: must pass (positive controls)
		field   string // the field the refusal names
		pointer string
	}{
		// Unicode simple folding, as encoding/json matches struct fields (§1 of issue 13).
		{"long s folds to s", `{"instructedAmount":{"amount":"1.00"},"inſtructedAmount":{"amount":"9999.00"}}`, ErrDuplicateKey, "inſtructedAmount", ""},
		{"Kelvin sign folds to k", `{"kind":"a","\u212aind":"b"}`, ErrDuplicateKey, "\u212aind", ""},
		{"Kelvin sign, literal", "{\"bank\":\"a\",\"ban\u212a\":\"b\"}", ErrDuplicateKey, "ban\u212a", ""},
		{"ASCII case", `{"amount":"1.00","Amount":"1000.00"}`, ErrDuplicateKey, "Amount", ""},
		{"exact duplicate", `{"amount":"1.00","amount":"1000.00"}`, ErrDuplicateKey, "amount", ""},
		{"escaped duplicate", `{"amount":"1.00","\u0061mount":"1000.00"}`, ErrDuplicateKey, "amount", ""},
		{"underscore ignored (encoding/json v2 nocase)", `{"payee_account":"A","payeeAccount":"B"}`, ErrDuplicateKey, "payeeAccount", ""},
		{"dash ignored", `{"payee-account":"A","PAYEEACCOUNT":"B"}`, ErrDuplicateKey, "PAYEEACCOUNT", ""},
		{"nested in an array", `{"a":[{"x":1},{"currency":"EUR","curren\u0441y":"USD","Currency":"USD"}]}`, ErrDuplicateKey, "Currency", "/a/1/Currency"},
		{"deep object", `{"a":{"b":{"c":{"iban":"X","IBAN":"Y"}}}}`, ErrDuplicateKey, "IBAN", "/a/b/c/IBAN"},
		{"invalid UTF-8 in a value", "{\"name\":\"\xff\"}", ErrInvalidUTF8, "", ""},
		{"invalid UTF-8 in a key", "{\"n\xc3\":\"x\"}", ErrInvalidUTF8, "", ""},
		{"overlong encoding", "{\"name\":\"\xc0\xaf\"}", ErrInvalidUTF8, "", ""},
		{"lone high surrogate escape", `{"name":"\ud800"}`, ErrInvalidUTF8, "name", "/name"},
		{"lone low surrogate escape in a key", `{"\udc00":"x"}`, ErrInvalidUTF8, "", ""},
		{"trailing value", `{"a":1} {"a":2}`, ErrTrailingData, "", ""},
		{"trailing garbage", `{"a":1}x`, ErrTrailingData, "", ""},
		{"truncated", `{"a":`, ErrSyntax, "", ""},
		{"single quotes", `{'a':1}`, ErrSyntax, "", ""},
		{"too deep", deep, ErrTooDeep, "", ""},
		{"empty", "  ", ErrEmpty, "", ""},
		// Positive controls.
		{"ok: payment", `{"instructedAmount":{"amount":"1.00","currency":"EUR"},"creditorAccount":{"iban":"DE02"}}`, nil, "", ""},
		{"ok: same key in sibling objects", `{"a":{"amount":"1"},"b":{"amount":"2"},"c":[{"amount":"3"},{"amount":"4"}]}`, nil, "", ""},
		{"ok: Cyrillic es is not Latin c", `{"currency":"EUR","curren\u0441y":"USD"}`, nil, "", ""},
		{"ok: valid surrogate pair", `{"emoji":"\ud83d\ude00","ſ":"x"}`, nil, "", ""},
		{"ok: scalar", `"x"`, nil, "", ""},
		{"ok: max depth", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused a valid body: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.field != "" && e.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", e.Field, tt.field, err)
			}
			if tt.pointer != "" && e.Pointer != tt.pointer {
				t.Errorf("pointer = %q, want %q (%v)", e.Pointer, tt.pointer, err)
			}
			if Check([]byte(tt.body)) == nil {
				t.Error("Check accepts what Parse refuses")
			}
		})
	}
}

// TestFoldIsAtLeastEncodingJSON: every spelling encoding/json matches to a one-letter field is
// one key under Fold, for every ASCII letter and every rune of its Unicode fold orbit.
func TestFoldIsAtLeastEncodingJSON(t *testing.T) {
	for c := 'a'; c <= 'z'; c++ {
		for _, r := range orbit(c) {
			body := `{"` + string(r) + `":"x"}`
			field := reflect.StructOf([]reflect.StructField{{Name: "X", Type: reflect.TypeFor[string](),
				Tag: reflect.StructTag(`json:"` + string(c) + `"`)}})
			v := reflect.New(field)
			if err := json.Unmarshal([]byte(body), v.Interface()); err != nil {
				t.Fatal(err)
			}
			matched := v.Elem().Field(0).String() == "x"
			if matched && Fold(string(r)) != Fold(string(c)) {
				t.Errorf("encoding/json matches %q (U+%04X) to field %q, Fold does not", r, r, c)
			}
			if !matched && r != c {
				t.Logf("encoding/json does not match %q to %q", r, c)
			}
		}
	}
	// Fold equates what strings.EqualFold equates, over the whole BMP.
	for r := rune(0); r < 0x10000; r++ {
		if !unicode.IsPrint(r) && !unicode.IsLetter(r) {
			continue
		}
		s := unicode.SimpleFold(r)
		if Fold(string(r)) != Fold(string(s)) {
			t.Fatalf("Fold(%q) != Fold(%q) though they fold together", r, s)
		}
	}
}

// orbit returns the runes that fold together with r (r included).
func orbit(r rune) []rune {
	out := []rune{r}
	for s := unicode.SimpleFold(r); s != r; s = unicode.SimpleFold(s) {
		out = append(out, s)
	}
	return out
}

func TestDecode(t *testing.T) {
	type payee struct {
		Account string `json:"account"`
	}
	type req struct {
		Amount string `json:"amount"`
		Payee  payee  `json:"payee"`
		N      int    `json:"n"`
	}
	tests := []struct {
		name  string
		body  string
		want  error
		field string
	}{
		{"case-fold duplicate", `{"amount":"1.00","Amount":"1000.00"}`, ErrDuplicateKey, "Amount"},
		{"nested long-s duplicate", `{"payee":{"account":"A","account":"B"}}`, ErrDuplicateKey, "account"},
		{"invalid UTF-8", "{\"amount\":\"1\xfe\"}", ErrInvalidUTF8, ""},
		{"unknown field", `{"amount":"1","extra":true}`, ErrUnknownField, "extra"},
		{"wrong type", `{"payee":{"account":5}}`, ErrType, "payee.account"},
		{"trailing data", `{"amount":"1"}{}`, ErrTrailingData, ""},
		{"ok", `{"amount":"1.00","payee":{"account":"DE02"},"n":3}`, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r req
			err := Decode([]byte(tt.body), &r)
			if tt.want == nil {
				if err != nil || r.Amount != "1.00" || r.Payee.Account != "DE02" {
					t.Fatalf("err = %v, r = %+v", err, r)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if e.Field != tt.field {
				t.Errorf("field = %q, want %q", e.Field, tt.field)
			}
		})
	}
}

// FuzzParse: Parse never panics; what it accepts encoding/json reads to the same value, and no
// object in it holds two keys under one fold.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"instructedAmount":{"amount":"1.00","currency":"EUR"},"creditorAccount":{"iban":"DE02100100109307118603"}}`,
		`{"a":[1,2.5e3,-0,true,false,null,"\u00e9\ud83d\ude00"],"b":{}}`,
		`{"amount":"1","Amount":"2"}`, `{"ſ":"1","s":"2"}`, `{"\u212a":"1","k":"2"}`, `[]`, `"x"`, `1`,
	} {
		f.Add([]byte(s))
		for i := 0; i < len(s); i += 5 {
			b := []byte(s)
			b[i] ^= 0x20 // single-bit corruptions: case flips, quotes to bangs, ...
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("refusal is not an *Error: %v", err)
			}
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json refuses what Parse accepts: %v", err)
		}
		if !reflect.DeepEqual(normalize(v), normalize(want)) {
			t.Fatalf("Parse read %#v, encoding/json %#v", v, want)
		}
		noFoldDuplicates(t, v)
	})
}

func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

func noFoldDuplicates(t *testing.T, v any) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			noFoldDuplicates(t, e)
		}
	case map[string]any:
		seen := map[string]bool{}
		for k, e := range x {
			for s := range seen {
				if strings.EqualFold(strings.NewReplacer("_", "", "-", "").Replace(s), strings.NewReplacer("_", "", "-", "").Replace(k)) {
					t.Fatalf("keys %q and %q fold together", s, k)
				}
			}
			seen[k] = true
			noFoldDuplicates(t, e)
		}
	}
}
