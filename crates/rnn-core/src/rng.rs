//! A small seeded generator (SplitMix64): reproducible initial weights and shuffles, no state
//! beyond one `u64`. It fixes every seeded stream of the project (initializers, shuffles, the
//! synthetic series), so it stays ours; it implements `rand_core`'s `RngCore` and
//! `SeedableRng` so that `rand`'s distributions can draw from it too.

/// SplitMix64: passes BigCrush, one `u64` of state, trivially seedable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed; equal seeds give equal streams.
    pub const fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_F42D_4C95_7F2D)
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn uniform_in(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
    }
    /// Uniform integer in `0..n`, unbiased (Lemire's method with rejection).
    ///
    /// # Panics
    /// If `n` is 0 (there is no such integer).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }
    /// Fisher-Yates shuffle in place.
    pub fn shuffle<X>(&mut self, v: &mut [X]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

impl rand_core::RngCore for Rng {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        (Rng::next_u64(self) >> 32) as u32
    }
    #[inline]
    fn next_u64(&mut self) -> u64 {
        Rng::next_u64(self)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dst)
    }
}

impl rand_core::SeedableRng for Rng {
    type Seed = [u8; 8];
    /// The same stream as [`Rng::new`] of the little-endian seed.
    fn from_seed(seed: [u8; 8]) -> Self {
        Rng::new(u64::from_le_bytes(seed))
    }
    fn seed_from_u64(state: u64) -> Self {
        Rng::new(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_and_normal_have_the_right_moments() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let (mut s, mut s2, mut ns, mut ns2) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..n {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            s += u;
            s2 += u * u;
            let z = r.normal();
            ns += z;
            ns2 += z * z;
        }
        let n = n as f64;
        assert!((s / n - 0.5).abs() < 0.005);
        assert!((s2 / n - 1.0 / 3.0).abs() < 0.005);
        assert!((ns / n).abs() < 0.01);
        assert!((ns2 / n - 1.0).abs() < 0.01);
    }

    #[test]
    fn shuffle_is_a_permutation_and_seeded() {
        let mut a: [usize; 50] = core::array::from_fn(|i| i);
        let mut b = a;
        Rng::new(3).shuffle(&mut a);
        Rng::new(3).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, core::array::from_fn(|i| i));
        let mut sorted = a;
        sorted.sort();
        assert_eq!(sorted, core::array::from_fn(|i| i));
    }

    #[test]
    fn rand_core_draws_the_same_stream() {
        use rand_core::{RngCore, SeedableRng};
        let (mut a, mut b) = (Rng::new(11), Rng::seed_from_u64(11));
        let x = a.next_u64();
        assert_eq!(RngCore::next_u64(&mut b), x);
        assert_eq!(Rng::from_seed(11u64.to_le_bytes()), Rng::new(11));
        let mut bytes = [0u8; 12];
        b.fill_bytes(&mut bytes);
        assert_eq!(bytes[..8], a.next_u64().to_le_bytes());
    }
}
