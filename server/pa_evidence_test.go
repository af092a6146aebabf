package server_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// TestPowerAuthEvidenceOfRealApprovals: the evidence bundles of PowerAuth decisions made by the Go device SDK
// through the HTTP API (an online approval, an online rejection, an offline approval) verify offline: the signed
// request names the operation (its id is Base64 inside the signature base string), and the HMAC itself is
// reported as not verifiable offline, never as a failure.
func TestPowerAuthEvidenceOfRealApprovals(t *testing.T) {
	e := newPAEnv(t, sqltest.OpenSQLite(t))
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)

	approved := e.operation(userID, "10.00")
	op, err := c.OperationDetail(ctx, st, approved)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Approve(ctx, st, op, paPIN); err != nil {
		t.Fatal(err)
	}
	rejected := e.operation(userID, "11.00")
	if err := c.Reject(ctx, st, rejected, padevice.ReasonUnexpectedOperation); err != nil {
		t.Fatal(err)
	}
	offline := e.operation(userID, "12.00")
	status, qr := e.bank("GET", "/v1/operations/"+offline+"/offline?credential_id="+st.ActivationID, nil)
	if status != 200 {
		t.Fatalf("offline QR: %d %v", status, qr)
	}
	_, code, err := padevice.OfflineCode(st, qr["qr_payload"].(string), paPIN)
	if err != nil {
		t.Fatal(err)
	}
	if status, r := e.bank("POST", "/v1/operations/"+offline+"/offline-verify", map[string]any{"credential_id": st.ActivationID, "code": code}); status != 200 {
		t.Fatalf("offline verify: %d %v", status, r)
	}

	for name, id := range map[string]string{"online approval": approved, "online rejection": rejected, "offline approval": offline} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+"/v1/operations/"+id+"/evidence", nil)
			req.Header.Set("Authorization", "Bearer "+testSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			bundle, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("evidence: %d %s", resp.StatusCode, bundle)
			}
			rep := evidence.Verify(bundle, evidence.VerifyOptions{})
			var sig *evidence.Check
			for i := range rep.Checks {
				if rep.Checks[i].Name == "signature" {
					sig = &rep.Checks[i]
				}
			}
			if !rep.OK() || sig == nil || sig.Result != evidence.NotVerifiable {
				t.Fatalf("report %+v", rep.Checks)
			}
		})
	}
}
