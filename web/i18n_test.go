package web

import (
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dynamicKeys are the keys the scripts build from data (the operation's kind
// and status); every one must be in every catalogue like a literal key.
var dynamicKeys = []string{
	"approve.title.request", "approve.title.payment", "approve.title.login", "approve.title.beneficiary",
	"approve.rejected.request", "approve.rejected.payment", "approve.rejected.login", "approve.rejected.beneficiary",
	"final.APPROVED", "final.REJECTED", "final.CANCELED", "final.EXPIRED", "final.FAILED", "final.other",
	"enroll.status.BLOCKED", "enroll.status.other", "passcode.digits", "passcode.repeated", "passcode.run",
	"approve.tries_left.one", "approve.tries_left.few", "approve.tries_left.many", "approve.tries_left.other",
}

var placeholder = regexp.MustCompile(`\{\w+\}`)

// usedKeys collects every message key the templates and scripts name literally.
func usedKeys(t *testing.T) []string {
	t.Helper()
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`\.T "([a-z_.A-Z]+)"`),                    // templates: {{.T "key"}}
		regexp.MustCompile(`data-i18n(?:-label)?="([^"]+)"`),         // templates: re-translated by the script
		regexp.MustCompile(`\bt\("([a-z_.A-Z]+)"[,)]`),               // scripts: t("key")
		regexp.MustCompile(`\? "((?:enroll|approve)\.[a-z_.A-Z]+)"`), // scripts: t(cond ? "a" : "b")
		regexp.MustCompile(`: "((?:enroll|approve)\.[a-z_.A-Z]+)"\)`),
	}
	var keys []string
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".html") || strings.HasSuffix(path, ".js")) {
			return err
		}
		b, _ := fs.ReadFile(files, path)
		for _, p := range patterns {
			for _, m := range p.FindAllStringSubmatch(string(b), -1) {
				keys = append(keys, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(keys, dynamicKeys...)
}

// TestDynamicKeysListed: each key a script builds (t("prefix." + ...)) has its prefix in dynamicKeys.
func TestDynamicKeysListed(t *testing.T) {
	built := regexp.MustCompile(`\bt\("([a-z_.A-Z]+\.)" \+`)
	n := 0
	_ = fs.WalkDir(files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, path)
		for _, m := range built.FindAllStringSubmatch(string(b), -1) {
			n++
			if !slices.ContainsFunc(dynamicKeys, func(k string) bool { return strings.HasPrefix(k, m[1]) }) {
				t.Errorf("%s builds keys %s… that dynamicKeys does not list", path, m[1])
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no built keys found: the pattern is stale")
	}
}

// TestCatalogues: every language has every key English has and no other,
// none empty, each with the same {placeholders}; and every key a page or
// script uses exists. A key missing anywhere fails here.
func TestCatalogues(t *testing.T) {
	en := Messages("en")
	if len(en) < 50 {
		t.Fatalf("English catalogue has %d keys", len(en))
	}
	used := usedKeys(t)
	if len(used) < 60 {
		t.Fatalf("found only %d key uses in templates and scripts", len(used))
	}
	for _, k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in en.json", k)
		}
	}
	for _, l := range Locales {
		c := catalogues()[l]
		for k, v := range en {
			got, ok := c[k]
			switch {
			case !ok:
				t.Errorf("%s.json: missing %q", l, k)
			case strings.TrimSpace(got) == "":
				t.Errorf("%s.json: %q is empty", l, k)
			case !slices.Equal(sorted(placeholder.FindAllString(v, -1)), sorted(placeholder.FindAllString(got, -1))):
				t.Errorf("%s.json: %q has placeholders %q, English %q", l, k, placeholder.FindAllString(got, -1), placeholder.FindAllString(v, -1))
			}
		}
		for k := range c {
			if _, ok := en[k]; !ok {
				t.Errorf("%s.json: %q is not in en.json", l, k)
			}
		}
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// TestCatalogueFiles: each file is a flat JSON object of strings with no duplicate key
// (encoding/json would keep the last one silently).
func TestCatalogueFiles(t *testing.T) {
	for _, l := range Locales {
		b, err := fs.ReadFile(files, "i18n/"+l+".json")
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		seen := map[string]bool{}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("%s.json: not an object", l)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("%s.json: %v", l, err)
			}
			k := tok.(string)
			if seen[k] {
				t.Errorf("%s.json: %q twice", l, k)
			}
			seen[k] = true
			var v string
			if err := dec.Decode(&v); err != nil {
				t.Errorf("%s.json: %q is not a string: %v", l, k, err)
			}
		}
	}
}

func TestMatchLocale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prefs []string
		want  string
	}{
		{"nothing: English", nil, "en"},
		{"unsupported only: English", []string{"zh-CN", "ja;q=0.9"}, "en"},
		{"malformed skipped", []string{"!!", "de"}, "de"},
		{"regional variant finds its language", []string{"fr-CA"}, "fr"},
		{"Czech", []string{"cs-CZ"}, "cs"},
		{"first supported preference wins", []string{"", "es-MX", "de"}, "es"},
		{"unsupported ?lang= falls through to the next", []string{"pt", "de-AT,de;q=0.9,en;q=0.5"}, "de"},
		{"Accept-Language quality order", []string{"en;q=0.2, cs;q=0.8, de;q=0.5"}, "cs"},
		{"Accept-Language with only unsupported", []string{"ja, zh;q=0.5", "fr"}, "fr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchLocale(tc.prefs...); got != tc.want {
				t.Fatalf("MatchLocale(%q) = %s, want %s", tc.prefs, got, tc.want)
			}
		})
	}
}

func TestT(t *testing.T) {
	if got := T("de", "enroll.added", "date", "6. Dez. 2026"); got != "Hinzugefügt am 6. Dez. 2026" {
		t.Fatalf("T: %q", got)
	}
	if got := T("xx", "approve.approve"); got != "Approve" {
		t.Fatalf("unknown locale: %q", got)
	}
	if got := T("fr", "no.such.key"); got != "no.such.key" {
		t.Fatalf("missing key: %q", got)
	}
}
