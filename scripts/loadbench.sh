#!/usr/bin/env bash
# Whole-stack load run as docs/performance.md reports it: a signet server on a
# fresh PostgreSQL database and the local Redis, signet gateway in front of
# signet demo-payments, then `signet bench` through every flow. Everything runs
# on this host. Extra arguments go to `signet bench` (e.g. --json, --rate 2000).
#
#   PG_URL     an existing database to create the scratch database from
#   REDIS_URL  the Redis Signet records token ids in (a fresh key prefix is not
#              needed: token ids are random)
#   USERS, DURATION, FLOWS  passed to signet bench
#   ARGON2     the server's Argon2id parameters memoryKiB,time,threads (default
#              19456,2,1, Signet's default), also given to signet bench
# Every virtual user comes from 127.0.0.1, so the per-address rate limit is off.
#   SERVER_BIN a signet binary to serve instead of this checkout's (another build,
#              e.g. an older commit, to compare under the same bench client,
#              gateway and load); its SIGNET_* must be the ones set here
#   CPU_REPORT=1  print the CPU time each process spent during the bench (the
#              bench client itself included), from /proc
#   NGINX=1    also nginx from the PATH: the server block of docs/gateway.md
#              asking a second signet gateway (mode authz), and the same nginx
#              proxying with no check (the floor); adds the nginx-authz and
#              nginx-floor flows, and every flow's ratio to that floor
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
dir=$(mktemp -d)
db="signet_loadbench_$(date +%s)_$$"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/signet" ./cmd/signet
server_bin=${SERVER_BIN:-$dir/signet}
psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
dburl="${pg%%\?*}"
dburl="${dburl%/*}/$db?sslmode=disable"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sp=$(free_port) gp=$(free_port) up=$(free_port)
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
kek=$(head -c 32 /dev/urandom | base64)
argon=${ARGON2:-19456,2,1}
IFS=, read -r argon_mem argon_time argon_threads <<<"$argon"
# Every virtual user comes from 127.0.0.1: no per-address rate limit (it would answer most requests 429).
SIGNET_ARGON2_MEMORY_KIB=$argon_mem SIGNET_ARGON2_TIME=$argon_time SIGNET_ARGON2_THREADS=$argon_threads \
	SIGNET_RATE_LIMIT_ADDRESS="${SIGNET_RATE_LIMIT_ADDRESS:-off}" \
	SIGNET_HTTP_ADDR=127.0.0.1:$sp SIGNET_DATABASE_URL="$dburl" SIGNET_REDIS_URL="$redis" \
	SIGNET_API_KEYS="bank:$secret:admin" SIGNET_KEK="$kek" SIGNET_LOG_LEVEL=warn \
	SIGNET_PPROF_ADDR="${SIGNET_PPROF_ADDR:-}" "$server_bin" serve >"$dir/serve.log" 2>&1 &
pids+=($!)
SIGNET_LOG_LEVEL=warn "$dir/signet" demo-payments --addr 127.0.0.1:$up >"$dir/demo.log" 2>&1 &
pids+=($!)
cat >"$dir/gateway.yaml" <<EOF
listen: "127.0.0.1:$gp"
upstream: "http://127.0.0.1:$up"
jwks_url: "http://127.0.0.1:$sp/.well-known/jwks.json"
issuer: "http://localhost:8080"
audience: "signet-gateway"
consume:
  redis_url: "$redis"
routes:
  - method: POST
    path: /payments
    binding:
      amount: /amount
      currency: /currency
      payee_account: /creditor_account
    require_acr: 1fa  # the bench approves with device keys alone (one factor)
EOF
ready() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1" >&2; cat "$dir"/*.log >&2; exit 1; }
ready "http://127.0.0.1:$sp/readyz"
SIGNET_LOG_LEVEL=warn "$dir/signet" gateway -c "$dir/gateway.yaml" >"$dir/gateway.log" 2>&1 &
pids+=($!)
ready "http://127.0.0.1:$gp/healthz"
nginx_flags=()
if [ -n "${NGINX:-}" ]; then
	ap=$(free_port) aap=$(free_port) np=$(free_port) fp=$(free_port)
	sed -e "s/^listen: .*/listen: \"127.0.0.1:$ap\"/" -e '/^upstream:/d' -e "1i mode: authz\nadmin_listen: \"127.0.0.1:$aap\"" \
		-e 's|amount: /amount|amount: "header:Payment-Amount"|' -e 's|currency: /currency|currency: "header:Payment-Currency"|' \
		-e 's|payee_account: /creditor_account|payee_account: "header:Payment-Payee-Account"|' "$dir/gateway.yaml" >"$dir/authz.yaml"
	SIGNET_LOG_LEVEL=warn "$dir/signet" gateway -c "$dir/authz.yaml" >"$dir/authz.log" 2>&1 &
	pids+=($!)
	ready "http://127.0.0.1:$aap/healthz"
	mkdir -p "$dir/nginx"
	python3 - "$dir/nginx" "$ap" "$up" "$np" "$fp" <<'PY'
import re, sys
d, authz, up, listen, floor = sys.argv[1:]
block = re.search(r"```nginx\n(.*?)```", open("docs/gateway.md").read(), re.S).group(1)
block = block.replace("127.0.0.1:8001", "127.0.0.1:" + authz).replace("127.0.0.1:9000", "127.0.0.1:" + up).replace("127.0.0.1:8080", "127.0.0.1:" + listen)
temps = "".join(f" {t}_temp_path {d}/{t};\n" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
floor_server = f"""server {{ listen 127.0.0.1:{floor};
  location = /payments {{ proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://payments; }} }}
"""
open(d + "/nginx.conf", "w").write(f"worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
    f"events {{ worker_connections 1024; }}\nhttp {{\n access_log off;\n{temps}{block}{floor_server}}}\n")
PY
	nginx -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" -g 'daemon off;' >"$dir/nginx.log" 2>&1 &
	pids+=($!)
	ready "http://127.0.0.1:$fp/payments"
	nginx_flags=(--nginx-authz "http://127.0.0.1:$np" --nginx-floor "http://127.0.0.1:$fp")
	FLOWS=${FLOWS:-device-key,gateway,nginx-authz,nginx-floor,upstream}
fi
[ -n "${CPU_REPORT:-}" ] && python3 scripts/cpusnap.py save "$dir/cpu.json" $$
SIGNET_BENCH_API_KEY="$secret" "$dir/signet" bench --server "http://127.0.0.1:$sp" --gateway "http://127.0.0.1:$gp" \
	--upstream "http://127.0.0.1:$up" --postgres "$dburl" --argon2 "$argon" --redis "$redis" --users "${USERS:-16}" --duration "${DURATION:-20s}" \
	--flows "${FLOWS:-device-key,passkey,powerauth,gateway,gateway-half,upstream}" "${nginx_flags[@]}" "$@"
[ -n "${CPU_REPORT:-}" ] && python3 scripts/cpusnap.py diff "$dir/cpu.json" $$ >&2
exit 0
