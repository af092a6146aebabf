package inbox

import (
	"strings"
	"testing"
)

func TestNewMessageValidate(t *testing.T) {
	tests := []struct {
		name  string
		msg   NewMessage
		field string // "" = valid
	}{
		{"no subject", NewMessage{Body: "b"}, "subject"},
		{"blank subject", NewMessage{Subject: "  "}, "subject"},
		{"subject of 256 characters", NewMessage{Subject: strings.Repeat("ž", 256)}, "subject"},
		{"NUL in the body", NewMessage{Subject: "s", Body: "a\x00b"}, "body"},
		{"invalid UTF-8 summary", NewMessage{Subject: "s", Summary: "\xff"}, "summary"},
		{"body over 64 KiB", NewMessage{Subject: "s", Body: strings.Repeat("x", MaxBodyBytes+1)}, "body"},
		{"markdown", NewMessage{Subject: "s", Type: "markdown"}, "type"},
		{"subject of 255 characters, text by default", NewMessage{Subject: strings.Repeat("ž", 255)}, ""},
		{"html", NewMessage{Subject: "s", Type: TypeHTML, Body: "<p>hi</p>"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg
			err := m.Validate()
			if tt.field == "" {
				if err != nil || (tt.msg.Type == "" && m.Type != TypeText) {
					t.Fatalf("refused %v (type %q)", err, m.Type)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("got %v, want a refusal naming %s", err, tt.field)
			}
		})
	}
}

func seeds(f *testing.F, valid ...string) {
	for _, s := range valid {
		f.Add([]byte(s))
		for i := range len(s) {
			c := []byte(s)
			c[i] ^= 1 << (i % 8)
			f.Add(c)
		}
	}
}

// FuzzParsePageAndID: the inbox request parsers of untrusted device bodies never panic, and a page they
// accept validates to a bounded window.
func FuzzParsePageAndID(f *testing.F) {
	seeds(f, `{"requestObject":{"page":0,"size":50,"onlyUnread":false}}`, `{"requestObject":{"id":"11111111-2222-4333-8444-555555555555"}}`)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseID(b)
		p, err := ParsePage(b)
		if err != nil {
			return
		}
		if p.Validate() == nil && (p.Size < 1 || p.Size > MaxPageSize || p.Page < 0) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
