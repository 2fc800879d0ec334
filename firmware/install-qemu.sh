#!/usr/bin/env bash
# Installs qemu-system-arm (for running the firmware under mps2-an386) without removing anything.
#
# Plain `apt-get install qemu-system-arm` when apt plans no removal. On Debian bookworm images
# that ship a newer qemu-utils from bookworm-backports, bookworm's own qemu-system-arm (7.2)
# would REMOVE qemu-utils; there the same version is installed from bookworm-backports (added on
# the machine's own Debian mirror, read from its apt sources). Refuses to remove anything.
# Idempotent: does nothing when qemu-system-arm is already on PATH.
set -euo pipefail

if command -v qemu-system-arm >/dev/null 2>&1; then
    echo "install-qemu: $(qemu-system-arm --version | head -n1) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-qemu: run as root (no sudo here)" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q

removals() { grep '^Remv ' <<<"$1" || true; }

plan="$($SUDO apt-get install -s -y -q --no-install-recommends qemu-system-arm)"
if [ -z "$(removals "$plan")" ]; then
    $SUDO apt-get install -y -q --no-install-recommends qemu-system-arm
else
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    if [ "$codename" != bookworm ]; then
        echo "install-qemu: apt would remove packages and this is not bookworm ($codename); refusing:" >&2
        removals "$plan" >&2
        exit 1
    fi
    # Enable bookworm-backports if no apt source names it yet, on the machine's own mirror.
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        mirror="$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $2}')"
        if [ -z "$mirror" ]; then
            mirror="$(grep -hsE '^deb ' /etc/apt/sources.list | grep -v security | head -n1 | awk '{print $2}')"
        fi
        [ -n "$mirror" ] || { echo "install-qemu: no Debian mirror found in the apt sources" >&2; exit 1; }
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
        $SUDO apt-get update -q
    fi
    INSTALL=(apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-arm)
    plan="$($SUDO "${INSTALL[@]}" -s)"
    if [ -n "$(removals "$plan")" ]; then
        echo "install-qemu: apt would remove packages, refusing:" >&2
        removals "$plan" >&2
        exit 1
    fi
    $SUDO "${INSTALL[@]}"
fi
qemu-system-arm --version | head -n1
