#!/usr/bin/env bash
# Builds the page: the wasm module (the forecasting model from the same no_std core) and
# index.html into web/dist/. Serve that folder (`python3 -m http.server -d web/dist`) and open it.
set -euo pipefail
WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$WEB"
if command -v rustup >/dev/null 2>&1 && ! grep -qx wasm32-unknown-unknown <<<"$(rustup target list --installed)"; then
    rustup target add wasm32-unknown-unknown
fi
cargo build --release --target wasm32-unknown-unknown
mkdir -p dist
cp target/wasm32-unknown-unknown/release/rnn_web.wasm index.html dist/
echo "web/dist: rnn_web.wasm $(wc -c <dist/rnn_web.wasm) bytes, index.html"
