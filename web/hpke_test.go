package web

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHPKEInteropWithNode seals with sdk/hpke.js (run by Node's WebCrypto)
// and opens with Go's crypto/hpke, for several infos and plaintext lengths.
// The browser tests (server/web_browser_test.go) exercise the same module in
// Chromium end to end.
func TestHPKEInteropWithNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("SIGNET_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("node not found (SIGNET_TEST_REQUIRE_SERVICES=1): CI installs nodejs for this interop test")
		}
		t.Skip("node not found; HPKE interop is covered by the browser tests")
	}
	src, _, ok := Asset("sdk/hpke.js")
	if !ok {
		t.Fatal("sdk/hpke.js missing")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hpke.mjs"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	priv, err := hpke.DHKEM(ecdh.P256()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	type vector struct {
		Info      string `json:"info"`
		Plaintext string `json:"pt"`
	}
	var vectors []vector
	for _, n := range []int{6, 8, 12, 40} {
		info := make([]byte, 10+3*n)
		_, _ = rand.Read(info)
		vectors = append(vectors, vector{Info: hex.EncodeToString(info), Plaintext: strings.Repeat("7", n)})
	}
	in, _ := json.Marshal(map[string]any{"pk": hex.EncodeToString(priv.PublicKey().Bytes()), "vectors": vectors})
	script := `
import { seal } from "./hpke.mjs";
const hex = (s) => Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)));
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const input = JSON.parse(process.argv[2]);
const out = [];
for (const v of input.vectors) {
  const { enc, ct } = await seal(hex(input.pk), hex(v.info), new TextEncoder().encode(v.pt));
  out.push({ enc: toHex(enc), ct: toHex(ct) });
}
console.log(JSON.stringify(out));
`
	if err := os.WriteFile(filepath.Join(dir, "run.mjs"), []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "run.mjs"), string(in))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var sealed []struct{ Enc, CT string }
	if err := json.Unmarshal(out, &sealed); err != nil || len(sealed) != len(vectors) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, s := range sealed {
		enc, _ := hex.DecodeString(s.Enc)
		ct, _ := hex.DecodeString(s.CT)
		info, _ := hex.DecodeString(vectors[i].Info)
		r, err := hpke.NewRecipient(enc, priv, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		pt, err := r.Open(nil, ct)
		if err != nil || string(pt) != vectors[i].Plaintext {
			t.Fatalf("vector %d: %q %v", i, pt, err)
		}
		// The same ciphertext under another info does not open.
		info[0] ^= 1
		r2, _ := hpke.NewRecipient(enc, priv, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
		if _, err := r2.Open(nil, ct); err == nil {
			t.Fatalf("vector %d opened under another info", i)
		}
	}
}

func TestAssetPaths(t *testing.T) {
	for _, bad := range []string{"templates/approve.html", "../web.go", "static/../../go.mod", "sdk/../templates/enroll.html", "static"} {
		if _, _, ok := Asset(bad); ok {
			t.Errorf("%q served", bad)
		}
	}
	for _, good := range []string{"static/app.css", "sdk/signet.js", "sdk/hpke.js"} {
		if _, ct, ok := Asset(good); !ok || ct == "application/octet-stream" {
			t.Errorf("%q: %v %q", good, ok, ct)
		}
	}
}

func TestTemplatesEscape(t *testing.T) {
	var b bytes.Buffer
	if err := RenderApproval(&b, Approval{ReturnURL: "javascript:alert(1)\" onmouseover=\"alert(1)<img src=x>",
		OpenerOrigins: []string{`"]</script>`}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<img", `" onmouseover`, `href="javascript:`, "</script>\"]"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if strings.Count(page, "<script") != 1 {
		t.Error("the page must have exactly one (external) script")
	}
}
