package powerauth

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// OperationFieldType is the type letter that starts an operation data field
// (PowerAuth 3.x, Operation Data Structure, "Data Fields").
type OperationFieldType byte

// Field types. FieldEmpty is an empty positional field ("**"); any other letter is kept as is and, per the
// forward-compatibility rule, displayed like FieldText.
const (
	FieldEmpty     OperationFieldType = 0
	FieldAmount    OperationFieldType = 'A' // A{DECIMAL}{CURRENCY}
	FieldIBAN      OperationFieldType = 'I' // I{IBAN}[,{BIC}]
	FieldAccount   OperationFieldType = 'Q' // Q{TEXT}, counter account in any format
	FieldDate      OperationFieldType = 'D' // D{YYYYMMDD}
	FieldReference OperationFieldType = 'R' // R{TEXT}
	FieldNote      OperationFieldType = 'N' // N{TEXT}
	FieldText      OperationFieldType = 'T' // T{TEXT}
)

// Operation templates (PowerAuth 3.x, Operation Data Structure, "Known Template Types").
const (
	TemplateGeneric = 0
	TemplatePayment = 1
	TemplateLogin   = 2
)

// OperationField is one field; Value is the content after the type letter, unescaped.
type OperationField struct {
	Type  OperationFieldType
	Value string
}

// Amount splits an A field into its decimal amount and ISO 4217 currency (Operation Data, "A{DECIMAL}{CURRENCY}").
func (f OperationField) Amount() (amount, currency string, ok bool) {
	if f.Type != FieldAmount || len(f.Value) < 4 {
		return "", "", false
	}
	return f.Value[:len(f.Value)-3], f.Value[len(f.Value)-3:], true
}

// IBAN splits an I field into the IBAN and the optional BIC (Operation Data, "I{IBAN}").
func (f OperationField) IBAN() (iban, bic string, ok bool) {
	if f.Type != FieldIBAN {
		return "", "", false
	}
	iban, bic, _ = strings.Cut(f.Value, ",")
	return iban, bic, true
}

// OperationData is structured operation data: a header {VERSION}{TEMPLATE} and '*'-separated fields,
// e.g. "A1*A100.00EUR*ICZ2730300000001165254011*D20180425" (PowerAuth 3.x, Operation Data Structure).
// It doubles as a builder: NewOperationData(TemplatePayment).Amount("100.00", "EUR").IBAN(iban, "").Encode().
type OperationData struct {
	Version  byte // 'A' for the first version
	Template int  // 0–99
	Fields   []OperationField
}

// NewOperationData starts version A operation data for a template.
func NewOperationData(template int) *OperationData {
	return &OperationData{Version: 'A', Template: template}
}

func (d *OperationData) add(t OperationFieldType, v string) *OperationData {
	d.Fields = append(d.Fields, OperationField{Type: t, Value: v})
	return d
}

// Amount appends A{amount}{currency}, e.g. ("1492.50", "EUR").
func (d *OperationData) Amount(amount, currency string) *OperationData {
	return d.add(FieldAmount, amount+currency)
}

// IBAN appends I{iban}[,{bic}].
func (d *OperationData) IBAN(iban, bic string) *OperationData {
	if bic != "" {
		iban += "," + bic
	}
	return d.add(FieldIBAN, iban)
}

// Account appends Q{text}, a counter account in any format.
func (d *OperationData) Account(text string) *OperationData { return d.add(FieldAccount, text) }

// Date appends D{YYYYMMDD} of the date's calendar day in its own location.
func (d *OperationData) Date(t time.Time) *OperationData {
	return d.add(FieldDate, t.Format("20060102"))
}

// Note appends N{text}.
func (d *OperationData) Note(text string) *OperationData { return d.add(FieldNote, text) }

// Text appends T{text}.
func (d *OperationData) Text(text string) *OperationData { return d.add(FieldText, text) }

// Empty appends an empty positional field, for an omitted optional field followed by a used one.
func (d *OperationData) Empty() *OperationData { return d.add(FieldEmpty, "") }

// escapeOperationText applies the {TEXT} escapes \\, \* and \n and refuses every other character below
// 0x20 (PowerAuth 3.x, Operation Data Structure, "Data Types").
func escapeOperationText(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not UTF-8", ErrInvalidOperationData)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '*':
			b.WriteString(`\*`)
		case c == '\n':
			b.WriteString(`\n`)
		case c < 0x20:
			return "", fmt.Errorf("%w: control character 0x%02x", ErrInvalidOperationData, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return s != ""
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'A' || s[i] > 'Z') && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return s != ""
}

// validateStructured checks (Operation Data, "Data Types") the fields whose content is not free text: A{DECIMAL}{CURRENCY},
// I{IBAN}[,{BIC}] and D{YYYYMMDD}.
func validateStructured(f OperationField) error {
	switch f.Type {
	case FieldAmount:
		amount, currency, ok := f.Amount()
		if !ok || !isUpperASCII(currency) {
			return fmt.Errorf("%w: amount %q needs {DECIMAL}{CURRENCY}", ErrInvalidOperationData, f.Value)
		}
		intPart, frac, hasDot := strings.Cut(amount, ".")
		if !isDigits(intPart) || (hasDot && !isDigits(frac)) {
			return fmt.Errorf("%w: amount %q is not a decimal", ErrInvalidOperationData, f.Value)
		}
	case FieldIBAN:
		iban, bic, _ := f.IBAN()
		if len(iban) < 5 || len(iban) > 34 || !isUpperASCII(iban[:2]) || !isDigits(iban[2:4]) || !isUpperAlnum(iban[4:]) {
			return fmt.Errorf("%w: %q is not an IBAN", ErrInvalidOperationData, iban)
		}
		if strings.Contains(f.Value, ",") && ((len(bic) != 8 && len(bic) != 11) || !isUpperAlnum(bic)) {
			return fmt.Errorf("%w: %q is not a BIC", ErrInvalidOperationData, bic)
		}
	case FieldDate:
		if len(f.Value) != 8 || !isDigits(f.Value) {
			return fmt.Errorf("%w: date %q is not YYYYMMDD", ErrInvalidOperationData, f.Value)
		}
		if _, err := time.Parse("20060102", f.Value); err != nil {
			return fmt.Errorf("%w: date %q is not a calendar day", ErrInvalidOperationData, f.Value)
		}
	}
	return nil
}

func validHeader(version byte, template int) bool {
	return version >= 'A' && version <= 'Z' && template >= 0 && template <= 99
}

// Encode renders and validates the operation data (PowerAuth 3.x, Operation Data Structure).
func (d *OperationData) Encode() (string, error) {
	if !validHeader(d.Version, d.Template) {
		return "", fmt.Errorf("%w: header %q%d", ErrInvalidOperationData, d.Version, d.Template)
	}
	var b strings.Builder
	b.WriteByte(d.Version)
	b.WriteString(strconv.Itoa(d.Template))
	for _, f := range d.Fields {
		b.WriteByte('*')
		if f.Type == FieldEmpty {
			if f.Value != "" {
				return "", fmt.Errorf("%w: empty field with a value", ErrInvalidOperationData)
			}
			continue
		}
		if f.Type < 'A' || f.Type > 'Z' {
			return "", fmt.Errorf("%w: field type %q", ErrInvalidOperationData, byte(f.Type))
		}
		if err := validateStructured(f); err != nil {
			return "", err
		}
		v, err := escapeOperationText(f.Value)
		if err != nil {
			return "", err
		}
		b.WriteByte(byte(f.Type))
		b.WriteString(v)
	}
	return b.String(), nil
}

// ParseOperationData parses untrusted operation data (PowerAuth 3.x, Operation Data Structure): a header [A-Z][0-9]{1,2} (no leading zero), fields
// split on unescaped '*', the escapes \n, \\ and \* (any other escape is an error), no characters below
// 0x20. A, I and D fields are validated; unknown letters are kept as text (forward compatibility).
func ParseOperationData(s string) (OperationData, error) {
	var d OperationData
	if !utf8.ValidString(s) {
		return d, fmt.Errorf("%w: not UTF-8", ErrInvalidOperationData)
	}
	var fields []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20:
			return d, fmt.Errorf("%w: control character 0x%02x", ErrInvalidOperationData, c)
		case c == '\\':
			if i+1 == len(s) {
				return d, fmt.Errorf("%w: trailing backslash", ErrInvalidOperationData)
			}
			i++
			switch s[i] {
			case 'n':
				cur.WriteByte('\n')
			case '\\':
				cur.WriteByte('\\')
			case '*':
				cur.WriteByte('*')
			default:
				return d, fmt.Errorf("%w: unknown escape \\%c", ErrInvalidOperationData, s[i])
			}
		case c == '*':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	fields = append(fields, cur.String())
	h := fields[0]
	if len(h) < 2 || len(h) > 3 || !isDigits(h[1:]) || (len(h) == 3 && h[1] == '0') {
		return d, fmt.Errorf("%w: header %q", ErrInvalidOperationData, h)
	}
	d.Version = h[0]
	d.Template, _ = strconv.Atoi(h[1:])
	if !validHeader(d.Version, d.Template) {
		return d, fmt.Errorf("%w: header %q", ErrInvalidOperationData, h)
	}
	for _, raw := range fields[1:] {
		if raw == "" {
			d.Fields = append(d.Fields, OperationField{Type: FieldEmpty})
			continue
		}
		f := OperationField{Type: OperationFieldType(raw[0]), Value: raw[1:]}
		if f.Type < 'A' || f.Type > 'Z' {
			return d, fmt.Errorf("%w: field type %q", ErrInvalidOperationData, raw[0])
		}
		if err := validateStructured(f); err != nil {
			return d, err
		}
		d.Fields = append(d.Fields, f)
	}
	return d, nil
}
