#!/usr/bin/env bash
# The device check, run from anywhere: `bash firmware/run.sh`.
#
#  1. builds the firmware binaries (infer, train, layers, translate; qinfer for the Cortex-M0
#     and M3) in release for thumbv7em-none-eabihf,
#     plus infer with `--features no-float-print` (for its code size);
#  2. runs each under QEMU (mps2-an386, Cortex-M4) with a timeout, capturing the output, and
#     requires exit code 0 (train exits 1 unless its loss fell);
#  3. proves there is no allocator: nm finds no __rust_alloc/__rg_alloc/... symbol;
#  4. reports section sizes, flash (.text + .rodata), RAM (.data + .bss) and peak stack;
#  5. compares infer's, layers' and translate's outputs bit for bit with the host (`cargo test --test
#     firmware_reference` in the root package, given the captured logs through
#     RNN_FIRMWARE_OUTPUT, RNN_FIRMWARE_LAYERS_OUTPUT and RNN_FIRMWARE_TRANSLATE_OUTPUT), and
#     prints them.
#
# Needs qemu-system-arm: `bash firmware/install-qemu.sh` installs it without removing anything.
# Logs and copies of the ELF files go to firmware/target/run/.
set -euo pipefail

FW="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FW/.." && pwd)"
TARGET=thumbv7em-none-eabihf
REL="$FW/target/$TARGET/release"
RUN="$FW/target/run"
QEMU=(qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -monitor none -serial none
      -semihosting-config enable=on,target=native)
TIMEOUT=60

cd "$FW"
mkdir -p "$RUN"

if ! command -v qemu-system-arm >/dev/null 2>&1; then
    echo "run.sh: qemu-system-arm not found; run: bash firmware/install-qemu.sh" >&2
    exit 1
fi
for t in "$TARGET" thumbv6m-none-eabi thumbv7m-none-eabi; do
    if command -v rustup >/dev/null 2>&1 && ! grep -qx "$t" <<<"$(rustup target list --installed)"; then
        rustup target add "$t"
    fi
done

echo "== 1. build (release, $TARGET)"
cargo build --release --bins --features no-float-print
cp "$REL/infer" "$RUN/infer-no-float-print.elf"
cargo build --release --bins
cp "$REL/infer" "$RUN/infer.elf"
cp "$REL/train" "$RUN/train.elf"
cp "$REL/layers" "$RUN/layers.elf"
cp "$REL/translate" "$RUN/translate.elf"
# The integer card model on a Cortex-M0 (micro:bit) and a Cortex-M3 (AN385), no FPU.
RNN_BOARD=microbit cargo build --release --bin qinfer --target thumbv6m-none-eabi
cp "$FW/target/thumbv6m-none-eabi/release/qinfer" "$RUN/qinfer-m0.elf"
RNN_BOARD=mps2-an385 cargo build --release --bin qinfer --target thumbv7m-none-eabi
cp "$FW/target/thumbv7m-none-eabi/release/qinfer" "$RUN/qinfer-m3.elf"
ELFS=(infer infer-no-float-print train layers translate qinfer-m0 qinfer-m3)
# The machine each ELF runs on.
qemu_for() {
    case "$1" in
        qinfer-m0) echo "qemu-system-arm -machine microbit -nographic -monitor none -serial none -semihosting-config enable=on,target=native" ;;
        qinfer-m3) echo "qemu-system-arm -cpu cortex-m3 -machine mps2-an385 -nographic -monitor none -serial none -semihosting-config enable=on,target=native" ;;
        *) echo "${QEMU[*]}" ;;
    esac
}

echo "== 2. run under QEMU (${QEMU[*]} -kernel <elf>)"
fail=0
for b in "${ELFS[@]}"; do
    set +e
    # shellcheck disable=SC2046
    timeout "$TIMEOUT" $(qemu_for "$b") -kernel "$RUN/$b.elf" </dev/null >"$RUN/$b.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        echo "$b: exit 0"
    else
        echo "$b: FAILED, exit code $rc$([ "$rc" -eq 124 ] && echo " (timeout ${TIMEOUT}s)"); its output:"
        cat "$RUN/$b.log"
        fail=1
    fi
done
[ "$fail" -eq 0 ] || exit 1

echo "== 3. no allocator"
# The first tool that reads the ARM ELF (it must list cortex-m-rt's Reset symbol).
NM=""
for t in rust-nm llvm-nm arm-none-eabi-nm nm; do
    # (Output captured first: with pipefail, `nm | grep -q` fails when grep exits early.)
    if command -v "$t" >/dev/null 2>&1 && grep -q ' Reset$' <<<"$("$t" "$RUN/infer.elf" 2>/dev/null || true)"; then
        NM="$t"
        break
    fi
done
[ -n "$NM" ] || { echo "no nm that reads ARM ELF (tried rust-nm llvm-nm arm-none-eabi-nm nm)" >&2; exit 1; }
ALLOC_SYMS='__rust_(alloc|dealloc|realloc|alloc_zeroed|alloc_error_handler|no_alloc_shim_is_unstable)|__rg_|__rdl_|__rust_alloc_error'
for b in "${ELFS[@]}"; do
    syms="$("$NM" "$RUN/$b.elf")"
    if grep -Eq "$ALLOC_SYMS" <<<"$syms"; then
        echo "$b: ALLOCATOR SYMBOLS FOUND:"
        grep -E "$ALLOC_SYMS" <<<"$syms"
        fail=1
    else
        echo "$b: $(wc -l <<<"$syms") symbols ($NM), none of __rust_alloc/__rg_alloc/__rust_no_alloc_shim_is_unstable/..."
    fi
done
[ "$fail" -eq 0 ] || exit 1

echo "== 3b. no software f64 in the inference firmware (f32 activations, no libm f64 path)"
F64_SYMS='__aeabi_d(add|sub|mul|div|cmp)|__(add|sub|mul|div)df3'
for b in infer infer-no-float-print; do
    if grep -Eq "$F64_SYMS" <<<"$("$NM" "$RUN/$b.elf")"; then
        echo "$b: SOFTWARE F64 FOUND:"
        "$NM" "$RUN/$b.elf" | grep -E "$F64_SYMS"
        fail=1
    else
        echo "$b: no __aeabi_d*/__*df3 symbols"
    fi
done
[ "$fail" -eq 0 ] || exit 1

echo "== 3c. no floating point at all in the integer firmware (the M0 has no FPU)"
FLOAT_SYMS='__aeabi_[fd](add|sub|mul|div|cmp|neg|rsub|2|cmp)|__aeabi_(i2f|ui2f|l2f|ul2f|i2d|ui2d|f2iz|f2uiz|d2iz|f2d|d2f)|__(add|sub|mul|div)[sd]f3|__fix|__float|__aeabi_[fd]cmp'
for b in qinfer-m0 qinfer-m3; do
    if grep -Eq "$FLOAT_SYMS" <<<"$("$NM" "$RUN/$b.elf")"; then
        echo "$b: SOFTWARE FLOATING POINT FOUND:"
        "$NM" "$RUN/$b.elf" | grep -E "$FLOAT_SYMS"
        fail=1
    else
        echo "$b: no software floating-point routine (__aeabi_f*/__aeabi_d*/__*sf3/__*df3/...)"
    fi
done
[ "$fail" -eq 0 ] || exit 1

echo "== 4. sizes (bytes)"
SIZE=""
for t in rust-size llvm-size arm-none-eabi-size size; do
    if command -v "$t" >/dev/null 2>&1 && grep -q '^\.text' <<<"$("$t" -A "$RUN/infer.elf" 2>/dev/null || true)"; then
        SIZE="$t"
        break
    fi
done
[ -n "$SIZE" ] || { echo "no size tool that reads ARM ELF" >&2; exit 1; }
printf '%-22s %8s %8s %8s %8s %8s | %8s %8s %8s\n' elf .vectors .text .rodata .data .bss \
    flash RAM stack
for b in "${ELFS[@]}"; do
    stack="$(sed -n 's/^peak stack forward \([0-9]*\) B$/\1/p; s/^stack: train \([0-9]*\) B.*/\1/p' "$RUN/$b.log")"
    "$SIZE" -A "$RUN/$b.elf" | awk -v b="$b" -v stack="${stack:--}" '
        { s[$1] = $2 }
        END {
            printf "%-22s %8d %8d %8d %8d %8d | %8d %8d %8s\n", b, s[".vector_table"], s[".text"],
                s[".rodata"], s[".data"], s[".bss"] + s[".uninit"],
                s[".text"] + s[".rodata"], s[".data"] + s[".bss"] + s[".uninit"], stack
        }'
done
echo "flash = .text + .rodata (plus the 1024-byte vector table); RAM = .data + .bss (infer's .bss"
echo "holds the input sequence; the weights are baked into .rodata);"
echo "stack = peak stack of forward (infer, layers) or of the whole training run (train), by painting."
# Issue 4's budgets for inference: code under 16 KB without weights and float printing, and a
# peak stack under 2 KB. Fail loudly if a change breaks them.
text="$("$SIZE" -A "$RUN/infer-no-float-print.elf" | awk '$1 == ".text" { print $2 }')"
fstack="$(sed -n 's/^peak stack forward \([0-9]*\) B$/\1/p' "$RUN/infer-no-float-print.log")"
if [ -z "$text" ] || [ -z "$fstack" ] || [ "$text" -ge 16384 ] || [ "$fstack" -ge 2048 ]; then
    echo "inference budget broken: .text ${text:-?} B (< 16384), forward stack ${fstack:-?} B (< 2048)" >&2
    exit 1
fi
echo "inference budgets: .text $text B < 16384, forward stack $fstack B < 2048"

echo "== 5. infer output vs the host, bit for bit"
# Both infer builds must print the same bits.
hex() { awk '/^y\[|^checksum/ { print $1, $2, $3 }' "$1" | sed 's/^\(y\[[0-9]*\] [0-9a-f]*\).*/\1/'; }
if ! diff <(hex "$RUN/infer.log") <(hex "$RUN/infer-no-float-print.log") >/dev/null; then
    echo "infer and infer-no-float-print print different bits:" >&2
    diff <(hex "$RUN/infer.log") <(hex "$RUN/infer-no-float-print.log") >&2 || true
    exit 1
fi
# Default codegen on the host too: `-C target-cpu=native` would fuse multiply-adds.
(cd "$ROOT" && env -u RUSTFLAGS RNN_FIRMWARE_OUTPUT="$RUN/infer.log" \
    RNN_FIRMWARE_LAYERS_OUTPUT="$RUN/layers.log" \
    RNN_FIRMWARE_TRANSLATE_OUTPUT="$RUN/translate.log" \
    RNN_FIRMWARE_QINFER_M0_OUTPUT="$RUN/qinfer-m0.log" \
    RNN_FIRMWARE_QINFER_M3_OUTPUT="$RUN/qinfer-m3.log" \
    cargo test --test firmware_reference --test quantized -- --nocapture) >"$RUN/host.log" 2>&1 || {
    echo "host comparison FAILED:" >&2
    cat "$RUN/host.log" >&2
    exit 1
}
grep -E 'matches the host|match the host|test result' "$RUN/host.log"

echo "== infer output (QEMU)"
cat "$RUN/infer.log"
echo "== train output (QEMU)"
cat "$RUN/train.log"
echo "== layers output (QEMU): embedding, bidirectional peephole LSTM, LN-SimpleRNN, layer normalization"
cat "$RUN/layers.log"
echo "== translate output (QEMU): the trained encoder-decoder with attention, baked weights"
cat "$RUN/translate.log"
echo "== qinfer output (QEMU microbit, Cortex-M0): the card model in integers"
cat "$RUN/qinfer-m0.log"
echo "firmware: all checks passed"
