package server

import (
	"testing"
	"time"
)

func TestParseWait(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		invalid bool
	}{
		{in: "soon", invalid: true},
		{in: "-5s", invalid: true},
		{in: "0", invalid: true},
		{in: "0s", invalid: true},
		{in: "1.5", invalid: true},
		{in: "-36028797018963908", invalid: true},   // 60 - 2^55 seconds: wraps to +60 s if converted first
		{in: "-36028797018964028", invalid: true},   // -(60 + 2^55): wraps to -60 s
		{in: "99999999999999999999", invalid: true}, // beyond int64
		{in: "", want: 0},
		{in: "30s", want: 30 * time.Second},
		{in: "30", want: 30 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "2m", want: 60 * time.Second}, // at most 60 s
		{in: "86400", want: 60 * time.Second},
		{in: "36028797018963968", want: 60 * time.Second}, // 2^55 s wraps to 0 if converted first
		{in: "9223372036854775807", want: 60 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		if (err != nil) != tt.invalid || got != tt.want {
			t.Errorf("parseWait(%q) = %s, %v", tt.in, got, err)
		}
	}
}
