package server_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// docBlock returns the first fenced block of lang after marker in a document of docs/.
func docBlock(t *testing.T, doc, marker, lang string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), marker)
	if !ok {
		t.Fatalf("%s: %q not found", doc, marker)
	}
	_, block, ok := strings.Cut(after, "```"+lang+"\n")
	if !ok {
		t.Fatalf("%s: no %s block after %q", doc, lang, marker)
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatalf("%s: unterminated %s block", doc, lang)
	}
	return block
}

// TestDynamicLinkingJSTakesWhatTheAPIReturns runs the JavaScript of docs/dynamic-linking.md §4 in Node.js on
// operation objects exactly as the API returns them (a payment, and a login without payee or amount) and on the
// document's own test vectors: each digest must equal Signet's.
func TestDynamicLinkingJSTakesWhatTheAPIReturns(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("SIGNET_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("node not found (SIGNET_TEST_REQUIRE_SERVICES=1): CI installs nodejs")
		}
		t.Skip("node not found")
	}
	js := docBlock(t, "dynamic-linking.md", "## 4. Implementing it elsewhere", "js")
	var vectors []map[string]any
	if err := json.Unmarshal([]byte(docBlock(t, "dynamic-linking.md", "## Test vectors", "json")), &vectors); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, nil)
	uid := h.createUser("dl-js")
	pay := h.createOp(uid, "1250.5", "EUR", map[string]any{"payee": map[string]any{"account": "AT611904300234573201", "name": "Müller & Söhne"}})
	var ops []map[string]any
	ops = append(ops, h.do("GET", "/v1/operations/"+pay.ID, "", nil).json(t))
	r := h.do("POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login"})
	if r.status != 201 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	ops = append(ops, r.json(t))
	inputs := append(ops, vectors...)

	dir := t.TempDir()
	script := js + `
const b64url = (b) => Buffer.from(b).toString("base64url");
const out = [];
for (const op of JSON.parse(process.argv[2])) out.push(b64url(await dl(op)));
console.log(JSON.stringify(out));
`
	if err := os.WriteFile(filepath.Join(dir, "dl.mjs"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(inputs)
	cmd := exec.Command(node, filepath.Join(dir, "dl.mjs"), string(in))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the document's JavaScript fails: %v\n%s", err, stderr.String())
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(inputs) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, in := range inputs {
		if got[i] != in["dl"] {
			t.Errorf("input %d (%v): JavaScript computes %s, Signet %v", i, in["id"], got[i], in["dl"])
		}
	}
}
