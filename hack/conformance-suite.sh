#!/usr/bin/env bash
# Builds the upstream conformance suite binary (e2e.test, k8s.io/kubernetes v1.37.2) with
# the version the suite reports stamped in, so specs that compare the client's version to
# the server's (the PodCertificate mTLS spec reads gitMajor/gitMinor) see a real v1.37.2
# and not the "v0.0.0-master" a plain `go test -c` leaves.
#
#   hack/conformance-suite.sh             # -> $CONFORMANCE_WORK/e2e.test
#   OUT=/tmp/e2e.test hack/conformance-suite.sh
#
# It uses the e2e module the shared harness's build.sh put in $CONFORMANCE_WORK/mod (a cold
# build is ~15 minutes of CPU; it runs under nice). The binary is written next to OUT and
# moved into place only when the build succeeds, with a stamp file recording the flags, so
# a run never picks up a half-written suite.
set -euo pipefail
WORK=${CONFORMANCE_WORK:-$HOME/.cache/skiff-conformance}
OUT=${OUT:-$WORK/e2e.test}
MOD=$WORK/mod
[ -f "$MOD/go.mod" ] || { echo "no e2e module in $MOD: run the shared harness's build.sh once" >&2; exit 2; }

VERSION=${SUITE_VERSION:-v1.37.2}
major=${VERSION#v}; major=${major%%.*}
minor=${VERSION#v"$major".}; minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
done

tmp=$OUT.building.$$
trap 'rm -f "$tmp"' EXIT
# -vet=off: vetting the ~2,800 packages of the e2e tree is most of a plain `go test -c`.
(cd "$MOD" && nice -n 10 go test -vet=off -c -o "$tmp" -ldflags "$ldflags" k8s.io/kubernetes/test/e2e)
mv -f "$tmp" "$OUT"
echo "$ldflags" > "$OUT.stamp"
echo "built $OUT ($VERSION)"
