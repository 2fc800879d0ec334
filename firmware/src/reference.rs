// The card model's reference run: seed, input sequence and output checksum, shared word for
// word by the firmware (`src/bin/infer.rs`, through `rnn_firmware::reference`) and the host
// test (`tests/firmware_reference.rs` in the root package, through `include!`). Both declare
// `Card` as `lstm(32, 16) -> gru(16) -> dense(1)` themselves; the bit-for-bit comparison of
// their outputs (firmware/run.sh) catches any difference.
//
// Only integer arithmetic and exact float operations build the input, so host and device
// produce the same bits without depending on any libm.

/// Seed of `Card::init`.
pub const SEED: u64 = 2024;
/// Time steps of the reference sequence.
pub const STEPS: usize = 50;
/// Inputs per step.
pub const INPUTS: usize = 32;

/// The reference input: a 32-bit LCG (Numerical Recipes constants) started from a fixed seed,
/// read row by row (`t` major), each value the LCG's top 24 bits mapped exactly to `[-1, 1)`:
/// `x = k / 2^23 - 1` with `k < 2^24` is exact in f32, so host and device agree bit for bit.
pub fn reference_input(xs: &mut [[f32; INPUTS]; STEPS]) {
    let mut s: u32 = 0x2545_F491;
    for row in xs.iter_mut() {
        for v in row.iter_mut() {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (s >> 8) as f32 / 8_388_608.0 - 1.0;
        }
    }
}

/// FNV-1a (32-bit) over the little-endian bytes of every output's bit pattern.
pub fn checksum<const K: usize>(ys: &[[f32; K]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for y in ys {
        for v in y {
            for b in v.to_bits().to_le_bytes() {
                h ^= b as u32;
                h = h.wrapping_mul(0x0100_0193);
            }
        }
    }
    h
}

// The newer layers' reference run (`src/bin/layers.rs` and the host test's second case): a
// model over tokens, `Tokens::init(LAYERS_SEED)` on both sides, fed `reference_tokens`.

/// Seed of `Tokens::init`.
pub const LAYERS_SEED: u64 = 77;
/// Tokens in the reference sequence.
pub const TOKENS: usize = 40;
/// The `Tokens` model's vocabulary.
pub const VOCAB: u32 = 16;

/// The reference tokens: the same LCG, its top bits reduced modulo `VOCAB`.
pub fn reference_tokens(toks: &mut [u32; TOKENS]) {
    let mut s: u32 = 0x1234_5678;
    for t in toks.iter_mut() {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *t = (s >> 16) % VOCAB;
    }
}

/// The quantized card model's reference input, integers only (a Cortex-M0 has no FPU): the
/// same LCG as [`reference_input`], each value its top 16 bits as an `i16`, in the quantized
/// model's input format (`CardQ::INPUT_EXPONENT`).
pub fn reference_input_q(xs: &mut [[i16; INPUTS]; STEPS]) {
    let mut s: u32 = 0x2545_F491;
    for row in xs.iter_mut() {
        for v in row.iter_mut() {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *v = (s >> 16) as u16 as i16;
        }
    }
}

/// FNV-1a (32-bit) over the little-endian bytes of every integer output.
pub fn checksum_q(ys: &[[i32; 1]]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for y in ys {
        for b in y[0].to_le_bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}
