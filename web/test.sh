#!/usr/bin/env bash
# The page in headless Chromium: builds it (build.sh), serves it on localhost, loads it with
# fixed slider values, reads the forecast it renders (the f32 bits) from the DOM, and has the
# host compute the same (`tests/web_reference.rs` in the root package, RNN_WEB_DOM).
# Needs Debian's chromium (`apt-get install chromium`) and python3 for the server.
set -euo pipefail
WEB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$WEB/.." && pwd)"
bash "$WEB/build.sh"
CHROME="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$CHROME" ] || { echo "web/test.sh: chromium not found (apt-get install chromium)" >&2; exit 1; }
PORT=$((20000 + RANDOM % 20000))
python3 -m http.server "$PORT" --bind 127.0.0.1 -d "$WEB/dist" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
    sleep 0.1
done
PROFILE="$(mktemp -d)"
DOM="$WEB/dist/dom.html"
timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --virtual-time-budget=10000 --dump-dom \
    "http://127.0.0.1:$PORT/index.html?f1=0.3&f2=0.6&o1=0.2&o2=0.8" >"$DOM" 2>/dev/null
rm -rf "$PROFILE"
grep -o '<pre id="forecast">[^<]*' "$DOM" | sed 's/<pre id="forecast">/page forecast: /'
(cd "$ROOT" && env -u RUSTFLAGS RNN_WEB_DOM="$DOM" cargo test --test web_reference -- --nocapture) 2>&1 |
    grep -E 'matches|test result|panicked|assert' 
echo "web: wasm $(wc -c <"$WEB/dist/rnn_web.wasm") bytes"
