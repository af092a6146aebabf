package server_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The live check of docs/openapi.yaml: every response the package's tests receive from a real server (over
// TCP through testClient and http.DefaultClient, or in process through the web harness) is validated against
// the document (status documented, body and content type as the schema says); after the whole package has
// run, every documented operation must have been seen. A drift between the code and the document fails
// `go test ./server`, whichever test happened to make the request.

// spec is the loaded document and its router; nil when it does not load (TestMain then fails).
var spec struct {
	once   sync.Once
	router routers.Router
	err    error

	mu       sync.Mutex
	seen     map[string]bool // "METHOD path-template" of operations answered
	failures []string
}

// paDocumented are the /pa/v3 routes docs/openapi.yaml describes; the rest of the device API is in
// docs/powerauth.md.
var paDocumented = map[string]bool{"/pa/v3/status": true, "/pa/v3/token/remove": true, "/pa/v3/recovery/confirm": true,
	"/pa/v3/upgrade/start": true, "/pa/v3/upgrade/commit": true,
	"/api/auth/token/app/operation/history": true, "/api/auth/token/app/operation/detail/claim": true,
	"/pa/v3/user/info": true, "/api/push/device/register/token": true, "/api/inbox/count": true,
	"/api/inbox/message/list": true, "/api/inbox/message/detail": true, "/api/inbox/message/read": true,
	"/api/inbox/message/read-all": true}

// notExercised lists documented operations the package's tests do not call, with the reason.
var notExercised = map[string]string{}

func loadSpec() {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../docs/openapi.yaml")
	if err != nil {
		spec.err = err
		return
	}
	if err := doc.Validate(context.Background()); err != nil {
		spec.err = fmt.Errorf("docs/openapi.yaml is not valid OpenAPI: %w", err)
		return
	}
	doc.Servers = nil // the tests' servers listen on ephemeral loopback ports
	spec.router, spec.err = gorillamux.NewRouter(doc)
	spec.seen = map[string]bool{}
	for _, ct := range []string{"application/problem+json", "application/jwk-set+json"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.JSONBodyDecoder)
	}
}

// checkResponse validates one exchange against the document and records the operation as seen.
func checkResponse(req *http.Request, status int, header http.Header, body []byte) {
	spec.once.Do(loadSpec)
	if spec.err != nil {
		return
	}
	path := req.URL.Path
	if req.Method == http.MethodOptions {
		return // a CORS preflight, not an API operation (server/web.go webAPIHeaders)
	}
	documented := strings.HasPrefix(path, "/v1/") || path == "/healthz" || path == "/readyz" || path == "/.well-known/jwks.json" ||
		paDocumented[path]
	if !documented || status == http.StatusNotFound && !strings.HasPrefix(header.Get("Content-Type"), "application/problem+json") {
		return // hosted pages, the other /pa/v3 routes and the mobile-token API (docs/powerauth.md), fiber's own 404s
	}
	r := req.Clone(context.Background())
	r.URL.Scheme, r.URL.Host, r.Host = "", "", ""
	route, params, err := spec.router.FindRoute(r)
	spec.mu.Lock()
	defer spec.mu.Unlock()
	if err != nil {
		if status != http.StatusMethodNotAllowed && status != http.StatusNotFound {
			spec.failures = append(spec.failures, fmt.Sprintf("%s %s answered %d but is not in docs/openapi.yaml", req.Method, path, status))
		}
		return
	}
	spec.seen[req.Method+" "+route.Path] = true
	if strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		return // a stream: its events are described in prose
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if len(msg) > 600 {
			msg = msg[:600] + "…"
		}
		spec.failures = append(spec.failures, fmt.Sprintf("%s %s → %d: %s\n      body: %.300s", req.Method, route.Path, status, msg, body))
	}
}

// validatingTransport checks every response it carries against the document.
type validatingTransport struct{ next http.RoundTripper }

func (v validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.next.RoundTrip(req)
	if err != nil || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		if err == nil {
			checkResponse(req, resp.StatusCode, resp.Header, nil)
		}
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr == nil {
		checkResponse(req, resp.StatusCode, resp.Header, body)
	}
	return resp, nil
}

func TestMain(m *testing.M) {
	testClient.Transport = validatingTransport{testClient.Transport}
	http.DefaultClient.Transport = validatingTransport{http.DefaultTransport}
	code := m.Run()
	spec.once.Do(loadSpec)
	if spec.err != nil {
		fmt.Fprintln(os.Stderr, "docs/openapi.yaml:", spec.err)
		os.Exit(1)
	}
	spec.mu.Lock()
	defer spec.mu.Unlock()
	if len(spec.failures) > 0 {
		sort.Strings(spec.failures)
		fmt.Fprintf(os.Stderr, "FAIL: %d responses differ from docs/openapi.yaml:\n", len(spec.failures))
		for _, f := range spec.failures {
			fmt.Fprintln(os.Stderr, "  ", f)
		}
		code = 1
	}
	if code == 0 && !filtered() {
		if missing := unseenOperations(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: documented operations no test exercised (exercise them, or list them in notExercised with the reason):\n  %s\n",
				strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

// filtered reports a partial run (-run or -skip): coverage is checked only when every test ran.
func filtered() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

func unseenOperations() []string {
	doc, err := openapi3.NewLoader().LoadFromFile("../docs/openapi.yaml")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			key := method + " " + path
			if !spec.seen[key] && notExercised[key] == "" {
				out = append(out, key)
			}
		}
	}
	sort.Strings(out)
	return out
}
