package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// TestServerStatusForTheSDKClock: POST /pa/v3/status answers the server's clock in milliseconds in PowerAuth's
// envelope, the one field the SDKs read (GetServerStatusEndpoint, PA2GetServerStatusResponse), to the body they
// send ("{}") and to none; a body that is not JSON is refused in PowerAuth's envelope.
func TestServerStatusForTheSDKClock(t *testing.T) {
	e := newPAEnv(t, sqltest.OpenSQLite(t))
	for _, body := range []string{"{}", ""} {
		resp, err := http.Post(e.url+"/pa/v3/status", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Status         string `json:"status"`
			ResponseObject struct {
				ServerTime int64 `json:"serverTime"`
			} `json:"responseObject"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || out.Status != "OK" {
			t.Fatalf("body %q: %d %+v %v", body, resp.StatusCode, out, err)
		}
		if want := e.clock.Now().UnixMilli(); out.ResponseObject.ServerTime != want {
			t.Fatalf("serverTime %d, want the server's clock %d (ms)", out.ResponseObject.ServerTime, want)
		}
	}
	resp, err := http.Post(e.url+"/pa/v3/status", "application/json", bytes.NewBufferString(`{"a":1,"A":2}`))
	if err != nil {
		t.Fatal(err)
	}
	var refused struct{ Status string }
	_ = json.NewDecoder(resp.Body).Decode(&refused)
	resp.Body.Close()
	if resp.StatusCode != 400 || refused.Status != "ERROR" {
		t.Fatalf("a duplicate-key body: %d %+v", resp.StatusCode, refused)
	}
}
