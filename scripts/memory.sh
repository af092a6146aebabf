#!/usr/bin/env bash
# Memory footprint: a server holding USERS users and EVENTS audit events
# (default 100k and 1M, embedded SQLite), under a device-key bench run; prints
# the resident set size (VmRSS) and its peak (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${USERS:-100000}
events=${EVENTS:-1000000}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/signet" ./cmd/signet
go run ./scripts/seed -db "$dir/signet.db" -users "$users" -events "$events"
port=18099
SIGNET_DATA_DIR="$dir" SIGNET_HTTP_ADDR=127.0.0.1:$port SIGNET_ADMIN_ADDR=off SIGNET_LOG_LEVEL=warn "$dir/signet" serve >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
echo "idle:       $(grep -E 'VmRSS' /proc/$pid/status)"
key=$(cut -d: -f2 "$dir/api-key")
SIGNET_BENCH_API_KEY="$key" "$dir/signet" bench --server "http://127.0.0.1:$port" --users 16 --duration "${DURATION:-15s}" 2>/dev/null
# The bank pages through the whole audit log of one seeded user and of everything.
curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/audit?limit=1000" >/dev/null
echo "after load: $(grep -E 'VmRSS' /proc/$pid/status)"
echo "peak:       $(grep -E 'VmHWM' /proc/$pid/status)"
