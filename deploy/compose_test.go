// Package deploy holds the deployment files (the gateway configuration of the compose stack); its test
// checks docker-compose.yml with the loader Docker Compose itself uses, so the file is validated even where no
// Docker engine runs.
package deploy

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeFile loads docker-compose.yml as `docker compose config` does (schema validation, interpolation,
// normalisation, dependency checks) and checks what the stack relies on: every long-running service has a
// health check that probes readiness with the binary itself (the image is distroless: no shell, no curl), and
// nothing starts before what it needs is healthy.
func TestComposeFile(t *testing.T) {
	ctx := context.Background()
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "docker-compose.yml")},
		cli.WithWorkingDirectory(".."), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load as Compose would load it: %v", err)
	}
	probes := map[string][]string{
		"signet":        {"/usr/local/bin/signet", "healthcheck"},
		"gateway":       {"/usr/local/bin/signet", "healthcheck", "--url", "http://127.0.0.1:8000/readyz"},
		"demo-payments": {"/usr/local/bin/signet", "healthcheck", "--url", "http://127.0.0.1:9000/healthz"},
	}
	for name, want := range probes {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Test[0] != "CMD" || !slices.Equal(s.HealthCheck.Test[1:], want) {
			t.Errorf("%s: health check %v, want CMD %v", name, s.HealthCheck, want)
		}
	}
	needs := map[string]map[string]string{
		"migrate": {"postgres": types.ServiceConditionHealthy},
		"signet":  {"migrate": types.ServiceConditionCompletedSuccessfully, "redis": types.ServiceConditionHealthy},
		"gateway": {"signet": types.ServiceConditionHealthy, "demo-payments": types.ServiceConditionHealthy, "redis": types.ServiceConditionHealthy},
	}
	for name, deps := range needs {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		for dep, cond := range deps {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, got, cond)
			}
		}
	}
	gw, _ := p.GetService("gateway")
	if len(gw.Volumes) != 1 || gw.Volumes[0].Source != filepath.Join(p.WorkingDir, "deploy", "gateway.yaml") {
		t.Errorf("gateway mounts %v, want deploy/gateway.yaml", gw.Volumes)
	}
}
