#!/usr/bin/env bash
# Build the SWE sandbox base image without a container registry:
#   debootstrap (minbase) + the packages in packages.txt, trimmed, then `docker import`.
# Usage: build-offline.sh TAG ROOTFS_DIR [MIRROR]
#   TAG         image tag to create, e.g. agentrl/swe-base:0123abcd4567
#   ROOTFS_DIR  where the root filesystem is assembled; it is kept, because the bubblewrap
#               backend (agentrl.sandboxes.local) uses it as its read-only root
#   MIRROR      Debian mirror (default: http://deb.debian.org/debian)
# Env: AGENTRL_CONTENT_HASH is stored as the image label agentrl.content-hash;
#      AGENTRL_SKIP_IMPORT=1 assembles the root filesystem only (no Docker needed);
#      AGENTRL_REUSE_ROOTFS=1 imports an already assembled ROOTFS_DIR without debootstrap.
# Needs root, debootstrap and (unless AGENTRL_SKIP_IMPORT=1) a reachable Docker engine.
set -euo pipefail

tag=${1:?usage: build-offline.sh TAG ROOTFS_DIR [MIRROR]}
rootfs=${2:?usage: build-offline.sh TAG ROOTFS_DIR [MIRROR]}
mirror=${3:-http://deb.debian.org/debian}
suite=${AGENTRL_SUITE:-bookworm}
here=$(cd "$(dirname "$0")" && pwd)

assemble_rootfs() {
    local packages staging="$rootfs.partial"
    packages=$(grep -v '^\s*#' "$here/packages.txt" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
    [ "$(id -u)" = 0 ] || { echo "build-offline.sh must run as root (debootstrap needs it)" >&2; exit 1; }
    command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
    rm -rf "$staging"
    mkdir -p "$(dirname "$rootfs")"
    echo "debootstrap $suite (minbase + $packages) from $mirror" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$staging" "$mirror" >&2
    # Trim what a sandbox never needs (keep __pycache__: without it every pytest run recompiles).
    rm -rf "$staging"/usr/share/doc/* "$staging"/usr/share/man/* "$staging"/usr/share/info/* \
           "$staging"/usr/share/locale/* "$staging"/var/cache/apt/* "$staging"/var/lib/apt/lists/* \
           "$staging"/var/log/*.log
    mkdir -p "$staging/testbed"
    : > "$staging/etc/resolv.conf"  # containers have no network: no resolver either
    rm -rf "$rootfs"
    mv "$staging" "$rootfs"
}

if [ "${AGENTRL_REUSE_ROOTFS:-0}" = 1 ] && [ -x "$rootfs/usr/bin/python3" ]; then
    echo "reusing the root filesystem at $rootfs" >&2
else
    assemble_rootfs
fi

if [ "${AGENTRL_SKIP_IMPORT:-0}" = 1 ]; then
    echo "root filesystem ready at $rootfs (import skipped)" >&2
    exit 0
fi
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'CMD ["/bin/bash"]' \
    --change 'WORKDIR /testbed' \
    --change 'ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1' \
    --change "LABEL agentrl.content-hash=${AGENTRL_CONTENT_HASH:-unknown} agentrl.builder=offline" \
    - "$tag" >&2
echo "$tag"
