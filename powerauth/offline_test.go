package powerauth

import (
	"errors"
	"strings"
	"testing"
)

func testOfflinePayload() OfflinePayload {
	return OfflinePayload{
		OperationID:   "5ff1b1ed-a3cc-45a3-8ab0-ed60950312b6",
		Title:         "Payment",
		Message:       "Please confirm\nthis payment \\ now",
		OperationData: "A1*A100CZK*ICZ2730300000001165254011*D20180425",
		Flags:         "B",
		Nonce:         []byte("0123456789abcdef"),
		KeyType:       OfflineKeyServer,
	}
}

func TestOfflinePayload(t *testing.T) {
	server, _ := GeneratePrivateKey()
	master, _ := GeneratePrivateKey()
	p := testOfflinePayload()
	qr, err := BuildOfflinePayload(p, server)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(qr, "\n")
	if len(lines) != 7 || lines[2] != `Please confirm\nthis payment \\ now` || lines[5] != "MDEyMzQ1Njc4OWFiY2RlZg==" || lines[6][0] != '1' {
		t.Fatalf("qr %q", qr)
	}
	got, err := VerifyOfflinePayload(qr, master.PublicKey(), server.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if got.Message != p.Message || !got.BiometryAllowed() || got.OperationData != p.OperationData {
		t.Fatalf("parsed %+v", got)
	}
	// Forward compatibility: an extra attribute before the nonce is kept and signed.
	px := p
	px.KeyType = OfflineKeyMaster
	px.Extra = []string{"NEW-ATTRIBUTE"}
	qrx, err := BuildOfflinePayload(px, master)
	if err != nil {
		t.Fatal(err)
	}
	gx, err := VerifyOfflinePayload(qrx, master.PublicKey(), nil)
	if err != nil || len(gx.Extra) != 1 || gx.Extra[0] != "NEW-ATTRIBUTE" {
		t.Fatalf("extra: %+v %v", gx, err)
	}
	tests := []struct {
		name    string
		qr      string
		master  *PublicKey
		server  *PublicKey
		wantErr error
	}{
		{"too few lines", strings.Join(lines[1:], "\n"), master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
		{"changed title", strings.Replace(qr, "Payment", "Paymenu", 1), master.PublicKey(), server.PublicKey(), ErrInvalidSignature},
		{"changed amount", strings.Replace(qr, "A100CZK", "A900CZK", 1), master.PublicKey(), server.PublicKey(), ErrInvalidSignature},
		{"key type swapped", strings.Replace(qr, "\n1M", "\n0M", 1), master.PublicKey(), server.PublicKey(), ErrInvalidSignature},
		{"no key for type", qr, master.PublicKey(), nil, ErrInvalidSignature},
		{"unknown key type", strings.Replace(qr, "\n1M", "\n2M", 1), master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
		{"bad nonce", strings.Replace(qr, "MDEyMzQ1Njc4OWFiY2RlZg==", "MDEy", 1), master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
		{"bad escape", strings.Replace(qr, `\n`, `\t`, 1), master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
		{"bad operation data", strings.Replace(qr, "A1*", "a1*", 1), master.PublicKey(), server.PublicKey(), ErrInvalidOperationData},
		{"missing signature", strings.TrimSuffix(qr, lines[6]) + "1", master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
		{"tab in operation id", "\t" + qr, master.PublicKey(), server.PublicKey(), ErrInvalidOfflinePayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyOfflinePayload(tc.qr, tc.master, tc.server); !errors.Is(err, tc.wantErr) {
				t.Fatalf("want %v, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestOfflineCode(t *testing.T) {
	keys := testSignatureKeys()
	p := testOfflinePayload()
	serverCtr, _ := NewCounterData()
	clientCtr := serverCtr.Next().Next()
	data := OfflineSignatureData(p.OperationID, p.OperationData, p.Nonce)
	if !strings.HasPrefix(string(data), "POST&L29wZXJhdGlvbi9hdXRob3JpemUvb2ZmbGluZQ==&MDEyMzQ1Njc4OWFiY2RlZg==&") || !strings.HasSuffix(string(data), "&offline") {
		t.Fatalf("offline data %s", data)
	}
	pk, err := ComputeOfflineCode(p, keys, SignaturePossessionKnowledge, clientCtr, 0)
	if err != nil || len(pk) != 17 {
		t.Fatalf("code %q %v", pk, err)
	}
	pb, _ := ComputeOfflineCode(p, keys, SignaturePossessionBiometry, clientCtr, 0)
	short, _ := ComputeOfflineCode(p, keys, SignaturePossessionKnowledge, clientCtr, 4)
	if len(short) != 9 {
		t.Fatalf("4-digit code %q", short)
	}
	base := OfflineVerification{OperationID: p.OperationID, OperationData: p.OperationData, Nonce: p.Nonce,
		Keys: keys, Counter: 10, CounterData: serverCtr}
	tests := []struct {
		name     string
		code     string
		biometry bool
		length   int
		wantType SignatureType
		wantErr  error
	}{
		{name: "biometry not allowed", code: pb, wantErr: ErrSignatureMismatch},
		{name: "typo", code: strings.Replace(pk, pk[:1], string('0'+(pk[0]-'0'+1)%10), 1), wantErr: ErrSignatureMismatch},
		{name: "wrong length", code: pk, length: 4, wantErr: ErrSignatureMismatch},
		{name: "bad length", code: pk, length: 9, wantErr: errors.New("any")},
		{name: "knowledge", code: pk, wantType: SignaturePossessionKnowledge},
		{name: "biometry allowed", code: pb, biometry: true, wantType: SignaturePossessionBiometry},
		{name: "4 digits", code: short, length: 4, wantType: SignaturePossessionKnowledge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			v.Code, v.BiometryAllowed, v.ComponentLength = tc.code, tc.biometry, tc.length
			typ, m, err := VerifyOfflineCode(v)
			if tc.wantErr != nil {
				if err == nil || (errors.Is(tc.wantErr, ErrSignatureMismatch) && !errors.Is(err, ErrSignatureMismatch)) {
					t.Fatalf("want %v, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || typ != tc.wantType || m.Offset != 2 || m.NextCounter != 13 {
				t.Fatalf("got %v %+v %v", typ, m, err)
			}
		})
	}
}
