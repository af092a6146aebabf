package txsign

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// TestNormalizeAccount: the account shown must be the account paid. Every row that fails
// names the reason it must fail with; the rows after the attacks must pass.
func TestNormalizeAccount(t *testing.T) {
	const iban = "DE89370400440532013000"
	tests := []struct {
		name, in string
		reason   string // non-empty: must be refused with a reason containing this
		want     string
	}{
		// Attacks and mistakes first.
		{name: "empty", in: "", reason: "is required"},
		{name: "blank", in: "   ", reason: "is required"},
		{name: "invalid UTF-8", in: "12\xff34", reason: "not valid UTF-8"},
		{name: "IBAN shape, bad check digits", in: "DE88 3704 0044 0532 0130 00", reason: "wrong check digits"},
		{name: "RTL letters reorder the digits", in: "123א456ב789", reason: "U+05D0 HEBREW LETTER ALEF at character 4"},
		{name: "Arabic letters", in: "12ب34", reason: "U+0628 ARABIC LETTER BEH"},
		{name: "valid IBAN + zero-width space", in: iban + "\u200B", reason: "U+200B ZERO WIDTH SPACE at character 23"},
		{name: "valid IBAN + word joiner inside", in: "DE89\u2060370400440532013000", reason: "U+2060 WORD JOINER"},
		{name: "IBAN with Cyrillic IE", in: "DЕ89370400440532013000", reason: "U+0415 CYRILLIC CAPITAL LETTER IE at character 2"},
		{name: "IBAN with Greek omicron for zero", in: "DE89370400440532Ο13000", reason: "U+039F GREEK CAPITAL LETTER OMICRON"},
		{name: "other with Cyrillic O", in: "ОО01-123-4567890", reason: "U+041E CYRILLIC CAPITAL LETTER O at character 1"},
		{name: "fullwidth digits", in: "１２３４５６", reason: "U+FF11 FULLWIDTH DIGIT ONE"},
		{name: "Arabic-Indic digits", in: "١٢٣٤", reason: "U+0661 ARABIC-INDIC DIGIT ONE"},
		{name: "NBSP inside IBAN", in: "DE89\u00A03704 0044 0532 0130 00", reason: "U+00A0 NO-BREAK SPACE"},
		{name: "narrow NBSP in other", in: "1234\u202F5678", reason: "U+202F NARROW NO-BREAK SPACE"},
		{name: "RLO", in: "1234\u202E5678", reason: "U+202E RIGHT-TO-LEFT OVERRIDE"},
		{name: "ALM", in: "1234\u061C5678", reason: "U+061C ARABIC LETTER MARK"},
		{name: "LRI/PDI isolates", in: "\u20661234\u2069", reason: "U+2066 LEFT-TO-RIGHT ISOLATE"},
		{name: "RLM", in: "1234\u200F", reason: "U+200F RIGHT-TO-LEFT MARK"},
		{name: "soft hyphen", in: "1234\u00AD5678", reason: "U+00AD SOFT HYPHEN"},
		{name: "newline", in: "1234\n5678", reason: "U+000A"},
		{name: "tab", in: "1234\t5678", reason: "U+0009"},
		{name: "combining accent", in: "1234e\u0301", reason: "U+0301 COMBINING ACUTE ACCENT at character 6"},
		{name: "precomposed accent", in: "1234é", reason: "U+00E9 LATIN SMALL LETTER E WITH ACUTE"},
		{name: "IBAN with dashes is not other", in: "DE89-3704-0044-0532-0130-00", reason: "is not an IBAN"},
		{name: "IBAN with dots is not other", in: "DE89.3704.0044.0532.0130.00", reason: "is not an IBAN"},
		{name: "IBAN in brackets is not other", in: "(" + iban + ")", reason: "is not an IBAN"},
		{name: "IBAN after a slash is not other", in: "/" + iban, reason: "is not an IBAN"},
		{name: "IBAN with a letter appended", in: iban + "X", reason: "must be 22 characters long for DE"},
		{name: "IBAN-shaped, no such country", in: "CL 0012345678", reason: "country code that does not issue IBANs"},
		// Z and z are letters too: ZA and za are read as an IBAN's country code, not passed as "other".
		{name: "IBAN-shaped, country ZA", in: "ZA12 3456 7890", reason: "country code that does not issue IBANs"},
		{name: "IBAN-shaped, country za", in: "za12 3456 7890", reason: "country code that does not issue IBANs"},
		{name: "IBAN-shaped lower case, bad digits", in: "de88370400440532013000", reason: "wrong check digits"},
		{name: "other too long", in: strings.Repeat("1", 35), reason: "longer than 34 characters"},
		{name: "two spaces", in: "1234  5678", reason: "two spaces in a row at character 6"},
		{name: "leading slash", in: "/123456", reason: "must not start or end with '/'"},
		{name: "trailing slash", in: "123456/", reason: "must not start or end with '/'"},
		{name: "double slash", in: "123//456", reason: "contains '//' at character 4"},

		// Must pass.
		{name: "IBAN electronic", in: iban, want: iban},
		{name: "IBAN paper form", in: " de89 3704 0044 0532 0130 00 ", want: iban},
		{name: "IBAN with letters", in: "GB29 NWBK 6016 1331 9268 19", want: "GB29NWBK60161331926819"},
		{name: "other kept as given", in: "0001-123-4567890", want: "0001-123-4567890"},
		{name: "other trimmed", in: "  123456/0300 ", want: "123456/0300"},
		{name: "other with one space", in: "20-00-00 12345678", want: "20-00-00 12345678"},
		{name: "other with every allowed sign", in: "Acct 12-3/4?5:(6).7,8'9+0", want: "Acct 12-3/4?5:(6).7,8'9+0"},
		{name: "other keeps case", in: "abc123", want: "abc123"},
		{name: "other 34 chars", in: strings.Repeat("9", 34), want: strings.Repeat("9", 34)},
		{name: "two letters then a letter", in: "ABC-12", want: "ABC-12"},
		// Fewer than four letters and digits: the IBAN-shape check reads to the end and no further.
		{name: "other of three letters and digits", in: "DE-8", want: "DE-8"},
		// The edges of each ISO 20022 Latin range.
		{name: "other with a, z, A, Z, 0 and 9", in: "az-AZ 09", want: "az-AZ 09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeAccount(tt.in)
			if tt.reason != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != FieldPayeeAccount || !errors.Is(err, ErrValidation) {
					t.Fatalf("NormalizeAccount(%q) = %q, %v; want ValidationError on %s", tt.in, got, err, FieldPayeeAccount)
				}
				if !strings.Contains(ve.Reason, tt.reason) {
					t.Fatalf("NormalizeAccount(%q) reason %q; want it to contain %q", tt.in, ve.Reason, tt.reason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeAccount(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestCanonicalPayeeName: a payee name must look like itself and like nothing else, and
// every legitimate single-script name, right-to-left ones included, must pass.
func TestCanonicalPayeeName(t *testing.T) {
	tests := []struct {
		name, in string
		reason   string // non-empty: must be refused with a reason containing this
		want     string
	}{
		// Attacks and mistakes first.
		{name: "empty", in: "", reason: "is required"},
		{name: "only spaces", in: " \t ", reason: "is required"},
		{name: "141 runes", in: strings.Repeat("é", 141), reason: "longer than 140 characters"},
		{name: "141 runes after NFC", in: strings.Repeat("e\u0301", 141), reason: "longer than 140 characters"},
		{name: "invalid UTF-8", in: "ACME\xc3", reason: "not valid UTF-8"},
		{name: "invalid UTF-8 surrogate half", in: "ACME\xed\xa0\x80", reason: "not valid UTF-8"},

		{name: "NUL", in: "ACME\x00Ltd", reason: "control character U+0000"},
		{name: "inner newline", in: "ACME\nLtd", reason: "control character U+000A"},
		{name: "inner tab", in: "ACME\tLtd", reason: "control character U+0009"},
		{name: "C1 control", in: "ACME\u0085Ltd", reason: "control character U+0085"},
		{name: "DEL", in: "ACME\x7fLtd", reason: "control character U+007F"},
		{name: "line separator", in: "ACME\u2028Ltd", reason: "line or paragraph separator U+2028"},
		{name: "paragraph separator", in: "ACME\u2029Ltd", reason: "line or paragraph separator U+2029"},

		{name: "RLO override", in: "ACME \u202Edtl.EMCA", reason: "bidirectional formatting character U+202E RIGHT-TO-LEFT OVERRIDE at character 6"},
		{name: "LRE embedding", in: "\u202AACME", reason: "bidirectional formatting character U+202A"},
		{name: "PDF", in: "ACME\u202C", reason: "bidirectional formatting character U+202C"},
		{name: "RLI isolate", in: "ACME\u2067x\u2069", reason: "bidirectional formatting character U+2067"},
		{name: "LRI isolate", in: "\u2066ACME\u2069", reason: "bidirectional formatting character U+2066"},
		{name: "FSI", in: "\u2068ACME", reason: "bidirectional formatting character U+2068"},
		{name: "PDI alone", in: "ACME\u2069 Ltd", reason: "bidirectional formatting character U+2069"},
		{name: "RLM mark", in: "ACME\u200F", reason: "bidirectional formatting character U+200F"},
		{name: "LRM mark", in: "שלום\u200E", reason: "bidirectional formatting character U+200E"},
		{name: "ALM mark", in: "شركة\u061C المثال", reason: "bidirectional formatting character U+061C ARABIC LETTER MARK"},

		{name: "BOM", in: "\uFEFFACME", reason: "invisible character U+FEFF"},
		{name: "zero-width space", in: "Pay\u200BPal", reason: "invisible character U+200B ZERO WIDTH SPACE at character 4"},
		{name: "zero-width non-joiner", in: "Pay\u200CPal", reason: "invisible character U+200C ZERO WIDTH NON-JOINER"},
		{name: "zero-width joiner between letters", in: "Pay\u200DPal", reason: "invisible character U+200D ZERO WIDTH JOINER"},
		{name: "emoji ZWJ sequence", in: "Family 👨\u200D👩\u200D👧 Shop", reason: "invisible character U+200D"},
		{name: "word joiner", in: "ACME\u2060", reason: "invisible character U+2060 WORD JOINER"},
		{name: "invisible times", in: "ACME\u2062Ltd", reason: "invisible character U+2062"},
		{name: "soft hyphen", in: "Mül\u00ADler", reason: "invisible character U+00AD SOFT HYPHEN"},
		{name: "Mongolian vowel separator", in: "ACME\u180ELtd", reason: "invisible character U+180E"},
		{name: "tag characters", in: "ACME\U000E0041\U000E0042", reason: "invisible character U+E0041 TAG LATIN CAPITAL LETTER A"},
		{name: "variation selector", in: "ACME\uFE0F", reason: "invisible character U+FE0F VARIATION SELECTOR-16"},
		{name: "variation selector supplement", in: "山\U000E0100田", reason: "invisible character U+E0100"},
		{name: "combining grapheme joiner", in: "ACME\u034FLtd", reason: "invisible character U+034F COMBINING GRAPHEME JOINER"},
		{name: "Hangul filler alone", in: "\u3164", reason: "invisible character U+3164 HANGUL FILLER"},
		{name: "Hangul filler padding", in: "ACME\u3164\u3164", reason: "invisible character U+3164"},
		{name: "Hangul choseong filler", in: "\u115F", reason: "invisible character U+115F HANGUL CHOSEONG FILLER"},
		{name: "Hangul jungseong filler", in: "김\u1160", reason: "invisible character U+1160"},
		{name: "halfwidth Hangul filler", in: "\uFFA0", reason: "invisible character U+FFA0"},
		{name: "Khmer inherent vowel", in: "ក\u17B4", reason: "invisible character U+17B4"},
		{name: "interlinear annotation", in: "ACME\uFFF9x\uFFFB", reason: "invisible character U+FFF9"},

		{name: "braille blank alone", in: "\u2800", reason: "blank-looking character U+2800 BRAILLE PATTERN BLANK"},
		{name: "braille blank as a space", in: "ACME\u2800Ltd", reason: "blank-looking character U+2800"},
		{name: "replacement character", in: "M\uFFFDller", reason: "blank-looking character U+FFFD"},
		{name: "NBSP", in: "ACME\u00A0Ltd", reason: "space character U+00A0 NO-BREAK SPACE at character 5; use U+0020"},
		{name: "narrow NBSP", in: "ACME\u202FLtd", reason: "space character U+202F"},
		{name: "figure space", in: "ACME\u2007Ltd", reason: "space character U+2007"},
		{name: "em space", in: "ACME\u2003Ltd", reason: "space character U+2003"},
		{name: "hair space", in: "ACME\u200ALtd", reason: "space character U+200A"},
		{name: "ideographic space", in: "山田\u3000太郎", reason: "space character U+3000 IDEOGRAPHIC SPACE"},
		{name: "ogham space mark", in: "ACME\u1680Ltd", reason: "space character U+1680"},
		{name: "two spaces", in: "ACME  Ltd", reason: "two spaces in a row at character 6"},

		{name: "private use", in: "ACME\uE000", reason: "private-use character U+E000"},
		{name: "supplementary private use", in: "ACME\U000F0000", reason: "private-use character U+F0000"},
		{name: "unassigned", in: "ACME\u0378", reason: "unassigned code point U+0378"},
		{name: "noncharacter", in: "ACME\uFFFF", reason: "unassigned code point U+FFFF"},
		{name: "noncharacter FDD0", in: "ACME\uFDD0", reason: "unassigned code point U+FDD0"},

		{name: "leading combining mark", in: "\u0301ACME", reason: "starts with the combining mark U+0301"},
		{name: "same mark twice", in: "Cafe\u0301\u0301", reason: "repeats the combining mark U+0301 COMBINING ACUTE ACCENT at character 5"},
		{name: "Zalgo", in: "Z\u0351\u0352\u0353\u0354\u0355\u0356algo", reason: "more than 4 combining marks on one letter at character 6"},
		{name: "Zalgo in a real name", in: "Mu\u0308\u0324\u0330\u0331\u0332ller", reason: "more than 4 combining marks"},
		{name: "combining enclosing marks", in: "A\u20DD\u20DE\u20DF\u20E0\u20E2", reason: "more than 4 combining marks"},

		{name: "Latin with Cyrillic a", in: "Pаypal", reason: "mixes the Latin and Cyrillic scripts (U+0430 CYRILLIC SMALL LETTER A at character 2)"},
		{name: "Latin with Greek omicron", in: "Micrοsoft", reason: "mixes the Latin and Greek scripts (U+03BF"},
		{name: "Cyrillic with Latin o", in: "Нoвак", reason: "mixes the Cyrillic and Latin scripts (U+006F"},
		{name: "Greek with Latin", in: "Αθηνa", reason: "mixes the Greek and Latin scripts"},
		{name: "Latin with Armenian o", in: "Gօօgle", reason: "mixes the Latin and Armenian scripts"},
		{name: "Latin with Cherokee", in: "ᎪCME", reason: "mixes the Cherokee and Latin scripts"},
		{name: "Latin and Arabic (Moderately, not Highly Restrictive)", in: "ACME شركة", reason: "mixes the Latin and Arabic scripts"},
		{name: "Latin and Hebrew", in: "Bank בנק", reason: "mixes the Latin and Hebrew scripts"},
		{name: "Han and Cyrillic", in: "山田 Иван", reason: "mixes the Han and Cyrillic scripts"},
		{name: "Japanese and Hangul", in: "山田さん김", reason: "mixes the Han, Hiragana and Hangul scripts"},
		{name: "Latin, Han, Hangul, Katakana", in: "LG전자カ", reason: "mixes the Latin, Hangul and Katakana scripts"},
		{name: "mixed digit systems, Bengali zero", in: "Shop 1০0", reason: "mixes digits of different numbering systems (U+09E6 BENGALI DIGIT ZERO at character 7)"},
		{name: "mixed digit systems, fullwidth", in: "Shop 1２3", reason: "mixes digits of different numbering systems (U+FF12"},
		{name: "mixed Arabic-Indic digit systems", in: "شركة ١۲", reason: "mixes digits of different numbering systems"},
		{name: "mathematical digits of two styles", in: "Shop \U0001D7CF\U0001D7D9", reason: "mixes digits of different numbering systems"},

		{name: "old Hangul jamo", in: "\u1113\u1161", reason: "U+1113 HANGUL CHOSEONG NIEUN-KIYEOK at character 1, which the RFC 8264 FreeformClass does not allow"},
		{name: "middle dot outside l·l", in: "A·B", reason: "U+00B7 MIDDLE DOT at character 2 outside the context RFC 5892 Appendix A allows"},
		{name: "katakana middle dot in Latin", in: "John・Smith", reason: "U+30FB KATAKANA MIDDLE DOT at character 5 outside the context"},
		{name: "Hebrew geresh after Latin", in: "Ltd\u05F3", reason: "U+05F3 HEBREW PUNCTUATION GERESH"},

		// Must pass.
		{name: "ASCII", in: "ACME Energie GmbH", want: "ACME Energie GmbH"},
		// Every ASCII digit is of one numbering system, 9 (the end of its run) and 0 (the start) included.
		{name: "ASCII digits 0 to 9", in: "Flat 1093 Ltd 4 5 6 7 8 2", want: "Flat 1093 Ltd 4 5 6 7 8 2"},
		{name: "Bengali digits", in: "দোকান ০৯", want: "দোকান ০৯"},
		{name: "trimmed", in: "  ACME  ", want: "ACME"},
		{name: "trimmed NBSP and ideographic space at the edges", in: "\u00A0ACME\u3000", want: "ACME"},
		{name: "NFC applied", in: "Mu\u0308ller", want: "M\u00fcller"},
		{name: "Müller", in: "Müller", want: "Müller"},
		{name: "Élodie Café", in: "Élodie Café", want: "Élodie Café"},
		{name: "José O'Brien-Smith", in: "José O'Brien-Smith", want: "José O'Brien-Smith"},
		{name: "Ørsted A/S", in: "Ørsted A/S", want: "Ørsted A/S"},
		{name: "Zoë & Co. (UK) Ltd.", in: "Zoë & Co. (UK) Ltd.", want: "Zoë & Co. (UK) Ltd."},
		{name: "Vietnamese", in: "Nguyễn Văn An", want: "Nguyễn Văn An"},
		{name: "Vietnamese decomposed", in: "Nguye\u0302\u0303n", want: "Nguyễn"},
		{name: "Catalan l·l", in: "Col·legi d'Advocats", want: "Col·legi d'Advocats"},
		{name: "Polish", in: "Łódź Żółć Sp. z o.o.", want: "Łódź Żółć Sp. z o.o."},
		{name: "Cyrillic", in: "Новак", want: "Новак"},
		{name: "Cyrillic company", in: "ООО «Ромашка»", want: "ООО «Ромашка»"},
		{name: "Greek", in: "Αθηνά Παπαδοπούλου", want: "Αθηνά Παπαδοπούλου"},
		{name: "Han", in: "山田", want: "山田"},
		{name: "Han with space", in: "山田 太郎", want: "山田 太郎"},
		{name: "Japanese company", in: "株式会社サンプル", want: "株式会社サンプル"},
		{name: "Han with hiragana and katakana", in: "やまだ タロウ 山田", want: "やまだ タロウ 山田"},
		{name: "katakana middle dot", in: "ジョン・スミス", want: "ジョン・スミス"},
		{name: "halfwidth katakana (Zengin)", in: "ﾔﾏﾀﾞ ﾀﾛｳ", want: "ﾔﾏﾀﾞ ﾀﾛｳ"},
		{name: "Latin with Han and kana", in: "ABC株式会社サンプル", want: "ABC株式会社サンプル"},
		{name: "Korean", in: "삼성전자", want: "삼성전자"},
		{name: "Latin with Hangul", in: "LG전자", want: "LG전자"},
		{name: "Chinese with Bopomofo", in: "王ㄅ", want: "王ㄅ"},
		{name: "Arabic", in: "شركة المثال", want: "شركة المثال"},
		{name: "Arabic with Arabic-Indic digits", in: "شركة ١٢٣", want: "شركة ١٢٣"},
		{name: "Arabic with vowel marks", in: "مُحَمَّد", want: "مُحَمَّد"},
		{name: "Hebrew", in: "שלום כהן", want: "שלום כהן"},
		{name: "Hebrew with niqqud", in: "שָׁלוֹם", want: norm.NFC.String("שָׁלוֹם")},
		{name: "Hebrew geresh", in: "ג׳ורג׳", want: "ג׳ורג׳"},
		{name: "Hebrew with digits", in: "כהן 2000 בע\"מ", want: "כהן 2000 בע\"מ"},
		{name: "Thai", in: "บริษัท ไทย จำกัด", want: "บริษัท ไทย จำกัด"},
		{name: "Devanagari", in: "राम कुमार", want: "राम कुमार"},
		{name: "Georgian", in: "საქართველო", want: "საქართველო"},
		{name: "digits and punctuation only", in: "7-11", want: "7-11"},
		{name: "emoji without joiners", in: "Café 🚀 Ltd", want: "Café 🚀 Ltd"},
		{name: "140 runes", in: strings.Repeat("é", 140), want: strings.Repeat("é", 140)},
		{name: "140 runes after NFC", in: strings.Repeat("e\u0301", 140), want: strings.Repeat("é", 140)},
		{name: "four different marks", in: "A\u0300\u0301\u0302\u0303", want: norm.NFC.String("A\u0300\u0301\u0302\u0303")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalPayeeName(tt.in)
			if tt.reason != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != FieldPayeeName || !errors.Is(err, ErrValidation) {
					t.Fatalf("CanonicalPayeeName(%q) = %q, %v; want ValidationError on %s", tt.in, got, err, FieldPayeeName)
				}
				if !strings.Contains(ve.Reason, tt.reason) {
					t.Fatalf("CanonicalPayeeName(%q) reason %q; want it to contain %q", tt.in, ve.Reason, tt.reason)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalPayeeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestOperationTextKeepsItsRules: the free-text field is not a payee name and keeps the
// control/bidi rules it had; the payee rules must not leak into it.
func TestOperationTextKeepsItsRules(t *testing.T) {
	if _, err := canonicalText("Invoice 42 \u2014 thank you 🙏\uFE0F", "text", 500); err != nil {
		t.Fatalf("text refused: %v", err)
	}
	if _, err := canonicalText("Invoice\u202E24", "text", 500); err == nil {
		t.Fatal("text with RLO accepted")
	}
}

func FuzzNormalizeAccount(f *testing.F) {
	for _, s := range []string{
		"DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "de89370400440532013000", "GB29NWBK60161331926819",
		"0001-123-4567890", "123456/0300", "20-00-00 12345678", "Acct 12-3/4?5:(6).7,8'9+0",
		// Attacks, for the fuzzer to mutate from.
		"DE89370400440532013000\u200B", "DЕ89370400440532013000", "123א456ב789", "DE89-3704-0044-0532-0130-00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeAccount(s)
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if again, err := NormalizeAccount(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
		for _, r := range got {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ", r) {
				t.Fatalf("%q keeps U+%04X, outside the ISO 20022 restricted Latin set", got, r)
			}
		}
		if n := len(got); n == 0 || n > MaxOtherAccountRunes || got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("%q: bad length, edge spaces or double space", got)
		}
		// Nothing that reads as "two letters, two digits" once separators are ignored leaves
		// as anything but a valid IBAN in electronic format.
		var alnum []byte
		for i := 0; i < len(got); i++ {
			if isASCIILetter(got[i]) || isASCIIDigit(got[i]) {
				alnum = append(alnum, got[i])
			}
		}
		if len(alnum) >= 4 && isASCIILetter(alnum[0]) && isASCIILetter(alnum[1]) && isASCIIDigit(alnum[2]) && isASCIIDigit(alnum[3]) {
			if ValidateIBAN(got) != nil || got != strings.ToUpper(got) || strings.Contains(got, " ") {
				t.Fatalf("IBAN-shaped %q returned without being a canonical valid IBAN", got)
			}
		}
	})
}

func FuzzCanonicalPayeeName(f *testing.F) {
	for _, s := range []string{
		"ACME Energie GmbH", "Mu\u0308ller & So\u0308hne", "株式会社サンプル", "Café 🚀 Ltd", "Élodie Café",
		"José O'Brien-Smith", "Ørsted A/S", "Новак", "山田 太郎", "ジョン・スミス", "LG전자", "شركة المثال",
		"שָׁלוֹם", "Col·legi", "Nguyễn Văn An", "राम कुमार",
		// Attacks, for the fuzzer to mutate from.
		"Pаypal", "Pay\u200BPal", "\u3164", "\u2800", "ACME\u00A0Ltd", "Z\u0351\u0352\u0353\u0354\u0355algo",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CanonicalPayeeName(s)
		if err != nil {
			if !errors.Is(err, ErrValidation) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		if !norm.NFC.IsNormalString(got) || !utf8.ValidString(got) {
			t.Fatalf("%q is not NFC UTF-8", got)
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > MaxPayeeNameRunes {
			t.Fatalf("%q has %d runes", got, n)
		}
		scripts := map[string]bool{}
		for _, r := range got {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp,
				unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
				(unicode.Is(unicode.Zs, r) && r != ' ') || r == 0x2800 {
				t.Fatalf("%q keeps U+%04X", got, r)
			}
			for name, table := range unicode.Scripts {
				if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
					scripts[name] = true
				}
			}
		}
		if !oneScriptSet(scripts) {
			t.Fatalf("%q mixes scripts %v", got, scripts)
		}
		if again, err := CanonicalPayeeName(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

// oneScriptSet is UTS #39 §5.2 Highly Restrictive written out independently of the code under
// test: at most one script, or a subset of one of the three CJK sets with Latin.
func oneScriptSet(scripts map[string]bool) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, set := range []map[string]bool{
		{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
		{"Latin": true, "Han": true, "Bopomofo": true},
		{"Latin": true, "Han": true, "Hangul": true},
	} {
		ok := true
		for s := range scripts {
			ok = ok && set[s]
		}
		if ok {
			return true
		}
	}
	return false
}
