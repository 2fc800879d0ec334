#!/usr/bin/env bash
# Installs Debian's Chromium for web/test.sh (idempotent: nothing to do when it is on PATH).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "install-chromium: $(chromium --version 2>/dev/null | head -n1) already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-chromium: run as root (no sudo here)" >&2; exit 1; }
    SUDO="sudo"
fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q chromium
