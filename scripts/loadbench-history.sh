#!/usr/bin/env bash
# Does history slow the approvals down? Two fresh PostgreSQL databases, both
# migrated by signet: one stays empty, the other gets OPERATIONS operations
# (default 1M) in their final states with their audit events, bulk-loaded by
# scripts/seedhistory. Then, ROUNDS times, a signet server on each database in
# turn (empty first) under `signet bench --flows FLOWS`, and at the end each
# flow's throughput and latency on both, and the ratio history / empty.
#
#   PG_URL     an existing database to create the scratch databases from (the
#              role must be a superuser: the bulk load skips triggers)
#   REDIS_URL  the Redis both servers use
#   OPERATIONS, USERS, MONTHS  passed to the seeder (default 1000000, 100000, 6)
#   FLOWS      default device-key,passkey when this signet bench has the
#              passkey flow, else device-key
#   BENCH_USERS, DURATION, ROUNDS  virtual users, length of each flow, rounds
#              (default 8, 20s, 2)
#   ARGON2     the servers' Argon2id parameters memoryKiB,time,threads
#              (default 1024,1,1, the cheapest accepted: the passkey flow then
#              measures the approval, not the passcode hash)
#   SIGNET_BIN a signet binary to use instead of building ./cmd/signet
#   KEEP_DB=1  keep the two databases (their names are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
redis=${REDIS_URL:-redis://127.0.0.1:6379/0}
dir=$(mktemp -d)
stamp="$(date +%s)_$$"
dbs=("signet_hist_empty_$stamp" "signet_hist_seeded_$stamp")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	if [ -z "${KEEP_DB:-}" ]; then
		for db in "${dbs[@]}"; do psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
signet=${SIGNET_BIN:-$dir/signet}
[ -n "${SIGNET_BIN:-}" ] || go build -o "$signet" ./cmd/signet
go build -o "$dir/seedhistory" ./scripts/seedhistory
if [ -z "${FLOWS:-}" ]; then
	if "$signet" bench --help 2>&1 | grep -q 'passkey'; then FLOWS=device-key,passkey; else
		echo "this signet bench has no passkey flow: measuring device-key only" >&2
		FLOWS=device-key
	fi
fi
argon=${ARGON2:-1024,1,1}
IFS=, read -r am at ap <<<"$argon"
argon_flag=()
"$signet" bench --help 2>&1 | grep -q -- '--argon2' && argon_flag=(--argon2 "$argon")
dburl() { local u="${pg%%\?*}"; echo "${u%/*}/$1?sslmode=disable"; }
for db in "${dbs[@]}"; do
	psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
	SIGNET_DATABASE_URL="$(dburl "$db")" SIGNET_LOG_LEVEL=warn "$signet" migrate >/dev/null
done
[ -n "${KEEP_DB:-}" ] && echo "databases: ${dbs[*]}" >&2
echo "== seeding ${dbs[1]}" >&2
start=$(date +%s)
"$dir/seedhistory" -db "$(dburl "${dbs[1]}")" -operations "${OPERATIONS:-1000000}" -users "${USERS:-100000}" -months "${MONTHS:-6}"
seed_s=$(($(date +%s) - start))
echo "seeding took ${seed_s}s"
psql "$(dburl "${dbs[1]}")" -Atc "SELECT 'seeded database size: ' || pg_size_pretty(pg_database_size(current_database()))"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
kek=$(head -c 32 /dev/urandom | base64)
run_one() { # database label round
	local port url
	port=$(free_port)
	url=$(dburl "$1")
	SIGNET_ARGON2_MEMORY_KIB=$am SIGNET_ARGON2_TIME=$at SIGNET_ARGON2_THREADS=$ap SIGNET_RATE_LIMIT_ADDRESS=off \
		SIGNET_HTTP_ADDR=127.0.0.1:$port SIGNET_DATABASE_URL="$url" SIGNET_REDIS_URL="$redis" \
		SIGNET_API_KEYS="bank:$secret:admin" SIGNET_KEK="$kek" SIGNET_LOG_LEVEL=warn \
		"$signet" serve >>"$dir/serve-$2.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "signet on $2 not ready" >&2; cat "$dir/serve-$2.log" >&2; exit 1; }
	echo "== round $3: $2 database" >&2
	SIGNET_BENCH_API_KEY="$secret" "$signet" bench --server "http://127.0.0.1:$port" --postgres "$url" --redis "$redis" \
		"${argon_flag[@]}" --users "${BENCH_USERS:-8}" --duration "${DURATION:-20s}" --flows "$FLOWS" --json \
		>"$dir/$2-$3.json"
	kill "$pid" && wait "$pid" 2>/dev/null || true
	pid=
}
rounds=${ROUNDS:-2}
for r in $(seq 1 "$rounds"); do
	run_one "${dbs[0]}" empty "$r"
	run_one "${dbs[1]}" history "$r"
done
python3 - "$dir" "$rounds" "${OPERATIONS:-1000000}" <<'PY'
import json, sys
d, rounds, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res = {}
for label in ("empty", "history"):
    for r in range(1, rounds + 1):
        for f in json.load(open(f"{d}/{label}-{r}.json"))["flows"]:
            res.setdefault(f["flow"], {}).setdefault(label, []).append(f)
print(f"\n{'flow':<11} {'round':>5} {'empty/s':>9} {'p50':>7} {'p95':>7} {'errors':>6}   {'history/s':>9} {'p50':>7} {'p95':>7} {'errors':>6}   {'ratio':>6}")
for flow, by in res.items():
    tot = {"empty": 0.0, "history": 0.0}
    for i in range(rounds):
        e, h = by["empty"][i], by["history"][i]
        tot["empty"] += e["throughput_per_s"]; tot["history"] += h["throughput_per_s"]
        ratio = h["throughput_per_s"] / e["throughput_per_s"] if e["throughput_per_s"] else 0
        print(f"{flow:<11} {i+1:>5} {e['throughput_per_s']:>9.1f} {e['p50_ms']:>7.1f} {e['p95_ms']:>7.1f} {e['errors']:>6}   "
              f"{h['throughput_per_s']:>9.1f} {h['p50_ms']:>7.1f} {h['p95_ms']:>7.1f} {h['errors']:>6}   {ratio:>6.2f}")
        for label, f in (("empty", e), ("history", h)):
            if f.get("error_kinds"):
                print(f"{'':<11} {'':>5} errors on the {label} database: {f['error_kinds']}")
    ratio = tot["history"] / tot["empty"] if tot["empty"] else 0
    verdict = "within" if ratio >= 0.8 else "NOT within"
    print(f"{flow:<11} {'all':>5} {tot['empty']/rounds:>9.1f} {'':>7} {'':>7} {'':>6}   {tot['history']/rounds:>9.1f} {'':>7} {'':>7} {'':>6}   "
          f"{ratio:>6.2f}  ({verdict} 20 % of the empty database with {ops} operations of history)")
PY
