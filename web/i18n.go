package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"golang.org/x/text/language"
)

// Locales are the languages of the message catalogues (web/i18n/<locale>.json),
// the first being the fallback. The pages and the JS SDK read the same files
// (served under /web/i18n/), so a message exists once per language.
var Locales = []string{"en", "de", "fr", "cs", "es"}

var localeMatcher = sync.OnceValue(func() language.Matcher {
	tags := make([]language.Tag, len(Locales))
	for i, l := range Locales {
		tags[i] = language.MustParse(l)
	}
	return language.NewMatcher(tags)
})

// MatchLocale returns the catalogue for the first preference that names a
// supported language, in order; each preference is a BCP 47 tag ("de",
// "de-AT") or an Accept-Language header value (RFC 9110 §12.5.4). Empty,
// malformed or unsupported preferences are skipped; with none left the
// answer is the fallback, English. Matching is golang.org/x/text/language's
// (a regional variant finds its language: "fr-CA" is "fr").
func MatchLocale(prefs ...string) string {
	for _, p := range prefs {
		if l, ok := matchLocale(p); ok {
			return l
		}
	}
	return Locales[0]
}

// matchLocale is the catalogue for one preference, if any matches it.
func matchLocale(p string) (string, bool) {
	p = strings.TrimSpace(p)
	if p == "" || len(p) > 256 {
		return "", false
	}
	tags, _, err := language.ParseAcceptLanguage(p)
	if err != nil || len(tags) == 0 {
		return "", false
	}
	_, i, conf := localeMatcher().Match(tags...)
	if conf == language.No {
		return "", false
	}
	return Locales[i], true
}

// SupportsLocale reports whether a preference (as for MatchLocale) matches a catalogue.
func SupportsLocale(pref string) bool {
	_, ok := matchLocale(pref)
	return ok
}

// Catalogue is one language's messages by key.
type Catalogue map[string]string

var catalogues = sync.OnceValue(func() map[string]Catalogue {
	out := make(map[string]Catalogue, len(Locales))
	for _, l := range Locales {
		b, err := fs.ReadFile(files, "i18n/"+l+".json")
		if err != nil {
			panic(fmt.Sprintf("web: catalogue %s: %v", l, err))
		}
		var c Catalogue
		if err := json.Unmarshal(b, &c); err != nil {
			panic(fmt.Sprintf("web: catalogue %s: %v", l, err))
		}
		out[l] = c
	}
	return out
})

// Messages returns the catalogue of a supported locale (the fallback's for any other).
func Messages(locale string) Catalogue {
	if c, ok := catalogues()[locale]; ok {
		return c
	}
	return catalogues()[Locales[0]]
}

// T is the message key in locale with each "{name}" replaced by the value
// that follows it in args (name, value, name, value...). A key missing from
// the catalogue (TestCatalogues forbids that) reads as the key itself.
func T(locale, key string, args ...string) string {
	s, ok := Messages(locale)[key]
	if !ok {
		return key
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}
