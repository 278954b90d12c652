#!/usr/bin/env bash
# Starts a local Shoal cluster from bin/: 1 meta node, 3 storage nodes and
# 1 router, with all data under ${SHOAL_DATA:-./data/local}. Ctrl-C stops
# every process. REST on localhost:6333.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SHOAL_DATA:-./data/local}
level=${SHOAL_LOG_LEVEL:-info}
mkdir -p "$data/logs"
pids=()

stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "stopped; data kept in $data"
	exit 0
}
trap stop INT TERM EXIT

start() {
	local name=$1; shift
	"$@" >"$data/logs/$name.log" 2>&1 &
	pids+=($!)
}

wait_http() {
	local url=$1 name=$2
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
		if ! kill -0 "${pids[-1]}" 2>/dev/null; then
			echo "$name exited; see $data/logs/$name.log"; tail -20 "$data/logs/$name.log"; exit 1
		fi
		sleep 0.1
	done
	echo "$name did not become healthy; see $data/logs/$name.log"; exit 1
}

start meta ./bin/shoal-meta --log-level "$level" --uri http://127.0.0.1:6335 --storage-path "$data/meta"
wait_http http://127.0.0.1:6336/healthz meta
for i in 1 2 3; do
	start "storage-$i" ./bin/shoal-storage --log-level "$level" --uri "http://127.0.0.1:640$i" \
		--meta http://127.0.0.1:2379 --storage-path "$data/storage-$i"
	wait_http "http://127.0.0.1:640$i/healthz" "storage-$i"
done
start router ./bin/shoal-router --log-level "$level" --uri http://127.0.0.1:6333 \
	--meta http://127.0.0.1:2379 --storage-path "$data/router"
wait_http http://127.0.0.1:6333/readyz router

cat <<MSG

Shoal is running:
  REST      http://localhost:6333        (try: curl localhost:6333/cluster)
  meta      etcd http://127.0.0.1:2379, Raft/p2p http://127.0.0.1:6335, NATS nats://127.0.0.1:4222
  storage   http://127.0.0.1:6401 .. 6403
  data      $data    logs in $data/logs
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
echo "a process exited; see $data/logs"
