#!/usr/bin/env bash
# Runs the upstream Kubernetes conformance suite (e2e.test v1.37.2) against a fresh
# skiff cluster built from this tree, offline. The suite's Go module and test images come
# from the shared harness in ../shared/conformance (README there; its build.sh runs once);
# the suite binary is stamped with its version by hack/conformance-suite.sh, the images
# are brought closer to upstream's by hack/conformance-images.sh, and
# hack/conformance-run.sh starts the cluster, runs the batch and tears it down.
#
#   hack/conformance.sh                                   # every [Conformance] spec
#   FOCUS='Container Lifecycle Hook' hack/conformance.sh  # a focus (a ginkgo regexp)
#   NAME=node FOCUS='\[sig-node\].*\[Conformance\]' PROCS=4 TIMEOUT=30m hack/conformance.sh
#   NODES=2 PROCS=8 TIMEOUT=55m NAME=full hack/conformance.sh   # two nodes, as the
#                                                         # sig-architecture spec wants
#   hack/conformance.sh summary node hooks                # merge earlier batches' results
#
# Nodes start with absolute disk eviction thresholds (EVICTION_HARD to change them): on a
# shared, mostly full disk the default nodefs.available<10% taints them with DiskPressure.
# The batch holds /tmp/skiff-e2e.lock, like every end-to-end test on this machine.
# Results go to $CONFORMANCE_WORK/results/NAME (default ~/.cache/skiff-conformance); the
# summary by sig and by cause is printed at the end.
# The whole script is one block, read before it runs: editing the file during an hour-long
# run must not change what the running shell executes next.
{
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
HARNESS=${CONFORMANCE_DIR:-}
for d in ../shared/conformance ../../shared/conformance; do
	[ -z "$HARNESS" ] && [ -x "$d/build.sh" ] && HARNESS=$(cd "$d" && pwd)
done
[ -n "$HARNESS" ] || { echo "conformance harness not found: set CONFORMANCE_DIR" >&2; exit 2; }
WORK=${CONFORMANCE_WORK:-$HOME/.cache/skiff-conformance}
export CONFORMANCE_WORK=$WORK

if [ "${1:-}" = summary ]; then
	shift
	dirs=()
	for n in "${@:-all}"; do dirs+=("$WORK/results/$n"); done
	exec "$HARNESS/summarize.py" "${dirs[@]}"
fi

NAME=${NAME:-$(echo "${FOCUS:-all}" | tr -c 'A-Za-z0-9\n' '-' | tr 'A-Z' 'a-z' | cut -c1-40)}
FOCUS=${FOCUS:-'\[Conformance\]'}
make build
if [ ! -x "$WORK/e2e.test" ] || [ ! -x "$WORK/bin/ginkgo" ] || [ -z "$(ls "$WORK"/images/*.tar 2>/dev/null)" ]; then
	"$HARNESS/build.sh"
	rm -f "$WORK/e2e.test.stamp" "$WORK/images/.skiff-fixes"
fi
# build.sh's e2e.test reports no major/minor version, and some of its images differ from
# upstream's where specs notice: the stamps mark a suite and images corrected here (the
# images' stamp is the hash of the script that corrected them).
[ -f "$WORK/e2e.test.stamp" ] || hack/conformance-suite.sh
[ "$(cat "$WORK/images/.skiff-fixes" 2>/dev/null)" = "$(sha256sum hack/conformance-images.sh | cut -d' ' -f1)" ] ||
	hack/conformance-images.sh
# The etcd image the suite lists, which the harness does not provide yet (the aggregator
# spec runs it beside the sample API server): etcd's own server command, from the etcd
# module skiff already builds with, packed by build-images.sh's mkimage under the name
# e2e.test --list-images gives it.
ETCD_IMAGE=$WORK/images/etcd.tar
ETCD_TAG=$("$WORK/e2e.test" --list-images 2>/dev/null | grep -m1 '/etcd:' || true)
if [ ! -f "$ETCD_IMAGE" ] && [ -n "$ETCD_TAG" ] && [ -x "$WORK/imgwork/bin/mkimage" ]; then
	E=$WORK/imgwork/etcd
	rm -rf "$E"; mkdir -p "$E/usr/local/bin"
	CGO_ENABLED=0 go build -o "$E/usr/local/bin/etcd" ./test/images/etcd
	tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$E" -cf "$WORK/imgwork/etcd.tar" .
	"$WORK/imgwork/bin/mkimage" -layer "$WORK/imgwork/etcd.tar" -o "$ETCD_IMAGE" -tag "$ETCD_TAG" \
		-entrypoint '["/usr/local/bin/etcd"]'
fi
rc=0
NAME=$NAME FOCUS=$FOCUS flock /tmp/skiff-e2e.lock hack/conformance-run.sh || rc=$?
if [ -f "$WORK/results/$NAME/report/report.json" ]; then
	echo "== summary by sig, then failures by cause"
	"$HARNESS/summarize.py" "$WORK/results/$NAME"
fi
echo "results: $WORK/results/$NAME (ginkgo.log, server.log, agent-N.log, load.log); exit $rc"
exit $rc
}
