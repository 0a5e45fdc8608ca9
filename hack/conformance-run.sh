#!/usr/bin/env bash
# One conformance batch against a fresh skiff cluster started from this tree's bin/skiff:
# a server with its own node, NODES-1 more agents joined on this machine, the test images
# imported into the cluster's registry, then the suite run by the ginkgo CLI. Everything
# it started is stopped and reset on the way out, whether the batch passed, failed or was
# interrupted. hack/conformance.sh calls it under /tmp/skiff-e2e.lock; run it directly
# only while holding that lock.
#
# Settings (environment): NAME FOCUS PROCS TIMEOUT NODES SKIP EVICTION_HARD
# GINKGO_EXTRA (e.g. --focus-file) E2E_EXTRA (flags for e2e.test) CONFORMANCE_WORK.
# Results: $CONFORMANCE_WORK/results/NAME/ (ginkgo.log, report/, server.log,
# agent-N.log, import.log, load.log).
# The whole script is one block, read before it runs: editing the file during an hour-long
# run must not change what the running shell executes next.
{
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CONFORMANCE_WORK:-$HOME/.cache/skiff-conformance}
NAME=${NAME:?set NAME}
FOCUS=${FOCUS:-'\[Conformance\]'}
PROCS=${PROCS:-4}
TIMEOUT=${TIMEOUT:-60m}
NODES=${NODES:-1}
SKIP=${SKIP:-'\[Serial\]|\[Disruptive\]'}
# Absolute disk thresholds: this machine's disk is shared and mostly full, and the default
# nodefs.available<10% would taint every node with DiskPressure before the first spec.
EVICTION_HARD=${EVICTION_HARD:-'memory.available<100Mi,nodefs.available<512Mi,nodefs.inodesFree<1%'}
SKIFF=$ROOT/bin/skiff
E2E=$WORK/e2e.test
GINKGO=$WORK/bin/ginkgo
NODE=conformance
D=$WORK/data-$NAME
RES=$WORK/results/$NAME
KC=$D/admin.kubeconfig

for f in "$SKIFF" "$E2E" "$GINKGO"; do
	[ -x "$f" ] || { echo "missing $f (make build; hack/conformance.sh builds the suite)" >&2; exit 2; }
done
rm -rf "$D" "$RES"
mkdir -p "$D" "$RES/report"
printf '%s\n%s\n' "$FOCUS" "$SKIP" > "$RES/focus.txt"

# Process groups to stop on the way out (each started with setsid), and the node data
# dirs to reset once they are stopped.
groups=()
nodedirs=()
nodenames=()

stop_group() { # stop_group PGID: SIGTERM, up to 30 s for it to exit, then SIGKILL
	kill -TERM -- -"$1" 2>/dev/null || return 0
	for _ in $(seq 30); do kill -0 -- -"$1" 2>/dev/null || return 0; sleep 1; done
	kill -KILL -- -"$1" 2>/dev/null
}

cleanup() {
	trap - EXIT INT TERM
	echo "== stopping the cluster"
	local i
	for ((i = ${#groups[@]} - 1; i >= 0; i--)); do stop_group "${groups[i]}"; done
	for i in "${!nodedirs[@]}"; do
		"$SKIFF" agent reset --data-dir "${nodedirs[i]}" --node-name "${nodenames[i]}" >> "$RES/reset.log" 2>&1 ||
			echo "agent reset of ${nodenames[i]} failed (see $RES/reset.log)"
	done
	# Whatever a reset left mounted under the data dir (deepest first), then the data dir
	# itself: etcd and the registry copy of the images are ~1 GB per batch.
	findmnt -rn -o TARGET | grep "^$D/" | sort -r | while read -r m; do umount -l "$m"; done
	[ -n "${KEEP_DATA:-}" ] || rm -rf --one-file-system "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() { # wait_ready NODE
	for _ in $(seq 120); do
		[ -s "$KC" ] && kubectl --kubeconfig "$KC" get node "$1" > /dev/null 2>&1 && break
		sleep 1
	done
	kubectl --kubeconfig "$KC" wait --for=condition=Ready node/"$1" --timeout=120s
}

echo "== cluster: $NODES node(s), data in $D"
setsid "$SKIFF" server --data-dir "$D" --node-name "$NODE" --eviction-hard "$EVICTION_HARD" \
	--https-port 0 --kubelet-port 0 --dns-port 0 --ingress-http-port 0 --ingress-https-port 0 \
	> "$RES/server.log" 2>&1 < /dev/null &
groups+=("$!")
nodedirs+=("$D/agent")
nodenames+=("$NODE")
wait_ready "$NODE" || { echo "node $NODE not ready (see $RES/server.log)"; exit 1; }

server_url=$(kubectl --kubeconfig "$KC" config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
for ((n = 2; n <= NODES; n++)); do
	setsid "$SKIFF" agent --server "$server_url" --token "$(cat "$D/token")" \
		--data-dir "$D/agent$n" --node-name "$NODE-$n" --eviction-hard "$EVICTION_HARD" \
		--kubelet-port 0 --dns-port 0 --ingress-http-port 0 --ingress-https-port 0 \
		> "$RES/agent-$n.log" 2>&1 < /dev/null &
	groups+=("$!")
	nodedirs+=("$D/agent$n")
	nodenames+=("$NODE-$n")
	wait_ready "$NODE-$n" || { echo "node $NODE-$n not ready (see $RES/agent-$n.log)"; exit 1; }
done

echo "== importing images"
"$SKIFF" image import --kubeconfig "$KC" "$WORK"/images/*.tar > "$RES/import.log" 2>&1 ||
	{ echo "image import failed (see $RES/import.log)"; exit 1; }

# The load average once a minute, to tell a slow machine from a slow cluster.
setsid bash -c 'while :; do echo "$(date -u +%H:%M:%S) $(cut -d" " -f1-3 /proc/loadavg)"; sleep 60; done' \
	> "$RES/load.log" 2>&1 < /dev/null &
groups+=("$!")

echo "== ginkgo: focus $FOCUS, $PROCS processes, timeout $TIMEOUT (log: $RES/ginkgo.log)"
cd "$RES"
# shellcheck disable=SC2086 # GINKGO_EXTRA and E2E_EXTRA are lists of flags
setsid "$GINKGO" --procs="$PROCS" --timeout="$TIMEOUT" --no-color -v --focus="$FOCUS" --skip="$SKIP" \
	--output-dir="$RES/report" --json-report=report.json --junit-report=junit.xml ${GINKGO_EXTRA:-} \
	"$E2E" -- --kubeconfig "$KC" --provider skeleton --report-dir "$RES/report" \
	--minStartupPods 0 --allowed-not-ready-nodes 0 --system-pods-startup-timeout 2m \
	--node-os-distro debian --e2e-output-dir "$RES" --kubectl-path "$(command -v kubectl)" \
	${E2E_EXTRA:-} > "$RES/ginkgo.log" 2>&1 < /dev/null &
ginkgo=$!
groups+=("$ginkgo")
# wait (not a foreground child) so that INT/TERM reach the trap at once.
wait "$ginkgo"
rc=$?
echo "ginkgo exited $rc"
exit $rc
}
