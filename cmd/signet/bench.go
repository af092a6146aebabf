package main

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/signet-sca/signet/loadbench"
)

func newBenchCmd(environ []string) *cobra.Command {
	var cfg loadbench.Config
	var flows string
	var asJSON bool
	var argon string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a running Signet (and gateway) with concurrent virtual users and report throughput and latency",
		Long: "Measures the raw primitives on this machine first (ECDSA P-256 verify, ES256 sign, Redis GETDEL, a single-row\n" +
			"UPDATE), then runs each flow for --duration with --users virtual users, and prints throughput, p50/p95/p99\n" +
			"latency, errors and the ratio of throughput to the bound those primitives allow (cores / their summed cost).\n" +
			"The API key comes from --api-key or SIGNET_BENCH_API_KEY.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.APIKey == "" {
				for _, kv := range environ {
					if v, ok := strings.CutPrefix(kv, "SIGNET_BENCH_API_KEY="); ok {
						cfg.APIKey = v
					}
				}
			}
			if flows != "" {
				cfg.Flows = strings.Split(flows, ",")
			}
			var err error
			if cfg.Argon2, err = loadbench.ParseArgon2(argon); err != nil {
				return err
			}
			// Every flow but upstream and nginx-floor talks to Signet (the gateway flows spend the device-key flow's
			// tokens); the default flows start with device-key.
			needsSignet := len(cfg.Flows) == 0
			for _, f := range cfg.Flows {
				needsSignet = needsSignet || (f != "upstream" && f != "nginx-floor")
			}
			if cfg.APIKey == "" && needsSignet {
				return errors.New("an API key is required: --api-key or SIGNET_BENCH_API_KEY (embedded mode: data/api-key)")
			}
			if !asJSON {
				cfg.Progress = cmd.ErrOrStderr()
				f, ok := cfg.Progress.(*os.File)
				cfg.ProgressBar = ok && term.IsTerminal(int(f.Fd()))
			}
			rep, err := loadbench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.Table(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Server, "server", "http://localhost:8080", "Signet base URL")
	f.StringVar(&cfg.APIKey, "api-key", "", "private API key secret (or SIGNET_BENCH_API_KEY)")
	f.StringVar(&cfg.Gateway, "gateway", "", "gateway base URL (enables the gateway flow)")
	f.StringVar(&cfg.GatewayPath, "gateway-path", "/payments", "payment route behind the gateway")
	f.StringVar(&cfg.Upstream, "upstream", "", "the gateway's upstream base URL (enables the upstream flow: the same payments sent straight to it, the floor under the gateway flow)")
	f.StringVar(&cfg.NginxAuthz, "nginx-authz", "", "nginx asking signet gateway (mode authz) before it proxies to the upstream, payment binding in headers (enables the nginx-authz flow; docs/gateway.md)")
	f.StringVar(&cfg.NginxFloor, "nginx-floor", "", "the same nginx proxying to the upstream without a check (enables the nginx-floor flow; flows are then also reported as ratios to it)")
	f.IntVar(&cfg.Users, "users", 8, "concurrent virtual users per flow")
	f.Float64Var(&cfg.Rate, "rate", 0, "start each flow's operations on a fixed schedule of this many per second (0: as fast as the users go); latency counts from the scheduled start")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long each flow runs")
	f.StringVar(&flows, "flows", "", "comma-separated flows: device-key, passkey (enrolled through the enrollment API with a virtual passkey; approval with the passkey and the HPKE-sealed passcode), powerauth, gateway, gateway-half (the gateway flow again, paced at half the maximum the gateway flow reached; the two share the device-key flow's tokens), upstream (needs --upstream), nginx-authz (spends device-key tokens through --nginx-authz), nginx-floor (needs --nginx-floor) (default: device-key, plus gateway with --gateway)")
	f.StringVar(&cfg.RedisURL, "redis", "", "Redis URL to measure the GETDEL primitive")
	f.StringVar(&cfg.PostgresURL, "postgres", "", "PostgreSQL URL to measure the row-update primitive (default: a scratch SQLite file); when it is the server's database, each flow also reports commits and rows written per operation (pg_stat_database)")
	f.StringVar(&cfg.RPOrigin, "rp-origin", "", "WebAuthn origin the passkey flow signs for (one of the server's SIGNET_RP_ORIGINS; default: the origin of the server's enrollment links)")
	f.StringVar(&argon, "argon2", "19456,2,1", "the server's Argon2id parameters memoryKiB,time,threads (SIGNET_ARGON2_*): the passkey flow's bound is cores / one such hash")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the device keys and activations the run registers (default: removed at the end; the bench-* users are reused)")
	return cmd
}
