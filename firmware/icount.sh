#!/usr/bin/env bash
# Instructions per step, counted exactly under QEMU: the firmware runs with one instruction per
# translation block and every executed block logged (`-accel tcg,one-insn-per-tb=on -d
# exec,nochain`), and the log lines from the entry of the measured function to its return
# address (the instruction after the `bl` that calls it) are counted. Debian's QEMU ships no
# TCG plugins (no libinsn.so), hence the log. Run `bash firmware/run.sh` first (it builds the
# ELFs into firmware/target/run/); this script builds the int8 model for the Cortex-M4F too.
#
#   bash firmware/icount.sh     # prints a table: firmware, core, function, steps, instructions
set -euo pipefail
shopt -s inherit_errexit
FW="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="$FW/target/run"
cd "$FW"
RNN_BOARD=mps2-an386 cargo build --release --bin qinfer --target thumbv7em-none-eabihf >/dev/null 2>&1
cp "$FW/target/thumbv7em-none-eabihf/release/qinfer" "$RUN/qinfer-m4.elf"
M4=(-cpu cortex-m4 -machine mps2-an386)
M3=(-cpu cortex-m3 -machine mps2-an385)
M0=(-machine microbit)
STEPS=50
count() { # elf, function symbol (substring), qemu machine args...
    local elf="$RUN/$1.elf" fn="$2"; shift 2
    local sym addr call ret syms dis
    # (Outputs captured first: with pipefail, a reader that exits early fails the pipe.)
    syms="$(llvm-nm "$elf")"
    dis="$(llvm-objdump -d --no-show-raw-insn "$elf")"
    sym="$(awk -v f="$fn" '$3 ~ f { print $3; exit }' <<<"$syms")"
    addr="$(awk -v s="$sym" '$3 == s { print $1; exit }' <<<"$syms")"
    call="$(awk -v s="<$sym>" '$2 == "bl" && index($0, s) { sub(":", "", $1); print $1; exit }' <<<"$dis")"
    ret=$(printf '%x' $((0x$call + 4)))
    timeout 600 qemu-system-arm "$@" -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -accel tcg,one-insn-per-tb=on \
        -d exec,nochain -D "$RUN/$1.exec.log" -kernel "$elf" >/dev/null
    python3 - "$RUN/$1.exec.log" "$addr" "$ret" <<'PY'
import re, sys
log, start, ret = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
inside, n = False, 0
pat = re.compile(r'\[[0-9a-f]+/([0-9a-f]+)/')
with open(log) as f:
    for line in f:
        m = pat.search(line)
        if not m:
            continue
        pc = int(m.group(1), 16)
        if not inside and pc == start:
            inside = True
        if inside:
            if pc == ret:
                break
            n += 1
print(n)
PY
    rm -f "$RUN/$1.exec.log"
}
printf '| firmware | core | model | instructions for %d steps | per step |\n|---|---|---|---:|---:|\n' "$STEPS"
for row in "infer|Cortex-M4F|f32 card model|run_forward|M4" "qinfer-m4|Cortex-M4F|int8 card model|qinfer3run|M4" \
           "qinfer-m3|Cortex-M3|int8 card model|qinfer3run|M3" "qinfer-m0|Cortex-M0|int8 card model|qinfer3run|M0"; do
    IFS='|' read -r elf core model fn mach <<<"$row"
    declare -n args="$mach"
    n="$(count "$elf" "$fn" "${args[@]}")"
    [ "$n" -gt 0 ] 2>/dev/null || { echo "icount: no instructions counted for $elf" >&2; exit 1; }
    printf '| %s | %s | %s | %d | %d |\n' "$elf" "$core" "$model" "$n" $((n / STEPS))
done
