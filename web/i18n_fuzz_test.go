package web

import (
	"slices"
	"testing"
)

// FuzzMatchLocale: ?lang= and Accept-Language are the customer's (untrusted)
// input; whatever they hold, the answer is one of the catalogues, and a
// supported preference is answered with a catalogue of its own.
func FuzzMatchLocale(f *testing.F) {
	for _, seed := range []string{"de", "cs-CZ", "fr-CA", "es-419", "en-US,en;q=0.9", "de-AT,de;q=0.9,en;q=0.5",
		"zh-Hant-TW;q=0.8, ja", "*", "sr-Latn-RS", "x-private", "de;q=0", "en;q=1.0001"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pref string) {
		got := MatchLocale(pref)
		if !slices.Contains(Locales, got) {
			t.Fatalf("MatchLocale(%q) = %q, not a catalogue", pref, got)
		}
		// The first supported preference decides; an unsupported one gives way to the next.
		want := "de"
		if SupportsLocale(pref) {
			want = got
		}
		if next := MatchLocale(pref, "de"); next != want {
			t.Fatalf("MatchLocale(%q, de) = %q, want %q", pref, next, want)
		}
		if len(Messages(got)) != len(Messages("en")) {
			t.Fatalf("catalogue %s incomplete", got)
		}
	})
}
