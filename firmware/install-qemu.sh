#!/usr/bin/env bash
# Installs qemu-system-arm (for running the firmware under mps2-an386) without removing anything.
#
# These machines ship qemu-utils 1:10.0.2 from bookworm-backports; Debian bookworm's own
# qemu-system-arm (7.2) conflicts with it and apt would REMOVE qemu-utils. Installing
# qemu-system-arm from bookworm-backports (the same 10.0.2 as qemu-utils) removes nothing.
# Idempotent: does nothing when qemu-system-arm is already on PATH.
set -euo pipefail

if command -v qemu-system-arm >/dev/null 2>&1; then
    echo "install-qemu: $(qemu-system-arm --version | head -n1) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Enable bookworm-backports if no apt source names it yet, on the same mirror as the
# machine's own Debian source (read from its apt configuration, not written here).
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    mirror="$(grep -rhsE '^URIs:' /etc/apt/sources.list.d/debian.sources | head -n1 | awk '{print $2}')"
    if [ -z "$mirror" ]; then
        mirror="$(grep -hsE '^deb ' /etc/apt/sources.list | grep -v security | head -n1 | awk '{print $2}')"
    fi
    [ -n "$mirror" ] || { echo "install-qemu: no Debian mirror found in the apt sources" >&2; exit 1; }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
fi
$SUDO apt-get update -q

INSTALL=(apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-arm)
# Refuse to go on if apt plans to remove any package.
plan="$($SUDO "${INSTALL[@]}" -s)"
if grep -q '^Remv ' <<<"$plan"; then
    echo "install-qemu: apt would remove packages, refusing:" >&2
    grep '^Remv ' <<<"$plan" >&2
    exit 1
fi
$SUDO "${INSTALL[@]}"
qemu-system-arm --version | head -n1
