package txsign

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// The rules in this file keep the payee the payer sees equal to the payee that is paid
// (PSD2 RTS Art. 5(1)(a)): no character may be invisible, reorder the text around it, or pass
// for a character of another script. docs/dynamic-linking.md ("Payee account and name rules")
// states them for the bank's developers; keep the two in step.

// Limits from UTS #39 §5.4 (Optional Detection) on runs of nonspacing marks.
const maxNonspacingMarks = 4

// isISO20022Latin reports whether r is in the ISO 20022 "restricted Latin character set" that
// SWIFT and the EPC SEPA rulebooks allow in payment messages:
//
//	a-z A-Z 0-9 / - ? : ( ) . , ' + space
func isISO20022Latin(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("/-?:().,'+ ", r)
}

// ibanShaped reports whether an account identifier has the shape of an IBAN once every
// character other than an ASCII letter or digit is dropped: two letters, then two digits.
// Such an identifier is checked as an IBAN and never accepted as "other", so that
// "DE89-3704-0044-0532-0130-00" or "DE89.37040044..." cannot pass for the IBAN it resembles.
func ibanShaped(s string) bool {
	var head [4]byte
	n := 0
	for i := 0; i < len(s) && n < 4; i++ {
		if c := s[i]; isASCIILetter(c) || isASCIIDigit(c) {
			head[n] = c
			n++
		}
	}
	return n == 4 && isASCIILetter(head[0]) && isASCIILetter(head[1]) && isASCIIDigit(head[2]) && isASCIIDigit(head[3])
}

// accountCharProblem refuses any character of an account identifier (IBAN or other) outside
// the ISO 20022 restricted Latin set: this stops right-to-left letters that reorder digits
// ("123א456"), invisible characters appended to a valid IBAN and look-alike letters from
// other scripts ("DЕ89..." with a Cyrillic Е).
func accountCharProblem(t string) string {
	pos := 0
	for _, r := range t {
		pos++
		if !isISO20022Latin(r) {
			return "contains " + describeRune(r) + " at character " + strconv.Itoa(pos) +
				": an account identifier uses only the ISO 20022 restricted Latin set (a-z A-Z 0-9 / - ? : ( ) . , ' + and space)"
		}
	}
	return ""
}

// otherAccountProblem checks an identifier that is not an IBAN (ISO 20022
// GenericAccountIdentification1/Id, Max34Text) beyond its character set.
func otherAccountProblem(t string) string {
	if n := utf8.RuneCountInString(t); n > MaxOtherAccountRunes {
		return "is longer than " + strconv.Itoa(MaxOtherAccountRunes) + " characters"
	}
	if i := strings.Index(t, "  "); i >= 0 {
		return "contains two spaces in a row at character " + strconv.Itoa(i+2) + ": separate groups by one space"
	}
	// EPC SEPA implementation guidelines, character set rules for identifiers: an identifier
	// must not start or end with '/' and must not contain '//'.
	if strings.HasPrefix(t, "/") || strings.HasSuffix(t, "/") {
		return "must not start or end with '/'"
	}
	if i := strings.Index(t, "//"); i >= 0 {
		return "contains '//' at character " + strconv.Itoa(i+1) + ", which ISO 20022 identifiers must not contain"
	}
	return ""
}

// freeformNames is the RFC 8264 §4.3 FreeformClass (with NFC): Signet's own rules below give
// a precise reason for everything they refuse; this class is the backstop that also refuses
// what they do not name (RFC 8264 §9: Old Hangul Jamo, unassigned code points, and the
// RFC 5892 Appendix A contextual rules, e.g. U+30FB KATAKANA MIDDLE DOT only in Japanese text).
func freeformNames() *precis.Profile { return precis.NewFreeform(precis.Norm(norm.NFC)) }

// nameProblem checks a payee name already in NFC, trimmed and within its length. It returns
// "" when the name is acceptable and otherwise a reason naming the rule and the character.
func nameProblem(t string) string {
	var (
		pos       int
		prev      rune
		marks     int  // nonspacing marks in a row (UTS #39 §5.4)
		prevMark  rune // the last nonspacing mark of that run
		scripts   scriptSet
		zero      rune // zero of the numbering system of the first decimal digit
		zeroFound bool
	)
	for _, r := range t {
		pos++
		at := " at character " + strconv.Itoa(pos)
		switch {
		case unicode.IsControl(r):
			return "contains the control character " + describeRune(r) + at
		case isBidiFormatting(r):
			// UAX #9 §2: explicit formatting characters reorder the text around them
			// (CVE-2021-42574); the approval page already shows the name isolated.
			return "contains the bidirectional formatting character " + describeRune(r) + at +
				"; right-to-left names need none, Signet shows every name isolated"
		case r == 0x2028 || r == 0x2029:
			return "contains the line or paragraph separator " + describeRune(r) + at
		case isInvisible(r):
			return "contains the invisible character " + describeRune(r) + at +
				" (a format character or Default_Ignorable_Code_Point: it draws nothing)"
		case unicode.Is(unicode.Zs, r) && r != ' ':
			return "contains the space character " + describeRune(r) + at + "; use U+0020 SPACE"
		case r == ' ' && prev == ' ':
			return "contains two spaces in a row" + at + "; they look like one"
		case isBlankLookalike(r):
			return "contains the blank-looking character " + describeRune(r) + at
		case unicode.Is(unicode.Co, r):
			return "contains the private-use character " + describeRune(r) + at + ", whose look depends on the font"
		case !isAssigned(r):
			return "contains the unassigned code point " + describeRune(r) + at
		}

		// Combining marks, judged on the canonical decomposition as UTS #39 §5.4 asks (ASCII
		// decomposes to itself and holds no mark).
		decomposed := []rune{r}
		if r >= utf8.RuneSelf {
			decomposed = []rune(norm.NFD.String(string(r)))
		}
		for i, d := range decomposed {
			if !unicode.In(d, unicode.Mn, unicode.Me) {
				marks, prevMark = 0, 0
				continue
			}
			if pos == 1 && i == 0 {
				return "starts with the combining mark " + describeRune(d) + ", which has no letter to sit on"
			}
			if d == prevMark {
				// UTS #39 §5.4: forbid sequences of the same nonspacing mark.
				return "repeats the combining mark " + describeRune(d) + at
			}
			marks++
			prevMark = d
			if marks > maxNonspacingMarks {
				// UTS #39 §5.4: forbid more than 4 nonspacing marks in a row ("Zalgo").
				return "stacks more than " + strconv.Itoa(maxNonspacingMarks) + " combining marks on one letter" + at
			}
		}

		// UTS #39 §5.3 mixed-number detection: all decimal digits from one numbering system,
		// so that "1০0" (Bengali zero) cannot pass for "100".
		if unicode.Is(unicode.Nd, r) {
			z := digitZero(r)
			if !zeroFound {
				zero, zeroFound = z, true
			} else if z != zero {
				return "mixes digits of different numbering systems (" + describeRune(r) + at + ")"
			}
		}

		// UTS #39 §5.1 / §5.2: the scripts of the name must meet the Highly Restrictive level.
		if s := scriptOf(r); s != "" {
			next := scripts.with(s)
			if !next.highlyRestrictive() {
				return "mixes the " + scripts.String() + " and " + s + " scripts (" + describeRune(r) + at +
					"): a name is written in one script, or in Latin with Han, Hiragana, Katakana, Hangul or Bopomofo (UTS #39 §5.2 Highly Restrictive)"
			}
			scripts = next
		}
		prev = r
	}

	if _, err := freeformNames().String(t); err != nil {
		return freeformProblem(t)
	}
	return ""
}

// freeformProblem names the character for which RFC 8264's FreeformClass refused t: the first
// one outside the class, else the first one with an RFC 5892 Appendix A contextual rule.
func freeformProblem(t string) string {
	allowed := freeformNames().Allowed()
	pos, ctxPos := 0, 0
	var ctx rune
	for _, r := range t {
		pos++
		switch {
		case precisContextual(r):
			if ctxPos == 0 {
				ctx, ctxPos = r, pos
			}
		case !allowed.Contains(r):
			return "contains " + describeRune(r) + " at character " + strconv.Itoa(pos) +
				", which the RFC 8264 FreeformClass does not allow"
		}
	}
	if ctxPos > 0 {
		return "contains " + describeRune(ctx) + " at character " + strconv.Itoa(ctxPos) +
			" outside the context RFC 5892 Appendix A allows it in"
	}
	return "is refused by the RFC 8264 FreeformClass"
}

// precisContextual lists the CONTEXTO code points of RFC 5892 Appendix A (rules 3 to 9);
// the CONTEXTJ joiners (rules 1 and 2) are refused earlier as invisible.
func precisContextual(r rune) bool {
	switch {
	case r == 0x00B7, r == 0x0375, r == 0x05F3, r == 0x05F4, r == 0x30FB:
		return true
	case r >= 0x0660 && r <= 0x0669, r >= 0x06F0 && r <= 0x06F9:
		return true
	}
	return false
}

// isBidiFormatting reports the Unicode bidirectional formatting characters (UAX #9 §2):
// marks, embeddings, overrides and isolates.
func isBidiFormatting(r rune) bool {
	switch {
	case r == 0x200E, r == 0x200F, r == 0x061C: // LRM, RLM, ALM (UAX #9 §2.6)
		return true
	case r >= 0x202A && r <= 0x202E: // LRE, RLE, PDF, LRO, RLO (UAX #9 §2.1, §2.2)
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI (UAX #9 §2.4)
		return true
	}
	return false
}

// isInvisible reports format characters (General_Category Cf: zero-width space, joiners,
// word joiner, invisible operators, tags, the byte order mark, ...) and the
// Default_Ignorable_Code_Point characters that are not Cf (Hangul fillers U+115F, U+1160,
// U+3164, U+FFA0, variation selectors, the combining grapheme joiner, Khmer inherent
// vowels, Mongolian free variation selectors). Default_Ignorable_Code_Point is derived in
// DerivedCoreProperties.txt from Other_Default_Ignorable_Code_Point, Cf and
// Variation_Selector; all three are Go unicode tables.
func isInvisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// isBlankLookalike reports visible-width characters that draw nothing and are not spaces, so
// a name made of them, or padded with them, reads as empty or as another name.
func isBlankLookalike(r rune) bool {
	switch r {
	case 0x2800, // BRAILLE PATTERN BLANK
		0xFFFC, // OBJECT REPLACEMENT CHARACTER
		0xFFFD: // REPLACEMENT CHARACTER: the name was mis-decoded upstream
		return true
	}
	return false
}

// isAssigned reports whether r has a General_Category other than Cn in Go's Unicode tables
// (unicode.Version); noncharacters such as U+FFFF are Cn too. (Go's unicode.C table holds
// Cn as well, so the assigned "other" categories are listed one by one.)
func isAssigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// digitZero returns the zero of r's numbering system. Decimal digits (Nd) come in contiguous
// runs of ten starting at zero (Unicode Standard §4.6), and adjacent runs start where the
// previous one ends, so the zero is found from the start of r's run.
func digitZero(r rune) rune {
	lo := r
	for unicode.Is(unicode.Nd, lo-1) {
		lo--
	}
	return lo + (r-lo)/10*10
}

// scriptOf returns r's Script property value (UAX #24), or "" for Common and Inherited, which
// UTS #39 §5.1 counts as every script. Go's tables carry Script, not Script_Extensions; a
// character whose Script is Common is therefore accepted next to any script.
func scriptOf(r rune) string {
	switch {
	case r < utf8.RuneSelf:
		if isASCIILetter(byte(r)) {
			return "Latin"
		}
		return ""
	case unicode.In(r, unicode.Common, unicode.Inherited):
		return ""
	}
	// The scripts of most payee names first, then the rest.
	for _, name := range [...]string{"Latin", "Han", "Cyrillic", "Greek", "Hiragana", "Katakana", "Hangul", "Arabic", "Hebrew"} {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return "Unknown"
}

// scriptSet is the set of scripts (other than Common and Inherited) seen in a name, in the
// order first seen.
type scriptSet []string

func (s scriptSet) with(name string) scriptSet {
	for _, n := range s {
		if n == name {
			return s
		}
	}
	return append(s[:len(s):len(s)], name)
}

// highlyRestrictive is UTS #39 §5.2 level 3: a single script (the augmented script sets of
// §5.1 make Han+Hiragana+Katakana "Japanese", Han+Hangul "Korean" and Han+Bopomofo one
// script), or a string covered by Latin+Han+Hiragana+Katakana, Latin+Han+Bopomofo or
// Latin+Han+Hangul.
func (s scriptSet) highlyRestrictive() bool {
	if len(s) <= 1 {
		return true
	}
	for _, allowed := range [...][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		if s.within(allowed) {
			return true
		}
	}
	return false
}

func (s scriptSet) within(allowed []string) bool {
	for _, n := range s {
		found := false
		for _, a := range allowed {
			found = found || a == n
		}
		if !found {
			return false
		}
	}
	return true
}

func (s scriptSet) String() string { return strings.Join(s, ", ") }

// describeRune writes r as "U+0435 CYRILLIC SMALL LETTER IE" for error messages.
func describeRune(r rune) string {
	hex := strings.ToUpper(strconv.FormatInt(int64(r), 16))
	for len(hex) < 4 {
		hex = "0" + hex
	}
	if name := runenames.Name(r); name != "" {
		return "U+" + hex + " " + name
	}
	return "U+" + hex
}
