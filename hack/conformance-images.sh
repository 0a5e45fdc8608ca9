#!/usr/bin/env bash
# Corrects the test images the shared harness's build-images.sh makes, where they differ
# from the upstream images in ways specs notice, and adds the one it lacks:
#   - busybox and nonroot: `sh` found on PATH is bash, while /bin/sh stays busybox's ash.
#     Debian's busybox-static 1.35 ash drops environment variables whose names are not
#     shell identifiers, which upstream's busybox keeps: the ConfigMap and Secret env
#     specs run `sh -c env` with data-1 set and find bash first on PATH (/usr/bin/sh),
#     while the read-only root filesystem spec runs /bin/sh and expects ash's wording
#     of the error. Every applet is also reachable under /bin, where specs call some.
#   - agnhost: getent, which the DNS querier specs run.
#   - nonewprivs: the suite's nnp program (built from the e2e module), setuid root, which
#     the AllowPrivilegeEscalation specs run.
#   - kitten: upstream's is Alpine-based, and the ImageVolume spec mounts it as a volume
#     and reads its /etc/os-release for "Alpine Linux"; the stand-in gets that file,
#     which says it is a stand-in.
# Each image keeps the names and config (entrypoint, cmd, user) of the archive it
# replaces. It works on the root filesystems build-images.sh left in $CONFORMANCE_WORK/
# imgwork and writes into OUT (default $CONFORMANCE_WORK/images), then stamps OUT with
# this script's hash, so that hack/conformance.sh runs it again when it changes.
set -euo pipefail
WORK=${CONFORMANCE_WORK:-$HOME/.cache/skiff-conformance}
IMG=$WORK/imgwork
OUT=${OUT:-$WORK/images}
MOD=$WORK/mod
MKIMAGE=$IMG/bin/mkimage
for p in "$IMG/busybox" "$IMG/agnhost" "$IMG/kitten" "$MKIMAGE" "$WORK/images/busybox.tar" "$WORK/images/agnhost.tar" "$WORK/images/kitten.tar"; do
	[ -e "$p" ] || { echo "missing $p: run the shared harness's build.sh first" >&2; exit 2; }
done
mkdir -p "$OUT"
FIX=$IMG/fixed
rm -rf "$FIX"
mkdir -p "$FIX"

with_libs() { # with_libs ROOT BINARY...: host binaries into ROOT at the same paths, with their libraries
	local root=$1 f lib
	shift
	for f in "$@"; do
		for lib in "$f" $(ldd "$f" | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	done
}

bash_on_path() { # bash_on_path ROOT: bash as the `sh` PATH finds (/usr/bin before /bin)
	with_libs "$1" /usr/bin/bash
	ln -sf /usr/bin/bash "$1/usr/bin/sh"
}

# applets_in_bin ROOT: /bin/APPLET for every busybox applet, unless ROOT has it there or
# has a real program of that name (agnhost's nc, ip, wget) elsewhere on PATH.
applets_in_bin() {
	local a d real
	for a in $("$1/bin/busybox" --list); do
		[ -e "$1/bin/$a" ] || [ -L "$1/bin/$a" ] && continue
		real=
		for d in usr/local/bin usr/sbin usr/bin sbin; do
			{ [ -e "$1/$d/$a" ] || [ -L "$1/$d/$a" ]; } && [ "$(basename "$(readlink "$1/$d/$a")")" != busybox ] && real=1
		done
		[ -n "$real" ] || ln -s busybox "$1/bin/$a"
	done
}

# image_flags ARCHIVE: mkimage's -tag/-entrypoint/-cmd/-user flags for what ARCHIVE (a
# docker-save tar) is named and configured as, one per line.
image_flags() {
	python3 - "$1" <<'PY'
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    manifest = json.load(t.extractfile("manifest.json"))[0]
    config = json.load(t.extractfile(manifest["Config"])).get("config", {})
for tag in manifest["RepoTags"]:
    print("-tag"); print(tag)
for key, flag in (("Entrypoint", "-entrypoint"), ("Cmd", "-cmd")):
    if config.get(key):
        print(flag); print(json.dumps(config[key]))
if config.get("User"):
    print("-user"); print(config["User"])
PY
}

pack() { # pack ROOT ARCHIVE FLAGS...: ROOT as one layer, into OUT/ARCHIVE
	local root=$1 archive=$2
	shift 2
	tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$root" -cf "$FIX/$archive.layer" .
	"$MKIMAGE" -layer "$FIX/$archive.layer" -o "$OUT/$archive.tmp" "$@"
	mv -f "$OUT/$archive.tmp" "$OUT/$archive"
	rm -f "$FIX/$archive.layer"
}

# Read every archive's flags before any is replaced (OUT may be the images dir itself).
mapfile -t busybox_flags < <(image_flags "$WORK/images/busybox.tar")
mapfile -t nonroot_flags < <(image_flags "$WORK/images/nonroot.tar")
mapfile -t agnhost_flags < <(image_flags "$WORK/images/agnhost.tar")
mapfile -t kitten_flags < <(image_flags "$WORK/images/kitten.tar")

cp -a "$IMG/busybox" "$FIX/busybox"
bash_on_path "$FIX/busybox"
applets_in_bin "$FIX/busybox"
pack "$FIX/busybox" busybox.tar "${busybox_flags[@]}"
pack "$FIX/busybox" nonroot.tar "${nonroot_flags[@]}"

cp -a "$IMG/agnhost" "$FIX/agnhost"
with_libs "$FIX/agnhost" /usr/bin/getent
applets_in_bin "$FIX/agnhost"
pack "$FIX/agnhost" agnhost.tar "${agnhost_flags[@]}"

cp -a "$IMG/kitten" "$FIX/kitten"
cat > "$FIX/kitten/etc/os-release" <<'OSRELEASE'
# skiff's stand-in for the Alpine-based upstream kitten image (hack/conformance-images.sh)
NAME="Alpine Linux"
ID=alpine
PRETTY_NAME="Alpine Linux (skiff conformance stand-in)"
OSRELEASE
pack "$FIX/kitten" kitten.tar "${kitten_flags[@]}"

images=$("$WORK/e2e.test" --list-images 2>/dev/null)
nnp_tag=$(grep -m1 '/nonewprivs:' <<< "$images") || { echo "e2e.test lists no nonewprivs image" >&2; exit 1; }
N=$FIX/nonewprivs
cp -a "$IMG/busybox" "$N"
applets_in_bin "$N"
mkdir -p "$N/usr/local/bin"
(cd "$MOD" && CGO_ENABLED=0 go build -o "$N/usr/local/bin/nnp" k8s.io/kubernetes/test/images/nonewprivs)
chmod 4755 "$N/usr/local/bin/nnp"
pack "$N" nonewprivs.tar -tag "$nnp_tag" -cmd '["nnp"]'

rm -rf "$FIX"
sha256sum "$0" | cut -d' ' -f1 > "$OUT/.skiff-fixes"
echo "corrected images in $OUT"
