package powerauth

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// headerCase is one input of the header grammar and its exact outcome: the parsed fields, or
// ErrInvalidHeader with a fragment of the message naming the reason.
type headerCase struct {
	name string
	in   string
	want map[string]string // nil: refused
	frag string            // message fragment of the refusal
}

func runHeaderCases(t *testing.T, tests []headerCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHeaderFields(tc.in)
			if tc.want == nil {
				if !errors.Is(err, ErrInvalidHeader) || !strings.Contains(err.Error(), tc.frag) {
					t.Fatalf("want ErrInvalidHeader with %q, got %v (fields %q)", tc.frag, err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("fields %q, want %q", got, tc.want)
			}
		})
	}
}

// TestParseHeaderFieldsLengthBound shows that the PowerAuth header parser (PowerAuth 3.x, Standard
// RESTful API, "HTTP header") accepts a header of exactly maxHeaderLength bytes and refuses one byte
// more, before looking at its content.
func TestParseHeaderFieldsLengthBound(t *testing.T) {
	const head = "PowerAuth a="
	exact := head + strings.Repeat("b", maxHeaderLength-len(head))
	runHeaderCases(t, []headerCase{
		{"one byte over", exact + "b", nil, "longer than 4096 bytes"},
		{"one byte over with a control character", exact + "\x00", nil, "longer than 4096 bytes"},
		{"exactly the maximum", exact, map[string]string{"a": strings.Repeat("b", maxHeaderLength-len(head))}, ""},
	})
}

// TestParseHeaderFieldsControlCharacters shows that every C0 control except tab, and DEL, is refused
// anywhere in the header, even inside a quoted value, while tab, space, '~' and bytes above DEL pass
// through into the value (PowerAuth 3.x, Standard RESTful API, "HTTP header"; an attacker's invisible
// characters).
func TestParseHeaderFieldsControlCharacters(t *testing.T) {
	runHeaderCases(t, []headerCase{
		{"NUL in a quoted value", "PowerAuth a=\"x\x00y\"", nil, "control character"},
		{"0x1F in a quoted value", "PowerAuth a=\"x\x1Fy\"", nil, "control character"},
		{"DEL in a quoted value", "PowerAuth a=\"x\x7Fy\"", nil, "control character"},
		{"newline as a separator", "PowerAuth a=1\nb=2", nil, "control character"},
		{"NUL as the last byte", "PowerAuth a=1\x00", nil, "control character"},
		{"tab in a quoted value", "PowerAuth a=\"x\ty\"", map[string]string{"a": "x\ty"}, ""},
		{"space in a quoted value", "PowerAuth a=\"x y\"", map[string]string{"a": "x y"}, ""},
		{"tilde 0x7E in a value", "PowerAuth a=x~y", map[string]string{"a": "x~y"}, ""},
		{"bytes 0x80 and 0xFF in a value", "PowerAuth a=x\x80\xFFy", map[string]string{"a": "x\x80\xFFy"}, ""},
	})
}

// TestParseHeaderFieldsPrefix shows that the scheme "PowerAuth" must be followed by a space, a tab or
// nothing (after trimming), and that any other byte glued to it is refused as a missing prefix
// (PowerAuth 3.x, Standard RESTful API, "HTTP header").
func TestParseHeaderFieldsPrefix(t *testing.T) {
	const frag = `missing "PowerAuth" prefix`
	runHeaderCases(t, []headerCase{
		{"no prefix", "a=1", nil, frag},
		{"other scheme", "Bearer a=1", nil, frag},
		{"lower-case scheme", "powerauth a=1", nil, frag},
		{"letter glued", "PowerAuthx a=1", nil, frag},
		{"key glued", "PowerAuthpa_version=1", nil, frag},
		{"comma glued", "PowerAuth,a=1", nil, frag},
		{"empty", "", nil, frag},
		{"prefix then space", "PowerAuth a=1", map[string]string{"a": "1"}, ""},
		{"prefix then tab", "PowerAuth\ta=1", map[string]string{"a": "1"}, ""},
		{"prefix alone", "PowerAuth", map[string]string{}, ""},
		{"prefix and blanks", " \tPowerAuth \t ", map[string]string{}, ""},
	})
}

// TestParseHeaderFieldsKeyCharacters shows that keys are exactly [A-Za-z0-9_]+: every edge character of
// each class is a key on its own, and every neighbour just outside a class is refused where a key is
// expected (notes, Wire details item 6: lenient field order, strict field syntax).
func TestParseHeaderFieldsKeyCharacters(t *testing.T) {
	var tests []headerCase
	for _, c := range "_aAzZ09" {
		k := string(c)
		tests = append(tests, headerCase{"edge " + k, "PowerAuth " + k + "=v", map[string]string{k: "v"}, ""})
	}
	for _, c := range "`{@[/:^=\"-" {
		k := string(c)
		tests = append(tests, headerCase{"outside " + k, "PowerAuth " + k + "=v", nil, "expected key=value at offset 1"})
	}
	for _, c := range "`{@[/:" {
		k := string(c)
		tests = append(tests, headerCase{"outside " + k + " inside a key", "PowerAuth a" + k + "b=v", nil, "expected key=value at offset 1"})
	}
	tests = append(tests, headerCase{"all classes in one key", "PowerAuth pa_Version_09=v", map[string]string{"pa_Version_09": "v"}, ""})
	runHeaderCases(t, tests)
}

// TestParseHeaderFieldsValues shows the rest of the grammar: a key at the very end without '=', quoted
// and bare values, separators of commas and blanks in any number, and the refusals of empty values,
// duplicate keys, unterminated quotes and junk after a value (PowerAuth 3.x, Standard RESTful API, "HTTP
// header"; notes, Wire details item 6).
func TestParseHeaderFieldsValues(t *testing.T) {
	runHeaderCases(t, []headerCase{
		{"key at the end", "PowerAuth abc", nil, "expected key=value at offset 1"},
		{"key at the end after a field", "PowerAuth a=1, bc", nil, "expected key=value at offset 6"},
		{"key then blank", "PowerAuth abc =1", nil, "expected key=value at offset 1"},
		{"bare '=' at the end", "PowerAuth a=", nil, `empty value for "a"`},
		{"bare '=' before a comma", "PowerAuth a=,b=1", nil, `empty value for "a"`},
		{"empty quoted value", `PowerAuth a=""`, nil, `empty value for "a"`},
		{"empty quoted value before a field", `PowerAuth a="", b=1`, nil, `empty value for "a"`},
		{"unterminated quote", `PowerAuth a="xyz`, nil, `unterminated quote for "a"`},
		{"lone quote", `PowerAuth a="`, nil, `unterminated quote for "a"`},
		{"junk after a quoted value", `PowerAuth a="x"y`, nil, `junk after the value of "a"`},
		{"quote after a bare value", `PowerAuth a=x"y"`, nil, `junk after the value of "a"`},
		{"'=' inside a bare value", `PowerAuth a=x=y`, map[string]string{"a": "x=y"}, ""},
		{"duplicate key", "PowerAuth a=1 a=2", nil, `duplicate "a"`},
		{"duplicate key quoted", `PowerAuth a="1", a="1"`, nil, `duplicate "a"`},
		{"keys differ in case", "PowerAuth a=1 A=2", map[string]string{"a": "1", "A": "2"}, ""},
		{"quoted value at the end", `PowerAuth a="x y,z"`, map[string]string{"a": "x y,z"}, ""},
		{"bare value at the end", "PowerAuth a=xyz", map[string]string{"a": "xyz"}, ""},
		{"quoted then bare", `PowerAuth a="1",b=2`, map[string]string{"a": "1", "b": "2"}, ""},
		{"bare then quoted", "PowerAuth a=1\tb=\"2\"", map[string]string{"a": "1", "b": "2"}, ""},
		{"trailing comma", "PowerAuth a=1,", map[string]string{"a": "1"}, ""},
		{"leading and repeated separators", "PowerAuth ,, a=1 ,\t, b=2 ,", map[string]string{"a": "1", "b": "2"}, ""},
		{"equals signs in a quoted value", `PowerAuth a="=="`, map[string]string{"a": "=="}, ""},
	})
}

// TestRequireField shows that a missing field is refused with ErrInvalidHeader naming the field, and a
// present one is returned as it is.
func TestRequireField(t *testing.T) {
	f := map[string]string{"pa_version": "3.3"}
	if v, err := requireField(f, "pa_version"); err != nil || v != "3.3" {
		t.Fatalf("present field: %q, %v", v, err)
	}
	v, err := requireField(f, "pa_nonce")
	if !errors.Is(err, ErrInvalidHeader) || err.Error() != "powerauth: invalid header: missing pa_nonce" || v != "" {
		t.Fatalf("missing field: %q, %v", v, err)
	}
}

// TestValidUUIDEdges shows ValidUUID at every edge of the PowerAuth pattern
// [0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12} (ValueTypeValidator.isValidUuid):
// versions 1 and 5 accepted, 0 and 6 refused; variants 8 9 a b accepted in both cases, 7 and c refused;
// hex digits at their edges in both cases; dashes in place; exactly 36 bytes.
func TestValidUUIDEdges(t *testing.T) {
	const base = "dfd09318-f4bc-4830-85dd-c8e4d911bcda"
	at := func(i int, c string) string { return base[:i] + c + base[i+1:] }
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"version 0", at(14, "0"), false},
		{"version 6", at(14, "6"), false},
		{"version a", at(14, "a"), false},
		{"variant 7", at(19, "7"), false},
		{"variant c", at(19, "c"), false},
		{"variant C", at(19, "C"), false},
		{"variant 0", at(19, "0"), false},
		{"hex / before 0", at(0, "/"), false},
		{"hex : after 9", at(35, ":"), false},
		{"hex ` before a", at(9, "`"), false},
		{"hex g after f", at(24, "g"), false},
		{"hex G after F", at(24, "G"), false},
		{"hex @ before A", at(24, "@"), false},
		{"no dash at 8", at(8, "0"), false},
		{"no dash at 13", at(13, "0"), false},
		{"no dash at 18", at(18, "0"), false},
		{"no dash at 23", at(23, "0"), false},
		{"dash elsewhere", at(7, "-"), false},
		{"35 bytes", base[:35], false},
		{"37 bytes", base + "a", false},
		{"braces", "{" + base[1:35] + "}", false},
		{"Kelvin sign folding to k", base[:33] + "\u212a", false},
		{"empty", "", false},
		{"version 1", at(14, "1"), true},
		{"version 5", at(14, "5"), true},
		{"variant 8", at(19, "8"), true},
		{"variant 9", at(19, "9"), true},
		{"variant a", at(19, "a"), true},
		{"variant b", at(19, "b"), true},
		{"variant A", at(19, "A"), true},
		{"variant B", at(19, "B"), true},
		{"hex 0 9 a f", "09af09af-09af-109a-a9af-09af09af09af", true},
		{"hex 0 9 A F", "09AF09AF-09AF-509A-B9AF-09AF09AF09AF", true},
		{"base", base, true},
		{"upper base", strings.ToUpper(base), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidUUID(tc.in); got != tc.want {
				t.Fatalf("ValidUUID(%q) = %v", tc.in, got)
			}
		})
	}
}

// TestParseTokenHeaderTimestampBounds shows the timestamp of X-PowerAuth-Token at its edges (PowerAuth
// 3.x, MAC Token Based Authentication; PowerAuthTokenHttpHeaderValidator): 9 and 15 decimal digits are
// accepted and read exactly, 8 and 16 are refused, as are a leading zero and the bytes just outside
// '0'–'9'.
func TestParseTokenHeaderTimestampBounds(t *testing.T) {
	digest := strings.Repeat("A", 43) + "="
	hdr := func(ts string) string {
		return `PowerAuth token_id="` + testActivationID + `", token_digest="` + digest + `", nonce="` + testNonce +
			`", timestamp="` + ts + `", version="3.3"`
	}
	const frag = "timestamp is not 9–15 decimal digits"
	tests := []struct {
		name string
		ts   string
		want int64 // 0: refused
	}{
		{"8 digits", "12345678", 0},
		{"16 digits", "1234567890123456", 0},
		{"9 digits with a leading zero", "012345678", 0},
		{"15 digits with a leading zero", "012345678901234", 0},
		{"'/' before '0'", "1234/6789", 0},
		{"':' after '9'", "1234:6789", 0},
		{"sign", "+12345678", 0},
		{"9 digits", "100000000", 100000000},
		{"15 digits", "999999999999999", 999999999999999},
		{"every digit", "1234567890", 1234567890},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTokenHeader(hdr(tc.ts))
			if tc.want == 0 {
				if !errors.Is(err, ErrInvalidHeader) || !strings.Contains(err.Error(), frag) {
					t.Fatalf("want ErrInvalidHeader with %q, got %v", frag, err)
				}
				return
			}
			if err != nil || got.TimestampMs != tc.want || got.Version != Version33 || len(got.Digest) != 32 {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
